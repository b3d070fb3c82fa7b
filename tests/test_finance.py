"""Finance marts and exports against independent truth (docs/finance.md).

Uses the session's real pipeline run (``pipeline_run``: 1,500 orders, seed 7). Truth:
- the generator's ``_truth/invoice_truth.parquet`` (which invoice carries which planted
  problem) and the manifest's per-carrier invoice counts it must agree with;
- the raw invoice tables (what arrived), the manifest's FX publication facts;
- the marts themselves for the exports (an export must not change a number).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import duckdb
import openpyxl
import polars as pl
import pytest

from generator import truth
from tests.conftest import waybill
from tests.test_orders import read_order_files

pytestmark = pytest.mark.slow

ACCEPTED = truth.ACCEPTED


def read(path, sql: str) -> pl.DataFrame:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.sql(sql).pl()
    finally:
        con.close()


@pytest.fixture(scope="module")
def warehouse(pipeline_run):
    return pipeline_run["settings"].warehouse


@pytest.fixture(scope="module")
def snapshot(pipeline_run):
    return pipeline_run["settings"].snapshot


@pytest.fixture(scope="module")
def invoice_truth(pipeline_run) -> pl.DataFrame:
    return truth.invoice_truth(pipeline_run["settings"].landing)


@pytest.fixture(scope="module")
def audited(pipeline_run) -> pl.DataFrame:
    settings = pipeline_run["settings"]
    return truth.audited_against_truth(settings.warehouse, settings.landing)


def test_invoice_truth_agrees_with_the_manifest_counts(pipeline_run, invoice_truth):
    carriers = pipeline_run["manifest"]["carriers"]
    originals = invoice_truth.filter(pl.col("planted") == "")
    for code, c in carriers.items():
        mine = originals.filter(pl.col("carrier_code") == code)
        mine_all = invoice_truth.filter(pl.col("carrier_code") == code)
        assert mine.height == c["invoices"], code
        assert (mine["price_error"] == "OVERCHARGE").sum() == c["invoices_overcharged"], code
        assert (mine["price_error"] == "UNDERCHARGE").sum() == c["invoices_undercharged"], code
        assert mine["has_unevidenced_redelivery"].sum() == c["unevidenced_redelivery_charges"]
        assert mine["has_unevidenced_detention"].sum() == c["unevidenced_detention_charges"]
        for planted, key in (
            ("DUPLICATE_RESENT", "duplicate_invoices_resent"),
            ("DUPLICATE_RENUMBERED", "duplicate_invoices_renumbered"),
            ("UNKNOWN_SHIPMENT", "invoices_for_unknown_shipments"),
        ):
            assert (mine_all["planted"] == planted).sum() == c[key], (code, planted)


def test_every_invoice_received_is_audited_once(audited):
    assert audited.filter(pl.col("truth").is_null()).height == 0, "audited invoices nobody sent"
    missing = audited.filter(pl.col("found").is_null())
    assert missing.height == 0, missing.select("carrier_code", "invoice_number", "planted")


def test_freight_audit_finds_every_planted_problem(audited):
    """Recall 100 %: each planted problem gets its status (or, for an invoice with two
    problems, its flag)."""
    problems = audited.filter(pl.col("truth") != "CLEAN")
    assert problems.height > 30, "too few planted problems to judge"
    for kind in truth.PROBLEMS:
        planted = problems.filter(pl.col("truth") == kind)
        missed = planted.filter(pl.col("found") != kind)
        assert missed.height == 0, (kind, missed.select("invoice_number", "found").to_dicts())
    # flags: every unevidenced accessorial and price error is flagged even behind another status
    originals = audited.filter(pl.col("planted") == "")
    assert (originals["has_unevidenced_redelivery"] == originals["found_rdl"]).all()
    assert (originals["has_unevidenced_detention"] == originals["found_det"]).all()
    over = originals.filter(pl.col("price_error") == "OVERCHARGE")
    assert over["has_overcharge"].all()
    under = originals.filter(pl.col("price_error") == "UNDERCHARGE")
    assert under["has_undercharge"].all()


def test_freight_audit_flags_nothing_beyond_what_was_planted(audited):
    """Precision: of the invoices flagged, the share that carries a planted problem of that
    kind (issue: above 95 %)."""
    flagged = audited.filter(pl.col("found") != "CLEAN")
    right = flagged.filter(pl.col("found") == pl.col("truth"))
    precision = right.height / flagged.height
    wrong = flagged.filter(pl.col("found") != pl.col("truth"))
    assert precision >= 0.95, wrong.select("invoice_number", "truth", "found").to_dicts()


def test_sum_over_statuses_equals_sum_invoiced_in_the_raw_feeds(warehouse):
    """Every loaded invoice line row (each re-sent copy too) is one audit line, and the amounts
    per status add up to what the carriers billed, read straight from raw.*."""
    raw = read(
        warehouse,
        "select sum(cast(amount as decimal(18, 2))) as amount, count(*) as n "
        "from raw.carrier_invoice_lines",
    ).row(0)
    raw_x12 = read(
        warehouse,
        "select sum(cast(charge_amount as decimal(18, 2))) as amount, count(*) as n "
        "from raw.x12_210_invoice_lines",
    ).row(0)
    by_status = read(
        warehouse,
        "select line_status, sum(invoiced_amount) as amount, count(*) as n "
        "from marts.fct_freight_audit_lines group by line_status",
    )
    assert by_status["line_status"].n_unique() >= 5
    assert by_status["n"].sum() == raw[1] + raw_x12[1]
    assert by_status["amount"].sum() == raw[0] + raw_x12[0]
    invoices = read(
        warehouse,
        "select invoice_status, sum(invoiced_amount) as amount "
        "from marts.fct_freight_audit_invoices group by invoice_status",
    )
    assert invoices["amount"].sum() == raw[0] + raw_x12[0]


def test_fx_days_without_a_publication_use_the_last_prior_rate(pipeline_run, warehouse):
    info = pipeline_run["manifest"]["parameters"]["fx"]
    rates = read(
        warehouse,
        "select rate_on, rate_date, days_carried_forward from "
        "intermediate.int_fx_rates_daily_filled where currency_code = 'USD'",
    )
    published = set(
        read(warehouse, "select distinct rate_date from staging.stg_ecb__fx_rates")[
            "rate_date"
        ].to_list()
    )
    by_day = {r["rate_on"]: r for r in rates.to_dicts()}
    checked = 0
    for day, row in by_day.items():
        expected = max(d for d in published if d <= day)
        assert row["rate_date"] == expected, day
        assert row["days_carried_forward"] == (day - expected).days
        if day.weekday() == 5:  # Saturday: Friday's rate unless Friday was a holiday
            assert row["rate_date"] <= day - dt.timedelta(days=1)
        checked += 1
    assert checked > 250
    assert info["missing_business_days"], "the generator plants days the ECB file lacks"
    for missing in info["missing_business_days"]:
        day = dt.date.fromisoformat(missing)
        assert by_day[day]["rate_date"] < day, missing


def test_landed_cost_allocations_reconcile_to_their_sources(warehouse):
    bad = read(
        warehouse,
        "select landed_cost_source_id from intermediate.int_landed_costs_allocated "
        "group by 1 having max(source_amount) <> sum(allocated_amount) "
        "or max(source_reporting_amount) <> sum(allocated_reporting_amount)",
    )
    assert bad.height == 0
    # duty allocated = duty on the customs entries of shipped shipments, from raw
    duty = read(
        warehouse,
        "select (select sum(allocated_amount) from intermediate.int_landed_costs_allocated "
        "  where cost_component = 'DUTY') as allocated, "
        "(select sum(cast(duty_amount as decimal(18, 2))) from staging.stg_customs__entries "
        "  where shipment_id in (select shipment_id from intermediate.int_landed_costs_allocated)"
        ") as source",
    ).row(0)
    assert duty[0] == duty[1] and duty[0] > 0


def test_a_credit_note_reduces_net_revenue_and_margin_by_its_amount(warehouse):
    m = read(
        warehouse,
        "select net_revenue_reporting_amount, goods_invoiced_reporting_amount, "
        "freight_invoiced_reporting_amount, credit_note_reporting_amount, credit_note_count "
        "from marts.fct_order_margin",
    )
    credited = m.filter(pl.col("credit_note_count") > 0)
    assert credited.height > 10
    assert (credited["credit_note_reporting_amount"] > 0).all()
    assert (
        credited["goods_invoiced_reporting_amount"]
        + credited["freight_invoiced_reporting_amount"]
        - credited["credit_note_reporting_amount"]
        == credited["net_revenue_reporting_amount"]
    ).all()


REPORT_TOTALS = {
    # report -> (mart sql over the snapshot, money column compared)
    "freight-audit-exceptions": (
        "select sum(invoiced_amount) from marts.fct_freight_audit_lines "
        "where line_status not in ('MATCHED', 'WITHIN_TOLERANCE')",
        "invoiced_amount",
    ),
    "receivables-aging": (
        "select sum(open_reporting_amount) from marts.rpt_receivables_aging",
        "open_reporting_amount",
    ),
    "payables-aging": (
        "select sum(approved_reporting_amount) from marts.rpt_payables_aging",
        "approved_reporting_amount",
    ),
    "margin": (
        "select sum(contribution_margin_reporting_amount) from marts.fct_order_margin",
        "contribution_margin_reporting_amount",
    ),
    "landed-cost": (
        "select sum(landed_cost_reporting_amount) from marts.fct_landed_cost_lines",
        "landed_cost_reporting_amount",
    ),
}


@pytest.mark.parametrize("report", sorted(REPORT_TOTALS))
def test_exports_open_with_polars_and_openpyxl_and_match_the_marts(
    pipeline_run, snapshot, tmp_path, report
):
    sql, column = REPORT_TOTALS[report]
    con = duckdb.connect(str(snapshot), read_only=True)
    try:
        mart_total = con.execute(sql).fetchall()[0][0] or Decimal(0)
    finally:
        con.close()
    paths = {}
    for fmt in ("csv", "parquet", "xlsx"):
        out = tmp_path / f"{report}.{fmt}"
        run = waybill(
            "export", report, "--format", fmt, "--out", str(out),
            data_dir=pipeline_run["data_dir"], timeout=300,
        )  # fmt: skip
        assert run.returncode == 0, run.stdout + run.stderr
        paths[fmt] = out
    csv = pl.read_csv(paths["csv"], infer_schema_length=None)
    parquet = pl.read_parquet(paths["parquet"])
    assert csv.height == parquet.height
    assert parquet[column].cast(pl.Decimal(38, 2)).sum() == mart_total
    assert round(csv[column].sum(), 2) == pytest.approx(float(mart_total), abs=0.005)

    wb = openpyxl.load_workbook(paths["xlsx"])
    assert wb.sheetnames == ["Summary", "Data"]
    data = wb["Data"]
    assert data.freeze_panes == "A2"
    header = [c.value for c in data[1]]
    assert header == parquet.columns
    col = header.index(column) + 1
    values = [data.cell(row=r, column=col).value for r in range(2, data.max_row + 1)]
    assert len(values) == parquet.height
    assert sum(v or 0 for v in values) == pytest.approx(float(mart_total), abs=0.01)
    if values:
        assert data.cell(row=2, column=col).number_format == "#,##0.00"
    date_columns = [i for i, (n, t) in enumerate(parquet.schema.items()) if t == pl.Date]
    for i in date_columns[:1]:
        cell = next(
            (data.cell(row=r, column=i + 1) for r in range(2, data.max_row + 1)
             if data.cell(row=r, column=i + 1).value is not None),
            None,
        )  # fmt: skip
        if cell is not None:
            assert cell.is_date and cell.number_format == "yyyy-mm-dd"
    summary = {r[0].value: r[1].value for r in wb["Summary"].iter_rows() if r[0].value}
    assert summary["Rows"] == parquet.height
    assert summary[f"Total {column}"] == pytest.approx(float(mart_total), abs=0.01)


def test_export_filters_by_carrier_and_date(pipeline_run, snapshot, tmp_path):
    out = tmp_path / "ups.parquet"
    run = waybill(
        "export", "freight-audit-exceptions", "--format", "parquet", "--out", str(out),
        "--carrier", "ups", "--from", "2026-08-01", "--to", "2026-10-31",
        data_dir=pipeline_run["data_dir"], timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    df = pl.read_parquet(out)
    con = duckdb.connect(str(snapshot), read_only=True)
    try:
        n = con.execute(
            "select count(*) from marts.fct_freight_audit_lines where carrier_code = 'UPS' "
            "and line_status not in ('MATCHED', 'WITHIN_TOLERANCE') "
            "and invoice_date between '2026-08-01' and '2026-10-31'"
        ).fetchall()[0][0]
    finally:
        con.close()
    assert df.height == n
    assert set(df["carrier_code"].to_list()) <= {"UPS"}


def test_export_filters_a_carrier_or_customer_the_report_does_not_name_through_the_shipments(
    pipeline_run, tmp_path
):
    """Landed cost lines name no carrier and audit lines no customer: --carrier keeps the order
    lines of orders on a shipment of that carrier, --customer the invoice lines of shipments
    carrying that customer's orders. The links are recomputed here from the landing order and
    shipment files with plain polars."""
    landing = pipeline_run["settings"].landing
    orders = read_order_files(landing / "orders").select("order_id", "customer_id").unique()
    # the rows the generator planted malformed are quarantined, so they link nothing
    [feed] = pipeline_run["manifest"]["feeds"]["shipments"]["files"]
    bad = [r["row_number"] for r in feed["malformed_rows"]]
    shipments = (
        pl.read_csv(landing / feed["name"], infer_schema=False, truncate_ragged_lines=True)
        .with_row_index("line", offset=2)
        .filter(~pl.col("line").is_in(bad))
        .select("shipment_id", "order_id", pl.col("carrier_code").str.to_uppercase())
    )

    def export(report: str, *filters: str) -> pl.DataFrame:
        out = tmp_path / f"{report}.parquet"
        run = waybill(
            "export", report, "--format", "parquet", "--out", str(out), *filters,
            data_dir=pipeline_run["data_dir"], timeout=300,
        )  # fmt: skip
        assert run.returncode == 0, run.stdout + run.stderr
        return pl.read_parquet(out)

    everything = export("landed-cost")
    ups_orders = set(shipments.filter(pl.col("carrier_code") == "UPS")["order_id"])
    ups = export("landed-cost", "--carrier", "ups")
    assert 0 < ups.height < everything.height
    assert ups.height == everything.filter(pl.col("order_id").is_in(ups_orders)).height
    assert set(ups["order_id"]) <= ups_orders

    audit = export("freight-audit-exceptions")
    # the customer whose shipments have the most flagged lines, so the filter has work to do
    customer = (
        audit.join(
            shipments.join(orders, on="order_id").unique(["shipment_id", "customer_id"]),
            on="shipment_id",
        )
        .group_by("customer_id")
        .len()
        .sort("len", "customer_id", descending=[True, False])["customer_id"][0]
    )
    mine = set(
        shipments.join(orders.filter(pl.col("customer_id") == customer), on="order_id")[
            "shipment_id"
        ]
    )
    flagged = export("freight-audit-exceptions", "--customer", customer.lower())
    assert 0 < flagged.height < audit.height
    assert flagged.height == audit.filter(pl.col("shipment_id").is_in(mine)).height
    assert set(flagged["shipment_id"]) <= mine

    # margin names one carrier per order: --carrier keeps every order UPS shipped part of (the
    # generator splits orders within one carrier only, so here that is also its own column)
    margins = export("margin")
    ups_margin = export("margin", "--carrier", "UPS")
    assert 0 < ups_margin.height == margins.filter(pl.col("order_id").is_in(ups_orders)).height


def test_the_pipeline_run_wrote_every_export_with_the_run_date(pipeline_run):
    from waybill.exports import FORMATS, REPORTS

    exports = pipeline_run["settings"].exports
    names = {p.name for p in exports.iterdir()}
    for report in REPORTS:
        for fmt in FORMATS:
            assert any(n.startswith(f"{report}_20") and n.endswith(f".{fmt}") for n in names), (
                report,
                fmt,
                sorted(names),
            )


def test_the_snapshot_keeps_the_fx_trail_of_every_converted_amount_the_marts_roll_up(snapshot):
    """Finance reconciles the roll-ups from the snapshot alone: each landed-cost source and each
    customer invoice line there has its original amount, currency, rate and rate date, the
    reporting amount is original x rate to the cent, and the rate is the ECB cross rate of that
    date recomputed from stg_ecb__fx_rates (per EUR)."""
    con = duckdb.connect(str(snapshot), read_only=True)
    try:
        per_eur = {
            (d, c): float(r)
            for d, c, r in con.execute(
                "select rate_date, currency_code, rate_per_eur from staging.stg_ecb__fx_rates"
            ).fetchall()
        }
        trails = {
            "landed cost": con.execute(
                """select distinct landed_cost_source_id, source_amount, source_currency, fx_rate,
                    fx_rate_date, source_reporting_amount, reporting_currency
                from intermediate.int_landed_costs_allocated"""
            ).fetchall(),
            "invoice lines": con.execute(
                """select customer_invoice_line_id, signed_amount, line_currency, fx_rate,
                    fx_rate_date, signed_reporting_amount, 'USD'
                from intermediate.int_customer_invoice_lines_converted"""
            ).fetchall(),
        }
    finally:
        con.close()
    for what, rows in trails.items():
        assert rows, what
        for _id, amount, currency, rate, rate_date, reporting, target in rows:
            assert None not in (amount, currency, rate, rate_date, reporting), (what, _id)
            eur = 1.0 if currency == "EUR" else per_eur[(rate_date, currency)]
            to = 1.0 if target == "EUR" else per_eur[(rate_date, target)]
            assert rate == pytest.approx(to / eur, rel=1e-6), (what, _id)
            assert float(reporting) == pytest.approx(float(amount) * rate, abs=0.011), (what, _id)


def test_an_xlsx_report_longer_than_an_excel_sheet_continues_on_more_sheets(monkeypatch, tmp_path):
    """Excel stops at 1,048,576 rows a sheet (xlsxwriter silently ignores rows past it): at 1 M
    orders the landed-cost report has ~2 M lines. Every row must still be in the workbook."""
    from waybill import exports

    monkeypatch.setattr(exports, "XLSX_SHEET_ROWS", 4)
    df = pl.DataFrame(
        {
            "order_id": [f"O{i}" for i in range(10)],
            "line_number": list(range(10)),
            "incoterm": ["FOB"] * 10,
            "landed_cost_reporting_amount": [1.25] * 10,
        }
    )
    path = exports.write_report(df, tmp_path / "lc.xlsx", "xlsx", "landed-cost", {}, tmp_path)
    wb = openpyxl.load_workbook(path, read_only=True)
    assert wb.sheetnames == ["Summary", "Data", "Data 2", "Data 3"]
    rows = []
    for name in wb.sheetnames[1:]:
        header, *body = wb[name].iter_rows(values_only=True)
        assert header[:2] == ("order_id", "line_number")
        rows += body
    assert [r[0] for r in rows] == df["order_id"].to_list()
    summary = {r[0]: r[1] for r in wb["Summary"].iter_rows(values_only=True) if r[0]}
    assert summary["Rows"] == 10
    assert summary["Data sheets"].startswith("3: Data, Data 2, Data 3")
    assert summary["Total landed_cost_reporting_amount"] == pytest.approx(12.5)


def test_the_scheduled_xlsx_of_a_report_over_the_limit_is_its_summary_pointing_to_the_csv(
    snapshot, tmp_path, monkeypatch
):
    """Above WAYBILL_EXPORT_XLSX_MAX_ROWS the scheduled workbook keeps the summary (row count and
    totals of every row) and says the rows are in the CSV and Parquet, which have all of them."""
    from waybill.exports import scheduled_export

    monkeypatch.setenv("WAYBILL_EXPORT_XLSX_MAX_ROWS", "5")
    done = scheduled_export(snapshot, tmp_path, "margin")
    csv = pl.read_csv(done["paths"]["csv"], infer_schema=False)
    assert csv.height == pl.read_parquet(done["paths"]["parquet"]).height == done["rows"] > 5
    wb = openpyxl.load_workbook(done["paths"]["xlsx"], read_only=True)
    assert wb.sheetnames == ["Summary"]
    summary = {r[0]: r[1] for r in wb["Summary"].iter_rows(values_only=True) if r[0]}
    assert summary["Rows"] == csv.height
    assert "every row is in the CSV and Parquet" in summary["Data"]
    margin = csv["contribution_margin_reporting_amount"].cast(pl.Float64).sum()
    assert summary["Total contribution_margin_reporting_amount"] == pytest.approx(margin, abs=0.01)
