"""A later delivery: about 1 % new data on top of a base data set (docs/generator.md,
"Increments").

``generate_increment(base_dir, out_dir, share)`` re-builds the base's world in memory from the
parameters in ``base_dir/manifest.json`` (the generator is deterministic, so this is the world
the base files were written from), lets the clock run on by ``share`` of the base's order period
and writes what partners would send next, through the same writers:

* new orders (``share`` x the base's orders, created after its last order) with their
  shipments and carrier events; shipments of base orders first booked in the new period;
* the base's open shipments seen later: every event the base could not have had yet, plus the
  events that happened before the base's cut-off but are received only now;
* planted cross-delivery changes: late-arriving events for shipments the base had delivered,
  corrected base events (same business key, a corrected time), DCSA v3 retractions of base
  events, shipment rows re-sent with a now-known ``shipped_at``;
* invoices sent in the new period, and byte-identical copies of base invoice files;
* rate-card rows for lanes first used by the new shipments.

Nothing of the base is rewritten and every file name sorts after the base's files of the same
sender, so the increment can be written into the base's landing zone. The increment's manifest
(``manifest_<tag>.json``) and truth (``_truth/<tag>/``) describe base + increment combined.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import polars as pl
from tqdm import tqdm

from generator import (
    CSV_CHUNK,
    _order_rows,
    _release_memory,
    _rng,
    _shipment_rows,
    write_shipment_truth,
)
from generator import world as W
from generator.events import build_events, ensure_files, hub_for, plant_event_mess, to_datetimes
from generator.finance import accessorials_df, carrier_invoices, expected_cost, rate_cards
from generator.manifest import MANIFEST_VERSION, _carrier_truth, _order_truth, write_manifest
from generator.model import World, build_world, shipment_refs
from generator.timefmt import from_epoch
from generator.writers.common import dec, stringify
from generator.writers.json_events import write_csv_events, write_dcsa, write_parcel
from generator.writers.tabular import write_csv_feed
from generator.writers.x12 import write_210, write_214
from ingestion.contracts import FEEDS

__all__ = ["generate_increment", "TAG"]

DAY = 86400.0
HOUR = 3600.0
#: the token in every increment file name: sorts after the base's names ("u" > "r"esend,
#: "t"emplate, digits and upper case)
TAG = "update01"
#: increment event numbers start this far into each carrier's block of 10**9 (the base's
#: events, mess included, stay far below it), so DCSA event ids and CSV event ids never clash
EV_NO_OFFSET = 500_000_000
#: ISA13 bases: distinct from the base's 214 (100000 + ...) and 210 (500000 + ...) ranges
ICN_214, ICN_210 = 300000, 700000
EVENT_TARGET = {"x12_214": 20_000, "dcsa": 20_000}
INVOICE_COUNTS = (
    "invoices",
    "invoices_overcharged",
    "invoices_undercharged",
    "duplicate_invoices_resent",
    "duplicate_invoices_renumbered",
    "invoices_for_unknown_shipments",
    "unevidenced_redelivery_charges",
    "unevidenced_detention_charges",
)


def generate_increment(
    base_dir: Path, out_dir: Path | None = None, share: float = 0.01, progress: bool = True
) -> dict:
    """Write the next delivery after the base in ``base_dir`` to ``out_dir`` (default: the base
    folder itself); return the increment's manifest (also written to
    ``out_dir/manifest_<TAG>.json``).

    Deterministic: the same base and ``share`` give byte-identical files. The base's files are
    never touched."""
    base_dir = Path(base_dir)
    out_dir = Path(out_dir) if out_dir is not None else base_dir
    base_manifest = json.loads((base_dir / "manifest.json").read_text())
    if base_manifest.get("kind") == "increment":
        raise ValueError(f"{base_dir} holds an increment: pass the base data set's folder")
    params = base_manifest["parameters"]
    if params["as_of"] != W.AS_OF.isoformat():
        raise ValueError(f"the base's as_of {params['as_of']} is not this generator's calendar")
    if not 0 < share <= 0.25:
        raise ValueError("share must be in (0, 0.25]")
    orders, seed = int(params["orders"]), int(params["seed"])
    out_dir.mkdir(parents=True, exist_ok=True)
    stages = ["worlds", "carrier events", "invoices", "orders and shipments", "truth"]
    bar = tqdm(total=len(stages), desc="increment", disable=not progress, unit="stage")

    as_of = W.AS_OF.timestamp()
    span = round(share * W.ORDER_DAYS * DAY)
    as_of2 = as_of + span
    n_new = max(1, round(share * orders))
    files: dict[str, list[dict]] = {name: [] for name in FEEDS}
    planted: dict[str, dict] = {name: {} for name in FEEDS}
    changes: dict[str, object] = {}

    # ---- the base world (exactly as written), the same world seen at as_of2, new orders
    bar.set_postfix_str("worlds")
    base = build_world(orders, _rng(seed, "world"))
    cost_ratio = _rng(seed, "unit cost").uniform(0.55, 0.80, base.skus.height)
    base.skus = base.skus.with_columns(cost_ratio=cost_ratio)
    later = build_world(orders, _rng(seed, "world"), as_of=as_of2)
    fresh_orders = build_world(
        n_new,
        _rng(seed, "increment world"),
        as_of=as_of2,
        customers=base.customers,
        skus=base.skus.drop("cost_ratio"),
        start=as_of + 1,
        days=(span - 1) / DAY,
    )
    comb, nb, n_rebooked = _combine(base, later, fresh_orders, orders)
    del later  # only the base's shipments are needed from here on (memory at scale)
    base.orders = base.order_lines = base.shipment_lines = pl.DataFrame()
    refs = shipment_refs(comb)
    locs = comb.locations
    rc = rate_cards(comb.shipments, locs)
    costed = expected_cost(comb.shipments, rc, locs)
    comb.shipments = costed
    base_rc = rate_cards(base.shipments, locs)
    lane = ["carrier_code", "mode", "service_level", "origin_country", "destination_country"]
    new_lanes = rc.join(base_rc.select(lane), on=lane, how="anti")
    changes["new_orders"] = fresh_orders.orders.height
    changes["new_order_lines"] = fresh_orders.order_lines.height
    changes["new_shipments_of_new_orders"] = comb.shipments.height - nb - n_rebooked
    changes["new_shipments_of_base_orders"] = n_rebooked
    bar.update()

    # ---- carrier events
    bar.set_postfix_str("carrier events")
    base_names = _base_names(base_manifest)
    rng_base_mess = _rng(seed, "event mess")
    rng_mess = _rng(seed, "increment event mess")
    rng_plant = _rng(seed, "increment plants")
    base_sh = base.shipments
    exc_parts, corrected, retracted = [], {}, []
    counts = {
        "events_for_new_shipments": 0,
        "events_for_open_base_shipments": 0,
        "events_before_base_cutoff_received_now": 0,
        "late_events_for_delivered_base_shipments": 0,
        "corrected_base_events": 0,
        "retracted_base_events": 0,
    }
    base_last_event = -np.inf
    n_exc_new = 0
    ver = {c.code: c.dcsa_version for c in W.CARRIERS if c.dcsa_version}
    for ci, c in enumerate(W.CARRIERS):
        # the base's events for this sender, mess included (replayed in the base's order)
        b_sh = base_sh.filter(pl.col("carrier_code") == c.code)
        b_ev = build_events(b_sh, _rng(seed, "events " + c.code), first_ev_no=ci * 10**9 + 1)
        v3 = c.dcsa_version == "3.0"
        fix = c.event_format == "csv_events" or v3
        b_sent = plant_event_mess(
            b_ev, rng_base_mess, base_sh.height, corrections=fix, retractions=v3
        )
        acts = b_ev.filter(pl.col("classifier") == "ACT")
        if acts.height:
            base_last_event = max(base_last_event, float(acts["t"].max()))
        exc_parts.append(_exceptions(b_ev, c.code))
        # the same shipments seen at as_of2 (same draws): what the base could not have had yet
        seen = comb.shipments.filter(
            (pl.col("carrier_code") == c.code) & (pl.col("shipment_idx") < nb)
        )
        ext = build_events(seen, _rng(seed, "events " + c.code), as_of=as_of2)
        fresh = ext.join(
            b_ev.select("shipment_idx", "kind", "issued"),
            on=["shipment_idx", "kind", "issued"],
            how="anti",
            maintain_order="left",
        )
        # happened before the base's cut-off but reaches us only now
        issued, recv = fresh["issued"].to_numpy(), fresh["received"].to_numpy()
        before = issued <= as_of
        fresh = fresh.with_columns(
            pl.Series(
                "received", np.where(before, np.minimum(as_of + (recv - issued), as_of2), recv)
            )
        )
        counts["events_for_open_base_shipments"] += fresh.height
        counts["events_before_base_cutoff_received_now"] += int(before.sum())
        # shipments first booked after the base's cut-off
        n_sh = comb.shipments.filter(
            (pl.col("carrier_code") == c.code) & (pl.col("shipment_idx") >= nb)
        )
        n_ev = build_events(n_sh, _rng(seed, "increment events " + c.code), as_of=as_of2)
        counts["events_for_new_shipments"] += n_ev.height
        inc = pl.concat([fresh, n_ev], how="vertical_relaxed")
        inc = (
            inc.drop("ev_no")
            .with_row_index("ev_no")
            .with_columns(pl.col("ev_no").cast(pl.Int64) + ci * 10**9 + EV_NO_OFFSET + 1)
        )
        exc_parts.append(_exceptions(inc, c.code))
        n_exc_new += int(inc["kind"].str.starts_with("EXC_").sum())
        sent = (
            plant_event_mess(
                inc, rng_mess, comb.shipments.height, corrections=fix, retractions=v3, as_of=as_of2
            )
            if inc.height
            else inc
        )
        next_no = ci * 10**9 + EV_NO_OFFSET + 1 + 10 * max(inc.height, 1)
        plants = _cross_delivery(
            c,
            b_sh,
            b_sent,
            rng_plant,
            as_of,
            span,
            next_no,
            corrected,
            retracted,
        )
        for tag in ("late_after_base", "correction_of_base", "retraction_of_base"):
            k = int((plants["mess"] == tag).sum()) if plants.height else 0
            key = {
                "late_after_base": "late_events_for_delivered_base_shipments",
                "correction_of_base": "corrected_base_events",
                "retraction_of_base": "retracted_base_events",
            }[tag]
            counts[key] += k
        ev = pl.concat([sent, plants], how="vertical_relaxed") if plants.height else sent
        if not ev.height:
            continue
        ev = to_datetimes(
            ev.with_columns(pl.lit(c.code).alias("carrier_code"), pl.lit(c.scac).alias("scac"))
        )
        feed = c.event_format
        tags = planted[feed].setdefault("events", {})
        for k, v in ev.filter(pl.col("mess") != "").group_by("mess").len().iter_rows():
            tags[k] = tags.get(k, 0) + int(v)
        folder = FEEDS[feed].folder
        target = EVENT_TARGET.get(feed, 50_000)
        ev = ensure_files(ev, "carrier_code", target).with_columns(
            pl.col("file_no") + _last_file_no(base_names[feed], c.code)
        )
        if feed == "x12_214":
            recs, _ = write_214(
                out_dir, ev, refs, locs, folder, target, icn_base=ICN_214 + ci * 10000
            )
        elif feed == "dcsa":
            recs = write_dcsa(out_dir, ev, refs, locs, folder, target, ver)
        elif feed == "parcel":
            recs = write_parcel(out_dir, ev, refs, locs, folder, target)
        else:
            recs = write_csv_events(
                out_dir, ev, refs, locs, folder, target, FEEDS[feed].field_names
            )
        files[feed] += recs
        del b_ev, b_sent, ext, fresh, n_ev, inc, sent, ev
        _release_memory()
    for feed in ("x12_214", "dcsa", "parcel", "csv_events"):
        planted[feed]["events"] = dict(sorted(planted[feed].get("events", {}).items()))
    changes.update(counts)
    exceptions = pl.concat(exc_parts)
    changes["exception_events_added"] = n_exc_new
    changes["exception_events_retracted"] = sum(k.startswith("EXC_") for _, k in retracted)
    if retracted:
        gone = pl.DataFrame(
            [{"shipment_idx": s, "kind": k} for s, k in retracted],
            schema={"shipment_idx": pl.Int64, "kind": pl.Utf8},
        )
        exceptions = exceptions.join(gone, on=["shipment_idx", "kind"], how="anti")
    # the corrected delivery times are the truth from now on
    if corrected:
        idx = np.array(sorted(corrected))
        d = comb.shipments["delivered_at"].to_numpy().copy()
        d[idx] = [corrected[i] for i in idx]
        comb.shipments = comb.shipments.with_columns(pl.Series("delivered_at", d))
    bar.update()

    # ---- carrier invoices: those first sent in the new period, and re-sent base files.
    # ``costed`` still holds the delivery times before the planted corrections: the invoice
    # dates were decided on them (a correction never changes the delivery's UTC date).
    bar.set_postfix_str("invoices")
    inv_truth_rows, inv_counts, inv_files, dup_files = _invoices(
        out_dir, base_dir, base_manifest, base_names, base, costed, refs, seed, as_of, as_of2, nb
    )
    for feed, recs in inv_files.items():
        files[feed] += recs
    changes["new_invoices"] = sum(v["invoices"] for v in inv_counts.values())
    changes["resent_invoice_files"] = len(dup_files)
    bar.update()

    # ---- orders, shipments, rate cards
    bar.set_postfix_str("orders and shipments")
    rng_bad = _rng(seed, "increment bad rows")
    new_orders = comb.orders.filter(pl.col("order_idx") >= orders)
    files["orders"] = write_csv_feed(
        out_dir,
        FEEDS["orders"].folder,
        _order_rows(comb, new_orders),
        f"orders_{TAG}",
        10**9,
        [("quantity", "-2", "quantity is below its minimum 1")],
        rng_bad,
    )
    # shipments first booked now, and base shipments whose pickup is now known (re-sent rows)
    picked_now = (pl.col("shipment_idx") < nb) & pl.col("picked_up_at").is_between(
        as_of, as_of2, closed="right"
    )
    ship = costed.filter((pl.col("shipment_idx") >= nb) | picked_now)
    changes["base_shipments_resent_with_shipped_at"] = costed.filter(picked_now).height
    files["shipments"] = write_csv_feed(
        out_dir,
        FEEDS["shipments"].folder,
        _shipment_rows(comb, ship, refs),
        f"shipments_{TAG}",
        10**9,
        [("quantity_shipped", "-1", "quantity_shipped is below its minimum 0")],
        rng_bad,
    )
    changes["new_rate_card_lanes"] = new_lanes.height
    if new_lanes.height:
        rows = new_lanes.with_columns(
            dec(pl.col("rate"), 4).alias("rate"),
            dec(pl.col("minimum_charge"), 2).alias("minimum_charge"),
            dec(pl.col("fuel_surcharge_pct"), 1).alias("fuel_surcharge_pct"),
        )
        files["rate_cards"] = write_csv_feed(
            out_dir,
            FEEDS["rate_cards"].folder,
            stringify(rows.select(FEEDS["rate_cards"].field_names)),
            f"rate_cards_2026_{TAG}",
            CSV_CHUNK,
            [],
            rng_bad,
        )
    bar.update()

    # ---- names after the base's, truth of base + increment, manifest
    bar.set_postfix_str("truth")
    for feed in files:
        files[feed] = [_sort_after_base(out_dir, r, base_names[feed]) for r in files[feed]]
    truth_dir = out_dir / "_truth" / TAG
    truth_dir.mkdir(parents=True, exist_ok=True)
    write_shipment_truth(comb, refs, truth_dir / "shipment_truth.parquet")
    base_inv_truth = pl.read_parquet(base_dir / base_manifest["truth_files"]["invoice_truth"])
    pl.concat([base_inv_truth, inv_truth_rows], how="vertical_relaxed").sort(
        ["carrier_code", "invoice_number", "planted"]
    ).write_parquet(truth_dir / "invoice_truth.parquet", statistics=False)
    inv_total = {
        code: {
            k: base_manifest["carriers"][code][k] + inv_counts.get(code, {}).get(k, 0)
            for k in INVOICE_COUNTS
        }
        for code in base_manifest["carriers"]
    }
    changes["corrected_delivery_shipments"] = sorted(
        refs.filter(pl.col("shipment_idx").is_in(list(corrected)))["shipment_id"].to_list()
    )
    ids = refs["shipment_id"]  # row i is shipment_idx i
    changes["retracted_base_events_by_kind"] = [
        {"shipment_id": sid, "kind": k} for sid, k in sorted((ids[s], k) for s, k in retracted)
    ]
    feeds = _feeds(files, planted, dup_files)
    manifest = {
        "manifest_version": MANIFEST_VERSION,
        "kind": "increment",
        "tag": TAG,
        "base": params,
        "parameters": {
            "orders": n_new,
            "seed": seed,
            "share": share,
            "order_start": from_epoch(np.array([as_of + 1.0]))[0].isoformat() + "+00:00",
            "previous_as_of": W.AS_OF.isoformat(),
            "as_of": from_epoch(np.array([as_of2]))[0].isoformat() + "+00:00",
            "order_days": span / DAY,
            "base_last_event_time": from_epoch(np.array([base_last_event]))[0].isoformat()
            + "+00:00",
        },
        "loading": "expected_rows_loaded / expected_rows_quarantined assume the base was "
        "loaded first: files listed under duplicate_files are byte-identical copies of base "
        "files and are skipped (rows_counted 0)",
        "row_counting": base_manifest["row_counting"],
        "feeds": feeds,
        "combined_feeds": _combined_feeds(base_manifest["feeds"], feeds),
        "changes": changes,
        "carriers": _carrier_truth(comb, exceptions, inv_total),
        "orders": _order_truth(comb),
        "returns": {
            **base_manifest["returns"],
            "note": "the increment sends no returns, AR documents, customs entries or FX rates",
        },
        "truth_files": {
            "shipment_truth": f"_truth/{TAG}/shipment_truth.parquet",
            "invoice_truth": f"_truth/{TAG}/invoice_truth.parquet",
        },
        "truth_covers": "base + increment, as of parameters.as_of",
    }
    write_manifest(out_dir / f"manifest_{TAG}.json", manifest)
    bar.update()
    bar.close()
    return manifest


# ---------------------------------------------------------------- the combined world
def _combine(base: World, later: World, new: World, n_orders: int) -> tuple[World, int, int]:
    """Base + increment world at as_of2: the base's shipments keep their numbers, base orders'
    shipments first booked now come next, then the new orders' shipments."""
    nb = base.shipments.height
    key = ["order_idx", "ship_seq"]
    found = later.shipments.select(key).join(
        base.shipments.select(*key, pl.col("shipment_idx").alias("b")),
        on=key,
        how="left",
        maintain_order="left",
    )["b"]
    is_new = found.is_null().to_numpy()
    remap = np.where(is_new, nb + np.cumsum(is_new) - 1, found.fill_null(0).to_numpy())
    n_rebooked = int(is_new.sum())
    shipments = later.shipments.with_columns(
        pl.Series("shipment_idx", remap[later.shipments["shipment_idx"].to_numpy()])
    ).sort("shipment_idx")
    slines = later.shipment_lines.with_columns(
        pl.Series("shipment_idx", remap[later.shipment_lines["shipment_idx"].to_numpy()])
    )
    off_s = shipments.height
    n_lines = later.order_lines.height
    new_sh = new.shipments.with_columns(
        pl.col("shipment_idx") + off_s, pl.col("order_idx") + n_orders
    )
    new_sl = new.shipment_lines.with_columns(
        pl.col("shipment_idx") + off_s,
        pl.col("order_idx") + n_orders,
        pl.col("line_idx") + n_lines,
    )
    world = World(
        base.locations,
        base.customers,
        base.skus,
        pl.concat(
            [later.orders, new.orders.with_columns(pl.col("order_idx") + n_orders)],
            how="vertical_relaxed",
        ),
        pl.concat(
            [later.order_lines, new.order_lines.with_columns(pl.col("order_idx") + n_orders)],
            how="vertical_relaxed",
        ),
        pl.concat([shipments, new_sh], how="vertical_relaxed"),
        pl.concat([slines, new_sl], how="vertical_relaxed").sort(
            ["shipment_idx", "order_idx", "line_number"]
        ),
    )
    return world, nb, n_rebooked


def _exceptions(ev: pl.DataFrame, code: str) -> pl.DataFrame:
    return ev.filter(pl.col("kind").str.starts_with("EXC_")).select(
        pl.col("shipment_idx").cast(pl.Int64), pl.lit(code).alias("carrier_code"), "kind"
    )


# ---------------------------------------------------------------- planted changes to the base
def _cross_delivery(
    c,
    b_sh: pl.DataFrame,
    b_sent: pl.DataFrame,
    rng: np.random.Generator,
    as_of: float,
    span: float,
    next_no: int,
    corrected: dict,
    retracted: list,
) -> pl.DataFrame:
    """Events this delivery sends about shipments the base already had: late-arriving
    checkpoints of delivered shipments, corrected DELIVERED times (senders with event ids:
    CSV and DCSA), DCSA v3 retractions of base events."""
    parts = []
    if not b_sent.height:
        return b_sent.head(0)
    delivered = b_sh.filter(pl.col("delivered_at").is_not_nan())
    n_del = delivered.height

    def when(k: int) -> np.ndarray:
        return as_of + rng.uniform(0.05, 0.95, k) * span

    # rows of the base that were never re-sent, corrected or otherwise touched by its mess
    touched = b_sent.filter(pl.col("mess") != "")["ev_no"].unique()
    clean = b_sent.filter((pl.col("mess") == "") & ~pl.col("ev_no").is_in(touched.implode()))

    if c.event_format != "dcsa" and n_del:
        # a hub scan between departure and arrival that reaches us only after delivery
        cand = delivered.filter(pl.col("arrived_at") > pl.col("departed_at"))
        k = min(cand.height, 1 + n_del // 300)
        if k:
            pick = cand[np.sort(rng.choice(cand.height, k, replace=False))]
            dep, arr = pick["departed_at"].to_numpy(), pick["arrived_at"].to_numpy()
            t = np.round(dep + rng.uniform(0.15, 0.85, k) * (arr - dep))
            loc = hub_for(pick["dest_loc"].to_numpy(), rng.random(k) < 0.5)
            parts.append(
                pl.DataFrame(
                    {
                        "ev_no": np.arange(next_no, next_no + k, dtype=np.int64),
                        "shipment_idx": pick["shipment_idx"].to_numpy().astype(np.int64),
                        "kind": ["IN_TRANSIT"] * k,
                        "t": t,
                        "issued": t,
                        "loc_idx": loc.astype(np.int64),
                        "classifier": ["ACT"] * k,
                        "received": when(k),
                        "mess": ["late_after_base"] * k,
                    }
                )
            )
    if (c.event_format == "csv_events" or c.event_format == "dcsa") and n_del:
        # the DELIVERED time the base sent was wrong: the same event id with the true time
        lb = np.nanmax(
            np.vstack(
                [
                    delivered[col].to_numpy()
                    for col in (
                        "out_for_delivery_at",
                        "attempted_at",
                        "damaged_at",
                        "arrived_at",
                        "customs_cleared_at",
                    )
                ]
            ),
            axis=0,
        )
        d = delivered["delivered_at"].to_numpy()
        room = np.minimum(HOUR, 0.5 * (d - lb))
        ok = delivered.select("shipment_idx").with_columns(
            pl.Series("room", room), pl.Series("d", d)
        )
        cand = (
            clean.filter(pl.col("kind") == "DELIVERED")
            .join(ok, on="shipment_idx")
            .filter(pl.col("room") >= 600)
            .sort("ev_no")
        )
        k = min(cand.height, 1 + n_del // 200)
        if k:
            pick = cand[np.sort(rng.choice(cand.height, k, replace=False))]
            d = pick["d"].to_numpy()
            new_t = np.round(d - pick["room"].to_numpy() * rng.uniform(0.5, 1.0, k))
            # the same UTC day, so the invoice's delivery date stays right
            new_t = np.maximum(new_t, np.floor(d / DAY) * DAY)
            keep = new_t < d
            pick, new_t = pick.filter(pl.Series(keep)), new_t[keep]
            for s, t in zip(pick["shipment_idx"].to_list(), new_t.tolist()):
                corrected[int(s)] = float(t)
            parts.append(
                pick.select(b_sent.columns).with_columns(
                    pl.Series("t", new_t),
                    pl.Series("issued", new_t),
                    pl.Series("received", when(pick.height)),
                    pl.lit("correction_of_base").alias("mess"),
                )
            )
    if c.dcsa_version == "3.0":
        # an event sent in error: retracted by re-sending its id with isRetracted
        cand = clean.filter(pl.col("kind") == "EXC_DELAY_WEATHER")
        if not cand.height:
            cand = clean.filter(pl.col("kind") == "ETA")
        k = min(cand.height, 1 + b_sh.height // 2000)
        if k:
            pick = cand.sort("ev_no")[np.sort(rng.choice(cand.height, k, replace=False))]
            retracted += [(int(s), kd) for s, kd in pick.select("shipment_idx", "kind").rows()]
            parts.append(
                pick.with_columns(
                    pl.Series("received", when(k)), pl.lit("retraction_of_base").alias("mess")
                )
            )
    if not parts:
        return b_sent.head(0)
    cols = b_sent.columns
    return pl.concat([p.select(cols).cast(b_sent.schema) for p in parts])


# ---------------------------------------------------------------- invoices
def _invoices(
    out_dir, base_dir, base_manifest, base_names, base, costed, refs, seed, as_of, as_of2, nb
):
    """Invoices first sent in (as_of, as_of2]: the base's own invoice-time draws decide when a
    base shipment is invoiced; serials continue after every number the base used."""

    def done(sh: pl.DataFrame) -> np.ndarray:
        d = sh["delivered_at"].to_numpy()
        return np.where(np.isnan(d), sh["returned_at"].to_numpy(), d)

    u = _rng(seed, "invoices").uniform(1, 8, nb)  # the base's first draw, one per shipment
    base_t = np.floor((done(base.shipments) + u * DAY) / DAY) * DAY
    n_base_inv = int((base_t <= as_of).sum())
    manifest_inv = sum(v["invoices"] for v in base_manifest["carriers"].values())
    assert n_base_inv == manifest_inv, (n_base_inv, manifest_inv)
    # the combined world's completion times before any planted correction decide the date
    comb_done = done(costed)
    t = np.full(costed.height, np.nan)
    t[:nb] = np.floor((comb_done[:nb] + u * DAY) / DAY) * DAY
    extra = _rng(seed, "increment invoice times").uniform(1, 8, costed.height - nb)
    t[nb:] = np.floor((comb_done[nb:] + extra * DAY) / DAY) * DAY
    in_base = np.zeros(costed.height, dtype=bool)
    in_base[:nb] = base_t <= as_of
    sel = ~in_base & (t > as_of) & (t <= as_of2)
    inv_files: dict[str, list[dict]] = {"x12_210": [], "carrier_invoices_csv": []}
    truth_rows = pl.DataFrame(
        schema={
            "carrier_code": pl.Utf8,
            "invoice_number": pl.Utf8,
            "shipment_id": pl.Utf8,
            "planted": pl.Utf8,
            "price_error": pl.Utf8,
            "has_unevidenced_redelivery": pl.Boolean,
            "has_unevidenced_detention": pl.Boolean,
        }
    )
    counts: dict = {}
    if sel.any():
        acc = accessorials_df()
        inv, counts = carrier_invoices(
            costed.filter(pl.Series(sel)),
            refs,
            acc,
            _rng(seed, "increment invoices"),
            inv_t=t[sel],
            as_of=as_of2,
            serial_offset=3 * n_base_inv,
        )
        truth_rows = counts.pop("_invoices")
        # planted duplicates are dated 3 and 5 days after their original: never after this
        # delivery's as_of (the base's FX file, carried forward, must cover every invoice date)
        last_day = pl.from_epoch(pl.lit(int(as_of2 // DAY * DAY)), time_unit="s")
        inv = inv.with_columns(
            pl.min_horizontal(pl.col("inv_dt"), last_day.cast(inv.schema["inv_dt"])).alias("inv_dt")
        ).with_columns(
            (pl.col("inv_dt") + pl.duration(hours=6)).alias("received"),
            pl.col("inv_dt").dt.date().alias("invoice_date"),
        )
        inv_fmt = {c.code: c.invoice_format for c in W.CARRIERS}
        inv = inv.with_columns(pl.col("carrier_code").replace_strict(inv_fmt).alias("fmt"))
        x210 = (
            inv.filter(pl.col("fmt") == "x12_210")
            .with_row_index("ev_no")
            .with_columns(pl.col("ev_no").cast(pl.Int64), dec(pl.col("rate"), 4).alias("rate_text"))
        )
        for (code,) in x210.select("carrier_code").unique().sort("carrier_code").iter_rows():
            recs, _ = write_210(
                out_dir,
                x210.filter(pl.col("carrier_code") == code),
                FEEDS["x12_210"].folder,
                20_000,
                icn_base=ICN_210 + W.CARRIER_INDEX[code] * 10000,
                first_file_no=_last_file_no(base_names["x12_210"], code),
            )
            inv_files["x12_210"] += recs
        inv_files["carrier_invoices_csv"] = _csv_invoices(
            out_dir, inv.filter(pl.col("fmt") == "csv")
        )
    # byte-identical re-sends of a base invoice file of each format, under a new name
    dups = []
    for feed in ("carrier_invoices_csv", "x12_210"):
        recs = base_manifest["feeds"][feed]["files"]
        if not recs:
            continue
        plain = [r for r in recs if "_resend" not in r["name"]] or recs
        src = min(plain, key=lambda r: (r["rows"], r["name"]))["name"]
        p = Path(src)
        name = (p.parent / f"{p.stem}_{TAG}_copy{p.suffix}").as_posix()
        (out_dir / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(base_dir / src, out_dir / name)
        dups.append({"feed": feed, "name": name, "copy_of": src, "rows_counted": 0})
    return truth_rows, counts, inv_files, dups


def _csv_invoices(out_dir: Path, csv_inv: pl.DataFrame) -> list[dict]:
    csv_inv = csv_inv.sort(["carrier_code", "received", "invoice_number", "line_number"])
    money = (
        pl.when(pl.col("currency").is_in(["JPY", "KRW"]))
        .then(dec(pl.col("amount"), 0))
        .otherwise(dec(pl.col("amount"), 2))
    )
    desc = {
        "FRT": "Freight",
        "FSC": "Fuel surcharge",
        "RDL": "Redelivery",
        "DET": "Detention",
        "LFT": "Liftgate service",
    }
    rows = csv_inv.select(
        "invoice_number",
        "carrier_code",
        "shipment_id",
        pl.col("invoice_date").dt.strftime("%Y-%m-%d"),
        "currency",
        pl.col("line_number").cast(pl.Utf8),
        "charge_code",
        pl.col("charge_code").replace_strict(desc, default="").alias("charge_description"),
        dec(pl.col("quantity"), 3).alias("quantity"),
        money.alias("amount"),
        pl.col("carrier_code").alias("_c"),
        pl.col("mess").alias("_m"),
    )
    recs: list[dict] = []
    rng = np.random.default_rng(0)  # unused: no malformed rows planted in invoice CSVs here
    folder = FEEDS["carrier_invoices_csv"].folder
    for (carrier,), part in rows.group_by(["_c"], maintain_order=True):
        part = part.drop("_c")
        first = part.filter(pl.col("_m") != "duplicate_resent").drop("_m")
        again = part.filter(pl.col("_m") == "duplicate_resent").drop("_m")
        stem = f"{carrier.lower()}_invoices_{TAG}"
        recs += write_csv_feed(out_dir, folder, first, stem, CSV_CHUNK, [], rng)
        if again.height:
            recs += write_csv_feed(out_dir, folder, again, stem + "_resend", CSV_CHUNK, [], rng)
    return recs


# ---------------------------------------------------------------- names, truth, manifest
_SEQ = re.compile(r"_(\d{4})\.(edi|json|csv)$", re.IGNORECASE)
_DATED = re.compile(r"^(?P<pre>.*_)(?P<date>\d{8})_(?P<no>\d{4})(?P<ext>\.\w+)$")


def _base_names(base_manifest: dict) -> dict[str, list[str]]:
    """Every file name the base wrote, per feed (good, malformed and duplicate files)."""
    out = {}
    for name, f in base_manifest["feeds"].items():
        out[name] = sorted(
            [r["name"] for r in f["files"]]
            + [m["name"] for m in f["malformed_files"]]
            + [d["name"] for d in f["duplicate_files"]]
        )
    return out


def _last_file_no(names: list[str], carrier: str) -> int:
    """The highest file number among the base's files of one sender (0 if none)."""
    nums = [
        int(m.group(1))
        for n in names
        if Path(n).name.lower().startswith(carrier.lower() + "_") and (m := _SEQ.search(n))
    ]
    return max(nums, default=0)


def _sort_after_base(out_dir: Path, rec: dict, base_names: list[str]) -> dict:
    """A dated name (``<sender>_<kind>_<yyyymmdd>_<nnnn>``) takes the base's latest date for the
    sender when its own is earlier, so it sorts after every base file of the sender (its file
    number already continues the base's)."""
    m = _DATED.match(rec["name"])
    if not m:
        return rec
    same = [n for n in base_names if n.startswith(m["pre"]) and _DATED.match(n)]
    if not same or rec["name"] > max(same):
        return rec
    latest = max(_DATED.match(n)["date"] for n in same)
    name = f"{m['pre']}{max(latest, m['date'])}_{m['no']}{m['ext']}"
    (out_dir / rec["name"]).replace(out_dir / name)
    return {**rec, "name": name}


def _feeds(files: dict, planted: dict, dups: list[dict]) -> dict:
    feeds = {}
    for name, feed in FEEDS.items():
        recs = sorted(files.get(name, []), key=lambda r: r["name"])
        rows = sum(r["rows"] for r in recs)
        bad = sum(len(r["malformed_rows"]) for r in recs)
        feeds[name] = {
            "folder": feed.folder,
            "format": feed.format,
            "files": recs,
            "malformed_files": [],
            "duplicate_files": [d for d in dups if d["feed"] == name],
            "rows_written": rows,
            "expected_rows_loaded": rows - bad,
            "expected_rows_quarantined": bad,
            "planted": planted.get(name, {}),
        }
    return feeds


def _combined_feeds(base: dict, inc: dict) -> dict:
    """Per feed, what a warehouse that loaded the base and then the increment holds: files
    loaded (good files; malformed and duplicate ones are in neither count), rows and the
    planted event tags, summed."""
    out = {}
    for name in FEEDS:
        b, i = base[name], inc[name]
        tags: dict[str, int] = {}
        for f in (b, i):
            for k, v in f["planted"].get("events", {}).items():
                tags[k] = tags.get(k, 0) + v
        out[name] = {
            "files": len(b["files"]) + len(i["files"]),
            **{
                k: b[k] + i[k]
                for k in ("rows_written", "expected_rows_loaded", "expected_rows_quarantined")
            },
            "planted": {"events": dict(sorted(tags.items()))} if tags else {},
        }
    return out
