"""Reconciliation reports from the published snapshot as CSV, XLSX or Parquet (docs/finance.md
"Exports"): ``waybill export <report>`` and the Dagster assets in orchestration/defs/exports.py.

Every report is one mart read as is (no amounts are recomputed here), optionally filtered by a
date range, a carrier and a customer. The XLSX has a summary sheet (report, filters, snapshot,
row count, the total of every money column, rows per status) and a data sheet with a frozen
header, autofilter and number formats for money and dates.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import duckdb
import polars as pl

from ingestion.db import frame
from waybill.settings import load_settings

FORMATS = ("csv", "xlsx", "parquet")


@dataclass(frozen=True)
class Report:
    table: str
    title: str
    description: str
    date_column: str
    order_by: str
    where: str = "true"
    carrier_column: str | None = None
    customer_column: str | None = None
    status_column: str | None = None
    #: where the mart names no customer (carrier) itself, --customer (--carrier) goes through
    #: the shipments (orders) it links to: ``shipment_id`` / ``order_id`` column, else None
    shipment_column: str | None = None
    order_column: str | None = None


#: Shipments carrying an order of a customer, and orders on a shipment of a carrier (the
#: shipment lines link the two; a consolidated shipment belongs to each of its customers).
_SHIPMENTS_OF_CUSTOMER = """select b.shipment_id from staging.stg_oms__shipment_lines as b
    inner join marts.fct_orders as o on o.order_id = b.order_id
    where upper(o.customer_id) = upper(?)"""
_ORDERS_OF_CARRIER = """select b.order_id from staging.stg_oms__shipment_lines as b
    inner join marts.fct_shipments as s on s.shipment_id = b.shipment_id
    where upper(s.carrier_code) = upper(?)"""


REPORTS: dict[str, Report] = {
    "freight-audit-exceptions": Report(
        table="marts.fct_freight_audit_lines",
        title="Freight audit exceptions",
        description="Carrier invoice lines not MATCHED or WITHIN_TOLERANCE, with expected "
        "amount, variance, tolerance and reason (fct_freight_audit_lines).",
        date_column="invoice_date",
        order_by="carrier_code, invoice_number, copy_number, line_number",
        where="line_status not in ('MATCHED', 'WITHIN_TOLERANCE')",
        carrier_column="carrier_code",
        status_column="line_status",
        shipment_column="shipment_id",
    ),
    "receivables-aging": Report(
        table="marts.rpt_receivables_aging",
        title="Receivables aging",
        description="Customer invoices per order and shipment: billed vs expected, open "
        "amount, aging bucket, unbilled delivered shipments, invoices without proof of "
        "delivery (rpt_receivables_aging).",
        date_column="document_date",
        order_by="customer_id, order_id, shipment_id",
        carrier_column="carrier_code",
        customer_column="customer_id",
        status_column="aging_bucket",
    ),
    "payables-aging": Report(
        table="marts.rpt_payables_aging",
        title="Payables aging",
        description="Carrier invoices per shipment: audit status, matched vs open, aging "
        "bucket (rpt_payables_aging).",
        date_column="invoice_date",
        order_by="carrier_code, invoice_number, copy_number",
        carrier_column="carrier_code",
        status_column="aging_bucket",
        shipment_column="shipment_id",
    ),
    "margin": Report(
        table="marts.fct_order_margin",
        title="Margin by order",
        description="Net revenue, landed cost, outbound freight, accessorials, duties and "
        "contribution margin per order (fct_order_margin).",
        date_column="order_date",
        order_by="order_date, order_id",
        # the mart names one carrier per order: --carrier keeps every order it shipped part of
        customer_column="customer_id",
        status_column="margin_status",
        order_column="order_id",
    ),
    "landed-cost": Report(
        table="marts.fct_landed_cost_lines",
        title="Landed cost by order line",
        description="Goods value and the landed cost components the Incoterm puts on us per "
        "order line (fct_landed_cost_lines).",
        date_column="receipt_date",
        order_by="order_id, line_number",
        customer_column="customer_id",
        status_column="incoterm",
        order_column="order_id",
    ),
}


def is_money(name: str) -> bool:
    return name.endswith("_amount")


def read_report(
    snapshot: Path,
    report: str,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    carrier: str | None = None,
    customer: str | None = None,
) -> pl.DataFrame:
    """The report's rows from the snapshot, filtered. Unknown filters raise ValueError."""
    con = duckdb.connect(str(snapshot), read_only=True)
    try:
        return read_report_from(con, report, date_from, date_to, carrier, customer)
    finally:
        con.close()


def read_report_from(
    con: duckdb.DuckDBPyConnection,
    report: str,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    carrier: str | None = None,
    customer: str | None = None,
) -> pl.DataFrame:
    """read_report over an open connection (the dashboard passes a tenant's own database)."""
    spec = REPORTS[report]
    where, params = [f"({spec.where})"], []
    if date_from:
        where.append(f"{spec.date_column} >= ?")
        params.append(date_from)
    if date_to:
        where.append(f"{spec.date_column} <= ?")
        params.append(date_to)
    for value, column, link, label in (
        (carrier, spec.carrier_column, (spec.order_column, _ORDERS_OF_CARRIER), "--carrier"),
        (
            customer,
            spec.customer_column,
            (spec.shipment_column, _SHIPMENTS_OF_CUSTOMER),
            "--customer",
        ),
    ):
        if value is None:
            continue
        if column is not None:
            where.append(f"upper({column}) = upper(?)")
        elif link[0] is not None:
            where.append(f"{link[0]} in ({link[1]})")
        else:
            raise ValueError(f"{label} does not apply to the {report} report")
        params.append(value)
    sql = f"select * from {spec.table} where {' and '.join(where)} order by {spec.order_by}"
    return frame(con, sql, params)


def default_path(exports_dir: Path, report: str, fmt: str, run_date: dt.date) -> Path:
    return exports_dir / f"{report}_{run_date.isoformat()}.{fmt}"


def published(snapshot: Path) -> tuple[dt.date, str | None]:
    """(UTC date, run id) of the snapshot's publication (meta.snapshot_info)."""
    con = duckdb.connect(str(snapshot), read_only=True)
    try:
        [(published_at, run_id)] = con.execute(
            "select published_at, run_id from meta.snapshot_info"
        ).fetchall()
    finally:
        con.close()
    return published_at.date(), run_id


def scheduled_export(
    snapshot: Path, exports_dir: Path, report: str, xlsx_max_rows: int | None = None
) -> dict:
    """Every format of one report under ``exports_dir``, named by the date the snapshot was
    published, not the date the export runs: a run whose publication a data-quality check
    blocked (or a daily export job after it) re-writes the last good snapshot's files under
    that snapshot's date, so no file claims to be today's figures when it is not."""
    if not snapshot.exists():
        raise FileNotFoundError(f"no published snapshot at {snapshot}: run `waybill run` first")
    as_of, run_id = published(snapshot)
    df = read_report(snapshot, report)
    limit = load_settings().export_xlsx_max_rows if xlsx_max_rows is None else xlsx_max_rows
    paths = {}
    for fmt in FORMATS:
        path = default_path(exports_dir, report, fmt, as_of)
        if fmt == "xlsx" and df.height > limit:
            paths[fmt] = write_summary_only_xlsx(df, path, report, snapshot, limit)
        else:
            paths[fmt] = write_report(df, path, fmt, report, {}, snapshot)
    return {"paths": paths, "rows": df.height, "snapshot_date": as_of, "snapshot_run_id": run_id}


def write_summary_only_xlsx(
    df: pl.DataFrame, path: Path, report: str, snapshot: Path, limit: int
) -> Path:
    """The scheduled XLSX of a report too large for one: the same Summary sheet (row count,
    money totals, rows per status) with a line saying where the rows are, and no Data sheet."""
    note = (
        f"{df.height:,} rows, more than the scheduled XLSX limit of "
        f"{limit:,} (WAYBILL_EXPORT_XLSX_MAX_ROWS): every row is in the CSV "
        f"and Parquet files of the same name; `waybill export {report} --format xlsx` "
        "(with --from/--to/--carrier/--customer to narrow it) writes them to a workbook."
    )
    return write_report(df, path, "xlsx", report, {}, snapshot, data_note=note)


def write_report(
    df: pl.DataFrame,
    path: Path,
    fmt: str,
    report: str,
    filters: dict[str, str],
    snapshot: Path,
    data_note: str | None = None,
) -> Path:
    """Write df as fmt to path, atomically (temporary name, then rename)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}: one of {', '.join(FORMATS)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("wb") as out:
        write_to(df, out, fmt, report, filters, snapshot, data_note)
    tmp.replace(path)
    return path


def write_to(
    df: pl.DataFrame,
    out: BinaryIO,
    fmt: str,
    report: str,
    filters: dict[str, str],
    snapshot: Path | str,
    data_note: str | None = None,
) -> None:
    """Write df as fmt to a binary file object (a file, or BytesIO for a download button);
    ``data_note``: an XLSX of the summary only, the note saying where the rows are."""
    if fmt == "csv":
        df.write_csv(out)
    elif fmt == "parquet":
        df.write_parquet(out)
    elif fmt == "xlsx":
        _write_xlsx(df, out, report, filters, snapshot, data_note)
    else:
        raise ValueError(f"unknown format {fmt!r}: one of {', '.join(FORMATS)}")


def summary_rows(
    df: pl.DataFrame, report: str, filters: dict[str, str], snapshot: Path | str
) -> list:
    spec = REPORTS[report]
    rows: list[tuple[str, object]] = [
        ("Report", spec.title),
        ("What", spec.description),
        # the snapshot by name, not by the server's path (exports leave the machine)
        ("Source", f"{spec.table} in the published snapshot ({Path(snapshot).name})"),
        ("Generated at (UTC)", dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")),
        *((f"Filter {k}", v) for k, v in filters.items() if v),
        ("Rows", df.height),
    ]
    # decimal sums, rounded to the cent once (a float sum would show 698.1199999)
    totals = [
        (f"Total {c}", round(float(df[c].cast(pl.Decimal(38, 2)).sum() or 0), 2))
        for c in df.columns
        if is_money(c)
    ]
    status = []
    if spec.status_column and spec.status_column in df.columns and df.height:
        counts = df.group_by(spec.status_column).len().sort(spec.status_column)
        status = [(f"Rows {spec.status_column} = {k}", n) for k, n in counts.iter_rows()]
    return rows + totals + status


#: Data rows per XLSX sheet: Excel's 1,048,576 rows less the header. A larger report goes on
#: "Data", "Data 2", ... (each with its header), never cut short.
XLSX_SHEET_ROWS = 1_048_575


def _write_xlsx(
    df: pl.DataFrame,
    out: BinaryIO,
    report: str,
    filters: dict[str, str],
    snapshot: Path | str,
    data_note: str | None = None,
) -> None:
    """Summary and Data sheets; with ``data_note`` the summary only, the note saying where the
    rows are (write_summary_only_xlsx)."""
    import xlsxwriter

    summary_lines = summary_rows(df, report, filters, snapshot)
    sheets = 0 if data_note else max(1, -(-df.height // XLSX_SHEET_ROWS))
    if data_note:
        summary_lines.insert(summary_lines.index(("Rows", df.height)) + 1, ("Data", data_note))
    if sheets > 1:
        summary_lines.insert(
            summary_lines.index(("Rows", df.height)) + 1,
            (
                "Data sheets",
                f"{sheets}: Data, "
                + ", ".join(f"Data {i}" for i in range(2, sheets + 1))
                + f" ({XLSX_SHEET_ROWS:,} rows each at most, Excel's limit)",
            ),
        )
    # Excel has no decimal type: money goes out as doubles with a 2-decimal format
    df = df.with_columns(pl.col(pl.Decimal).cast(pl.Float64))
    wb = xlsxwriter.Workbook(out, {"constant_memory": True, "remove_timezone": True})
    try:
        bold = wb.add_format({"bold": True})
        money = wb.add_format({"num_format": "#,##0.00"})
        number = wb.add_format({"num_format": "#,##0.######"})
        date = wb.add_format({"num_format": "yyyy-mm-dd"})
        stamp = wb.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
        header = wb.add_format({"bold": True, "bottom": 1, "text_wrap": True})

        summary = wb.add_worksheet("Summary")
        summary.set_column(0, 0, 40)
        summary.set_column(1, 1, 90)
        for r, (label, value) in enumerate(summary_lines):
            summary.write_string(r, 0, label, bold)
            if isinstance(value, float):
                summary.write_number(r, 1, value, money)
            elif isinstance(value, int):
                summary.write_number(r, 1, value)
            else:
                summary.write_string(r, 1, str(value))

        formats, widths = [], []
        for name, dtype in df.schema.items():
            if dtype == pl.Date:
                fmt, width = date, 12
            elif isinstance(dtype, pl.Datetime):
                fmt, width = stamp, 20
            elif dtype.is_float() and is_money(name):
                fmt, width = money, 14
            elif dtype.is_numeric():
                fmt, width = number, 12
            else:
                fmt, width = None, min(40, max(10, len(name) + 2))
            formats.append(fmt)
            widths.append(width)
        for sheet in range(sheets):
            part = df.slice(sheet * XLSX_SHEET_ROWS, XLSX_SHEET_ROWS)
            data = wb.add_worksheet("Data" if sheet == 0 else f"Data {sheet + 1}")
            data.freeze_panes(1, 0)
            for c, name in enumerate(df.columns):
                data.write_string(0, c, name, header)
                data.set_column(c, c, widths[c], formats[c])
            for r, row in enumerate(part.iter_rows(), start=1):
                for c, value in enumerate(row):
                    if value is None:
                        continue
                    if isinstance(value, dt.datetime | dt.date):
                        data.write_datetime(r, c, value, formats[c])
                    elif isinstance(value, bool):
                        data.write_boolean(r, c, value)
                    elif isinstance(value, int | float):
                        data.write_number(r, c, value, formats[c])
                    else:
                        data.write_string(r, c, str(value))
            if df.width:
                data.autofilter(0, 0, max(part.height, 1), df.width - 1)
    finally:
        wb.close()


def export(
    snapshot: Path,
    report: str,
    fmt: str,
    out: Path,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    carrier: str | None = None,
    customer: str | None = None,
) -> tuple[Path, pl.DataFrame]:
    """Read, filter and write one report; returns the path written and the rows."""
    if report not in REPORTS:
        raise ValueError(f"unknown report {report!r}: one of {', '.join(REPORTS)}")
    if not snapshot.exists():
        raise FileNotFoundError(f"no published snapshot at {snapshot}: run `waybill run` first")
    df = read_report(snapshot, report, date_from, date_to, carrier, customer)
    filters = {
        "from": date_from.isoformat() if date_from else "",
        "to": date_to.isoformat() if date_to else "",
        "carrier": carrier or "",
        "customer": customer or "",
    }
    return write_report(df, out, fmt, report, filters, snapshot), df


def cmd_export(args) -> int:
    """``waybill export``: see add_export_parser."""
    from waybill.settings import load_settings

    settings = load_settings()
    if args.out:
        out = Path(args.out)
    else:  # named like the scheduled exports: by the date the snapshot was published
        as_of = published(settings.snapshot)[0] if settings.snapshot.exists() else dt.date.today()
        out = default_path(settings.exports, args.report, args.format, as_of)
    try:
        path, df = export(
            settings.snapshot,
            args.report,
            args.format,
            out,
            args.date_from,
            args.date_to,
            args.carrier,
            args.customer,
        )
    except (ValueError, FileNotFoundError) as exc:
        print(f"waybill export: {exc}")
        return 2
    print(f"wrote {df.height:,} rows of {args.report} to {path}")
    return 0


def add_export_parser(sub) -> None:
    p = sub.add_parser(
        "export",
        help="write a reconciliation report (freight audit, AR/AP aging, margin, landed cost)",
    )
    p.add_argument("report", choices=sorted(REPORTS))
    p.add_argument("--format", choices=FORMATS, default="xlsx")
    p.add_argument("--out", help="file to write (default: data/exports/<report>_<today>.<fmt>)")
    p.add_argument("--from", dest="date_from", type=dt.date.fromisoformat, help="YYYY-MM-DD")
    p.add_argument("--to", dest="date_to", type=dt.date.fromisoformat, help="YYYY-MM-DD")
    p.add_argument("--carrier", help="carrier code, e.g. UPS")
    p.add_argument("--customer", help="customer id")
    p.set_defaults(func=cmd_export)
