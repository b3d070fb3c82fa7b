"""Canonical carrier events from the true timeline, and the event-level mess planted on them.

One row per event a carrier *sends*: milestone actuals, in-transit checkpoints, estimates,
exceptions, plus re-sends, corrections, unknown codes and malformed copies. The format writers
map ``kind`` to each standard's codes; ``mess`` says what was planted (empty = clean).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from generator import world as W
from generator.timefmt import from_epoch

HOUR = 3600.0
DAY = 86400.0

#: kind -> (milestone or exception type, responsible party) for the manifest
EXCEPTION_KINDS = {
    "EXC_ATTEMPT": "ATTEMPT_FAILED",
    "EXC_REFUSED": "REFUSED",
    "EXC_DELAY_CARRIER": "DELAY",
    "EXC_DELAY_SHIPPER": "DELAY",
    "EXC_DELAY_WEATHER": "DELAY",
    "EXC_DAMAGED": "DAMAGED",
    "EXC_CUSTOMS_HOLD": "CUSTOMS_HOLD",
}


_LOCS = W.load_locations()
_HUBS = {"NA": ("USMEM", "USDEN"), "EU": ("DEFRA", "NLAMS"), "AS": ("SGSIN", "KRSEL")}


def hub_for(dst: np.ndarray, first: np.ndarray) -> np.ndarray:
    """An intermediate hub in the destination's region, never the destination itself."""
    codes = _LOCS["locode"].to_list()
    hubs = [_HUBS.get(W.REGION[c], _HUBS["EU"]) for c in _LOCS["country"].to_list()]
    h1 = np.array([codes.index(h[0]) for h in hubs])[dst]
    h2 = np.array([codes.index(h[1]) for h in hubs])[dst]
    a, b = np.where(first, h1, h2), np.where(first, h2, h1)
    return np.where(a == dst, b, a)


def build_events(
    sh: pl.DataFrame, rng: np.random.Generator, first_ev_no: int = 1, as_of: float | None = None
) -> pl.DataFrame:
    """True events per shipment (before any mess), ``t`` and ``issued`` as epoch floats;
    event numbers start at ``first_ev_no``; nothing is received after ``as_of`` (default
    ``W.AS_OF``)."""
    ns = sh.height
    col = {c: sh[c].to_numpy() for c in sh.columns}
    org, dst = col["origin_loc"], col["dest_loc"]
    mode = col["mode"]
    sidx = col["shipment_idx"]
    parts: list[dict] = []

    def add(kind, t, loc, mask=None, issued=None, cls="ACT"):
        m = ~np.isnan(t) if mask is None else (mask & ~np.isnan(t))
        idx = np.flatnonzero(m)
        parts.append(
            {
                "shipment_idx": sidx[idx],
                "kind": np.full(len(idx), kind, dtype=object),
                "t": t[idx],
                "issued": (t if issued is None else issued)[idx],
                "loc_idx": loc[idx],
                "classifier": np.full(len(idx), cls, dtype=object),
            }
        )

    add("BOOKED", col["booked_at"], org)
    road = np.isin(mode, ("LTL", "FTL"))
    add("PICKUP_ARRIVED", col["picked_up_at"] - col["pickup_dwell_hours"] * HOUR, org, road)
    add("PICKED_UP", col["picked_up_at"], org)
    add("DEPARTED", col["departed_at"], org)
    # in-transit checkpoints (not for ocean, whose vessel legs are the checkpoints)
    n_cp = np.where(mode == "OCEAN", 0, rng.integers(0, 3, ns))
    for k in (1, 2):
        frac = rng.uniform(0.15, 0.85, ns)
        t = col["departed_at"] + frac * (col["arrived_at"] - col["departed_at"])
        loc = hub_for(dst, rng.random(ns) < 0.5)
        add("IN_TRANSIT", np.where(col["arrived_at"] > 0, t, np.nan), loc, n_cp >= k)
    add("ARRIVED", col["arrived_at"], dst)
    add("CUSTOMS_CLEARED", col["customs_cleared_at"], dst)
    add("OUT_FOR_DELIVERY", col["out_for_delivery_at"], dst)
    add("DELIVERED", col["delivered_at"], dst)
    add("RETURNED", col["returned_at"], org)
    # estimates: the delivery ETA given at pickup, and again at arrival for ocean
    truth = np.where(
        np.isnan(col["delivered_at"]), col["planned_delivery_end"], col["delivered_at"]
    )
    eta1 = np.round((truth + rng.normal(0, 10, ns) * HOUR) / 60) * 60
    add("ETA", eta1, dst, ~np.isnan(col["picked_up_at"]), issued=col["picked_up_at"], cls="EST")
    eta2 = np.round((truth + rng.normal(0, 3, ns) * HOUR) / 60) * 60
    add(
        "ETA",
        eta2,
        dst,
        (mode == "OCEAN") & ~np.isnan(col["arrived_at"]),
        issued=col["arrived_at"],
        cls="EST",
    )
    # exceptions
    party = col["late_responsible_party"]
    returned = ~np.isnan(col["returned_at"])
    add("EXC_ATTEMPT", col["attempted_at"], dst, ~returned)
    add("EXC_REFUSED", col["attempted_at"], dst, returned)
    mid = col["departed_at"] + 0.5 * (col["arrived_at"] - col["departed_at"])
    add("EXC_DELAY_CARRIER", mid, dst, party == "CARRIER")
    add("EXC_DELAY_SHIPPER", col["picked_up_at"] + HOUR, org, party == "SHIPPER")
    add("EXC_DAMAGED", col["damaged_at"], dst)
    u = col["u_exc"]
    intl = col["is_international"]
    add(
        "EXC_CUSTOMS_HOLD",
        col["arrived_at"] + 0.02 * (col["customs_cleared_at"] - col["arrived_at"]),
        dst,
        ~np.isnan(col["extra_exception_at"]) & intl & (u < 0.4),
    )
    add("EXC_DELAY_WEATHER", col["extra_exception_at"], org, ~(intl & (u < 0.4)))

    ev = pl.DataFrame({k: np.concatenate([p[k] for p in parts]) for k in parts[0]})
    ev = ev.with_columns(pl.col("kind").cast(pl.Utf8), pl.col("classifier").cast(pl.Utf8))
    # transmission lag: API carriers push within minutes, EDI/CSV senders batch for hours
    lag = rng.exponential(1.5 * HOUR, ev.height) + 60
    as_of = W.AS_OF.timestamp() if as_of is None else as_of
    received = np.minimum(ev["issued"].to_numpy() + lag, as_of)
    ev = ev.with_columns(
        pl.Series("received", np.maximum(received, ev["issued"].to_numpy())),
        pl.lit("").alias("mess"),
    )
    kind_order = {
        k: i
        for i, k in enumerate(
            (
                "BOOKED",
                "PICKUP_ARRIVED",
                "PICKED_UP",
                "EXC_DELAY_SHIPPER",
                "DEPARTED",
                "IN_TRANSIT",
                "EXC_DELAY_WEATHER",
                "EXC_DELAY_CARRIER",
                "ETA",
                "ARRIVED",
                "EXC_CUSTOMS_HOLD",
                "CUSTOMS_CLEARED",
                "EXC_DAMAGED",
                "OUT_FOR_DELIVERY",
                "EXC_ATTEMPT",
                "EXC_REFUSED",
                "DELIVERED",
                "RETURNED",
            )
        )
    }
    ev = ev.with_columns(
        pl.col("kind").replace_strict(kind_order, return_dtype=pl.Int64).alias("_k")
    )
    ev = ev.sort(["shipment_idx", "t", "_k"]).drop("_k").with_row_index("ev_no")
    return ev.with_columns(pl.col("ev_no").cast(pl.Int64) + first_ev_no)


def plant_event_mess(
    ev: pl.DataFrame,
    rng: np.random.Generator,
    n_ship: int,
    corrections: bool,
    retractions: bool,
    as_of: float | None = None,
) -> pl.DataFrame:
    """Add re-sends, late (out-of-order) arrivals, corrections, unknown codes and shipments,
    and malformed copies to one feed's events. Row order afterwards is irrelevant: writers sort
    by received time. Nothing is received later than two days after ``as_of`` (default
    ``W.AS_OF``)."""
    n = ev.height
    if n == 0:
        return ev
    out = [ev]
    max_no = int(ev["ev_no"].max())
    scale = max(1, n // 400)

    def pick(k: int, mask: np.ndarray | None = None) -> np.ndarray:
        idx = np.flatnonzero(mask) if mask is not None else np.arange(n)
        return np.sort(rng.choice(idx, size=min(k, len(idx)), replace=False)) if len(idx) else idx

    recv = ev["received"].to_numpy()
    kind = ev["kind"].to_numpy()
    cls = ev["classifier"].to_numpy()
    # exact re-sends in a later file
    i = pick(2 + scale)
    out.append(
        ev[i].with_columns(
            (pl.col("received") + DAY * 2).alias("received"), pl.lit("resent").alias("mess")
        )
    )
    # out-of-order arrival: ARRIVED reaches us after DELIVERED was already sent
    late = ev.filter(pl.col("kind") == "DELIVERED").select(
        "shipment_idx", pl.col("received").alias("rd")
    )
    arr = ev.with_row_index("_i").filter(pl.col("kind") == "ARRIVED").join(late, on="shipment_idx")
    if arr.height:
        j = np.sort(
            rng.choice(arr["_i"].to_numpy(), size=min(1 + scale // 2, arr.height), replace=False)
        )
        rd = dict(zip(arr["_i"].to_list(), arr["rd"].to_list()))
        newrecv = recv.copy()
        newrecv[j] = np.minimum(np.array([rd[x] for x in j]) + 3 * DAY, max(recv.max(), 0) + DAY)
        mess = ev["mess"].to_numpy().copy()
        mess[j] = "late_arrival"
        out[0] = ev.with_columns(pl.Series("received", newrecv), pl.Series("mess", mess))
        ev = out[0]
    if corrections:
        # the first version carries a wrong time; the re-send (same event id) corrects it
        j = pick(1 + scale // 2, (cls == "ACT") & (kind != "BOOKED"))
        wrong = ev[j].with_columns(
            (pl.col("t") + pl.lit(rng.uniform(2, 9, len(j)) * HOUR)).alias("t"),
            pl.lit("corrected_original").alias("mess"),
        )
        fixed = ev[j].with_columns(
            (pl.col("received") + DAY).alias("received"), pl.lit("correction").alias("mess")
        )
        keep = np.ones(ev.height, dtype=bool)
        keep[j] = False
        out += [wrong, fixed]
    if retractions:
        # a spurious event sent in error, then retracted by re-sending its id
        j = pick(
            1 + scale // 4,
            kind == "IN_TRANSIT" if (kind == "IN_TRANSIT").any() else kind == "DEPARTED",
        )
        spur = ev[j].with_columns(
            pl.Series("ev_no", np.arange(max_no + 1, max_no + 1 + len(j))),
            pl.lit("spurious").alias("mess"),
            pl.lit("SPURIOUS_ARRIVAL").alias("kind"),
        )
        max_no += len(j)
        out += [
            spur,
            spur.with_columns(
                (pl.col("received") + DAY).alias("received"), pl.lit("retraction").alias("mess")
            ),
        ]
    # unknown status codes and events for shipments we never shipped
    for tag in ("unknown_code", "unknown_shipment"):
        j = pick(1 + scale // 4, cls == "ACT")
        out.append(
            ev[j].with_columns(
                pl.Series("ev_no", np.arange(max_no + 1, max_no + 1 + len(j))),
                pl.lit(tag).alias("mess"),
            )
        )
        max_no += len(j)
    # malformed copies: each breaks exactly one contract rule (writer decides which)
    j = pick(3, (cls == "ACT") & (kind != "BOOKED"))
    out.append(
        ev[j].with_columns(
            pl.Series("ev_no", np.arange(max_no + 1, max_no + 1 + len(j))),
            pl.lit("bad").alias("mess"),
        )
    )
    if corrections:
        out[0] = out[0].filter(pl.Series(keep))
    return pl.concat(out, how="vertical_relaxed").with_columns(
        pl.col("received").clip(
            upper_bound=(W.AS_OF.timestamp() if as_of is None else as_of) + 2 * DAY
        )
    )


def to_datetimes(ev: pl.DataFrame) -> pl.DataFrame:
    return ev.with_columns(
        from_epoch(ev["t"].to_numpy()).alias("t"),
        from_epoch(ev["received"].to_numpy()).alias("received"),
    )


def assign_files(ev: pl.DataFrame, by: str, target: int) -> pl.DataFrame:
    """Cut one sender's stream into files of about ``target`` events, in received order, so
    the per-carrier file sequence is a time line (what makes out-of-order arrival visible)."""
    ev = ev.sort([by, "received", "ev_no", "mess"])
    cnt = pl.len().over(by)
    nfiles = pl.max_horizontal(pl.lit(2), (cnt / target).ceil().cast(pl.Int64))
    rank = pl.int_range(pl.len()).over(by)
    return ev.with_columns(((rank * nfiles) // cnt + 1).alias("file_no"))


LATER = ("resent", "correction", "retraction", "late_arrival")


def ensure_files(ev: pl.DataFrame, by: str, target: int) -> pl.DataFrame:
    """File numbers per sender (unless already assigned): cut by received time, and every
    re-send, correction, retraction and late arrival put in the sender's last file so it
    arrives after the original."""
    if "file_no" in ev.columns:
        return ev
    ev = assign_files(ev, by, target)
    return ev.with_columns(
        pl.when(pl.col("mess").is_in(LATER))
        .then(pl.col("file_no").max().over(by))
        .otherwise("file_no")
        .alias("file_no")
    )


def file_batches(ev: pl.DataFrame, max_rows: int):
    """Yield groups of whole files of at most ~max_rows events (bounded memory per write)."""
    sizes = ev.group_by("file_no").len().sort("file_no")
    batch, rows = [], 0
    for f, n in sizes.iter_rows():
        if batch and rows + n > max_rows:
            yield ev.filter(pl.col("file_no").is_in(batch))
            batch, rows = [], 0
        batch.append(f)
        rows += n
    if batch:
        yield ev.filter(pl.col("file_no").is_in(batch))
