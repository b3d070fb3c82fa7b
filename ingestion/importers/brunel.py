"""Brunel supply-chain logistics problem -> shipments, carrier CSV events, carriers (+ expected cost).

Reads the workbook ``Supply chain logistics problem.xlsx`` (sheets OrderList, FreightRates).
Mapping (docs/real-data.md, "Brunel"):

- shipment = one OrderList row (order id = ``Order ID``, line 1): carrier, service level
  (DTD door-to-door, DTP door-to-port, CRF customer-referred freight), origin/destination port
  (anonymised ``PORTnn``, written into the locode fields), units, weight;
- ``Order Date`` (2013-05-26 for every row) is taken as the requested ship day: planned pickup
  end = its end; the actual pickup (``PUP``, 12:00 UTC) is that day + the late count when above 0,
  else that day - ``Ship ahead day count`` (both non-zero: read as late, counted), so
  a pickup is on time iff ``Ship Late Day count`` is 0; planned delivery
  end = requested ship day + ``TPT`` days. There is no delivery date: no delivery KPIs;
- expected cost from the real rate cards: the FreightRates row of the order's carrier, lane,
  service, transit days (``tpt_day_cnt`` = ``TPT``) and weight band (``minm_wgh_qty`` <= weight
  <= ``max_wgh_qty``); cost = max(``minimum cost``, ``rate`` x weight). Written as the shipment's
  ``quoted_cost`` (USD: the workbook states no currency) and summarised in the report. CRF orders
  (the customer's own carrier) have no rate card; orders with no matching band are counted;
- mode from the matched rate row (``AIR``; ``GROUND`` -> LTL); without a match LTL (default);
- the orders feed is not written: its contract needs ISO countries and the ports are
  anonymised, so no country can be stated; the rate_cards feed is not written either: it keys on
  country lanes and has no transit days or weight bands (expected cost is computed here instead;
  docs/real-data.md says why a contract change was not worth it).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from ingestion.importers.base import Importer, ImportReport

WORKBOOK = "Supply chain logistics problem.xlsx"


def run(source: Path, landing: Path, dataset: str = "brunel") -> ImportReport:
    imp = Importer(dataset, source, landing)
    path = source / WORKBOOK if source.is_dir() else source
    orders = imp.read("OrderList", pl.read_excel(path, sheet_name="OrderList"))
    rates = imp.read("FreightRates", pl.read_excel(path, sheet_name="FreightRates"))

    rates = rates.with_columns(
        pl.col("mode_dsc").str.strip_chars(),
        pl.col("svc_cd").str.strip_chars(),
        pl.col("Carrier").str.strip_chars(),
    )
    orders = orders.with_columns(
        order_id=pl.col("Order ID").cast(pl.Int64).cast(pl.String),
        # the workbook stores binary-float noise (7.800000000000001): 6 decimals, as the contract
        weight=pl.col("Weight").cast(pl.Float64).round(6),
    )
    # the rate band of each order: carrier, lane, service, transit days and weight band; when no
    # band has the order's transit days, the carrier's band for the lane and service (any days)
    rate_cols = rates.select(
        pl.col("Carrier"),
        pl.col("orig_port_cd").alias("Origin Port"),
        pl.col("dest_port_cd").alias("Destination Port"),
        pl.col("svc_cd").alias("Service Level"),
        pl.col("tpt_day_cnt").alias("TPT"),
        "minm_wgh_qty",
        "max_wgh_qty",
        "minimum cost",
        "rate",
        "mode_dsc",
        pl.col("_src_row").alias("_rate_row"),
    )
    keys = ["Carrier", "Origin Port", "Destination Port", "Service Level"]
    base = orders.select("_src_row", *keys, "TPT", "weight")

    def cheapest(cands: pl.DataFrame, rule: str) -> pl.DataFrame:
        # overlapping bands: the cheapest (the planner's choice in the published problem)
        return (
            cands.filter(pl.col("weight").is_between(pl.col("minm_wgh_qty"), pl.col("max_wgh_qty")))
            .with_columns(
                expected_cost=pl.max_horizontal(
                    pl.col("minimum cost"), pl.col("rate") * pl.col("weight")
                ),
                rate_rule=pl.lit(rule),
            )
            .sort("_src_row", "expected_cost", "_rate_row")
            .unique("_src_row", keep="first")
            .select("_src_row", "expected_cost", "mode_dsc", "_rate_row", "rate_rule")
        )

    strict = cheapest(base.join(rate_cols, on=[*keys, "TPT"], how="inner"), "transit days match")
    rest = base.join(strict.select("_src_row"), on="_src_row", how="anti")
    relaxed = cheapest(rest.join(rate_cols.drop("TPT"), on=keys, how="inner"), "other transit days")
    matched = pl.concat([strict, relaxed])
    imp.count("orders priced from a band with the order's transit days (TPT)", strict.height)
    imp.count("orders priced from a band with other transit days (none with TPT)", relaxed.height)
    orders = orders.join(matched, on="_src_row", how="left")
    no_card = orders.filter(pl.col("expected_cost").is_null())
    imp.count("orders with a matching rate band (expected cost)", orders.height - no_card.height)
    imp.count(
        "orders without a rate: CRF (customer's carrier)",
        no_card.filter(pl.col("Service Level") == "CRF").height,
    )
    lanes = rate_cols.select(keys).unique()
    other = no_card.filter(pl.col("Service Level") != "CRF")
    no_lane = other.join(lanes, on=keys, how="anti").height
    imp.count("orders without a rate: the carrier has no rate for the lane and service", no_lane)
    imp.count("orders without a rate: no weight band fits", other.height - no_lane)

    problems = [
        (pl.col("Order Date").is_null(), "Order Date empty", pl.col("order_id")),
        (
            pl.col("weight").is_null() | (pl.col("weight") < 0),
            "Weight empty or negative",
            pl.col("Weight").cast(pl.String),
        ),
        (
            pl.col("Unit quantity").is_null() | (pl.col("Unit quantity") < 0),
            "Unit quantity empty or negative",
            pl.col("Unit quantity").cast(pl.String),
        ),
    ]
    rejected: dict[str, int] = {}
    for cond, reason, detail in problems:
        rejected[reason] = imp.reject("OrderList", "shipments", orders.filter(cond), reason, detail)
        orders = orders.filter(~cond)

    day = pl.col("Order Date").cast(pl.Date)
    # shipped late by the late count, else early by the ahead count (rows with both counted)
    pickup_day = (
        pl.when(pl.col("Ship Late Day count") > 0)
        .then(day + pl.duration(days=pl.col("Ship Late Day count")))
        .otherwise(day - pl.duration(days=pl.col("Ship ahead day count")))
    )
    imp.count(
        "orders with both a late and an ahead day count (read as late)",
        orders.filter(
            (pl.col("Ship Late Day count") > 0) & (pl.col("Ship ahead day count") > 0)
        ).height,
    )
    mode = pl.col("mode_dsc").replace_strict({"AIR": "AIR", "GROUND": "LTL"}, default="LTL")
    shipments = orders.select(
        ("BRUNEL-" + pl.col("order_id")).alias("shipment_id"),
        "order_id",
        pl.lit("1").alias("line_number"),
        pl.col("Unit quantity").alias("quantity_shipped"),
        pl.col("Carrier").alias("carrier_code"),
        mode.alias("mode"),
        pl.col("Service Level").alias("service_level"),
        pl.col("Origin Port").alias("origin_locode"),
        pl.col("Destination Port").alias("destination_locode"),
        day.dt.strftime("%Y-%m-%dT23:59:59+00:00").alias("planned_pickup_end"),
        (day + pl.duration(days=pl.col("TPT")))
        .dt.strftime("%Y-%m-%dT23:59:59+00:00")
        .alias("planned_delivery_end"),
        pl.col("weight").alias("gross_weight_kg"),
        pl.col("expected_cost").round(4).alias("quoted_cost"),
        pl.when(pl.col("expected_cost").is_not_null()).then(pl.lit("USD")).alias("quoted_currency"),
    )
    imp.write_feed("shipments", shipments)
    imp.mapping(
        "OrderList", "shipments", imp.report.sources["OrderList"], shipments.height, rejected
    )
    imp.default(
        "shipments",
        "mode",
        "LTL",
        orders.filter(pl.col("mode_dsc").is_null()).height,
        "no matching rate row to take the mode from (CRF or no band)",
    )
    imp.default(
        "shipments",
        "quoted_currency",
        "USD",
        shipments.filter(pl.col("quoted_currency").is_not_null()).height,
        "the workbook states no currency for its rates",
    )

    events = orders.select(
        ("BRUNEL-" + pl.col("order_id") + ":PUP").alias("event_id"),
        ("BRUNEL-" + pl.col("order_id")).alias("shipment_id"),
        pl.col("Carrier").alias("carrier_code"),
        pl.lit("PUP").alias("event_code"),
        pickup_day.dt.strftime("%Y-%m-%dT12:00:00+00:00").alias("event_time"),
        pl.col("Origin Port").alias("location_locode"),
    )
    imp.write_feed("csv_events", events)

    codes = sorted(set(orders["Carrier"].to_list()) | set(rates["Carrier"].to_list()))
    modes = rates.group_by("Carrier").agg(
        pl.col("mode_dsc")
        .replace_strict({"AIR": "AIR", "GROUND": "LTL"}, default="LTL")
        .unique()
        .sort()
        .str.join(";")
        .alias("modes")
    )
    carriers = (
        pl.DataFrame({"carrier_code": codes})
        .join(modes.rename({"Carrier": "carrier_code"}), on="carrier_code", how="left")
        .with_columns(
            carrier_name=pl.concat_str(
                [
                    pl.lit("Carrier "),
                    pl.col("carrier_code"),
                    pl.lit(" (anonymised in the data set)"),
                ]
            )
        )
    )
    imp.write_feed("carriers", carriers)

    # expected cost per carrier and service, for the report (and docs/real-data.md)
    summary = (
        orders.group_by("Carrier", "Service Level")
        .agg(
            orders=pl.len(),
            orders_with_rate=pl.col("expected_cost").is_not_null().sum(),
            weight_kg=pl.col("weight").sum().round(1),
            expected_cost_usd=pl.col("expected_cost").sum().round(2),
            orders_shipped_late=(pl.col("Ship Late Day count") > 0).sum(),
        )
        .sort("Carrier", "Service Level")
    )
    imp.report.results["expected_cost_by_carrier_service"] = summary.to_dicts()
    imp.report.results["expected_cost_total_usd"] = round(float(orders["expected_cost"].sum()), 2)
    imp.count("orders feed rows written (ports anonymised: no ISO country)", 0)
    imp.count("rate_cards feed rows written (port lanes, transit days, bands: see docs)", 0)
    return imp.finish()
