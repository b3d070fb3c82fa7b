"""The true world: customers, SKUs, orders, shipments and their true milestone times.

All draws are vectorised numpy over whole arrays in a fixed order, so a seed gives the same world
on every machine. Times are float epoch seconds (UTC) with NaN for "has not happened by AS_OF".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from generator import world as W

DAY = 86400.0
HOUR = 3600.0
MODES = ("PARCEL", "LTL", "FTL", "AIR", "OCEAN")


@dataclass
class World:
    locations: pl.DataFrame
    customers: pl.DataFrame
    skus: pl.DataFrame
    orders: pl.DataFrame  # one row per order
    order_lines: pl.DataFrame  # one row per order line
    shipments: pl.DataFrame  # one row per shipment, with true times
    shipment_lines: pl.DataFrame  # one row per shipment x order line


def _choice(rng: np.random.Generator, n: int, p) -> np.ndarray:
    p = np.asarray(p, dtype=float)
    return np.searchsorted(np.cumsum(p / p.sum()), rng.random(n), side="right").clip(0, len(p) - 1)


def _customers(rng: np.random.Generator, locs: pl.DataFrame) -> pl.DataFrame:
    countries = (
        ["US"] * 11
        + ["CA"] * 3
        + ["MX"] * 2
        + ["DE"] * 3
        + ["GB"] * 3
        + ["FR"] * 2
        + ["NL", "ES", "IT", "PL", "CN", "JP", "JP", "KR", "SG", "IN", "BR", "AU", "ZA"]
    )
    countries = countries[: W.N_CUSTOMERS]
    n = len(countries)
    # a handful of big accounts, a long tail of small ones
    weight = 1.0 / np.arange(1, n + 1) ** 1.1
    rng.shuffle(weight)
    return pl.DataFrame(
        {
            "customer_idx": np.arange(n),
            "customer_id": [f"CUST-{i + 1:04d}" for i in range(n)],
            "country": countries,
            "currency": [W.COUNTRY_CURRENCY[c] for c in countries],
            "region": [W.REGION[c] for c in countries],
            "channel": [W.CHANNELS[i] for i in _choice(rng, n, [0.35, 0.35, 0.2, 0.1])],
            "weight": weight / weight.sum(),
        }
    )


def _skus(rng: np.random.Generator) -> pl.DataFrame:
    n = W.N_SKUS
    is_freight = np.arange(n) >= int(n * 0.7)  # 30 % pallet goods
    w_parcel = np.round(rng.lognormal(0.5, 0.8, n).clip(0.1, 25), 3)
    w_freight = np.round(rng.uniform(80, 900, n), 1)
    weight = np.where(is_freight, w_freight, w_parcel)
    volume = np.round(weight * rng.uniform(0.002, 0.008, n), 4)
    price_eur = np.round(
        np.where(is_freight, rng.uniform(300, 4000, n), rng.lognormal(3.3, 0.9, n).clip(2, 900)), 2
    )
    return pl.DataFrame(
        {
            "sku_idx": np.arange(n),
            "sku": [f"SKU-{'F' if f else 'P'}{i + 1:05d}" for i, f in enumerate(is_freight)],
            "is_freight": is_freight,
            "unit_weight_kg": weight,
            "unit_volume_m3": volume,
            "price_eur": price_eur,
        }
    )


def build_world(
    n_orders: int,
    rng: np.random.Generator,
    *,
    as_of: float | None = None,
    customers: pl.DataFrame | None = None,
    skus: pl.DataFrame | None = None,
    start: float | None = None,
    days: float | None = None,
) -> World:
    """The true world for ``n_orders`` orders created uniformly over ``days`` days from
    ``start`` (default: the base calendar), censored at ``as_of`` (default ``W.AS_OF``).

    Every draw is made whatever ``as_of`` is, so a later ``as_of`` gives the same world, only
    seen later (``generator.increment`` relies on it). Passing ``customers`` and ``skus`` (an
    existing world's) skips their draws: a slice of later orders of the same cast."""
    locs = W.load_locations()
    customers = _customers(rng, locs) if customers is None else customers
    skus = _skus(rng) if skus is None else skus
    loc_country = locs["country"].to_numpy()
    loc_code = locs["locode"].to_numpy()
    cust_country = customers["country"].to_numpy()
    cust_region = customers["region"].to_numpy()

    # ---- orders -------------------------------------------------------------------------
    n = n_orders
    cust = _choice(rng, n, customers["weight"].to_numpy())
    start = W.ORDER_START.timestamp() if start is None else start
    days = W.ORDER_DAYS if days is None else days
    created = np.floor(start + rng.random(n) * days * DAY)
    created.sort()  # order numbers increase with time

    # destination: a place in the customer's country
    dest = np.empty(n, dtype=np.int64)
    for ci, ctry in enumerate(cust_country):
        m = cust == ci
        cand = np.flatnonzero(loc_country == ctry)
        dest[m] = cand[rng.integers(0, len(cand), m.sum())]
    # origin: a warehouse in the customer's region (85 %), else any other warehouse
    wh_all = np.array([w for ws in W.WAREHOUSES.values() for w in ws])
    loc_idx = {c: i for i, c in enumerate(loc_code)}
    wh_idx_all = np.array([loc_idx[w] for w in wh_all])
    origin = wh_idx_all[rng.integers(0, len(wh_all), n)]
    own = rng.random(n) < 0.85
    for region, whs in W.WAREHOUSES.items():
        m = own & (cust_region[cust] == region)
        ids = np.array([loc_idx[w] for w in whs])
        origin[m] = ids[rng.integers(0, len(ids), m.sum())]
    o_ctry, d_ctry = loc_country[origin], loc_country[dest]
    region_of = np.vectorize(W.REGION.get)
    lane = np.where(o_ctry == d_ctry, 0, np.where(region_of(o_ctry) == region_of(d_ctry), 1, 2))

    # mode by lane; carrier by mode and region
    u = rng.random(n)
    na = region_of(o_ctry) == "NA"
    mode = np.full(n, "PARCEL", dtype=object)
    m_local_na = (lane < 2) & na
    mode[m_local_na & (u >= 0.62) & (u < 0.87)] = "LTL"
    mode[m_local_na & (u >= 0.87) & (u < 0.95)] = "FTL"
    mode[m_local_na & (u >= 0.95)] = "AIR"
    mode[(lane < 2) & ~na & (u >= 0.9)] = "AIR"
    mode[(lane == 2) & (u >= 0.4) & (u < 0.65)] = "AIR"
    mode[(lane == 2) & (u >= 0.65)] = "OCEAN"
    carrier = np.empty(n, dtype=object)
    u2 = rng.random(n)
    pm = mode == "PARCEL"
    carrier[pm & na & (lane < 2)] = np.where(u2 < 0.5, "UPS", np.where(u2 < 0.9, "FEDEX", "DHL"))[
        pm & na & (lane < 2)
    ]
    carrier[pm & ~na & (lane < 2)] = np.where(u2 < 0.7, "DHL", "UPS")[pm & ~na & (lane < 2)]
    carrier[pm & (lane == 2)] = np.where(u2 < 0.5, "DHL", np.where(u2 < 0.8, "FEDEX", "UPS"))[
        pm & (lane == 2)
    ]
    carrier[mode == "LTL"] = np.where(u2 < 0.55, "ODFL", "SAIA")[mode == "LTL"]
    carrier[mode == "FTL"] = np.where(u2 < 0.6, "JBHT", "SNDR")[mode == "FTL"]
    carrier[mode == "AIR"] = "EXDO"
    carrier[mode == "OCEAN"] = np.where(u2 < 0.4, "MAEU", np.where(u2 < 0.75, "MSCU", "HLCU"))[
        mode == "OCEAN"
    ]
    # ocean legs run port to port
    oc = np.flatnonzero(mode == "OCEAN")
    for arr, ctry in ((origin, o_ctry), (dest, d_ctry)):
        for c in np.unique(ctry[oc]):
            m = oc[ctry[oc] == c]
            ports = np.array([loc_idx[p] for p in W.PORTS[c]])
            arr[m] = ports[rng.integers(0, len(ports), len(m))]

    # ---- order lines --------------------------------------------------------------------
    n_lines = 1 + _choice(rng, n, [0.45, 0.25, 0.15, 0.1, 0.05])
    li_order = np.repeat(np.arange(n), n_lines)
    starts = np.cumsum(n_lines) - n_lines
    li_number = np.arange(len(li_order)) - np.repeat(starts, n_lines) + 1
    nl = len(li_order)
    li_mode = mode[li_order]
    freight = np.isin(li_mode, ("LTL", "FTL", "OCEAN"))
    is_fr = skus["is_freight"].to_numpy()
    fr_ids, pa_ids = np.flatnonzero(is_fr), np.flatnonzero(~is_fr)
    # skewed SKU popularity
    pop_f = 1 / np.arange(1, len(fr_ids) + 1) ** 0.8
    pop_p = 1 / np.arange(1, len(pa_ids) + 1) ** 0.8
    sku = np.where(freight, fr_ids[_choice(rng, nl, pop_f)], pa_ids[_choice(rng, nl, pop_p)])
    qty_hi = np.select(
        [li_mode == "PARCEL", li_mode == "LTL", li_mode == "FTL", li_mode == "AIR"],
        [4, 6, 20, 12],
        30,
    )
    qty_lo = np.select([li_mode == "FTL", li_mode == "OCEAN"], [6, 10], 1)
    qty = rng.integers(qty_lo, qty_hi + 1)
    cur = customers["currency"].to_numpy()[cust][li_order]
    fx = np.vectorize(W.EUR_RATES.get)(cur)
    decimals0 = np.isin(cur, ("JPY", "KRW"))
    price = skus["price_eur"].to_numpy()[sku] * fx
    price = np.where(decimals0, np.round(price), np.round(price, 2))
    unit_w = skus["unit_weight_kg"].to_numpy()[sku]
    unit_v = skus["unit_volume_m3"].to_numpy()[sku]

    # ---- order status -------------------------------------------------------------------
    r = rng.random(n)
    cancelled = r < 0.01
    backorder = (r >= 0.01) & (r < 0.02)
    split = (r >= 0.02) & (r < 0.08)
    short = (r >= 0.08) & (r < 0.11)
    consol = (r >= 0.11) & (r < 0.117)
    service = np.array([W.SERVICE[(m, ln)][0] for m, ln in zip(mode, lane)], dtype=object)
    transit_days = np.array([W.SERVICE[(m, ln)][1] for m, ln in zip(mode, lane)], dtype=float)
    promised_start = np.floor((created + (transit_days + 1) * DAY) / DAY) * DAY + 8 * HOUR
    promised_end = promised_start + DAY + 10 * HOUR

    lines = pl.DataFrame(
        {
            "order_idx": li_order,
            "line_number": li_number,
            "sku_idx": sku,
            "quantity": qty,
            "unit_price": price,
            "weight_kg": np.round(unit_w * qty, 3),
            "volume_m3": np.round(unit_v * qty, 4),
        }
    )

    # ---- shipment lines -----------------------------------------------------------------
    ship = ~(cancelled | backorder)
    o_split = split[li_order]
    single_line = n_lines[li_order] == 1
    seq = np.where(o_split & ~single_line & (li_number % 2 == 0), 1, 0)
    q_ship = qty.copy()
    # a one-line split order sends the line in two parts
    two_part = o_split & single_line & (qty >= 2)
    part_a = q_ship // 2
    # short-shipped orders miss one unit (or the whole line) of their last line
    last = li_number == n_lines[li_order]
    short_line = short[li_order] & last & ~o_split
    q_ship = np.where(short_line, qty - 1, q_ship)
    q_ship = np.where(two_part, part_a, q_ship)
    sl_idx = np.concatenate([np.arange(nl), np.flatnonzero(two_part)])
    sl_seq = np.concatenate([seq, np.ones(two_part.sum(), dtype=np.int64)])
    sl_qty = np.concatenate([q_ship, (qty - part_a)[two_part]])
    keep = ship[li_order[sl_idx]] & (sl_qty > 0)
    sl_idx, sl_seq, sl_qty = sl_idx[keep], sl_seq[keep], sl_qty[keep]
    sl_order = li_order[sl_idx]
    # shipment key: (order, seq); consolidated orders share the first order's shipment
    skey_order = sl_order.copy()
    cand = np.flatnonzero(consol & ship & ~split)
    if len(cand) > 1:
        grp = pl.DataFrame(
            {
                "o": cand,
                "c": cust[cand],
                "a": origin[cand],
                "b": dest[cand],
                "k": carrier[cand].astype(str),
                "w": np.floor(created[cand] / (14 * DAY)),
            }
        )
        grp = (
            grp.with_columns(
                (pl.col("o").rank("ordinal").over(["c", "a", "b", "k", "w"]) - 1).alias("rk")
            )
            .with_columns(
                pl.col("o").min().over(["c", "a", "b", "k", "w", pl.col("rk") // 2]).alias("lead")
            )
            .sort("o")
        )
        lead = np.arange(n)
        lead[grp["o"].to_numpy()] = grp["lead"].to_numpy()
        skey_order = lead[sl_order]
    skey = skey_order * 2 + sl_seq
    uniq, ship_idx = np.unique(skey, return_inverse=True)
    ns = len(uniq)
    s_order = uniq // 2
    s_seq = uniq % 2
    slines = pl.DataFrame(
        {
            "shipment_idx": ship_idx,
            "order_idx": sl_order,
            "line_number": li_number[sl_idx],
            "line_idx": sl_idx,
            "quantity_shipped": sl_qty,
        }
    ).sort(["shipment_idx", "order_idx", "line_number"])
    s_weight = np.bincount(ship_idx, weights=unit_w[sl_idx] * sl_qty, minlength=ns)
    s_value_eur = np.bincount(
        ship_idx, weights=skus["price_eur"].to_numpy()[sku[sl_idx]] * sl_qty, minlength=ns
    )

    # ---- true timeline per shipment -------------------------------------------------------
    s_carrier = carrier[s_order]
    s_mode = mode[s_order]
    c_idx = np.array([W.CARRIER_INDEX[c] for c in s_carrier])
    cp = W.CARRIERS
    p_on_time = np.array([c.p_on_time for c in cp])[c_idx]
    late_mean = np.array([c.late_mean_hours for c in cp])[c_idx] * HOUR
    p_damage = np.array([c.p_damage for c in cp])[c_idx]
    p_exc = np.array([c.p_exception for c in cp])[c_idx]
    s_created = created[s_order]
    s_transit = transit_days[s_order]
    s_lane = lane[s_order]
    booked = s_created + rng.uniform(0.5, 20, ns) * HOUR + s_seq * 3 * DAY
    pick_start = np.ceil((booked + rng.uniform(4, 30, ns) * HOUR) / HOUR) * HOUR
    pick_win = np.where(np.isin(s_mode, ("PARCEL", "AIR")), 4, 8) * HOUR
    pick_end = pick_start + pick_win
    del_start = pick_start + s_transit * DAY - 6 * HOUR
    del_win = np.where(s_mode == "OCEAN", 2 * DAY, 16 * HOUR)
    del_end = del_start + del_win
    late_pick = rng.random(ns) < 0.08
    picked = np.where(
        late_pick, pick_end + rng.exponential(4 * HOUR, ns), pick_start + rng.random(ns) * pick_win
    )
    on_time = rng.random(ns) < p_on_time
    ru = rng.random(ns)
    party = np.where(
        on_time,
        "",
        np.where(
            ru < W.P_LATE_SHIPPER,
            "SHIPPER",
            np.where(ru < W.P_LATE_SHIPPER + W.P_LATE_CONSIGNEE, "CONSIGNEE", "CARRIER"),
        ),
    )
    delivered = np.where(
        on_time,
        np.maximum(del_start - 12 * HOUR + rng.random(ns) * (del_win + 12 * HOUR), picked + DAY),
        del_end + HOUR + rng.exponential(late_mean),
    )
    delivered = np.where(on_time, np.minimum(delivered, del_end), delivered)
    # consignee-caused lateness = a failed first attempt inside the window, then redelivery
    attempt = np.where(party == "CONSIGNEE", del_start + rng.random(ns) * del_win, np.nan)
    delivered = np.where(
        party == "CONSIGNEE", np.maximum(delivered, attempt + 20 * HOUR), delivered
    )
    # a few refused shipments go back to the shipper and are never delivered
    returned = (party == "CONSIGNEE") & (rng.random(ns) < 0.12)
    returned_at = np.where(returned, attempt + rng.uniform(2, 6, ns) * DAY, np.nan)
    span = delivered - picked
    departed = picked + np.where(s_mode == "OCEAN", 0.12, 0.1) * span
    arrived = picked + 0.72 * span
    intl = loc_country[origin[s_order]] != loc_country[dest[s_order]]
    customs = np.where(intl, arrived + 0.08 * span, np.nan)
    ofd = delivered - np.minimum(rng.uniform(1, 7, ns) * HOUR, 0.1 * span)
    ofd = np.where(party == "CONSIGNEE", np.minimum(ofd, attempt - HOUR), ofd)
    damaged = rng.random(ns) < p_damage
    damaged_at = np.where(damaged, ofd - rng.uniform(0.1, 0.9, ns) * (ofd - arrived), np.nan)
    dwell = np.where(np.isin(s_mode, ("FTL", "LTL")), rng.exponential(1.2 * HOUR, ns), np.nan)
    exc_extra = rng.random(ns) < p_exc
    exc_extra_at = np.where(exc_extra, departed + rng.random(ns) * (arrived - departed), np.nan)

    as_of = W.AS_OF.timestamp() if as_of is None else as_of

    def upto(t: np.ndarray) -> np.ndarray:
        return np.where(t <= as_of, t, np.nan)

    delivered = np.where(returned, np.nan, delivered)
    shipments = pl.DataFrame(
        {
            "shipment_idx": np.arange(ns),
            "order_idx": s_order,
            "ship_seq": s_seq,
            "carrier_code": s_carrier.astype(str),
            "mode": s_mode.astype(str),
            "service_level": service[s_order].astype(str),
            "lane_class": s_lane,
            "origin_loc": origin[s_order],
            "dest_loc": dest[s_order],
            "is_international": intl,
            "gross_weight_kg": np.round(s_weight, 2),
            "goods_value_eur": np.round(s_value_eur, 2),
            "booked_at": upto(booked),
            "planned_pickup_start": pick_start,
            "planned_pickup_end": pick_end,
            "planned_delivery_start": del_start,
            "planned_delivery_end": del_end,
            "picked_up_at": upto(picked),
            "departed_at": upto(departed),
            "arrived_at": upto(arrived),
            "customs_cleared_at": upto(customs),
            "out_for_delivery_at": upto(ofd),
            "delivered_at": upto(delivered),
            "attempted_at": upto(attempt),
            "returned_at": upto(returned_at),
            "damaged_at": upto(damaged_at),
            "is_damaged": damaged & (damaged_at <= as_of),
            "late_responsible_party": party,
            "true_on_time": on_time,
            "pickup_dwell_hours": np.round(dwell / HOUR, 2),
            "extra_exception_at": upto(exc_extra_at),
            "u_exc": rng.random(ns),
            "u_inv": rng.random(ns),
            "u_inv2": rng.random(ns),
        }
    )
    # a booking that has not happened by AS_OF means no shipment exists yet
    shipments = shipments.filter(pl.col("booked_at").is_not_nan())
    keep_ids = shipments["shipment_idx"].to_numpy()
    remap = np.full(ns, -1)
    remap[keep_ids] = np.arange(len(keep_ids))
    shipments = shipments.with_columns(pl.Series("shipment_idx", remap[keep_ids]))
    slines = slines.with_columns(
        pl.Series("shipment_idx", remap[slines["shipment_idx"].to_numpy()])
    )
    slines = slines.filter(pl.col("shipment_idx") >= 0)

    orders = pl.DataFrame(
        {
            "order_idx": np.arange(n),
            "customer_idx": cust,
            "created_at": created,
            "promised_delivery_start": promised_start,
            "promised_delivery_end": promised_end,
            "origin_loc": origin,
            "dest_loc": dest,
            "mode": mode.astype(str),
            "carrier_code": carrier.astype(str),
            "lane_class": lane,
            "n_lines": n_lines,
            "is_cancelled": cancelled,
            "is_backorder": backorder,
            "is_split": split,
            "is_short": short,
            "is_consolidated": consol,
        }
    )
    return World(locs, customers, skus, orders, lines, shipments, slines)


_TRACKING = {  # carrier -> (prefix, digits)
    "UPS": ("1Z8E4V760", 9),
    "FEDEX": ("7", 11),
    "DHL": ("4", 9),
    "ODFL": ("0", 9),
    "SAIA": ("1", 9),
    "JBHT": ("JB", 8),
    "SNDR": ("SN", 8),
    "MAEU": ("2", 8),
    "MSCU": ("EBKG", 8),
    "HLCU": ("6", 8),
    "EXDO": ("176-", 8),
}
_CONTAINER = {"MAEU": "MSKU", "MSCU": "MSCU", "HLCU": "HLXU"}


def shipment_refs(world: World) -> pl.DataFrame:
    """Business identifiers per shipment: our ids, the carrier's tracking/PRO/booking number."""
    sh = world.shipments
    num = (pl.col("shipment_idx") + 1).cast(pl.Utf8)
    tracking = pl.lit(None, dtype=pl.Utf8)
    container = pl.lit(None, dtype=pl.Utf8)
    for code, (prefix, digits) in _TRACKING.items():
        tracking = (
            pl.when(pl.col("carrier_code") == code)
            .then(pl.concat_str(pl.lit(prefix), num.str.zfill(digits)))
            .otherwise(tracking)
        )
    for code, prefix in _CONTAINER.items():
        container = (
            pl.when(pl.col("carrier_code") == code)
            .then(pl.concat_str(pl.lit(prefix), num.str.zfill(7)))
            .otherwise(container)
        )
    scac = {c.code: c.scac for c in W.CARRIERS}
    return sh.select(
        "shipment_idx",
        "order_idx",
        "carrier_code",
        "mode",
        pl.concat_str(pl.lit("SHP"), num.str.zfill(9)).alias("shipment_id"),
        pl.concat_str(pl.lit("SO"), (pl.col("order_idx") + 1).cast(pl.Utf8).str.zfill(9)).alias(
            "order_id"
        ),
        tracking.alias("tracking_number"),
        pl.concat_str(pl.lit("BOL"), num.str.zfill(9)).alias("bill_of_lading"),
        container.alias("container"),
        pl.col("carrier_code").replace_strict(scac).alias("scac"),
    )


def unknown_refs(idx: pl.Expr) -> pl.Expr:
    """References for shipments that do not exist (planted 'unknown shipment' records)."""
    return pl.concat_str(pl.lit("SHPX"), (idx + 900000000).cast(pl.Utf8))
