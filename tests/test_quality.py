"""Data-quality suites (expectations/) on small hand-built warehouses: what each suite must
catch, its severity, and what lands in meta.dq_results."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from expectations.core import run_suite
from expectations.results import blocking_failures, ensure_dq_tables, store
from expectations.suites import (
    all_suites,
    contract_suite,
    delivery_suite,
    event_times_resolved_suite,
    known_shipments_suite,
    mapping_coverage_suite,
    pickup_before_delivery_suite,
    row_count_trend_suite,
)
from ingestion.contracts import FEEDS
from ingestion.load import load_landing

CUSTOMS_HEADER = (
    "entry_number,shipment_id,entry_date,release_date,import_country,currency,customs_value,"
    "duty_amount,import_tax_amount,is_tax_recoverable,brokerage_amount,broker_name"
)
GOOD_CUSTOMS = "E1,S1,2026-10-01,2026-10-02,DE,EUR,1000.00,50.00,190.00,true,25.00,Acme"


@pytest.fixture
def con(tmp_path: Path):
    c = duckdb.connect(str(tmp_path / "w.duckdb"))
    yield c
    c.close()


def _load(con, tmp_path: Path, feed: str, name: str, text: str) -> None:
    folder = tmp_path / "landing" / FEEDS[feed].folder
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text)
    load_landing(con, tmp_path / "landing")


def _failed(outcome) -> dict[str, object]:
    return {o.expectation: o for o in outcome.outcomes if not o.passed}


def test_every_feed_has_a_blocking_contract_suite_and_a_warning_delivery_suite():
    keys = {(s.asset, s.name): s for s in all_suites()}
    for feed in FEEDS.values():
        contract = keys[(f"raw/{feed.table}", "contract")]
        assert contract.blocking
        delivery = keys[(f"raw/{feed.table}", "delivery")]
        assert not delivery.blocking and delivery.severity == "warn"
    assert len(keys) == len(all_suites()), "check names must be unique per asset"


def test_the_contract_suite_states_every_rule_of_the_contract():
    """Counted from the contract independently: one expectation per required field, typed
    field, value set, ISO list and lower bound, plus the column set."""
    for feed in FEEDS.values():
        suite = contract_suite(feed)
        labels = [e.label for e in suite.expectations]
        for fld in feed.fields:
            if fld.required:
                assert f"column_values_to_not_be_null({fld.name})" in labels
            if fld.type != "string":
                assert f"column_values_to_match_regex({fld.name})" in labels
            if fld.values or fld.reference:
                assert f"column_values_to_be_in_set({fld.name})" in labels
            if fld.min is not None:
                assert f"column_values_to_be_between({fld.name}__num)" in labels
    orders = {e.label: e for e in contract_suite(FEEDS["orders"]).expectations}
    assert set(orders["column_values_to_be_in_set(incoterm)"].kwargs["value_set"]) >= {
        "EXW",
        "DDP",
        "FOB",
    }
    assert "EUR" in orders["column_values_to_be_in_set(currency)"].kwargs["value_set"]
    assert orders["column_values_to_be_between(created_at__hours_ahead)"].severity == "warn"


def test_contract_suite_passes_on_loaded_rows_and_catches_rows_that_bypass_the_loader(
    con, tmp_path
):
    _load(con, tmp_path, "customs", "c.csv", f"{CUSTOMS_HEADER}\n{GOOD_CUSTOMS}\n")
    suite = contract_suite(FEEDS["customs"])
    outcome = run_suite(con, suite)
    assert outcome.passed and outcome.rows_validated == 1

    # Rows written behind the loader's back: a currency that does not exist, a negative duty,
    # a date in the future.
    con.execute(
        """insert into raw.customs_entries select * replace (
            'E2' as entry_number, 'ABC' as currency, '-5.00' as duty_amount,
            '2099-01-01' as entry_date, 99 as _row_number) from raw.customs_entries"""
    )
    outcome = run_suite(con, suite)
    failed = _failed(outcome)
    assert set(failed) == {
        "column_values_to_be_in_set(currency)",
        "column_values_to_be_between(duty_amount__num)",
        "column_values_to_be_between(entry_date__hours_ahead)",
    }
    assert failed["column_values_to_be_in_set(currency)"].severity == "error"
    assert failed["column_values_to_be_between(entry_date__hours_ahead)"].severity == "warn"
    assert outcome.blocks_publication
    sample = failed["column_values_to_be_in_set(currency)"].failing_sample
    assert sample and sample[0]["currency"] == "ABC" and sample[0]["_row_number"] == 99
    assert sample[0]["_source_file"].endswith("c.csv")


def test_a_future_timestamp_alone_warns_but_does_not_block(con, tmp_path):
    future = GOOD_CUSTOMS.replace("2026-10-01,2026-10-02", "2099-10-01,2099-10-02")
    _load(con, tmp_path, "customs", "c.csv", f"{CUSTOMS_HEADER}\n{future}\n")
    outcome = run_suite(con, contract_suite(FEEDS["customs"]))
    assert not outcome.passed and outcome.failed_severity == "warn"
    assert not outcome.blocks_publication


def land_customs_deliveries(landing: Path) -> Path:
    """Three customs files in ``landing``: one good, one with a quarantined row, one binary."""
    folder = landing / FEEDS["customs"].folder
    folder.mkdir(parents=True)
    (folder / "a_ok.csv").write_text(f"{CUSTOMS_HEADER}\n{GOOD_CUSTOMS}\n")
    (folder / "b_bad_rows.csv").write_text(
        f"{CUSTOMS_HEADER}\n{GOOD_CUSTOMS.replace('E1', 'E2')}\n"
        + GOOD_CUSTOMS.replace("E1", "E3").replace("EUR", "EURO")
        + "\n"
    )
    (folder / "c_broken.csv").write_bytes(b"\x00\x01garbage")
    return folder


def test_delivery_suite_warns_about_an_unreadable_file_and_a_heavily_quarantined_one(con, tmp_path):
    land_customs_deliveries(tmp_path / "landing")
    load_landing(con, tmp_path / "landing")
    outcome = run_suite(con, delivery_suite(FEEDS["customs"]))
    failed = _failed(outcome)
    assert set(failed) == {
        "column_values_to_not_be_in_set(status)",
        "column_values_to_be_between(quarantined_share)",
    }
    assert (
        failed["column_values_to_not_be_in_set(status)"]
        .failing_sample[0]["source_file"]
        .endswith("c_broken.csv")
    )
    assert (
        failed["column_values_to_be_between(quarantined_share)"]
        .failing_sample[0]["source_file"]
        .endswith("b_bad_rows.csv")
    )
    assert outcome.failed_severity == "warn" and not outcome.blocks_publication


def _events_table(con, rows: list[tuple]) -> None:
    """Rows of (carrier_code, is_mapped) or (carrier_code, is_mapped, is_unknown_shipment)."""
    con.execute("create schema if not exists marts")
    con.execute(
        "create or replace table marts.fct_shipment_events "
        "(carrier_code varchar, is_mapped boolean, is_unknown_shipment boolean)"
    )
    con.executemany(
        "insert into marts.fct_shipment_events values (?, ?, ?)",
        [(*r, False) if len(r) == 2 else r for r in rows],
    )


def test_mapping_coverage_blocks_a_carrier_whose_events_all_map_to_unknown(con, monkeypatch):
    monkeypatch.setenv("WAYBILL_DQ_MAPPING_COVERAGE", "0.98")
    monkeypatch.setenv("WAYBILL_DQ_MAPPING_UNKNOWN_ALLOWANCE", "3")
    # GOOD: 200 events, 4 unknown -> (196 + 3) / 200 = 99.5 %: passes.
    # SMALL: 20 events, 1 stray unknown code: forgiven by the allowance.
    # BAD: every event unknown.
    _events_table(
        con,
        [("GOOD", i >= 4) for i in range(200)]
        + [("SMALL", i >= 1) for i in range(20)]
        + [("BAD", False)] * 30,
    )
    outcome = run_suite(con, mapping_coverage_suite())
    [failure] = outcome.outcomes
    assert not failure.passed and outcome.blocks_publication
    assert [s["carrier_code"] for s in failure.failing_sample] == ["BAD"]

    _events_table(con, [("GOOD", i >= 5) for i in range(200)])  # 195 + 3 = 99.0 %: passes
    assert run_suite(con, mapping_coverage_suite()).passed
    _events_table(con, [("GOOD", i >= 8) for i in range(200)])  # 192 + 3 = 97.5 %: fails
    assert not run_suite(con, mapping_coverage_suite()).passed


def test_mapping_coverage_judges_only_events_of_known_shipments(con, monkeypatch):
    # A carrier's 50 events for shipments we never had, all with codes that cannot be mapped
    # without the shipment's route (the DCSA conformance samples): no KPI reads them, so they
    # do not stop publication; events_match_known_shipments warns about them instead.
    monkeypatch.setenv("WAYBILL_DQ_MAPPING_UNKNOWN_ALLOWANCE", "3")
    monkeypatch.setenv("WAYBILL_DQ_KNOWN_SHIPMENT_SHARE", "0.95")
    _events_table(
        con,
        [("OCEAN", True, False)] * 100
        + [("OCEAN", False, True)] * 50
        + [("ORPHANS", False, True)] * 10,
    )
    assert run_suite(con, mapping_coverage_suite()).passed
    outcome = run_suite(con, known_shipments_suite())
    [o] = outcome.outcomes
    assert not o.passed and not outcome.blocks_publication
    assert {s["carrier_code"] for s in o.failing_sample} == {"OCEAN", "ORPHANS"}
    # ... but an unknown code on a shipment we know still counts against the carrier
    _events_table(con, [("OCEAN", True, False)] * 100 + [("OCEAN", False, False)] * 10)
    assert not run_suite(con, mapping_coverage_suite()).passed
    # 2 of 100 events on unknown shipments: within the 95 % share
    _events_table(con, [("UPS", True, False)] * 98 + [("UPS", True, True)] * 2)
    assert run_suite(con, known_shipments_suite()).passed


def test_events_without_a_utc_time_are_reported_per_carrier_and_source(con):
    # A UPS scan at a town missing from ref_locations has no offset and no zone: event_at null.
    con.execute("create schema marts")
    con.execute(
        """create table marts.fct_shipment_events as select * from (values
        ('UPS', 'PARCEL', timestamp '2026-10-01 10:00', false),
        ('UPS', 'PARCEL', null, false),
        ('UPS', 'X12_214', timestamp '2026-10-01 11:00', false),
        ('ODFL', 'X12_214', timestamp '2026-10-01 12:00', false),
        ('ODFL', 'X12_214', null, true))
        as t(carrier_code, source, event_at, is_unknown_shipment)"""
    )
    outcome = run_suite(con, event_times_resolved_suite())
    [o] = outcome.outcomes
    assert not o.passed and not outcome.blocks_publication
    # only UPS parcel: UPS's X12 events are fine, ODFL's unresolved one is not our shipment
    assert [(r["carrier_code"], r["source"]) for r in o.failing_sample] == [("UPS", "PARCEL")]
    assert o.failing_sample[0]["resolved_share"] == 0.5
    con.execute("update marts.fct_shipment_events set event_at = now() where event_at is null")
    assert run_suite(con, event_times_resolved_suite()).passed


def test_pickup_after_delivery_fails_unless_flagged_out_of_order(con):
    con.execute("create schema marts")
    con.execute(
        """create table marts.fct_shipments as select * from (values
        ('S1', 'UPS', timestamp '2026-10-01 10:00', timestamp '2026-10-03 10:00', false),
        ('S2', 'UPS', timestamp '2026-10-05 10:00', timestamp '2026-10-03 10:00', true),
        ('S3', 'DHL', null, timestamp '2026-10-03 10:00', false))
        t(shipment_id, carrier_code, picked_up_at, delivered_at, has_out_of_order_milestone)"""
    )
    assert run_suite(con, pickup_before_delivery_suite()).passed
    con.execute(
        "insert into marts.fct_shipments values ('S4', 'DHL', timestamp '2026-10-04 10:00', "
        "timestamp '2026-10-03 10:00', false)"
    )
    outcome = run_suite(con, pickup_before_delivery_suite())
    [o] = outcome.outcomes
    assert not o.passed and o.failing_sample[0]["shipment_id"] == "S4"


def test_row_count_trend_compares_with_the_mean_of_earlier_runs(con):
    ensure_dq_tables(con)
    con.execute("create schema marts")
    con.execute("create table marts.fct_orders as select range as id from range(100)")
    suite = row_count_trend_suite("marts.fct_orders")
    for run in ("r1", "r2"):
        outcome = run_suite(con, suite)
        assert outcome.passed  # no history, then ratio 1.0
        store(con, outcome, run)
    con.execute("delete from marts.fct_orders where id >= 30")  # 100 -> 30 rows
    outcome = run_suite(con, suite)
    [o] = outcome.outcomes
    assert not o.passed and o.severity == "warn"
    assert json.loads(o.observed_value)["unexpected"] == 1


def test_results_are_stored_with_observed_value_threshold_and_sample(con):
    ensure_dq_tables(con)
    _events_table(con, [("BAD", False)] * 10)
    outcome = run_suite(con, mapping_coverage_suite())
    store(con, outcome, "run-1")
    row = con.execute(
        "select check_name, asset, run_id, passed, severity, blocking, observed_value, "
        "threshold, failing_sample from meta.dq_results"
    ).fetchall()[0]
    assert row[:6] == (
        "milestone_mapping_coverage",
        "marts/fct_shipment_events",
        "run-1",
        False,
        "error",
        True,
    )
    assert json.loads(row[6])["unexpected"] == 1
    assert json.loads(row[7])["min_value"] == pytest.approx(0.98)
    assert json.loads(row[8])[0]["carrier_code"] == "BAD"
    assert blocking_failures(con, "run-1")[0][:2] == (
        "marts/fct_shipment_events",
        "milestone_mapping_coverage",
    )
    assert blocking_failures(con, "other-run") == []


def test_a_suite_on_a_table_that_does_not_exist_yet_is_skipped_not_failed(con):
    ensure_dq_tables(con)
    outcome = run_suite(con, mapping_coverage_suite())
    assert outcome.skipped and outcome.passed and not outcome.blocks_publication
    store(con, outcome, "r")
    assert (
        con.execute("select passed, note from meta.dq_results")
        .fetchall()[0][1]
        .startswith("skipped")
    )


def test_docs_list_every_check_with_its_severity_and_remedy():
    from expectations.docs import DOC, MARKER, render

    text = DOC.read_text()
    assert text.split(MARKER, 1)[1] == render().split(MARKER, 1)[1], (
        "regenerate: python -m expectations.docs --write"
    )
    for suite in all_suites():
        assert f"| `{suite.asset}` | `{suite.name}` |" in text and suite.remedy


def test_a_suite_whose_query_breaks_is_a_failed_check_at_its_severity(con):
    from dataclasses import replace

    from expectations.core import run_suite_safely

    con.execute("create schema marts")
    con.execute("create table marts.fct_shipments (shipment_id varchar)")  # columns renamed
    outcome = run_suite_safely(con, pickup_before_delivery_suite())
    [o] = outcome.outcomes
    assert not o.passed and o.error and "picked_up_at" in o.error
    assert outcome.blocks_publication
    warn_only = replace(row_count_trend_suite("marts.fct_shipments"), sql="select nonsense")
    assert run_suite_safely(con, warn_only).failed_severity == "warn"
