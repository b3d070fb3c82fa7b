"""Money: rate cards, expected freight, carrier invoices (with planted errors), customer
invoices and credit notes, customs entries and returns."""

from __future__ import annotations

import numpy as np
import polars as pl

from generator import world as W
from generator.timefmt import from_epoch

DAY = 86400.0
HOUR = 3600.0

# mode -> (basis, rate by lane class 0/1/2 in USD, minimum, fuel %)
TARIFF = {
    "PARCEL": ("PER_KG", (1.8, 4.5, 7.5), (9.0, 25.0, 45.0), 16.0),
    "LTL": ("PER_KG", (0.35, 0.5, 0.5), (120.0, 180.0, 180.0), 24.0),
    "FTL": ("PER_SHIPMENT", (1800.0, 2600.0, 2600.0), (0.0, 0.0, 0.0), 28.0),
    "AIR": ("PER_KG", (3.2, 5.5, 8.0), (90.0, 120.0, 150.0), 20.0),
    "OCEAN": ("PER_SHIPMENT", (1900.0, 2400.0, 2900.0), (0.0, 0.0, 0.0), 12.0),
}
CARRIER_PRICE_FACTOR = {
    "UPS": 1.0,
    "FEDEX": 1.04,
    "DHL": 1.08,
    "ODFL": 1.1,
    "SAIA": 0.95,
    "JBHT": 1.0,
    "SNDR": 0.97,
    "MAEU": 1.02,
    "MSCU": 0.93,
    "HLCU": 1.0,
    "EXDO": 1.0,
}
VAT = {
    "US": 0,
    "CA": 5,
    "MX": 16,
    "DE": 19,
    "NL": 21,
    "FR": 20,
    "GB": 20,
    "ES": 21,
    "IT": 22,
    "PL": 23,
    "CN": 13,
    "JP": 10,
    "KR": 10,
    "SG": 9,
    "IN": 18,
    "BR": 17,
    "AU": 10,
    "ZA": 15,
}
CHARGE_DESCRIPTION = {
    "FRT": "Freight",
    "FSC": "Fuel surcharge",
    "RDL": "Redelivery",
    "DET": "Detention",
    "LFT": "Liftgate service",
    "RES": "Residential",
}


def carriers_df() -> pl.DataFrame:
    modes = {c.code: c.mode for c in W.CARRIERS}
    modes["DHL"] = "PARCEL;AIR"
    return pl.DataFrame(
        {
            "carrier_code": [c.code for c in W.CARRIERS],
            "carrier_name": [c.name for c in W.CARRIERS],
            "scac": [c.scac for c in W.CARRIERS],
            "modes": [modes[c.code] for c in W.CARRIERS],
            "country": [c.country for c in W.CARRIERS],
        }
    )


def rate_cards(sh: pl.DataFrame, locs: pl.DataFrame) -> pl.DataFrame:
    """One contracted rate per carrier x mode x service x country lane that the world uses."""
    ctry = locs["country"].to_list()
    lanes = (
        sh.select(
            "carrier_code",
            "mode",
            "service_level",
            "lane_class",
            pl.col("origin_loc").replace_strict(dict(enumerate(ctry))).alias("origin_country"),
            pl.col("dest_loc").replace_strict(dict(enumerate(ctry))).alias("destination_country"),
        )
        .unique()
        .sort(["carrier_code", "mode", "service_level", "origin_country", "destination_country"])
    )
    cur = {c.code: c.currency for c in W.CARRIERS}
    rows = []
    for code, mode, svc, lane, o, d in lanes.iter_rows():
        basis, rates, mins, fuel = TARIFF[mode]
        f = CARRIER_PRICE_FACTOR[code] / (W.EUR_RATES["USD"] if cur[code] == "EUR" else 1.0)
        # lane-specific variation, deterministic from the lane's name
        wiggle = 0.9 + (sum(map(ord, o + d)) % 21) / 100
        rows.append(
            {
                "carrier_code": code,
                "mode": mode,
                "service_level": svc,
                "origin_country": o,
                "destination_country": d,
                "basis": basis,
                "rate": round(rates[lane] * f * wiggle, 4 if basis == "PER_KG" else 2),
                "minimum_charge": round(mins[lane] * f, 2),
                "fuel_surcharge_pct": fuel,
                "currency": cur[code],
                "valid_from": "2026-01-01",
                "valid_to": "2026-12-31",
            }
        )
    return pl.DataFrame(rows)


def accessorials_df() -> pl.DataFrame:
    rows = []
    for c in W.CARRIERS:
        fx = 1 / W.EUR_RATES["USD"] if c.currency == "EUR" else 1.0
        for code, desc, basis, amt, free in W.ACCESSORIALS:
            rows.append(
                {
                    "carrier_code": c.code,
                    "charge_code": code,
                    "charge_description": desc,
                    "amount": round(amt * fx, 2),
                    "basis": basis,
                    "free_time_hours": free,
                    "currency": c.currency,
                }
            )
    return pl.DataFrame(rows)


def expected_cost(sh: pl.DataFrame, rc: pl.DataFrame, locs: pl.DataFrame) -> pl.DataFrame:
    ctry = dict(enumerate(locs["country"].to_list()))
    x = sh.with_columns(
        pl.col("origin_loc").replace_strict(ctry).alias("origin_country"),
        pl.col("dest_loc").replace_strict(ctry).alias("destination_country"),
    ).join(
        rc,
        on=["carrier_code", "mode", "service_level", "origin_country", "destination_country"],
        how="left",
        maintain_order="left",
    )
    base = (
        pl.when(pl.col("basis") == "PER_KG")
        .then(
            pl.max_horizontal(pl.col("rate") * pl.col("gross_weight_kg"), pl.col("minimum_charge"))
        )
        .otherwise(pl.col("rate"))
        .round(2)
    )
    return (
        x.with_columns(base.alias("exp_freight"))
        .with_columns(
            (pl.col("exp_freight") * pl.col("fuel_surcharge_pct") / 100).round(2).alias("exp_fuel"),
        )
        .with_columns((pl.col("exp_freight") + pl.col("exp_fuel")).alias("quoted_cost"))
    )


def carrier_invoices(
    sh: pl.DataFrame,
    refs: pl.DataFrame,
    acc: pl.DataFrame,
    rng: np.random.Generator,
    *,
    inv_t: np.ndarray | None = None,
    as_of: float | None = None,
    serial_offset: int = 0,
) -> tuple[pl.DataFrame, dict]:
    """Invoice lines for delivered (or returned) shipments invoiced by AS_OF, with the planted
    errors; returns (lines, per-carrier truth counts).

    ``inv_t`` (epoch seconds per row of ``sh``) replaces the drawn invoice times, ``as_of`` the
    cut-off, and invoice serials start after ``serial_offset``: a later delivery's invoices
    (``generator.increment``)."""
    as_of = W.AS_OF.timestamp() if as_of is None else as_of
    sh = sh.select(
        "shipment_idx",
        "carrier_code",
        "mode",
        "delivered_at",
        "returned_at",
        "attempted_at",
        "pickup_dwell_hours",
        "exp_freight",
        "basis",
        "rate",
        "fuel_surcharge_pct",
        "gross_weight_kg",
        "currency",
    )
    done = np.where(
        np.isnan(sh["delivered_at"].to_numpy()),
        sh["returned_at"].to_numpy(),
        sh["delivered_at"].to_numpy(),
    )
    if inv_t is None:
        inv_t = np.floor((done + rng.uniform(1, 8, sh.height) * DAY) / DAY) * DAY
    x = (
        sh.with_columns(pl.Series("inv_t", inv_t), pl.Series("done_t", done))
        .filter(pl.col("inv_t") <= as_of)
        .join(
            refs.select("shipment_idx", "shipment_id", "scac", "bill_of_lading"),
            on="shipment_idx",
            maintain_order="left",
        )
    )
    n = x.height
    p_err = (
        np.array(
            [W.CARRIERS[W.CARRIER_INDEX[c]].p_invoice_error for c in x["carrier_code"].to_list()]
        )
        if n
        else np.zeros(0)
    )
    u = rng.random(n)
    over = rng.random(n) < 0.7
    factor = np.where(
        u < p_err,
        np.where(over, 1 + rng.uniform(0.05, 0.25, n), 1 - rng.uniform(0.05, 0.2, n)),
        1.0,
    )
    err = np.where(u < p_err, np.where(over, "OVERCHARGE", "UNDERCHARGE"), "")
    mode = x["mode"].to_numpy()
    attempted = ~np.isnan(x["attempted_at"].to_numpy())
    dwell = np.nan_to_num(x["pickup_dwell_hours"].to_numpy(), nan=0.0)
    road = np.isin(mode, ("LTL", "FTL"))
    rdl = attempted & np.isin(mode, ("PARCEL", "LTL"))
    rdl_fake = ~attempted & np.isin(mode, ("PARCEL", "LTL")) & (rng.random(n) < 0.004)
    det = road & (dwell > 2.0)
    det_fake = road & (dwell <= 1.0) & (rng.random(n) < 0.02)
    det_hours = np.where(det, np.ceil((dwell - 2.0) * 4) / 4, rng.integers(1, 4, n))
    lft = (mode == "LTL") & (rng.random(n) < 0.15)
    x = x.with_columns(
        pl.Series("factor", factor),
        pl.Series("error", err),
        pl.Series("rdl", rdl | rdl_fake),
        pl.Series("rdl_unevidenced", rdl_fake),
        pl.Series("det", det | det_fake),
        pl.Series("det_unevidenced", det_fake),
        pl.Series("det_hours", det_hours),
        pl.Series("lft", lft),
        pl.from_epoch(pl.col("inv_t").cast(pl.Int64), time_unit="s").alias("inv_dt"),
        from_epoch(x["done_t"].to_numpy()).dt.date().alias("delivery_date"),
    ).with_row_index("inv_serial", offset=1 + serial_offset)
    acc_amt = {
        (c, k): a for c, k, a in acc.select("carrier_code", "charge_code", "amount").iter_rows()
    }
    common = [
        "shipment_idx",
        "carrier_code",
        "scac",
        "shipment_id",
        "bill_of_lading",
        "inv_serial",
        "inv_dt",
        "delivery_date",
        "currency",
        "mode",
    ]
    frt = x.select(
        *common,
        pl.lit("FRT").alias("charge_code"),
        (pl.col("exp_freight") * pl.col("factor")).round(2).alias("amount"),
        pl.when(pl.col("basis") == "PER_KG")
        .then(pl.col("gross_weight_kg"))
        .otherwise(1.0)
        .alias("quantity"),
        pl.col("rate"),
        pl.when(pl.col("basis") == "PER_KG")
        .then(pl.lit("PK"))
        .otherwise(pl.lit("PS"))
        .alias("rate_qualifier"),
        pl.col("gross_weight_kg").alias("billed_weight_kg"),
        pl.lit(1).alias("line_number"),
    )
    fsc = x.select(
        *common,
        pl.lit("FSC").alias("charge_code"),
        (pl.col("exp_freight") * pl.col("factor") * pl.col("fuel_surcharge_pct") / 100)
        .round(2)
        .alias("amount"),
        pl.lit(1.0).alias("quantity"),
        pl.col("fuel_surcharge_pct").alias("rate"),
        pl.lit("PC").alias("rate_qualifier"),
        pl.col("gross_weight_kg").alias("billed_weight_kg"),
        pl.lit(2).alias("line_number"),
    )
    parts = [frt, fsc]
    for code, flag, qty in (
        ("RDL", "rdl", pl.lit(1.0)),
        ("DET", "det", pl.col("det_hours")),
        ("LFT", "lft", pl.lit(1.0)),
    ):
        a = pl.col("carrier_code").replace_strict(
            {c: v for (c, k), v in acc_amt.items() if k == code}
        )
        parts.append(
            x.filter(pl.col(flag)).select(
                *common,
                pl.lit(code).alias("charge_code"),
                (a * qty).round(2).alias("amount"),
                qty.cast(pl.Float64).alias("quantity"),
                a.alias("rate"),
                pl.lit("FR" if code != "DET" else "PH").alias("rate_qualifier"),
                pl.col("gross_weight_kg").alias("billed_weight_kg"),
                pl.lit(0).alias("line_number"),
            )
        )
    lines = pl.concat(parts, how="vertical_relaxed").sort(
        ["inv_serial", "line_number", "charge_code"]
    )
    lines = lines.with_columns(
        pl.int_range(1, pl.len() + 1).over("inv_serial").alias("line_number")
    )
    lines = lines.with_columns(
        pl.concat_str(
            pl.col("carrier_code").str.slice(0, 3),
            pl.lit("INV"),
            pl.col("inv_serial").cast(pl.Utf8).str.zfill(8),
        ).alias("invoice_number"),
        pl.lit("").alias("mess"),
    )
    # duplicates: the same invoice re-sent later, and the same charges under a new number
    inv_ids = x["inv_serial"].to_numpy()
    k = max(1, len(inv_ids) // 300) if len(inv_ids) else 0
    resend = rng.choice(inv_ids, size=min(k, len(inv_ids)), replace=False) if k else inv_ids[:0]
    renum = (
        rng.choice(
            np.setdiff1d(inv_ids, resend), size=min(k, max(0, len(inv_ids) - k)), replace=False
        )
        if k
        else inv_ids[:0]
    )
    dup1 = lines.filter(pl.col("inv_serial").is_in(resend)).with_columns(
        pl.lit("duplicate_resent").alias("mess"),
        (pl.col("inv_dt") + pl.duration(days=3)).alias("inv_dt"),
    )
    top = int(inv_ids.max()) if len(inv_ids) else 0
    dup2 = (
        lines.filter(pl.col("inv_serial").is_in(renum))
        .with_columns(
            pl.lit("duplicate_renumbered").alias("mess"),
            (pl.col("inv_dt") + pl.duration(days=5)).alias("inv_dt"),
            (pl.col("inv_serial") + top).alias("inv_serial"),
        )
        .with_columns(
            pl.concat_str(
                pl.col("carrier_code").str.slice(0, 3),
                pl.lit("INV"),
                pl.col("inv_serial").cast(pl.Utf8).str.zfill(8),
            ).alias("invoice_number")
        )
    )
    # invoices for shipments we never had
    unk_src = (
        rng.choice(inv_ids, size=min(2 + len(inv_ids) // 2000, len(inv_ids)), replace=False)
        if len(inv_ids)
        else inv_ids
    )
    unk = (
        lines.filter(pl.col("inv_serial").is_in(unk_src))
        .with_columns(
            pl.lit("unknown_shipment").alias("mess"),
            pl.concat_str(pl.lit("SHPX"), (pl.col("inv_serial") + 800000000).cast(pl.Utf8)).alias(
                "shipment_id"
            ),
            (pl.col("inv_serial") + 2 * top).alias("inv_serial"),
        )
        .with_columns(
            pl.concat_str(
                pl.col("carrier_code").str.slice(0, 3),
                pl.lit("INV"),
                pl.col("inv_serial").cast(pl.Utf8).str.zfill(8),
            ).alias("invoice_number")
        )
    )
    lines = pl.concat([lines, dup1, dup2, unk], how="vertical_relaxed")
    lines = lines.with_columns(
        pl.concat_str("invoice_number", pl.lit("#"), "mess").alias("invoice_key"),
        (pl.col("inv_dt") + pl.duration(hours=6)).alias("received"),
        pl.col("inv_dt").dt.date().alias("invoice_date"),
    )
    truth = {}
    inv_hdr = x.select("carrier_code", "error", "rdl_unevidenced", "det_unevidenced")
    truth["_invoices"] = invoice_truth_frame(x, lines)
    for c in W.CARRIERS:
        h = inv_hdr.filter(pl.col("carrier_code") == c.code)
        truth[c.code] = {
            "invoices": h.height,
            "invoices_overcharged": int((h["error"] == "OVERCHARGE").sum()),
            "invoices_undercharged": int((h["error"] == "UNDERCHARGE").sum()),
            "duplicate_invoices_resent": int(
                dup1.filter(pl.col("carrier_code") == c.code)["inv_serial"].n_unique()
            ),
            "duplicate_invoices_renumbered": int(
                dup2.filter(pl.col("carrier_code") == c.code)["inv_serial"].n_unique()
            ),
            "invoices_for_unknown_shipments": int(
                unk.filter(pl.col("carrier_code") == c.code)["inv_serial"].n_unique()
            ),
            "unevidenced_redelivery_charges": int(h["rdl_unevidenced"].sum()),
            "unevidenced_detention_charges": int(h["det_unevidenced"].sum()),
        }
    return lines, truth


def invoice_truth_frame(x: pl.DataFrame, lines: pl.DataFrame) -> pl.DataFrame:
    """One row per invoice the carriers send (re-sent copies once per copy): what was planted.

    planted: OVERCHARGE / UNDERCHARGE (freight and fuel scaled), DUPLICATE_RESENT (the same
    number again, later), DUPLICATE_RENUMBERED (the same charges under a new number),
    UNKNOWN_SHIPMENT (a shipment id we never had), or '' (a clean invoice); plus the
    unevidenced accessorial flags of the invoice it was copied from."""
    flags = x.select(
        "inv_serial",
        pl.col("error").alias("price_error"),
        pl.col("rdl_unevidenced").alias("has_unevidenced_redelivery"),
        pl.col("det_unevidenced").alias("has_unevidenced_detention"),
    )
    top = int(x["inv_serial"].max()) if x.height else 0
    heads = lines.select(
        "carrier_code", "invoice_number", "mess", "inv_serial", "shipment_id"
    ).unique(["invoice_number", "mess"])
    return (
        heads.with_columns(
            pl.when(pl.col("mess") == "duplicate_renumbered")
            .then(pl.col("inv_serial") - top)
            .when(pl.col("mess") == "unknown_shipment")
            .then(pl.col("inv_serial") - 2 * top)
            .otherwise(pl.col("inv_serial"))
            .alias("inv_serial")
        )
        .join(flags, on="inv_serial", how="left")
        .select(
            "carrier_code",
            "invoice_number",
            "shipment_id",
            pl.col("mess")
            .replace_strict(
                {
                    "": "",
                    "duplicate_resent": "DUPLICATE_RESENT",
                    "duplicate_renumbered": "DUPLICATE_RENUMBERED",
                    "unknown_shipment": "UNKNOWN_SHIPMENT",
                }
            )
            .alias("planted"),
            "price_error",
            "has_unevidenced_redelivery",
            "has_unevidenced_detention",
        )
        .sort(["carrier_code", "invoice_number", "planted"])
    )


def _date(col: str) -> pl.Expr:
    return pl.from_epoch(pl.col(col).cast(pl.Int64), time_unit="s").dt.strftime("%Y-%m-%d")


def _money(expr: pl.Expr, cur: pl.Expr) -> pl.Expr:
    """Two decimals, none for JPY/KRW (ISO 4217 minor units)."""
    from generator.writers.common import dec

    return pl.when(cur.is_in(["JPY", "KRW"])).then(dec(expr, 0)).otherwise(dec(expr, 2))


def receivables_customs_returns(
    world, refs: pl.DataFrame, costed: pl.DataFrame, rng: np.random.Generator
) -> dict[str, pl.DataFrame]:
    """Customer invoices/credit notes, customs entries and returns, as contract-ordered string
    frames, plus the truth counts."""
    sh = costed.select(
        "shipment_idx",
        "order_idx",
        "picked_up_at",
        "quoted_cost",
        "currency",
        "delivered_at",
        "is_damaged",
        "is_international",
        "arrived_at",
        "customs_cleared_at",
        "dest_loc",
        "goods_value_eur",
    )
    locs = world.locations
    cust = world.customers
    orders = world.orders.join(
        cust.select("customer_idx", "customer_id", "currency", "channel"),
        on="customer_idx",
        maintain_order="left",
    )
    sl = world.shipment_lines.select(
        "shipment_idx", "order_idx", "line_number", "quantity_shipped"
    ).join(
        world.order_lines.select("order_idx", "line_number", "unit_price"),
        on=["order_idx", "line_number"],
        maintain_order="left",
    )
    shipped = sh.filter(pl.col("picked_up_at").is_not_nan()).join(
        refs.select("shipment_idx", "shipment_id"), on="shipment_idx", maintain_order="left"
    )
    # ---- AR: one invoice per (shipment, order); consolidated shipments bill each order
    goods = sl.group_by(["shipment_idx", "order_idx"]).agg(
        (pl.col("unit_price") * pl.col("quantity_shipped")).sum().alias("goods")
    )
    inv = (
        shipped.select(
            "shipment_idx",
            "shipment_id",
            "picked_up_at",
            "quoted_cost",
            pl.col("currency").alias("freight_currency"),
        )
        .join(goods, on="shipment_idx")
        .join(orders.select("order_idx", "customer_id", "currency"), on="order_idx")
        .sort(["shipment_idx", "order_idx"])
        .with_row_index("doc_serial", offset=1)
    )
    fx = {k: v for k, v in W.EUR_RATES.items()}
    inv = inv.with_columns(
        (
            pl.col("quoted_cost")
            * 1.15
            / pl.col("freight_currency").replace_strict(fx)
            * pl.col("currency").replace_strict(fx)
        ).alias("freight"),
        pl.concat_str(pl.lit("INV"), pl.col("doc_serial").cast(pl.Utf8).str.zfill(9)).alias(
            "document_number"
        ),
        (pl.col("picked_up_at") + 86400).alias("doc_t"),
    ).with_columns(pl.from_epoch(pl.col("order_idx") + 1, time_unit="s").alias("_x"))
    base = [
        pl.col("document_number"),
        pl.lit("INVOICE").alias("document_type"),
        pl.lit("").alias("related_document_number"),
        "customer_id",
        pl.concat_str(pl.lit("SO"), (pl.col("order_idx") + 1).cast(pl.Utf8).str.zfill(9)).alias(
            "order_id"
        ),
        "shipment_id",
        _date("doc_t").alias("document_date"),
        pl.from_epoch((pl.col("doc_t") + 30 * 86400).cast(pl.Int64), time_unit="s")
        .dt.strftime("%Y-%m-%d")
        .alias("due_date"),
        "currency",
    ]
    ar = pl.concat(
        [
            inv.select(
                *base,
                pl.lit(1).alias("line_number"),
                pl.lit("GOODS").alias("charge_type"),
                _money(pl.col("goods"), pl.col("currency")).alias("amount"),
                "doc_serial",
            ),
            inv.select(
                *base,
                pl.lit(2).alias("line_number"),
                pl.lit("FREIGHT").alias("charge_type"),
                _money(pl.col("freight"), pl.col("currency")).alias("amount"),
                "doc_serial",
            ),
        ]
    ).filter(pl.col("document_date") <= W.AS_OF.strftime("%Y-%m-%d"))

    # ---- returns: lines of delivered shipments; damaged shipments come back more often
    ds = sh.filter(pl.col("delivered_at").is_not_nan()).select(
        "shipment_idx", "delivered_at", "is_damaged"
    )
    cand = sl.join(ds, on="shipment_idx").sort(["shipment_idx", "order_idx", "line_number"])
    m = cand.height
    p = np.where(cand["is_damaged"].to_numpy(), 0.6, 0.03)
    ret = cand.filter(pl.Series(rng.random(m) < p))
    r = ret.height
    reason = np.where(
        ret["is_damaged"].to_numpy(),
        "DAMAGED",
        np.array(["DEFECT", "WRONG_ITEM", "NOT_WANTED"])[rng.integers(0, 3, r)],
    )
    ret = (
        ret.with_columns(
            pl.Series("reason", reason),
            pl.Series(
                "rq",
                np.maximum(
                    1, np.floor(rng.random(r) * ret["quantity_shipped"].to_numpy() + 1)
                ).astype(np.int64),
            ),
            pl.Series("rt", ret["delivered_at"].to_numpy() + rng.uniform(2, 25, r) * 86400),
        )
        .filter(pl.col("rt") <= W.AS_OF.timestamp())
        .with_row_index("rma_serial", offset=1)
    )
    ret = ret.join(
        orders.select("order_idx", "customer_id", "currency"), on="order_idx", maintain_order="left"
    )
    returns = ret.select(
        pl.concat_str(pl.lit("RMA"), pl.col("rma_serial").cast(pl.Utf8).str.zfill(8)).alias(
            "rma_number"
        ),
        pl.concat_str(pl.lit("SO"), (pl.col("order_idx") + 1).cast(pl.Utf8).str.zfill(9)).alias(
            "order_id"
        ),
        pl.col("line_number").cast(pl.Utf8),
        pl.col("rq").cast(pl.Utf8).alias("quantity"),
        "reason",
        pl.from_epoch(pl.col("rt").cast(pl.Int64), time_unit="s")
        .dt.strftime("%Y-%m-%dT%H:%M:%SZ")
        .alias("returned_at"),
    )
    # credit notes for returned goods, against the shipment's invoice
    inv_no = inv.select("shipment_idx", "order_idx", "document_number")
    cn = (
        ret.join(inv_no, on=["shipment_idx", "order_idx"], maintain_order="left")
        .filter(pl.col("document_number").is_not_null())
        .with_columns((pl.col("rt") + 2 * 86400).alias("doc_t"))
        .filter(pl.col("doc_t") <= W.AS_OF.timestamp())
    )
    credit = cn.select(
        pl.concat_str(pl.lit("CRN"), pl.col("rma_serial").cast(pl.Utf8).str.zfill(9)).alias(
            "document_number"
        ),
        pl.lit("CREDIT_NOTE").alias("document_type"),
        pl.col("document_number").alias("related_document_number"),
        "customer_id",
        pl.concat_str(pl.lit("SO"), (pl.col("order_idx") + 1).cast(pl.Utf8).str.zfill(9)).alias(
            "order_id"
        ),
        pl.concat_str(pl.lit("SHP"), (pl.col("shipment_idx") + 1).cast(pl.Utf8).str.zfill(9)).alias(
            "shipment_id"
        ),
        _date("doc_t").alias("document_date"),
        _date("doc_t").alias("due_date"),
        "currency",
        pl.lit(1).alias("line_number"),
        pl.lit("GOODS").alias("charge_type"),
        _money(pl.col("unit_price") * pl.col("rq"), pl.col("currency")).alias("amount"),
        (pl.col("rma_serial") + 10**12).alias("doc_serial"),
    )
    ar = (
        pl.concat([ar, credit], how="vertical_relaxed")
        .sort(["doc_serial", "line_number"])
        .drop("doc_serial")
        .with_columns(pl.all().cast(pl.Utf8))
    )

    # ---- customs: import entries for international shipments that reached destination
    ctry = dict(enumerate(locs["country"].to_list()))
    cu = (
        sh.filter(pl.col("is_international") & pl.col("arrived_at").is_not_nan())
        .join(refs.select("shipment_idx", "shipment_id"), on="shipment_idx", maintain_order="left")
        .join(orders.select("order_idx", "channel"), on="order_idx", maintain_order="left")
        .with_columns(pl.col("dest_loc").replace_strict(ctry).alias("import_country"))
    )
    cu = cu.with_columns(pl.col("import_country").replace_strict(W.COUNTRY_CURRENCY).alias("cur"))
    n = cu.height
    duty_rate = rng.choice([0.0, 0.025, 0.035, 0.05, 0.08], n)
    cu = (
        cu.with_columns(
            (pl.col("goods_value_eur") * pl.col("cur").replace_strict(fx)).alias("value"),
            pl.Series("duty_rate", duty_rate),
        )
        .with_columns(
            (pl.col("value") * pl.col("duty_rate")).alias("duty"),
        )
        .with_columns(
            (
                (pl.col("value") + pl.col("duty"))
                * pl.col("import_country").replace_strict(VAT)
                / 100
            ).alias("tax"),
            (75.0 * pl.col("cur").replace_strict(fx) / fx["USD"]).alias("brokerage"),
        )
        .with_row_index("entry_serial", offset=1)
    )
    brokers = [
        "Livingston International",
        "Expeditors Customs",
        "C.H. Robinson Customs",
        "Kuehne+Nagel Customs",
        "DHL Global Forwarding Brokerage",
    ]
    customs = cu.select(
        pl.concat_str(
            pl.col("import_country"),
            pl.lit("E"),
            pl.col("entry_serial").cast(pl.Utf8).str.zfill(10),
        ).alias("entry_number"),
        "shipment_id",
        _date("arrived_at").alias("entry_date"),
        pl.when(pl.col("customs_cleared_at").is_nan())
        .then(pl.lit(""))
        .otherwise(
            pl.from_epoch(
                pl.col("customs_cleared_at").fill_nan(0).cast(pl.Int64), time_unit="s"
            ).dt.strftime("%Y-%m-%d")
        )
        .alias("release_date"),
        "import_country",
        pl.col("cur").alias("currency"),
        _money(pl.col("value"), pl.col("cur")).alias("customs_value"),
        _money(pl.col("duty"), pl.col("cur")).alias("duty_amount"),
        _money(pl.col("tax"), pl.col("cur")).alias("import_tax_amount"),
        pl.when(pl.col("channel").is_in(["B2B", "EDI"]))
        .then(pl.lit("true"))
        .otherwise(pl.lit("false"))
        .alias("is_tax_recoverable"),
        _money(pl.col("brokerage"), pl.col("cur")).alias("brokerage_amount"),
        pl.col("entry_serial")
        .mod(len(brokers))
        .replace_strict(dict(enumerate(brokers)))
        .alias("broker_name"),
    )
    return {
        "customer_invoices": ar,
        "customs": customs,
        "returns": returns,
        "_returned_units": int(ret["rq"].sum()) if r else 0,
    }
