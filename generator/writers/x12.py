"""ANSI X12 004010 writers: 214 shipment status and 210 freight invoice.

Segments are built as polars string columns and joined per transaction and per file, so the
cost is a few vectorised passes, not a Python loop per event.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from generator.events import assign_files, ensure_files
from generator.timefmt import with_local
from generator.writers.common import add_loc, dec, record

# kind -> (AT7-01 status, AT7-02 reason); see docs/generator.md for the code choices
AT7_CODES = {
    "BOOKED": ("XB", "NS"),
    "PICKUP_ARRIVED": ("X3", "NS"),
    "PICKED_UP": ("AF", "NS"),
    "DEPARTED": ("P1", "NS"),
    "IN_TRANSIT": ("X4", "NS"),
    "ARRIVED": ("X4", "NS"),
    "CUSTOMS_CLEARED": ("CT", "NS"),
    "OUT_FOR_DELIVERY": ("X6", "NS"),
    "DELIVERED": ("D1", "NS"),
    "RETURNED": ("A3", "NS"),
    "ETA": ("AG", "NS"),
    "EXC_ATTEMPT": ("AH", "B1"),
    "EXC_REFUSED": ("A7", "AG"),
    "EXC_DELAY_CARRIER": ("SD", "AJ"),
    "EXC_DELAY_SHIPPER": ("SD", "AM"),
    "EXC_DELAY_WEATHER": ("SD", "AO"),
    "EXC_DAMAGED": ("A9", "AK"),
    "EXC_CUSTOMS_HOLD": ("PR", "BD"),
}
#: share of AT7s sent with AT7-07 = LT / UT (the rest carry no time code: local to MS1)
TIME_CODE_MIX = {"ODFL": (0.6, 0.0), "SAIA": (0.0, 0.2), "JBHT": (0.0, 1.0), "SNDR": (0.0, 1.0)}


def _isa(sender: str, icn: int, when: pl.Expr) -> pl.Expr:
    return pl.concat_str(
        pl.lit(f"ISA*00*{'':10}*00*{'':10}*02*{sender:<15}*ZZ*{'WAYBILLSHIPPER':<15}*"),
        when.dt.strftime("%y%m%d"),
        pl.lit("*"),
        when.dt.strftime("%H%M"),
        pl.lit(f"*U*00401*{icn:09d}*0*P*>~\n"),
    )


def _finish(text: str, variant: str) -> str:
    if variant == "pipe":  # other separators, declared in ISA: the parser must read them there
        return text.replace("*", "|").replace(">~\n", "^~").replace("~\n", "~")
    if variant == "quote":
        return text.replace("~\n", "'\r\n")
    return text


def _write_files(
    out_dir: Path,
    folder: str,
    files: pl.DataFrame,
    txn: pl.DataFrame,
    func_id: str,
    ext: str,
    icn_base: int,
    variants: dict,
) -> list[dict]:
    """files: file_key, name, sender, when, file_no; txn: file_key, txn_text (in order)."""
    recs = []
    grouped = txn.group_by("file_key", maintain_order=True).agg(
        pl.col("txn_text").str.join(""), pl.len().alias("n_txn")
    )
    files = files.join(grouped, on="file_key", maintain_order="left")
    for row in files.iter_rows(named=True):
        icn = icn_base + row["file_no"]
        when = row["when"]
        isa = pl.select(_isa(row["sender"], icn, pl.lit(when))).item()
        gs = (
            f"GS*{func_id}*{row['sender']}*WAYBILLSHIPPER*{when:%Y%m%d}*{when:%H%M}*"
            f"{row['file_no']}*X*004010~\n"
        )
        tail = f"GE*{row['n_txn']}*{row['file_no']}~\nIEA*1*{icn:09d}~\n"
        text = _finish(isa + gs + row["txn_text"] + tail, variants.get(row["name"], ""))
        path = out_dir / folder / row["name"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode())
        recs.append({"path": path, "icn": icn})
    return recs


def write_214(
    out_dir: Path,
    ev: pl.DataFrame,
    refs: pl.DataFrame,
    locs: pl.DataFrame,
    folder: str,
    target: int,
    icn_base: int = 100000,
    variant: str = "",
) -> tuple[list[dict], list[str]]:
    """One sender's (or several senders') events as 214 files; ``variant`` ("pipe"/"quote")
    changes the separators of each sender's first file."""
    ev = ev.join(
        refs.select("shipment_idx", "shipment_id", "tracking_number", "bill_of_lading", "scac"),
        on="shipment_idx",
        how="left",
    )
    unk = pl.col("mess") == "unknown_shipment"
    ev = ev.with_columns(
        pl.when(unk)
        .then(pl.concat_str(pl.lit("SHPX"), pl.col("ev_no").cast(pl.Utf8)))
        .otherwise("shipment_id")
        .alias("shipment_id"),
        pl.when(unk)
        .then(pl.concat_str(pl.lit("99"), pl.col("ev_no").cast(pl.Utf8)))
        .otherwise("tracking_number")
        .alias("tracking_number"),
        pl.when(unk).then(pl.lit("")).otherwise("bill_of_lading").alias("bill_of_lading"),
    )
    ev = add_loc(ev, locs, "loc_idx", "l_")
    ev = with_local(ev, "t", "l_time_zone", "tl")
    u = (pl.col("ev_no") * 7919 % 100) / 100
    lt = pl.col("carrier_code").replace_strict(
        {k: v[0] for k, v in TIME_CODE_MIX.items()}, default=0.0
    )
    ut = pl.col("carrier_code").replace_strict(
        {k: v[1] for k, v in TIME_CODE_MIX.items()}, default=0.0
    )
    time_code = (
        pl.when(u < lt)
        .then(pl.lit("LT"))
        .when(u < lt + ut)
        .then(pl.lit("UT"))
        .otherwise(pl.lit(""))
    )
    ev = ev.with_columns(time_code.alias("tc"))
    ts = pl.when(pl.col("tc") == "UT").then(pl.col("t")).otherwise(pl.col("tl"))
    s1 = pl.col("kind").replace_strict({k: v[0] for k, v in AT7_CODES.items()}, default="ZZ")
    s2 = pl.col("kind").replace_strict({k: v[1] for k, v in AT7_CODES.items()}, default="NS")
    s1 = pl.when(pl.col("mess") == "unknown_code").then(pl.lit("ZZ")).otherwise(s1)
    appt = (pl.col("kind") == "ETA") & (pl.col("ev_no") % 10 < 3)  # appointment form
    date8 = (
        pl.when(pl.col("mess") == "bad")
        .then(pl.lit("2026XX01"))
        .otherwise(ts.dt.strftime("%Y%m%d"))
    )
    ev = ev.with_columns(
        pl.when(appt).then(pl.lit("")).otherwise(s1).alias("s1"),
        pl.when(appt).then(pl.lit("")).otherwise(s2).alias("s2"),
        pl.when(appt).then(pl.lit("AB")).otherwise(pl.lit("")).alias("a1"),
        pl.when(appt).then(pl.lit("NA")).otherwise(pl.lit("")).alias("a2"),
        date8.alias("d8"),
        ts.dt.strftime("%H%M").alias("t4"),
    )
    ev = ensure_files(ev, "carrier_code", target)
    ev = ev.sort(["carrier_code", "file_no", "shipment_id", "t", "ev_no"])
    ev = ev.with_columns(
        pl.col("shipment_id")
        .rank("dense")
        .over(["carrier_code", "file_no"])
        .cast(pl.Int64)
        .alias("txn_no"),
    ).with_columns(
        pl.int_range(1, pl.len() + 1).over(["carrier_code", "file_no", "txn_no"]).alias("lx"),
    )
    ev = ev.with_columns(
        pl.concat_str(
            pl.lit("LX*"),
            pl.col("lx").cast(pl.Utf8),
            pl.lit("~\nAT7*"),
            "s1",
            pl.lit("*"),
            "s2",
            pl.lit("*"),
            "a1",
            pl.lit("*"),
            "a2",
            pl.lit("*"),
            "d8",
            pl.lit("*"),
            "t4",
            pl.lit("*"),
            "tc",
            pl.lit("~\nMS1*"),
            "l_city",
            pl.lit("*"),
            "l_subdivision",
            pl.lit("*"),
            "l_country",
            pl.lit("~\n"),
        ).alias("ev_text")
    )
    txn = ev.group_by(["carrier_code", "file_no", "txn_no"], maintain_order=True).agg(
        pl.col("ev_text").str.join(""),
        pl.len().alias("k"),
        pl.first("shipment_id"),
        pl.first("tracking_number"),
        pl.first("scac"),
        pl.first("bill_of_lading"),
    )
    st = pl.col("txn_no").cast(pl.Utf8).str.zfill(4)
    txn = txn.with_columns(
        pl.concat_str(
            pl.lit("ST*214*"),
            st,
            pl.lit("~\nB10*"),
            "tracking_number",
            pl.lit("*"),
            "shipment_id",
            pl.lit("*"),
            "scac",
            pl.lit("~\nL11*"),
            "bill_of_lading",
            pl.lit("*BM~\n"),
            "ev_text",
            pl.lit("SE*"),
            (4 + 3 * pl.col("k")).cast(pl.Utf8),
            pl.lit("*"),
            st,
            pl.lit("~\n"),
        ).alias("txn_text"),
        (4 + 3 * pl.col("k")).alias("nseg"),
    )
    ev = ev.with_columns(
        (1 + 3 * pl.col("lx")).alias("seg_in_txn"),
        pl.lit("AT7-05 event_date is not a CCYYMMDD date").alias("bad_rule"),
    )
    return _emit(out_dir, folder, ev, txn, "QM", "214", icn_base, variant)


def _emit(
    out_dir: Path,
    folder: str,
    rows: pl.DataFrame,
    txn: pl.DataFrame,
    func_id: str,
    ext: str,
    icn_base: int,
    variant: str,
) -> tuple[list[dict], list[str]]:
    """Write the files; return their manifest records (AT7/L1 counts, malformed segment
    numbers) and names."""
    # segment number of each transaction's ST within its file (ISA = 1, GS = 2)
    txn = txn.with_columns(
        (3 + pl.col("nseg").cum_sum().over(["carrier_code", "file_no"]) - pl.col("nseg")).alias(
            "st_seg"
        )
    )
    files = rows.group_by(["carrier_code", "file_no"], maintain_order=True).agg(
        pl.col("received").max().alias("when"),
        pl.first("scac").alias("sender"),
        pl.len().alias("rows"),
    )
    files = files.sort(["carrier_code", "file_no"]).with_columns(
        pl.concat_str(
            "carrier_code",
            pl.lit(f"_{ext}_"),
            pl.col("when").dt.strftime("%Y%m%d"),
            pl.lit("_"),
            pl.col("file_no").cast(pl.Utf8).str.zfill(4),
            pl.lit(".edi"),
        ).alias("name"),
        pl.concat_str("carrier_code", pl.lit("|"), pl.col("file_no").cast(pl.Utf8)).alias(
            "file_key"
        ),
    )
    txn = txn.sort(["carrier_code", "file_no", "txn_no"]).with_columns(
        pl.concat_str("carrier_code", pl.lit("|"), pl.col("file_no").cast(pl.Utf8)).alias(
            "file_key"
        )
    )
    names = files["name"].to_list()
    variants = {}
    by_carrier = files.group_by("carrier_code", maintain_order=True).agg(pl.first("name"))
    if variant:
        for _, name in by_carrier.iter_rows():
            variants[name] = variant
    written = _write_files(out_dir, folder, files, txn, func_id, ext, icn_base, variants)
    # malformed row numbers: segment number of the AT7 / L1 that carries the bad value
    bad = (
        rows.filter(pl.col("mess") == "bad")
        .join(
            txn.select("carrier_code", "file_no", "txn_no", "st_seg"),
            on=["carrier_code", "file_no", "txn_no"],
        )
        .with_columns((pl.col("st_seg") + pl.col("seg_in_txn")).alias("seg"))
    )
    recs = []
    for f, w in zip(files.iter_rows(named=True), written):
        b = bad.filter(
            (pl.col("carrier_code") == f["carrier_code"]) & (pl.col("file_no") == f["file_no"])
        )
        recs.append(
            record(
                out_dir,
                w["path"],
                f["rows"],
                [
                    {"row_number": int(s), "rule": r}
                    for s, r in zip(b["seg"].to_list(), b["bad_rule"].to_list())
                ],
            )
        )
        recs[-1]["separators"] = variants.get(f["name"], "standard")
    return recs, names


L1_CODES = {"FRT": "400", "FSC": "FUE", "RDL": "RDL", "DET": "DET", "LFT": "LFT", "RES": "RES"}


def write_210(
    out_dir: Path,
    lines: pl.DataFrame,
    folder: str,
    target: int,
    icn_base: int = 500000,
    first_file_no: int = 0,
) -> tuple[list[dict], list[str]]:
    """lines: one row per charge line with invoice header columns repeated (see finance);
    file numbers start after ``first_file_no`` (a later delivery continues a sender's
    sequence)."""
    cents = lambda c: (pl.col(c) * 100).round(0).cast(pl.Int64).cast(pl.Utf8)  # noqa: E731
    inv = assign_files(lines, "carrier_code", target)
    if first_file_no:
        inv = inv.with_columns(pl.col("file_no") + first_file_no)
    # keep every invoice whole in one file; re-sent duplicates travel in the sender's last file
    last = pl.col("file_no").max().over("carrier_code")
    inv = inv.with_columns(
        pl.when(pl.col("mess") == "duplicate_resent")
        .then(last)
        .otherwise(pl.col("file_no").min().over(["carrier_code", "invoice_key"]))
        .alias("file_no")
    )
    # a malformed copy of a line belongs to its invoice's transaction
    inv = inv.with_columns(pl.col("file_no").min().over(["carrier_code", "invoice_key"]))
    inv = inv.sort(["carrier_code", "file_no", "invoice_key", "line_number"])
    inv = inv.with_columns(
        pl.col("invoice_key")
        .rank("dense")
        .over(["carrier_code", "file_no"])
        .cast(pl.Int64)
        .alias("txn_no"),
        pl.int_range(1, pl.len() + 1).over(["carrier_code", "file_no", "invoice_key"]).alias("lx"),
    )
    code = (
        pl.when(pl.col("mess") == "bad")
        .then(pl.lit(""))
        .otherwise(pl.col("charge_code").replace_strict(L1_CODES, default=pl.col("charge_code")))
    )
    inv = inv.with_columns(
        pl.concat_str(
            pl.lit("LX*"),
            pl.col("lx").cast(pl.Utf8),
            pl.lit("~\nL0*"),
            pl.col("lx").cast(pl.Utf8),
            pl.lit("***"),
            dec(pl.col("billed_weight_kg"), 1),
            pl.lit("*G******K~\nL1*"),
            pl.col("lx").cast(pl.Utf8),
            pl.lit("*"),
            pl.col("rate_text"),
            pl.lit("*"),
            "rate_qualifier",
            pl.lit("*"),
            cents("amount"),
            pl.lit("****"),
            code,
            pl.lit("~\n"),
        ).alias("ev_text")
    )
    txn = inv.group_by(["carrier_code", "file_no", "txn_no"], maintain_order=True).agg(
        pl.col("ev_text").str.join(""),
        pl.len().alias("k"),
        pl.first("invoice_number"),
        pl.first("shipment_id"),
        pl.first("invoice_date"),
        pl.first("delivery_date"),
        pl.first("scac"),
        pl.first("currency"),
        pl.first("bill_of_lading"),
        pl.col("amount").filter(pl.col("mess") != "bad").sum().alias("net"),
        pl.first("billed_weight_kg"),
    )
    st = pl.col("txn_no").cast(pl.Utf8).str.zfill(4)
    txn = txn.with_columns(
        pl.concat_str(
            pl.lit("ST*210*"),
            st,
            pl.lit("~\nB3**"),
            "invoice_number",
            pl.lit("*"),
            "shipment_id",
            pl.lit("*PP*K*"),
            pl.col("invoice_date").dt.strftime("%Y%m%d"),
            pl.lit("*"),
            cents("net"),
            pl.lit("**"),
            pl.col("delivery_date").dt.strftime("%Y%m%d").fill_null(""),
            pl.lit("*035*"),
            "scac",
            pl.lit("~\nC3*"),
            "currency",
            pl.lit("~\nN9*BM*"),
            "bill_of_lading",
            pl.lit("~\n"),
            "ev_text",
            pl.lit("L3*"),
            dec(pl.col("billed_weight_kg"), 1),
            pl.lit("*G***"),
            cents("net"),
            pl.lit("~\nSE*"),
            (6 + 3 * pl.col("k")).cast(pl.Utf8),
            pl.lit("*"),
            st,
            pl.lit("~\n"),
        ).alias("txn_text"),
        (6 + 3 * pl.col("k")).alias("nseg"),
    )
    inv = inv.with_columns(
        (3 + 3 * pl.col("lx")).alias("seg_in_txn"),
        pl.lit("L1-08 charge_code is blank (required)").alias("bad_rule"),
    )
    return _emit(out_dir, folder, inv, txn, "IM", "210", icn_base, "")
