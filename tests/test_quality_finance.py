"""The money-mart suites (expectations/finance.py): they pass on the session's real pipeline run
and each catches a failure planted in a copy of its warehouse.

Planted failures are edits a real incident could make: the ECB file lacking a currency, an
invoice line that reached raw but not the audit, a cent lost by an allocation, a customs entry
corrected after the allocation, a finance feed that stopped arriving."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest

from expectations.core import run_suite, run_suite_safely
from expectations.finance import (
    FX_CONVERSIONS,
    finance_freshness_suite,
    finance_suites,
    fx_coverage_suite,
    invoice_totals_suite,
    landed_cost_suite,
    reporting_currency,
)

pytestmark = pytest.mark.slow

FX = {c.table: c for c in FX_CONVERSIONS}


@pytest.fixture
def con(pipeline_run, tmp_path: Path):
    """A writable copy of the pipeline run's warehouse: plant failures here, not there."""
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(pipeline_run["settings"].warehouse, copy)
    c = duckdb.connect(str(copy))
    yield c
    c.close()


def failures(outcome) -> dict[str, object]:
    return {o.expectation: o for o in outcome.outcomes if not o.passed}


def test_the_pipeline_run_evaluated_every_finance_suite_and_each_passed(pipeline_run):
    settings = pipeline_run["settings"]
    with duckdb.connect(str(settings.snapshot), read_only=True) as con:
        [(run_id,)] = con.execute("select run_id from meta.snapshot_info").fetchall()
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        rows = con.execute(
            "select asset, check_name, bool_and(passed), count(*), max(rows_validated) "
            "from meta.dq_results where run_id = ? group by 1, 2",
            [run_id],
        ).fetchall()
    got = {(a, c): (passed, n, validated) for a, c, passed, n, validated in rows}
    for suite in finance_suites():
        passed, n, validated = got[(suite.asset, suite.name)]
        assert passed, suite.key
        assert n == len(suite.expectations), suite.key  # not skipped: every expectation ran
    # The FX suites saw every non-reporting currency of the generated data, not an empty frame.
    assert got[("marts/fct_freight_audit_lines", "fx_coverage")][2] >= 1
    assert got[("intermediate/int_customer_invoice_lines_converted", "fx_coverage")][2] >= 5


def test_a_currency_missing_from_the_ecb_file_fails_fx_coverage_and_blocks(con):
    suite = fx_coverage_suite(FX["intermediate.int_customer_invoice_lines_converted"])
    before = run_suite(con, suite)
    assert before.passed
    currencies = {r["currency_code"] for r in _frame(con, suite)}
    assert "JPY" in currencies and reporting_currency() not in currencies
    # What the conversion's left join to the rates leaves when the ECB file lacks JPY (the
    # model is a table, so plant that outcome; dbt's not_null tests on the rate catch it at
    # build time too): no rate, no rate date, no reporting amount.
    con.execute(
        """update intermediate.int_customer_invoice_lines_converted
        set fx_rate = null, fx_rate_date = null, signed_reporting_amount = null
        where line_currency = 'JPY'"""
    )
    outcome = run_suite(con, suite)
    assert outcome.blocks_publication
    failed = failures(outcome)
    assert set(failed) == {
        "column_values_to_be_between(rows_without_rate)",
        "column_values_to_be_between(rows_without_rate_date)",
        "column_values_to_be_between(rows_without_reporting_amount)",
    }
    [sample] = failed["column_values_to_be_between(rows_without_rate)"].failing_sample
    assert sample["currency_code"] == "JPY" and sample["example_row_id"]


def test_a_null_or_stale_rate_on_a_mart_row_is_caught_with_the_row(con):
    conv = FX["marts.fct_freight_audit_lines"]
    suite = fx_coverage_suite(conv)
    assert run_suite(con, suite).passed
    [(line_id, currency)] = con.execute(
        f"select freight_audit_line_id, invoice_currency from marts.fct_freight_audit_lines "
        f"where invoice_currency <> '{reporting_currency()}' order by 1 limit 1"
    ).fetchall()
    con.execute(
        "update marts.fct_freight_audit_lines set invoice_fx_rate = null "
        "where freight_audit_line_id = ?",
        [line_id],
    )
    outcome = run_suite(con, suite)
    failed = failures(outcome)
    assert outcome.blocks_publication and "column_values_to_be_between(rows_without_rate)" in failed
    [sample] = failed["column_values_to_be_between(rows_without_rate)"].failing_sample
    assert (sample["model"], sample["currency_code"], sample["example_row_id"]) == (
        conv.table,
        currency,
        line_id,
    )

    # A rate published 30 days before the invoice (beyond the carry-forward) is as bad.
    con.execute(
        "update marts.fct_freight_audit_lines set invoice_fx_rate = 1.1, "
        "invoice_fx_rate_date = invoice_date - 30, invoiced_reporting_amount = "
        "round(invoiced_amount * 1.1, 2) where freight_audit_line_id = ?",
        [line_id],
    )
    assert set(failures(run_suite(con, suite))) == {
        "column_values_to_be_between(rows_with_stale_rate)"
    }
    # A reporting amount that is not amount x rate.
    con.execute(
        "update marts.fct_freight_audit_lines set invoice_fx_rate_date = invoice_date, "
        "invoiced_reporting_amount = invoiced_reporting_amount + 1 where freight_audit_line_id = ?",
        [line_id],
    )
    assert set(failures(run_suite(con, suite))) == {
        "column_values_to_be_between(rows_converted_wrongly)"
    }


def test_an_amount_in_the_reporting_currency_needs_no_rate(con):
    suite = fx_coverage_suite(FX["marts.fct_freight_audit_lines"])
    con.execute(
        "update marts.fct_freight_audit_lines set invoice_fx_rate = null, "
        "invoice_fx_rate_date = null where invoice_currency = ?",
        [reporting_currency()],
    )
    assert run_suite(con, suite).passed


def test_an_invoice_line_in_raw_that_the_audit_lost_breaks_the_totals(con):
    suite = invoice_totals_suite()
    assert run_suite(con, suite).passed
    # One line the carrier billed reaches raw but not the audit marts.
    con.execute(
        "insert into raw.carrier_invoice_lines select * replace ('LOST1' as invoice_number, "
        "'EUR' as currency, '12.34' as amount) from raw.carrier_invoice_lines limit 1"
    )
    outcome = run_suite(con, suite)
    assert outcome.blocks_publication
    failed = failures(outcome)
    assert set(failed) == {
        "column_values_to_be_between(line_count_difference)",
        "column_values_to_be_between(invoice_line_count_difference)",
        "column_values_to_be_between(lines_off_cents)",
        "column_values_to_be_between(invoices_off_cents)",
    }
    sample = failed["column_values_to_be_between(lines_off_cents)"].failing_sample
    assert [s["currency_code"] for s in sample] == ["EUR"]
    row = next(r for r in _frame(con, suite) if r["currency_code"] == "EUR")
    assert row["lines_off_cents"] == 1234 and row["line_count_difference"] == -1


def test_a_cent_off_in_the_audit_lines_alone_is_caught(con):
    suite = invoice_totals_suite()
    con.execute(
        "update marts.fct_freight_audit_lines set invoiced_amount = invoiced_amount + 0.01 "
        "where freight_audit_line_id = (select min(freight_audit_line_id) "
        "from marts.fct_freight_audit_lines where invoice_currency = 'USD')"
    )
    failed = failures(run_suite(con, suite))
    assert set(failed) == {"column_values_to_be_between(lines_off_cents)"}
    assert (
        json.loads(failed["column_values_to_be_between(lines_off_cents)"].observed_value)[
            "unexpected"
        ]
        == 1
    )


def test_a_cent_lost_by_the_allocation_is_caught_with_its_source(con):
    suite = landed_cost_suite()
    assert run_suite(con, suite).passed
    [(alloc_id, source_id)] = con.execute(
        "select landed_cost_allocation_id, landed_cost_source_id "
        "from intermediate.int_landed_costs_allocated where cost_component = 'INSURANCE' "
        "and allocated_amount > 0 order by 1 limit 1"
    ).fetchall()
    con.execute(
        "update intermediate.int_landed_costs_allocated set allocated_amount = "
        "allocated_amount - 0.01 where landed_cost_allocation_id = ?",
        [alloc_id],
    )
    outcome = run_suite(con, suite)
    assert outcome.blocks_publication
    failed = failures(outcome)
    assert {
        s["example"] for s in failed["column_values_to_be_between(rows_off)"].failing_sample
    } == {source_id}
    row = next(
        r
        for r in _frame(con, suite)
        if r["check_name"] == "source allocated to the cent" and r["cost_component"] == "INSURANCE"
    )
    assert row["rows_off"] == 1 and row["off_cents"] == pytest.approx(1)


def test_a_customs_entry_corrected_after_allocation_is_caught(con):
    suite = landed_cost_suite()
    [(entry, shipment)] = con.execute(
        "select customs_entry_number, shipment_id from staging.stg_customs__entries where "
        "shipment_id in (select shipment_id from intermediate.int_landed_costs_allocated "
        "where cost_component = 'DUTY') order by 1 limit 1"
    ).fetchall()
    # a corrected entry reached staging after the allocation was built: the entry's duty now
    # differs from what was allocated.
    con.execute(
        "update staging.stg_customs__entries set duty_amount = duty_amount + 5 "
        "where customs_entry_number = ?",
        [entry],
    )
    failed = failures(run_suite(con, suite))
    samples = failed["column_values_to_be_between(rows_off)"].failing_sample
    assert [
        (s["cost_component"], s["example"])
        for s in samples
        if s["check_name"] == "allocated = customs entries / audited freight"
    ] == [("DUTY", shipment)]


def test_an_order_line_that_lost_an_allocation_is_caught(con):
    suite = landed_cost_suite()
    con.execute(
        "update marts.fct_landed_cost_lines set duty_reporting_amount = 0, "
        "landed_cost_reporting_amount = landed_cost_reporting_amount - duty_reporting_amount "
        "where order_line_id = (select min(order_line_id) from marts.fct_landed_cost_lines "
        "where duty_reporting_amount > 0)"
    )
    failed = failures(run_suite(con, suite))
    checks = {
        s["check_name"] for s in failed["column_values_to_be_between(rows_off)"].failing_sample
    }
    assert "order line = its allocations (ours + buyer-paid)" in checks
    assert "order = its order lines" in checks


def test_a_finance_feed_that_stopped_arriving_warns_but_does_not_block(con, monkeypatch):
    monkeypatch.setenv("WAYBILL_DQ_FINANCE_MAX_LAG_DAYS", "21")
    suite = finance_freshness_suite()
    assert not suite.blocking
    assert run_suite(con, suite).passed
    # No customer invoice in the last 60 days, and no payables at all.
    con.execute(
        "delete from marts.rpt_receivables_aging where document_date > "
        "(select max(document_date) - 60 from marts.rpt_receivables_aging)"
    )
    con.execute("delete from marts.rpt_payables_aging")
    outcome = run_suite_safely(con, suite)
    assert outcome.failed_severity == "warn" and not outcome.blocks_publication
    failed = failures(outcome)
    lag = failed["column_values_to_be_between(days_behind_orders)"].failing_sample
    assert [s["model"] for s in lag] == ["marts.rpt_receivables_aging"]
    empty = failed["column_values_to_be_between(row_count)"].failing_sample
    assert [s["model"] for s in empty] == ["marts.rpt_payables_aging"]


def _frame(con, suite) -> list[dict]:
    from ingestion.db import frame

    return frame(con, suite.sql.format(max_rows=100_000)).to_dicts()
