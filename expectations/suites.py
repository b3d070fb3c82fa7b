"""Every data-quality suite, as code. ``SUITES`` is what Dagster turns into asset checks.

Raw feeds (two suites each, generated from ``ingestion.contracts``):

- ``contract`` (error): the raw table has exactly the contract's columns plus lineage; required
  fields are filled; typed fields have the contract's format; closed value sets, ISO 4217
  currencies, ISO 3166 countries and Incoterms hold; amounts, weights and quantities respect
  their lower bound. The loader already enforced this row by row, so a failure here means a
  loader bug or a table written by something else: publication stops. Event and document times
  must not lie in the future beyond a tolerance (warn: the row is loaded but suspicious).
- ``delivery`` (warn): the feed's last delivery: no file was unreadable, no file had more than
  a share of its rows quarantined, and the feed was loaded recently enough (freshness).

A ``contract`` outcome is carried over while its table receives no new load (``rows_of``,
``expectations/carry_over.py``); ``delivery`` runs every time, judged without GX
(``engine="python"``, ``expectations/native.py``) because it reads a few rows of
``meta.load_log``.

Marts: mapping coverage per carrier (error), events matching known shipments (warn), event times
resolved to UTC (warn), pickup not after delivery unless flagged (error),
row counts against the trailing mean of earlier runs (warn). Money marts (``expectations/finance.py``):
FX coverage of every converted amount, invoice totals against the raw invoice feeds, landed cost
to the cent (error); finance freshness and row-count trends (warn).

Adding a suite is one :class:`~expectations.core.Suite` appended to ``MART_SUITES`` (see
docs/data-quality.md, "Adding a check"): name, asset, SQL for the frame, expectations with
severities, and ``requires`` naming the tables it reads, so it is skipped, not failed, until
they exist. Dagster picks it up as an asset check on its asset; no other file changes.
"""

from __future__ import annotations

import os

from expectations.core import Expect, Suite, expect
from expectations.finance import finance_suites
from ingestion.contracts import FEEDS, LINEAGE_COLUMNS, Feed, Field
from ingestion.reference import reference_values

#: Python regular expressions for the contract's types (the loader's DuckDB checks, restated
#: independently: GX is the second opinion).
TYPE_REGEX = {
    "int": r"^[+-]?[0-9]{1,18}$",
    "decimal": r"^[+-]?(?:[0-9]{1,14}(?:[.][0-9]{0,6})?|[.][0-9]{1,6})$",
    "timestamp_tz": r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:[.]\d{1,9})?)?(?:Z|[+-]\d{2}(?::?\d{2})?)$",
    "timestamp": r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:[.]\d{1,9})?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?$",
    "date": r"^\d{4}-\d{2}-\d{2}$",
    "date8": r"^\d{8}$",
    "time4": r"^(?:[01]\d|2[0-3])[0-5]\d(?:[0-5]\d)?$",
    "bool": r"^(?i:true|false|t|f|1|0|y|n|yes|no)$",
}

#: Per feed, the fields that record something that already happened (an event, an order, a
#: document); they must not be in the future. Planned and estimated times are left out, and
#: DCSA events only count when they are actuals (ACT).
PAST_FIELDS: dict[str, tuple[str, ...]] = {
    "orders": ("created_at",),
    "shipments": ("shipped_at",),
    "x12_214": ("event_date",),
    "dcsa": ("event_datetime",),
    "parcel": ("event_timestamp",),
    "csv_events": ("event_time",),
    "x12_210": ("invoice_date",),
    "carrier_invoices_csv": ("invoice_date",),
    "customer_invoices": ("document_date",),
    "customs": ("entry_date",),
    "returns": ("returned_at",),
    "fx_rates": ("rate_date",),
}

#: Freshness: hours since the feed's last successful file before the delivery suite warns.
#: Event and order feeds arrive daily, finance weekly, reference data rarely.
MAX_AGE_HOURS: dict[str, float] = {
    "orders": 48,
    "shipments": 48,
    "x12_214": 48,
    "dcsa": 48,
    "parcel": 48,
    "csv_events": 48,
    "x12_210": 8 * 24,
    "carrier_invoices_csv": 8 * 24,
    "customer_invoices": 8 * 24,
    "customs": 8 * 24,
    "returns": 8 * 24,
    "fx_rates": 4 * 24,
    "carriers": 400 * 24,
    "rate_cards": 400 * 24,
    "accessorial_tariffs": 400 * 24,
}


def _env_float(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


def future_tolerance_hours() -> float:
    """How far in the future an event time may be (clock skew, local times without offset)."""
    return _env_float("WAYBILL_DQ_FUTURE_TOLERANCE_HOURS", 36.0)


def mapping_coverage_min() -> float:
    """Minimum share of a carrier's events that must map to a canonical milestone."""
    return _env_float("WAYBILL_DQ_MAPPING_COVERAGE", 0.98)


def mapping_unknown_allowance() -> int:
    """Unmapped events per carrier forgiven before the share is judged, so one stray code of a
    small carrier does not stop publication (WAYBILL_DQ_MAPPING_UNKNOWN_ALLOWANCE)."""
    return int(_env_float("WAYBILL_DQ_MAPPING_UNKNOWN_ALLOWANCE", 3))


def quarantine_share_max() -> float:
    return _env_float("WAYBILL_DQ_QUARANTINE_SHARE", 0.05)


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _num(name: str) -> str:
    return f"{name}__num"


def _ahead(name: str) -> str:
    return f"{name}__hours_ahead"


def _hours_ahead_sql(feed: Feed, fld: Field) -> str:
    col = _q(fld.name)
    if fld.type == "date8":
        ts = f"try_strptime({col}, '%Y%m%d')"
    elif fld.type == "date":
        ts = f"try_cast({col} as date)::timestamp"
    else:
        ts = f"(try_cast({col} as timestamptz) at time zone 'UTC')"
    value = f"date_diff('minute', (now() at time zone 'UTC'), {ts}) / 60.0"
    if feed.name == "dcsa":
        value = f"case when event_classifier_code = 'ACT' then {value} end"
    return f"{value} as {_q(_ahead(fld.name))}"


def contract_suite(feed: Feed) -> Suite:
    table = f"raw.{feed.table}"
    extra = []
    expectations: list[Expect] = []
    for fld in feed.fields:
        col = fld.name
        if fld.required:
            expectations.append(
                expect("expect_column_values_to_not_be_null", column=col, why="required field")
            )
        if fld.type != "string":
            expectations.append(
                expect(
                    "expect_column_values_to_match_regex",
                    column=col,
                    regex=TYPE_REGEX[fld.type],
                    why=f"format of a {fld.type}",
                )
            )
        if fld.values is not None:
            expectations.append(
                expect("expect_column_values_to_be_in_set", column=col, value_set=list(fld.values))
            )
        if fld.reference is not None:
            expectations.append(
                expect(
                    "expect_column_values_to_be_in_set",
                    column=col,
                    value_set=sorted(reference_values(fld.reference)),
                    why=f"ISO code list ({fld.reference})",
                )
            )
        if fld.min is not None:
            extra.append(f"try_cast({_q(col)} as double) as {_q(_num(col))}")
            expectations.append(
                expect(
                    "expect_column_values_to_be_between",
                    column=_num(col),
                    min_value=fld.min,
                    why="lower bound (no negative amounts, weights or quantities)",
                )
            )
    for name in PAST_FIELDS.get(feed.name, ()):
        fld = feed.field(name)
        extra.append(_hours_ahead_sql(feed, fld))
        expectations.append(
            expect(
                "expect_column_values_to_be_between",
                severity="warn",
                column=_ahead(name),
                max_value=future_tolerance_hours(),
                why="not in the future beyond the tolerance",
                clock="heals",  # measured from now(): a time only moves out of the future
            )
        )
    derived = [e.rsplit(" as ", 1)[1].strip('"') for e in extra]
    # `select *`: a column added to or missing from the raw table shows in the column set.
    expectations.insert(
        0,
        expect(
            "expect_table_columns_to_match_set",
            column_set=[*feed.field_names, *LINEAGE_COLUMNS, *derived],
            exact_match=True,
            why="the raw table has the contract's columns and lineage, no more, no fewer",
        ),
    )
    columns = ", ".join(["*", *extra])
    sql = f"select {columns} from {table} using sample reservoir({{max_rows}} rows) repeatable (42)"
    return Suite(
        name="contract",
        asset=f"raw/{feed.table}",
        description=f"{table} satisfies the {feed.name} contract (docs/feeds.md); event and "
        "document times are not in the future.",
        sql=sql,
        expectations=tuple(expectations),
        id_columns=("_source_file", "_row_number"),
        requires=(table,),
        # The rows decide (and the clock, for the future check): while the table receives no
        # new load, the last outcome is carried over (expectations/carry_over.py).
        rows_of=table,
        remedy="An error here means rows that break the contract reached raw: a loader bug or "
        "a table written outside the loader. Find the rows by _source_file/_row_number in the "
        "failing sample, fix the loader, delete the file's rows from raw and meta.load_log, and "
        "re-run. A future timestamp (warning): ask the sender whether the clock or the time "
        "zone of the file is wrong; resend a corrected file if so.",
    )


def delivery_suite(feed: Feed) -> Suite:
    name = feed.name.replace("'", "''")
    sql = f"""
    with last_run as (
        select run_id from meta.load_log where feed = '{name}'
        order by finished_at desc limit 1
    ),
    files as (
        select source_file, status, rows_read, rows_quarantined,
               case when rows_read > 0 then rows_quarantined::double / rows_read end
                   as quarantined_share,
               error
        from meta.load_log
        where feed = '{name}' and run_id is not distinct from (select run_id from last_run)
    ),
    fresh as (
        select date_diff('minute', max(finished_at), (now() at time zone 'UTC')) / 60.0
                   as hours_since_last_load
        from meta.load_log where feed = '{name}' and status like 'LOADED%'
    )
    select files.*, fresh.hours_since_last_load from files cross join fresh
    """
    return Suite(
        name="delivery",
        asset=f"raw/{feed.table}",
        description=f"The {feed.name} feed's last delivery: files readable, few rows "
        "quarantined, loaded recently.",
        sql=sql,
        expectations=(
            expect(
                "expect_table_row_count_to_be_between",
                severity="warn",
                min_value=1,
                why="at least one file of the feed was ever delivered",
            ),
            expect(
                "expect_column_values_to_not_be_in_set",
                severity="warn",
                column="status",
                value_set=["FAILED"],
                why="no file of the last delivery was unreadable",
            ),
            expect(
                "expect_column_values_to_be_between",
                severity="warn",
                column="quarantined_share",
                max_value=quarantine_share_max(),
                why="no file of the last delivery had many rows quarantined",
            ),
            expect(
                "expect_column_values_to_be_between",
                severity="warn",
                column="hours_since_last_load",
                max_value=MAX_AGE_HOURS.get(feed.name, 48),
                why="freshness: the feed's last good file is recent",
                clock="breaks",
            ),
        ),
        id_columns=("source_file",),
        requires=("meta.load_log",),
        # Runs every time (the clock moves) on a few rows of meta.load_log: judged without GX
        # (expectations/native.py), so a run with nothing new does not import it.
        engine="python",
        remedy="Run `waybill quarantine --feed "
        f"{feed.name}` to see what was rejected and why; send the export to the sender. An "
        "unreadable file is listed with its reason in the run summary. A stale feed: ask the "
        "sender (or check the transfer job) why no file arrived.",
    )


def mapping_coverage_suite() -> Suite:
    return Suite(
        name="milestone_mapping_coverage",
        asset="marts/fct_shipment_events",
        description="Per carrier, the share of events of known shipments mapped to a canonical "
        f"milestone (not UNKNOWN) is at least {mapping_coverage_min():.0%} "
        "(WAYBILL_DQ_MAPPING_COVERAGE) once the first "
        f"{mapping_unknown_allowance()} unmapped events are forgiven "
        "(WAYBILL_DQ_MAPPING_UNKNOWN_ALLOWANCE). Events of shipments we do not know feed no KPI "
        "(and a place-dependent code cannot be mapped without the shipment's route); they are "
        "judged by events_match_known_shipments.",
        sql=f"""
        with counted as (
            select coalesce(carrier_code, '(none)') as carrier_code, count(*) as events,
                   count(*) filter (where is_mapped) as mapped_events
            from marts.fct_shipment_events
            where not is_unknown_shipment
            group by 1
        )
        select *, mapped_events::double / events as mapped_share,
               least(1.0, (mapped_events + least(events - mapped_events,
                   {mapping_unknown_allowance()}))::double / events) as mapped_share_judged
        from counted order by 1
        """,
        expectations=(
            expect(
                "expect_column_values_to_be_between",
                column="mapped_share_judged",
                min_value=mapping_coverage_min(),
                why="KPIs would silently miss milestones of unmapped codes",
            ),
        ),
        id_columns=("carrier_code",),
        requires=("marts.fct_shipment_events",),
        remedy="Look up the carrier's unmapped codes in intermediate.int_event_codes_counted "
        "(is_mapped = false). A new legitimate code: add a row to the carrier's mapping seed in "
        "dbt_project/seeds/ (docs/milestones.md) and re-run. A garbage feed: ask the carrier.",
    )


def known_shipment_share_min() -> float:
    """Minimum share of a carrier's events that belong to a shipment we know."""
    return _env_float("WAYBILL_DQ_KNOWN_SHIPMENT_SHARE", 0.95)


def known_shipments_suite() -> Suite:
    return Suite(
        name="events_match_known_shipments",
        asset="marts/fct_shipment_events",
        description="Per carrier, at least "
        f"{known_shipment_share_min():.0%} of events (WAYBILL_DQ_KNOWN_SHIPMENT_SHARE) belong to "
        "a shipment in the shipments feed (by our shipment id, or by tracking number / booking "
        "reference). The others are kept (is_unknown_shipment) but feed no KPI.",
        sql="""
        select coalesce(carrier_code, '(none)') as carrier_code, count(*) as events,
               count(*) filter (where is_unknown_shipment) as unknown_shipment_events,
               1.0 - count(*) filter (where is_unknown_shipment)::double / count(*)
                   as known_shipment_share
        from marts.fct_shipment_events group by 1 order by 1
        """,
        expectations=(
            expect(
                "expect_column_values_to_be_between",
                column="known_shipment_share",
                min_value=known_shipment_share_min(),
                severity="warn",
                why="a carrier's events that match no shipment are missing from its KPIs",
            ),
        ),
        id_columns=("carrier_code",),
        requires=("marts.fct_shipment_events",),
        remedy="List the references: select carrier_shipment_ref, count(*) from "
        "marts.fct_shipment_events where is_unknown_shipment group by 1. Shipments missing from "
        "the shipments feed: ask the OMS export; tracking numbers in another format: fix the "
        "carrier's parser in ingestion/parsers/; a carrier sending other customers' events: "
        "ask the carrier to filter.",
    )


def event_time_resolved_min() -> float:
    """Minimum share of a carrier's events (of known shipments) whose time could be put in UTC."""
    return _env_float("WAYBILL_DQ_EVENT_TIME_RESOLVED", 1.0)


def event_times_resolved_suite() -> Suite:
    return Suite(
        name="event_times_resolved",
        asset="marts/fct_shipment_events",
        description="Per carrier and source, at least "
        f"{event_time_resolved_min():.0%} (WAYBILL_DQ_EVENT_TIME_RESOLVED) of the events of known "
        "shipments have a UTC time: a local time without an offset or X12 time code is placed "
        "through its location's time zone (seed ref_locations), and a place missing there "
        "leaves event_at null (event_time_basis UNRESOLVED). Such an event is kept but cannot "
        "set a milestone, so the shipment may look undelivered.",
        sql="""
        select coalesce(carrier_code, '(none)') as carrier_code, source, count(*) as events,
               count(*) filter (where event_at is null) as unresolved_events,
               1.0 - count(*) filter (where event_at is null)::double / count(*)
                   as resolved_share
        from marts.fct_shipment_events
        where not is_unknown_shipment
        group by 1, 2 order by 1, 2
        """,
        expectations=(
            expect(
                "expect_column_values_to_be_between",
                column="resolved_share",
                min_value=event_time_resolved_min(),
                severity="warn",
                why="an event without a UTC time sets no milestone: deliveries and pickups go "
                "missing from the KPIs",
            ),
        ),
        id_columns=("carrier_code", "source"),
        requires=("marts.fct_shipment_events",),
        remedy="Find the places: select location_city, location_locode, count(*) from "
        "intermediate.int_carrier_events_mapped where event_time_basis = 'UNRESOLVED' group by "
        "all. Add each place with its IANA time zone to dbt_project/seeds/ref_locations.csv "
        "(docs/milestones.md, Time zones) and re-run, or ask the carrier to send UTC offsets "
        "(X12: an AT7-07 time code).",
    )


def pickup_before_delivery_suite() -> Suite:
    return Suite(
        name="pickup_not_after_delivery",
        asset="marts/fct_shipments",
        description="Picked up at or before delivered, unless the shipment is flagged "
        "has_out_of_order_milestone.",
        sql="""
        select shipment_id, carrier_code, picked_up_at, delivered_at,
               date_diff('second', picked_up_at, delivered_at) / 3600.0
                   as hours_pickup_to_delivery
        from marts.fct_shipments
        where picked_up_at is not null and delivered_at is not null
          and not coalesce(has_out_of_order_milestone, false)
        """,
        expectations=(
            expect(
                "expect_column_values_to_be_between",
                column="hours_pickup_to_delivery",
                min_value=0,
                why="an unflagged impossible timeline means the milestone logic is wrong",
            ),
        ),
        id_columns=("shipment_id", "carrier_code"),
        requires=("marts.fct_shipments",),
        remedy="The out-of-order flag in fct_shipment_milestones missed these shipments: check "
        "their events in marts.fct_shipment_events (time zones, mapping of the codes) and fix "
        "the model or the mapping seed.",
    )


def row_count_trend_suite(table: str, low: float = 0.5, high: float = 2.0) -> Suite:
    asset = table.replace(".", "/")
    metric = f"row_count:{asset}"
    return Suite(
        name="row_count_trend",
        asset=asset,
        description=f"{table}'s row count is within {low:g}x..{high:g}x the mean of the last 5 "
        "earlier evaluations (meta.dq_metrics).",
        sql=f"""
        with hist as (
            select value from meta.dq_metrics where metric = '{metric}'
            order by measured_at desc limit 5
        )
        select (select count(*) from {table}) as row_count,
               (select avg(value) from hist) as trailing_mean,
               (select count(*) from hist) as earlier_runs,
               (select count(*) from {table}) / nullif((select avg(value) from hist), 0)
                   as ratio_to_trailing_mean
        """,
        expectations=(
            expect(
                "expect_column_values_to_be_between",
                severity="warn",
                column="ratio_to_trailing_mean",
                min_value=low,
                max_value=high,
                why="a sudden drop or jump usually means a feed went missing or was doubled",
            ),
        ),
        requires=(table,),
        metric_sql=f"select count(*) from {table}",
        remedy="Compare meta.load_log of this run with earlier ones: a feed that delivered "
        "nothing, a re-sent archive, a filter changed in a model. Nothing wrong (a busy week)? "
        "No action: the mean catches up.",
    )


def raw_suites() -> list[Suite]:
    suites = []
    for feed in FEEDS.values():
        suites += [contract_suite(feed), delivery_suite(feed)]
    return suites


def mart_suites() -> list[Suite]:
    """Suites on dbt models. Append new ones here (see docs/data-quality.md)."""
    return [
        mapping_coverage_suite(),
        known_shipments_suite(),
        event_times_resolved_suite(),
        pickup_before_delivery_suite(),
        row_count_trend_suite("marts.fct_shipment_events"),
        row_count_trend_suite("marts.fct_shipments"),
        row_count_trend_suite("marts.fct_orders"),
        # the money marts: FX coverage, invoice totals, landed cost, freshness (finance.py)
        *finance_suites(),
    ]


def all_suites() -> list[Suite]:
    return raw_suites() + mart_suites()
