"""Import each real data set into its own data dir, run the pipeline, print KPI tables + timings.

    .venv/bin/python benchmarks/real_data.py [--base /tmp/waybill-real] [dataset ...]

Output is Markdown (pasted into docs/real-data.md). Each data set gets ``<base>/<dataset>/`` as
its WAYBILL_DATA_DIR, so ``WAYBILL_DATA_DIR=<base>/olist ./dev dashboard`` shows it afterwards.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ingestion.importers import run_import  # noqa: E402

ORDER = ("olist", "olist_sample_8k", "scms", "nycflights13", "brunel", "dcsa")


def table(con, sql: str, headers: list[str] | None = None) -> str:
    cur = con.execute(sql)
    rows = cur.fetchall()
    headers = headers or [d[0] for d in cur.description]

    def fmt(v):
        if v is None:
            return ""
        if isinstance(v, float):
            return f"{v:,.3f}".rstrip("0").rstrip(".") if abs(v) < 1000 else f"{v:,.0f}"
        if isinstance(v, int):
            return f"{v:,}"
        return str(v)

    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(fmt(v) for v in r) + " |" for r in rows]
    return "\n".join(out)


PCT = "round(100.0 * {n} / nullif({d}, 0), 1)"


def olist_tables(con) -> list[tuple[str, str]]:
    return [
        (
            "Orders (fct_orders): on time = delivered by the end of the estimated day; "
            "`on time / due` also counts due orders never delivered as late",
            f"""select count(*) as orders, count(delivered_at) as delivered,
              count(*) filter (where is_delivered and is_on_time) as delivered_on_time,
              {PCT.format(n="count(*) filter (where is_delivered and is_on_time)", d="count(delivered_at)")}
                as "on time % of delivered",
              count(*) filter (where is_due) as due,
              {PCT.format(n="count(*) filter (where is_on_time)", d="count(*) filter (where is_due)")}
                as "on time % of due",
              round(avg(cycle_time_days), 2) as cycle_days_mean,
              round(median(cycle_time_days), 2) as cycle_days_p50,
              round(quantile_cont(cycle_time_days, 0.9), 2) as cycle_days_p90,
              round(avg(order_to_booked_days), 2) as purchase_to_approval_days
            from marts.fct_orders""",
        ),
        (
            "By customer state (top 12 by orders): freight per order = sum of the items' "
            "freight_value (customer invoices, BRL)",
            f"""with freight as (
                select order_id, sum(line_amount) as freight from staging.stg_erp__customer_invoice_lines
                where charge_type = 'FREIGHT' group by 1)
            select o.destination_locode as customer_state, count(*) as orders,
              {PCT.format(n="count(*) filter (where o.is_delivered and o.is_on_time)", d="count(o.delivered_at)")}
                as "on time % of delivered",
              round(avg(o.cycle_time_days), 2) as cycle_days_mean,
              round(avg(f.freight), 2) as freight_per_order_brl
            from marts.fct_orders o left join freight f using (order_id)
            group by 1 order by 2 desc limit 12""",
        ),
        (
            "Lanes seller state -> customer state (fct_shipments, top 10): pickup on time = "
            "handed to the carrier by the seller's shipping_limit_date",
            f"""select lane, count(*) as shipments,
              {PCT.format(n="count(*) filter (where is_picked_up_on_time)", d="count(is_picked_up_on_time)")}
                as "pickup on time %",
              {PCT.format(n="count(*) filter (where is_delivered_on_time)", d="count(is_delivered_on_time)")}
                as "delivery on time %",
              round(avg(transit_time_days), 2) as carrier_to_customer_days
            from marts.fct_shipments group by 1 order by 2 desc limit 10""",
        ),
        (
            "kpi_orders_monthly (months with orders due or delivered)",
            """select strftime(month_start_date, '%Y-%m') as month, orders_due, orders_on_time,
              round(100 * on_time_rate, 1) as "on time %", orders_delivered,
              round(cycle_time_days_mean, 2) as cycle_mean, round(cycle_time_days_p90, 2) as cycle_p90
            from marts.kpi_orders_monthly order by 1""",
        ),
        (
            "Money in the finance marts (USD at the order date, ECB rates): revenue from the "
            "customer invoices (fct_order_margin); Olist has no carrier invoices or rate cards, so "
            "the carrier's cost is unknown (landed-cost freight empty) and margin is provisional",
            """select count(*) as orders,
              round(sum(goods_invoiced_reporting_amount)) as goods_usd,
              round(sum(freight_invoiced_reporting_amount)) as customer_freight_usd,
              round(avg(freight_invoiced_reporting_amount), 2) as customer_freight_per_order_usd,
              round(sum(freight_invoiced_reporting_amount) / sum(goods_invoiced_reporting_amount) * 100, 1)
                as "freight % of goods",
              count(*) filter (where outbound_freight_reporting_amount = 0) as orders_without_carrier_cost,
              count(*) filter (where margin_status = 'PROVISIONAL') as margin_provisional
            from marts.fct_order_margin""",
        ),
    ]


def scms_tables(con) -> list[tuple[str, str]]:
    return [
        (
            "On time by mode (fct_shipments, one row per ASN/DN): delivered on or before the "
            "scheduled day",
            f"""select carrier_code as mode, count(*) as shipments, count(delivered_at) as delivered,
              {PCT.format(n="count(*) filter (where is_delivered_on_time)", d="count(is_delivered_on_time)")}
                as "on time %",
              round(avg(date_diff('day', planned_delivery_end_at, delivered_at)) , 2) as mean_days_vs_schedule
            from marts.fct_shipments where carrier_code like 'SCMS-%' group by 1 order by 2 desc""",
        ),
        (
            "On time by destination country (top 12 by shipments)",
            f"""select destination_country as country, count(*) as shipments,
              {PCT.format(n="count(*) filter (where is_delivered_on_time)", d="count(is_delivered_on_time)")}
                as "on time %"
            from marts.fct_shipments where carrier_code like 'SCMS-%' group by 1 order by 2 desc limit 12""",
        ),
        (
            "Landed cost components by mode (USD): goods = line item value of the shipped lines "
            "with an order line; freight and insurance from the carrier invoices",
            """with goods as (
                select s.carrier_code, sum(o.unit_price_amount * o.quantity_ordered) as goods
                from staging.stg_oms__shipment_lines s
                join staging.stg_oms__order_lines o using (order_id, line_number) group by 1),
            costs as (
                select carrier_code,
                  sum(charge_amount) filter (where charge_code = 'FRT') as freight,
                  sum(charge_amount) filter (where charge_code = 'INS') as insurance
                from staging.stg_carrier_csv__freight_invoice_lines group by 1)
            select carrier_code as mode, round(goods) as goods_usd, round(freight) as freight_usd,
              round(insurance) as insurance_usd,
              round(100 * freight / nullif(goods, 0), 1) as "freight % of goods"
            from goods full join costs using (carrier_code) order by 2 desc""",
        ),
        (
            "Freight per kg by mode: shipments with a numeric freight and a known weight",
            """with frt as (
                select shipment_id, sum(charge_amount) as freight
                from staging.stg_carrier_csv__freight_invoice_lines where charge_code = 'FRT' group by 1),
            w as (
                select shipment_id, max(carrier_code) as carrier_code,
                  max(shipment_gross_weight_kg) as kg
                from staging.stg_oms__shipment_lines group by 1)
            select carrier_code as mode, count(*) as shipments, round(sum(freight)) as freight_usd,
              round(sum(kg)) as kg, round(sum(freight) / sum(kg), 2) as usd_per_kg,
              round(median(freight / kg), 2) as median_usd_per_kg
            from frt join w using (shipment_id) where kg > 0 and carrier_code like 'SCMS-%'
            group by 1 order by 2 desc""",
        ),
        (
            "Landed cost in the marts (fct_landed_cost_orders, USD) by Incoterm: freight = the "
            "invoiced FRT lines (unaudited: no rate cards), counted when the Incoterm puts it on "
            "the seller, else in buyer_paid; insurance and handling are the marts' vars, not data",
            """select incoterm, count(*) as orders,
              round(sum(goods_value_reporting_amount)) as goods_usd,
              round(sum(freight_reporting_amount)) as freight_usd,
              round(sum(insurance_reporting_amount)) as insurance_usd,
              round(sum(handling_reporting_amount)) as handling_usd,
              round(sum(buyer_paid_reporting_amount)) as buyer_paid_usd,
              round(sum(landed_cost_reporting_amount)) as landed_cost_usd,
              round(sum(freight_reporting_amount) / nullif(sum(weight_kg) filter (
                where freight_reporting_amount > 0), 0), 2) as freight_usd_per_kg
            from marts.fct_landed_cost_orders group by 1 order by 2 desc""",
        ),
        (
            "Freight audit of the SCMS invoices (fct_freight_audit_lines)",
            """select charge_code, line_status, status_reason, count(*) as lines,
              round(sum(invoiced_reporting_amount)) as invoiced_usd
            from marts.fct_freight_audit_lines where carrier_code like 'SCMS-%'
            group by all order by 4 desc""",
        ),
    ]


def nyc_tables(con) -> list[tuple[str, str]]:
    return [
        (
            "Carrier scorecard (fct_shipments): on time = less than 15 minutes late (BTS), "
            "over flights that departed / arrived; cancelled and diverted count as exceptions",
            f"""select carrier_code as carrier, carrier_name, count(*) as flights,
              count(cancelled_at) as cancelled,
              {PCT.format(n="count(*) filter (where is_picked_up_on_time)", d="count(is_picked_up_on_time)")}
                as "departure on time %",
              {PCT.format(n="count(*) filter (where is_delivered_on_time)", d="count(is_delivered_on_time)")}
                as "arrival on time %",
              count(*) filter (where has_exception) as exceptions,
              round(avg(transit_time_hours), 2) as gate_to_gate_hours
            from marts.fct_shipments group by 1, 2 order by 3 desc""",
        ),
    ]


def brunel_tables(con) -> list[tuple[str, str]]:
    return [
        (
            "Pickup on time (Ship Late Day count = 0) and expected cost from the rate cards "
            "(shipments' quoted_cost, USD)",
            f"""with s as (
                select shipment_id, max(quoted_cost_amount) as cost, max(shipment_gross_weight_kg) as kg
                from staging.stg_oms__shipment_lines group by 1)
            select f.carrier_code as carrier, f.service_level, count(*) as orders,
              {PCT.format(n="count(*) filter (where f.is_picked_up_on_time)", d="count(f.is_picked_up_on_time)")}
                as "pickup on time %",
              count(s.cost) as orders_with_rate, round(sum(s.cost), 2) as expected_cost_usd,
              round(sum(s.cost) / nullif(count(s.cost), 0), 2) as per_order_usd,
              round(sum(s.cost) / nullif(sum(s.kg) filter (where s.cost is not null), 0), 3) as usd_per_kg
            from marts.fct_shipments f join s using (shipment_id)
            group by 1, 2 order by 3 desc""",
        ),
    ]


def dcsa_tables(con) -> list[tuple[str, str]]:
    return [
        (
            "Files (meta.load_log)",
            """select regexp_extract(source_file, '[^/]+$') as file, status, rows_read, rows_loaded,
              rows_quarantined from meta.load_log where feed = 'dcsa' order by 1""",
        ),
        (
            "Quarantine reasons (meta.quarantine)",
            """select regexp_extract(source_file, '[^/]+$') as file, field, rule, count(*) as n
            from meta.quarantine group by all order by 1, 2""",
        ),
        (
            "Canonical milestones of the loaded events (fct_shipment_events)",
            """select raw_code, milestone, classifier, count(*) as events
            from marts.fct_shipment_events where source = 'DCSA' group by all order by 2, 1""",
        ),
    ]


TABLES = {
    "olist": olist_tables,
    "olist_sample_8k": olist_tables,
    "scms": scms_tables,
    "nycflights13": nyc_tables,
    "brunel": brunel_tables,
    "dcsa": dcsa_tables,
}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", default="/tmp/waybill-real")
    ap.add_argument("datasets", nargs="*", default=list(ORDER))
    args = ap.parse_args()
    base = Path(args.base)
    timings = []
    for name in args.datasets:
        data_dir = base / name
        shutil.rmtree(data_dir, ignore_errors=True)
        data_dir.mkdir(parents=True)
        t0 = time.perf_counter()
        report = run_import(name, data_dir / "landing")
        t_import = time.perf_counter() - t0
        env = os.environ | {"WAYBILL_DATA_DIR": str(data_dir)}
        env.pop("DAGSTER_HOME", None)
        t0 = time.perf_counter()
        res = subprocess.run(
            [sys.executable, "-m", "waybill.cli", "run", "--quiet"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
        )
        t_run = time.perf_counter() - t0
        if res.returncode != 0:
            print(res.stdout[-3000:], res.stderr[-3000:])
            return 1
        rows = sum(i["rows_written"] for i in report.feeds.values())
        timings.append((name, rows, report.rows_rejected, t_import, t_run))
        print(f"\n### {name}\n")
        print("```\n" + report.summary() + "\n```\n")
        con = duckdb.connect(str(data_dir / "serving" / "waybill.duckdb"), read_only=True)
        try:
            for title, sql in TABLES[name](con):
                print(f"**{title}**\n\n{table(con, sql)}\n")
        finally:
            con.close()
    print("\n### Timings\n")
    print("| data set | feed rows written | rejected by the adapter | import s | waybill run s |")
    print("|---|---|---|---|---|")
    for name, rows, rej, ti, tr in timings:
        print(f"| {name} | {rows:,} | {rej:,} | {ti:.1f} | {tr:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
