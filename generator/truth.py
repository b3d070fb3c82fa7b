"""Reading the generator's truth back: what the pipeline should have found, next to what it did.

Shared by the tests (tests/test_finance.py) and the accuracy benchmark (benchmarks/accuracy.py),
so both judge the freight audit the same way. The truth itself is written by the generator
(``_truth/invoice_truth.parquet``); nothing here reads the project's SQL beyond the audited
mart being judged.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl

#: invoice statuses that mean "nothing wrong"
ACCEPTED = ("MATCHED", "WITHIN_TOLERANCE")
#: the problems an invoice can carry, as the audit names them
PROBLEMS = ("DUPLICATE", "UNMATCHED", "UNEVIDENCED_ACCESSORIAL", "OVERCHARGE", "UNDERCHARGE")


def invoice_truth(landing: Path, path: str = "_truth/invoice_truth.parquet") -> pl.DataFrame:
    """Every invoice the carriers sent, with what was planted in it; ``path`` (relative to
    ``landing``) picks another truth, e.g. an increment's ``manifest["truth_files"]``."""
    return pl.read_parquet(landing / path).with_columns(
        # a re-sent copy is the invoice number's second copy
        pl.when(pl.col("planted") == "DUPLICATE_RESENT").then(2).otherwise(1).alias("copy_number")
    )


def audited_against_truth(
    warehouse: Path, landing: Path, truth_path: str = "_truth/invoice_truth.parquet"
) -> pl.DataFrame:
    """One row per invoice (sent or audited): ``truth`` (CLEAN or the planted problem the audit
    should report first) and ``found`` (CLEAN or the audit's status), plus the truth's flags and
    the audit's (``found_rdl``, ``found_det``, ``has_overcharge``, ``has_undercharge``)."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        found = con.sql(
            "select carrier_code, invoice_number, copy_number, invoice_status, has_overcharge, "
            "has_undercharge, has_unevidenced_redelivery as found_rdl, "
            "has_unevidenced_detention as found_det from marts.fct_freight_audit_invoices"
        ).pl()
    finally:
        con.close()
    joined = invoice_truth(landing, truth_path).join(
        found, on=["carrier_code", "invoice_number", "copy_number"], how="full", coalesce=True
    )
    planted = (
        pl.when(pl.col("planted").is_in(["DUPLICATE_RESENT", "DUPLICATE_RENUMBERED"]))
        .then(pl.lit("DUPLICATE"))
        .when(pl.col("planted") == "UNKNOWN_SHIPMENT")
        .then(pl.lit("UNMATCHED"))
        .when(pl.col("has_unevidenced_redelivery") | pl.col("has_unevidenced_detention"))
        .then(pl.lit("UNEVIDENCED_ACCESSORIAL"))
        .when(pl.col("price_error") != "")
        .then(pl.col("price_error"))
        .when(pl.col("planted").is_not_null())
        .then(pl.lit("CLEAN"))
    )
    return joined.with_columns(
        planted.alias("truth"),
        pl.when(pl.col("invoice_status").is_in(ACCEPTED))
        .then(pl.lit("CLEAN"))
        .otherwise(pl.col("invoice_status"))
        .alias("found"),
    )


def audit_scores(audited: pl.DataFrame) -> dict:
    """Recall per planted problem and precision over everything flagged."""
    per_kind = {}
    for kind in PROBLEMS:
        planted = audited.filter(pl.col("truth") == kind)
        per_kind[kind] = {
            "planted": planted.height,
            "found": planted.filter(pl.col("found") == kind).height,
        }
    flagged = audited.filter(pl.col("found") != "CLEAN")
    right = flagged.filter(pl.col("found") == pl.col("truth")).height
    return {
        "invoices": audited.height,
        "per_kind": per_kind,
        "planted": sum(k["planted"] for k in per_kind.values()),
        "found": sum(k["found"] for k in per_kind.values()),
        "flagged": flagged.height,
        "flagged_right": right,
        "precision": right / flagged.height if flagged.height else None,
        "not_audited": audited.filter(pl.col("found").is_null()).height,
        "audited_not_sent": audited.filter(pl.col("truth").is_null()).height,
    }
