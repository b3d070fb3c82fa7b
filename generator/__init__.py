"""Synthetic feed generator: a seeded logistics world written as every landing feed, plus a
ground-truth manifest of what is true and what mess was planted (docs/generator.md).

``generate(out_dir, orders, seed)`` is what ``waybill generate`` calls.
"""

from __future__ import annotations

import ctypes
import gc
from pathlib import Path

import numpy as np
import polars as pl
from tqdm import tqdm

from generator import world as W
from generator.events import (
    build_events,
    ensure_files,
    file_batches,
    plant_event_mess,
    to_datetimes,
)
from generator.finance import (
    accessorials_df,
    carrier_invoices,
    carriers_df,
    expected_cost,
    rate_cards,
    receivables_customs_returns,
)
from generator.manifest import build_manifest, write_manifest
from generator.mess import plant_bad_files
from generator.model import build_world, shipment_refs
from generator.timefmt import from_epoch, with_local
from generator.writers.common import add_loc, dec, stringify
from generator.writers.json_events import write_csv_events, write_dcsa, write_parcel
from generator.writers.tabular import write_csv_feed, write_fx, write_orders
from generator.writers.x12 import write_210, write_214
from ingestion.contracts import FEEDS

__all__ = ["generate"]

SMALL_RUN = 20_000  # up to this many orders, some orders also go out as XLSX/Parquet/JSON
CSV_CHUNK = 250_000


#: The per-shipment times of the ground truth (_truth/shipment_truth.parquet), in this order.
TRUTH_COLUMNS = [
    "booked_at",
    "planned_pickup_start",
    "planned_pickup_end",
    "planned_delivery_start",
    "planned_delivery_end",
    "picked_up_at",
    "departed_at",
    "arrived_at",
    "customs_cleared_at",
    "out_for_delivery_at",
    "delivered_at",
    "attempted_at",
    "returned_at",
    "damaged_at",
]


def write_shipment_truth(world, refs: pl.DataFrame, path: Path) -> None:
    """The per-shipment ground truth (_truth/shipment_truth.parquet): ids, carrier, mode, the
    true times of TRUTH_COLUMNS in UTC, damage, who caused a late delivery, the on-time draw."""
    truth = world.shipments.join(
        refs.select("shipment_idx", "shipment_id", "tracking_number"),
        on="shipment_idx",
        maintain_order="left",
    )
    truth.select(
        "shipment_id",
        "tracking_number",
        pl.col("carrier_code").alias("carrier"),
        "mode",
        *[
            from_epoch(truth[c].to_numpy()).dt.replace_time_zone("UTC").alias(c)
            for c in TRUTH_COLUMNS
        ],
        "is_damaged",
        pl.col("late_responsible_party").replace("", None),
        pl.col("true_on_time").alias("is_on_time_true_draw"),
    ).write_parquet(path, statistics=False)


def _release_memory() -> None:
    """Hand freed heap back to the OS between stages (glibc keeps it otherwise), which is what
    keeps 1M orders under the 4 GB target."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:  # not glibc
        pass


def _rng(seed: int, stage: str) -> np.random.Generator:
    """An independent stream per stage, so adding draws to one stage leaves the others as is."""
    return np.random.default_rng([seed, sum(ord(c) * 31**i for i, c in enumerate(stage)) % 2**32])


def generate(out_dir: Path, orders: int, seed: int, progress: bool = True) -> dict:
    """Write every feed in ``ingestion.contracts.FEEDS`` under ``out_dir/<feed.folder>/``, the
    ground truth under ``out_dir/_truth/`` and ``out_dir/manifest.json``; return the manifest.

    Deterministic: the same (orders, seed) gives byte-identical files.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stages = [
        "world",
        "carrier events",
        "invoices",
        "orders and shipments",
        "AR, customs, returns",
        "reference and FX",
        "mess and manifest",
    ]
    bar = tqdm(total=len(stages), desc="generate", disable=not progress, unit="stage")
    files: dict[str, list[dict]] = {name: [] for name in FEEDS}
    planted: dict[str, dict] = {name: {} for name in FEEDS}

    def step(name: str) -> None:
        bar.set_postfix_str(name)
        _release_memory()

    # ---- the true world
    step("world")
    world = build_world(orders, _rng(seed, "world"))
    refs = shipment_refs(world)
    locs = world.locations
    rc = rate_cards(world.shipments, locs)
    costed = expected_cost(world.shipments, rc, locs)
    world.shipments = costed  # same rows and order, plus the expected cost: keep one copy
    # cost of goods: a per-SKU share of the selling price, from its own stream so every other
    # draw (and so every row count) is unchanged
    world.skus = world.skus.with_columns(
        cost_ratio=_rng(seed, "unit cost").uniform(0.55, 0.80, world.skus.height)
    )
    bar.update()

    # ---- carrier events, one writer per format, one mess plan per sender
    step("carrier events")
    exceptions = []
    rng_mess = _rng(seed, "event mess")
    ver = {c.code: c.dcsa_version for c in W.CARRIERS if c.dcsa_version}
    x12_variant = {"SAIA": "pipe", "JBHT": "quote"}
    for ci, c in enumerate(
        tqdm(W.CARRIERS, desc="carrier events", disable=not progress, leave=False)
    ):
        # one sender at a time keeps memory flat at scale
        sub = build_events(
            world.shipments.filter(pl.col("carrier_code") == c.code),
            _rng(seed, "events " + c.code),
            first_ev_no=ci * 10**9 + 1,
        )
        exceptions.append(
            sub.filter(pl.col("kind").str.starts_with("EXC_")).select(
                "shipment_idx", pl.lit(c.code).alias("carrier_code"), "kind"
            )
        )
        v3 = c.dcsa_version == "3.0"
        ev = plant_event_mess(
            sub,
            rng_mess,
            world.shipments.height,
            corrections=c.event_format == "csv_events" or v3,
            retractions=v3,
        )
        del sub
        ev = to_datetimes(
            ev.with_columns(pl.lit(c.code).alias("carrier_code"), pl.lit(c.scac).alias("scac"))
        )
        feed = c.event_format
        counts = planted[feed].setdefault("events", {})
        for k, v in ev.filter(pl.col("mess") != "").group_by("mess").len().iter_rows():
            counts[k] = counts.get(k, 0) + int(v)
        folder = FEEDS[feed].folder
        target = {"x12_214": 20_000, "dcsa": 20_000}.get(feed, 50_000)
        ev = ensure_files(ev, "carrier_code", target)
        for batch in file_batches(ev, 200_000):
            if feed == "x12_214":
                recs, _ = write_214(
                    out_dir,
                    batch,
                    refs,
                    locs,
                    folder,
                    target,
                    icn_base=100000 + ci * 10000,
                    variant=x12_variant.get(c.code, "")
                    if files[feed] == []
                    or not any(r["name"].startswith(c.code) for r in files[feed])
                    else "",
                )
            elif feed == "dcsa":
                recs = write_dcsa(out_dir, batch, refs, locs, folder, target, ver)
            elif feed == "parcel":
                recs = write_parcel(out_dir, batch, refs, locs, folder, target)
            else:
                recs = write_csv_events(
                    out_dir, batch, refs, locs, folder, target, FEEDS[feed].field_names
                )
            files[feed] += recs
        del ev
        _release_memory()
    for feed in ("x12_214", "dcsa", "parcel", "csv_events"):
        planted[feed]["events"] = dict(sorted(planted[feed].get("events", {}).items()))
    true_exceptions = pl.concat(exceptions)
    bar.update()

    # ---- carrier invoices
    step("invoices")
    acc = accessorials_df()
    inv, invoice_truth = carrier_invoices(costed, refs, acc, _rng(seed, "invoices"))
    invoice_truth_rows = invoice_truth.pop("_invoices")
    inv_fmt = {c.code: c.invoice_format for c in W.CARRIERS}
    inv = inv.with_columns(pl.col("carrier_code").replace_strict(inv_fmt).alias("fmt"))
    rng_bad = _rng(seed, "bad rows")
    x210 = (
        inv.filter(pl.col("fmt") == "x12_210")
        .with_row_index("ev_no")
        .with_columns(pl.col("ev_no").cast(pl.Int64), dec(pl.col("rate"), 4).alias("rate_text"))
    )
    if x210.height:
        # one malformed charge line: a copy of a fuel line with L1-08 left blank
        src = x210.filter((pl.col("charge_code") == "FSC") & (pl.col("mess") == ""))
        pick = src.sample(n=min(2, src.height), seed=seed, shuffle=False) if src.height else src
        x210 = pl.concat(
            [
                x210,
                pick.with_columns(
                    pl.lit("bad").alias("mess"), (pl.col("ev_no") + 10**9).alias("ev_no")
                ),
            ]
        )
        for ci, (code,) in enumerate(
            x210.select("carrier_code").unique().sort("carrier_code").iter_rows()
        ):
            recs, _ = write_210(
                out_dir,
                x210.filter(pl.col("carrier_code") == code),
                FEEDS["x12_210"].folder,
                20_000,
                icn_base=500000 + ci * 10000,
            )
            files["x12_210"] += recs
    csv_inv = inv.filter(pl.col("fmt") == "csv").sort(
        ["carrier_code", "received", "invoice_number", "line_number"]
    )
    money = (
        pl.when(pl.col("currency").is_in(["JPY", "KRW"]))
        .then(dec(pl.col("amount"), 0))
        .otherwise(dec(pl.col("amount"), 2))
    )
    csv_rows = csv_inv.select(
        "invoice_number",
        "carrier_code",
        "shipment_id",
        pl.col("invoice_date").dt.strftime("%Y-%m-%d"),
        "currency",
        pl.col("line_number").cast(pl.Utf8),
        pl.col("charge_code"),
        pl.col("charge_code")
        .replace_strict(
            {
                "FRT": "Freight",
                "FSC": "Fuel surcharge",
                "RDL": "Redelivery",
                "DET": "Detention",
                "LFT": "Liftgate service",
            },
            default="",
        )
        .alias("charge_description"),
        dec(pl.col("quantity"), 3).alias("quantity"),
        money.alias("amount"),
        pl.col("carrier_code").alias("_c"),
        pl.col("mess").alias("_m"),
    )
    recs = []
    for (carrier,), part in csv_rows.group_by(["_c"], maintain_order=True):
        part = part.drop("_c")
        # duplicates re-sent with the same number travel in a later file
        first = part.filter(pl.col("_m") != "duplicate_resent").drop("_m")
        later = part.filter(pl.col("_m") == "duplicate_resent").drop("_m")
        br = (
            [
                ("invoice_date", "31/10/2026", "invoice_date is not an ISO date"),
                ("currency", "US$", "currency is not an ISO 4217 code"),
            ]
            if not recs
            else []
        )
        recs += write_csv_feed(
            out_dir,
            FEEDS["carrier_invoices_csv"].folder,
            first,
            f"{carrier.lower()}_invoices",
            CSV_CHUNK,
            br,
            rng_bad,
            wrong_columns=not recs,
        )
        if later.height:
            recs += write_csv_feed(
                out_dir,
                FEEDS["carrier_invoices_csv"].folder,
                later,
                f"{carrier.lower()}_invoices_resend",
                CSV_CHUNK,
                [],
                rng_bad,
            )
    files["carrier_invoices_csv"] = recs
    del inv, x210, csv_inv, csv_rows
    bar.update()

    # ---- orders and shipments
    step("orders and shipments")
    order_breakers = [
        ("quantity", "-2", "quantity is below its minimum 1"),
        ("created_at", "2026/07/05 10:00", "created_at is not an ISO 8601 timestamp with offset"),
        ("sku", "", "sku is required"),
    ]
    if orders <= SMALL_RUN:
        files["orders"] = write_orders(
            out_dir,
            FEEDS["orders"].folder,
            _order_rows(world, world.orders),
            CSV_CHUNK,
            True,
            order_breakers,
            rng_bad,
        )
    else:
        # big runs: the CSV template in chunks of orders, built chunk by chunk
        for k, start in enumerate(range(0, orders, CSV_CHUNK // 2)):
            rows = _order_rows(world, world.orders.slice(start, CSV_CHUNK // 2))
            files["orders"] += write_csv_feed(
                out_dir,
                FEEDS["orders"].folder,
                rows,
                f"orders_{k + 1:04d}",
                10**9,
                order_breakers if k == 0 else [],
                rng_bad,
                wrong_columns=k == 0,
            )
            del rows
    ship_breakers = [
        ("quantity_shipped", "-1", "quantity_shipped is below its minimum 0"),
        ("planned_delivery_end", "", "planned_delivery_end is required"),
    ]
    n_sh = costed.height
    for k, start in enumerate(range(0, max(n_sh, 1), CSV_CHUNK)):
        rows = _shipment_rows(world, costed.slice(start, CSV_CHUNK), refs)
        stem = "shipments" if n_sh <= CSV_CHUNK else f"shipments_{k + 1:04d}"
        files["shipments"] += write_csv_feed(
            out_dir,
            FEEDS["shipments"].folder,
            rows,
            stem,
            10**9,
            ship_breakers if k == 0 else [],
            rng_bad,
            wrong_columns=k == 0,
        )
        del rows
    bar.update()

    # ---- AR, customs, returns
    step("AR, customs, returns")
    rcr = receivables_customs_returns(world, refs, costed, _rng(seed, "receivables"))
    files["customer_invoices"] = write_csv_feed(
        out_dir,
        FEEDS["customer_invoices"].folder,
        rcr["customer_invoices"],
        "ar_documents",
        CSV_CHUNK,
        [
            ("amount", "-5.00", "amount is below its minimum 0"),
            ("document_type", "INVOICES", "document_type is not one of INVOICE, CREDIT_NOTE"),
        ],
        rng_bad,
    )
    files["customs"] = write_csv_feed(
        out_dir,
        FEEDS["customs"].folder,
        rcr["customs"],
        "customs_entries",
        CSV_CHUNK,
        [
            ("entry_date", "31.10.2026", "entry_date is not an ISO date"),
            ("is_tax_recoverable", "maybe", "is_tax_recoverable is not a boolean"),
        ],
        rng_bad,
    )
    files["returns"] = write_csv_feed(
        out_dir,
        FEEDS["returns"].folder,
        rcr["returns"],
        "returns",
        CSV_CHUNK,
        [
            ("reason", "BROKEN", "reason is not one of the return reasons"),
            ("returned_at", "2026-09-01T10:00:00", "returned_at has no UTC offset"),
        ],
        rng_bad,
    )
    bar.update()

    # ---- reference feeds and FX
    step("reference and FX")
    files["carriers"] = write_csv_feed(
        out_dir,
        FEEDS["carriers"].folder,
        stringify(carriers_df()),
        "carriers",
        CSV_CHUNK,
        [],
        rng_bad,
    )
    rc_rows = rc.with_columns(
        dec(pl.col("rate"), 4).alias("rate"),
        dec(pl.col("minimum_charge"), 2).alias("minimum_charge"),
        dec(pl.col("fuel_surcharge_pct"), 1).alias("fuel_surcharge_pct"),
    )
    files["rate_cards"] = write_csv_feed(
        out_dir,
        FEEDS["rate_cards"].folder,
        stringify(rc_rows.select(FEEDS["rate_cards"].field_names)),
        "rate_cards_2026",
        CSV_CHUNK,
        [],
        rng_bad,
    )
    acc_rows = acc.with_columns(
        dec(pl.col("amount"), 2).alias("amount"),
        pl.col("free_time_hours").cast(pl.Utf8).fill_null(""),
    )
    files["accessorial_tariffs"] = write_csv_feed(
        out_dir,
        FEEDS["accessorial_tariffs"].folder,
        stringify(acc_rows.select(FEEDS["accessorial_tariffs"].field_names)),
        "accessorial_tariffs",
        CSV_CHUNK,
        [],
        rng_bad,
    )
    files["fx_rates"], fx_info = write_fx(out_dir, FEEDS["fx_rates"].folder, _rng(seed, "fx"))
    bar.update()

    # ---- malformed files, the byte-identical re-send, truth and manifest
    step("mess and manifest")
    bad_files, duplicate = plant_bad_files(out_dir, files)
    truth_path = out_dir / "_truth" / "shipment_truth.parquet"
    truth_path.parent.mkdir(parents=True, exist_ok=True)
    # which invoice carries which planted problem (the manifest has the counts)
    invoice_truth_rows.write_parquet(out_dir / "_truth" / "invoice_truth.parquet")
    write_shipment_truth(world, refs, truth_path)
    manifest = build_manifest(
        orders=orders,
        seed=seed,
        world=world,
        files=files,
        planted=planted,
        bad_files=bad_files,
        duplicate=duplicate,
        invoice_truth=invoice_truth,
        true_events=true_exceptions,
        fx_info=fx_info,
        returned_units=rcr["_returned_units"],
    )
    write_manifest(out_dir / "manifest.json", manifest)
    bar.update()
    bar.close()
    return manifest


def _order_rows(world, orders_df: pl.DataFrame) -> pl.DataFrame:
    """Order-template rows (contract order, strings) for some orders."""
    locs = world.locations
    o = orders_df.join(
        world.customers.select("customer_idx", "customer_id", "channel", "currency"),
        on="customer_idx",
        maintain_order="left",
    )
    o = add_loc(o, locs, "origin_loc", "o_")
    o = add_loc(o, locs, "dest_loc", "d_")
    for c in ("created_at", "promised_delivery_start", "promised_delivery_end"):
        o = o.with_columns(from_epoch(o[c].to_numpy()).alias(c))
    o = with_local(o, "created_at", "o_time_zone", "created_local")
    o = with_local(o, "promised_delivery_start", "d_time_zone", "ps_local")
    o = with_local(o, "promised_delivery_end", "d_time_zone", "pe_local")
    u = pl.col("order_idx") * 7919 % 100
    incoterm = (
        pl.when(pl.col("mode") == "OCEAN")
        .then(
            pl.when(u < 40)
            .then(pl.lit("FOB"))
            .when(u < 70)
            .then(pl.lit("CIF"))
            .otherwise(pl.lit("CFR"))
        )
        .when(pl.col("channel") == "ECOM")
        .then(pl.when(u < 70).then(pl.lit("DAP")).otherwise(pl.lit("DDP")))
        .otherwise(
            pl.when(u < 30)
            .then(pl.lit("FCA"))
            .when(u < 60)
            .then(pl.lit("DAP"))
            .when(u < 80)
            .then(pl.lit("DDP"))
            .when(u < 90)
            .then(pl.lit("EXW"))
            .otherwise(pl.lit("CPT"))
        )
    )
    o = o.with_columns(incoterm.alias("incoterm"))
    lines = world.order_lines.join(o, on="order_idx", how="inner", maintain_order="left").join(
        world.skus.select("sku_idx", "sku", "cost_ratio"), on="sku_idx", maintain_order="left"
    )
    decimals0 = pl.col("currency").is_in(["JPY", "KRW"])
    price = (
        pl.when(decimals0)
        .then(dec(pl.col("unit_price"), 0))
        .otherwise(dec(pl.col("unit_price"), 2))
    )
    unit_cost = pl.col("unit_price") * pl.col("cost_ratio")
    cost = pl.when(decimals0).then(dec(unit_cost, 0)).otherwise(dec(unit_cost, 2))
    order_rows = lines.select(
        pl.concat_str(pl.lit("SO"), (pl.col("order_idx") + 1).cast(pl.Utf8).str.zfill(9)).alias(
            "order_id"
        ),
        pl.col("line_number").cast(pl.Utf8),
        "customer_id",
        "channel",
        pl.concat_str(
            pl.col("created_local").dt.strftime("%Y-%m-%dT%H:%M:%S"), "created_local_offset"
        ).alias("created_at"),
        pl.concat_str(pl.col("ps_local").dt.strftime("%Y-%m-%dT%H:%M:%S"), "ps_local_offset").alias(
            "promised_delivery_start"
        ),
        pl.concat_str(pl.col("pe_local").dt.strftime("%Y-%m-%dT%H:%M:%S"), "pe_local_offset").alias(
            "promised_delivery_end"
        ),
        "incoterm",
        pl.when(pl.col("incoterm").is_in(["EXW", "FCA", "FOB"]))
        .then("o_city")
        .otherwise("d_city")
        .alias("incoterm_place"),
        pl.col("o_country").alias("origin_country"),
        pl.col("o_postcode").alias("origin_postcode"),
        pl.col("o_locode").alias("origin_locode"),
        pl.col("d_country").alias("destination_country"),
        pl.col("d_postcode").alias("destination_postcode"),
        pl.col("d_locode").alias("destination_locode"),
        "currency",
        "sku",
        pl.col("quantity").cast(pl.Utf8),
        price.alias("unit_price"),
        cost.alias("unit_cost"),
        dec(pl.col("weight_kg"), 3).alias("weight_kg"),
        dec(pl.col("volume_m3"), 4).alias("volume_m3"),
    )
    assert order_rows.columns == FEEDS["orders"].field_names
    return order_rows


def _shipment_rows(world, costed: pl.DataFrame, refs: pl.DataFrame) -> pl.DataFrame:
    """Shipment rows (one per shipment x order line) for some shipments."""
    locs = world.locations
    sh = costed.join(
        refs.select("shipment_idx", "shipment_id", "tracking_number"),
        on="shipment_idx",
        maintain_order="left",
    )
    sh = add_loc(sh, locs, "origin_loc", "o_")
    sh = add_loc(sh, locs, "dest_loc", "d_")
    for c in (
        "planned_pickup_start",
        "planned_pickup_end",
        "planned_delivery_start",
        "planned_delivery_end",
        "picked_up_at",
    ):
        sh = sh.with_columns(from_epoch(sh[c].to_numpy()).alias(c))
    sh = with_local(sh, "planned_pickup_start", "o_time_zone", "pps")
    sh = with_local(sh, "planned_pickup_end", "o_time_zone", "ppe")
    sh = with_local(sh, "planned_delivery_start", "d_time_zone", "pds")
    sh = with_local(sh, "planned_delivery_end", "d_time_zone", "pde")
    sh = with_local(sh, "picked_up_at", "o_time_zone", "pu")
    iso = lambda c: pl.concat_str(pl.col(c).dt.strftime("%Y-%m-%dT%H:%M:%S"), pl.col(c + "_offset"))  # noqa: E731
    ship_rows = world.shipment_lines.join(
        sh, on="shipment_idx", how="inner", maintain_order="left"
    ).select(
        "shipment_id",
        pl.concat_str(pl.lit("SO"), (pl.col("order_idx") + 1).cast(pl.Utf8).str.zfill(9)).alias(
            "order_id"
        ),
        pl.col("line_number").cast(pl.Utf8),
        pl.col("quantity_shipped").cast(pl.Utf8),
        "carrier_code",
        "mode",
        "service_level",
        "tracking_number",
        pl.col("o_locode").alias("origin_locode"),
        pl.col("d_locode").alias("destination_locode"),
        iso("pps").alias("planned_pickup_start"),
        iso("ppe").alias("planned_pickup_end"),
        iso("pds").alias("planned_delivery_start"),
        iso("pde").alias("planned_delivery_end"),
        dec(pl.col("gross_weight_kg"), 2).alias("gross_weight_kg"),
        dec(pl.col("quoted_cost"), 2).alias("quoted_cost"),
        pl.col("currency").alias("quoted_currency"),
        iso("pu").fill_null("").alias("shipped_at"),
    )
    assert ship_rows.columns == FEEDS["shipments"].field_names
    return ship_rows
