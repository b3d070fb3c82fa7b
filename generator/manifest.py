"""The ground-truth manifest: parameters, files and rows per feed, planted mess, and the true
per-carrier and per-order numbers KPI tests compare against (docs/generator.md)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl

from generator import world as W
from generator.events import EXCEPTION_KINDS
from ingestion.contracts import FEEDS

MANIFEST_VERSION = 1


def _carrier_truth(world, true_events: pl.DataFrame, invoice_truth: dict) -> dict:
    sh = world.shipments
    exc = true_events.filter(pl.col("kind").is_in(list(EXCEPTION_KINDS))).with_columns(
        pl.col("kind").replace_strict(EXCEPTION_KINDS).alias("exception_type")
    )
    out = {}
    for c in W.CARRIERS:
        s = sh.filter(pl.col("carrier_code") == c.code)
        delivered = s.filter(pl.col("delivered_at").is_not_nan())
        on_time = delivered.filter(pl.col("delivered_at") <= pl.col("planned_delivery_end"))
        late = delivered.filter(pl.col("delivered_at") > pl.col("planned_delivery_end"))
        e = exc.filter(pl.col("carrier_code") == c.code)
        out[c.code] = {
            "name": c.name,
            "scac": c.scac,
            "mode": c.mode,
            "event_format": c.event_format,
            "invoice_format": c.invoice_format,
            "configured": {
                "p_on_time": c.p_on_time,
                "late_mean_hours": c.late_mean_hours,
                "p_damage": c.p_damage,
                "p_invoice_error": c.p_invoice_error,
                "p_exception": c.p_exception,
            },
            "shipments": s.height,
            "picked_up": int(s["picked_up_at"].is_not_nan().sum()),
            "delivered": delivered.height,
            "on_time_delivered": on_time.height,
            "late_delivered": late.height,
            "late_by_responsible_party": {
                p: int((late["late_responsible_party"] == p).sum())
                for p in ("CARRIER", "SHIPPER", "CONSIGNEE")
            },
            "late_carrier_controllable": int((late["late_responsible_party"] == "CARRIER").sum()),
            "on_time_controllable_delivered": on_time.height
            + int(late["late_responsible_party"].is_in(["SHIPPER", "CONSIGNEE"]).sum()),
            "returned_to_sender": int(s["returned_at"].is_not_nan().sum()),
            "in_transit_at_as_of": int(
                (
                    s["picked_up_at"].is_not_nan()
                    & s["delivered_at"].is_nan()
                    & s["returned_at"].is_nan()
                ).sum()
            ),
            "damaged": int(s["is_damaged"].sum()),
            "exceptions_by_type": {
                k: int(v)
                for k, v in e.group_by("exception_type").len().sort("exception_type").iter_rows()
            },
            "shipments_with_exception": int(e["shipment_idx"].n_unique()),
            **invoice_truth.get(c.code, {}),
        }
    return out


def _order_truth(world) -> dict:
    o, ol, sl, sh = world.orders, world.order_lines, world.shipment_lines, world.shipments
    shipped = sl.group_by(["order_idx", "line_number"]).agg(
        pl.col("quantity_shipped").sum().alias("shipped")
    )
    lines = ol.join(shipped, on=["order_idx", "line_number"], how="left").with_columns(
        pl.col("shipped").fill_null(0)
    )
    in_full = lines.group_by("order_idx").agg(
        (pl.col("shipped") >= pl.col("quantity")).all().alias("full")
    )
    per_ship = (
        sl.select("order_idx", "shipment_idx")
        .unique()
        .join(sh.select("shipment_idx", "delivered_at"), on="shipment_idx")
    )
    deliv = per_ship.group_by("order_idx").agg(
        pl.col("delivered_at").is_not_nan().all().alias("all_delivered"),
        pl.col("delivered_at").max().alias("last_delivered"),
    )
    x = (
        o.join(in_full, on="order_idx", how="left")
        .join(deliv, on="order_idx", how="left")
        .with_columns(pl.col("full").fill_null(False), pl.col("all_delivered").fill_null(False))
    )
    delivered = x.filter(pl.col("all_delivered"))
    shipment_counts = per_ship.group_by("order_idx").len()
    return {
        "orders": o.height,
        "order_lines": ol.height,
        # every line carries unit_cost = unit_price x its SKU's cost ratio (then rounded)
        "lines_with_unit_cost": ol.height,
        "unit_cost_ratio_range": [
            round(float(world.skus["cost_ratio"].min()), 4),
            round(float(world.skus["cost_ratio"].max()), 4),
        ],
        "units_ordered": int(ol["quantity"].sum()),
        "units_shipped": int(sl["quantity_shipped"].sum()),
        "cancelled": int(o["is_cancelled"].sum()),
        "not_shipped_backorder": int(o["is_backorder"].sum()),
        "orders_with_shipment": int(shipment_counts.height),
        "split_orders": int((shipment_counts["len"] > 1).sum()),
        "consolidated_shipments": int(
            sl.select("shipment_idx", "order_idx")
            .unique()
            .group_by("shipment_idx")
            .len()
            .filter(pl.col("len") > 1)
            .height
        ),
        "shipped_in_full": int(x["full"].sum()),
        "delivered": delivered.height,
        "delivered_on_time": int(
            (delivered["last_delivered"] <= delivered["promised_delivery_end"]).sum()
        ),
        "delivered_in_full_on_time": int(
            (
                delivered["full"]
                & (delivered["last_delivered"] <= delivered["promised_delivery_end"])
            ).sum()
        ),
        "shipments": sh.height,
        "shipment_lines": sl.height,
        "definition": "delivered = every shipment of the order delivered by as_of; on time = last "
        "delivery <= promised_delivery_end; in full = every line's shipped units >= ordered",
    }


def build_manifest(
    *,
    orders,
    seed,
    world,
    files,
    planted,
    bad_files,
    duplicate,
    invoice_truth,
    true_events,
    fx_info,
    returned_units,
) -> dict:
    feeds = {}
    for name, feed in FEEDS.items():
        recs = sorted(files.get(name, []), key=lambda r: r["name"])
        rows = sum(r["rows"] for r in recs)
        quarantined = sum(len(r["malformed_rows"]) for r in recs)
        feeds[name] = {
            "folder": feed.folder,
            "format": feed.format,
            "files": recs,
            "malformed_files": [
                {"name": b["name"], "problem": b["problem"]} for b in bad_files if b["feed"] == name
            ],
            "duplicate_files": [duplicate] if duplicate["feed"] == name else [],
            "rows_written": rows,
            "expected_rows_loaded": rows - quarantined,
            "expected_rows_quarantined": quarantined,
            "planted": planted.get(name, {}),
        }
    return {
        "manifest_version": MANIFEST_VERSION,
        "parameters": {
            "orders": orders,
            "seed": seed,
            "order_start": W.ORDER_START.isoformat(),
            "as_of": W.AS_OF.isoformat(),
            "order_days": W.ORDER_DAYS,
            "fx": fx_info,
        },
        "row_counting": {
            "csv": "data lines after the header (a line with the wrong column count counts)",
            "order_file": "order lines (CSV/XLSX/Parquet rows, JSON `lines` elements)",
            "x12_214": "AT7 segments (one per LX status loop)",
            "x12_210": "L1 charge segments",
            "dcsa_json": "events",
            "parcel_json": "tracking events (activity / scanEvents / events)",
            "ecb_fx_csv": "published (date, currency) cells, N/A excluded",
            "row_number": "CSV line (header = 1); X12 segment number in the file (ISA = 1); "
            "1-based event number in the JSON file in document order",
        },
        "feeds": feeds,
        "carriers": _carrier_truth(world, true_events, invoice_truth),
        "orders": _order_truth(world),
        "returns": {"units_returned": returned_units},
        "truth_files": {
            "shipment_truth": "_truth/shipment_truth.parquet",
            "invoice_truth": "_truth/invoice_truth.parquet",
        },
    }


def _default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    raise TypeError(type(o))


def write_manifest(path: Path, manifest: dict) -> None:
    path.write_text(json.dumps(manifest, indent=2, sort_keys=False, default=_default) + "\n")
