"""What every data-set adapter shares: writing feed files, rejects and the import report.

An adapter reads a public data set with polars and writes files in our feed formats into the
landing zone (``<landing>/<feed folder>/<dataset>_<feed>.csv``), so the unchanged pipeline loads
them. Nothing is dropped silently:

- every source row that cannot become a feed row goes to ``<landing>/_import/<dataset>_rejects.csv``
  with the source table, its row number, the feed it was meant for and a reason;
- every one-row-per-source-row mapping (``Mapping``) reconciles: rows read = rows written +
  rows rejected (``ImportReport.check`` raises if not);
- every documented default the adapter had to fill in (a field the contract requires but the
  data set lacks) is counted in the report under ``defaults``;
- every feed file the adapter writes is run through the loader's own contract check
  (``ingestion.load.validate``) before the import finishes; the report states per file the rows
  ``waybill run`` would quarantine, by field and rule, with examples (``contract_check``), and
  ``run_import`` holds the files back (``enforce_contract``) unless the caller allows it, so an
  adapter bug (e.g. float-noise weights) is caught at import time, not in ``meta.quarantine``;
- the report (``<landing>/_import/<dataset>_report.json``) states all of it, and
  ``ImportReport.summary()`` prints it.

``_import`` starts with an underscore, so the loader never reads it as a feed folder.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from ingestion.contracts import FEEDS

REJECT_COLUMNS = ("source", "source_row", "feed", "reason", "detail")


@dataclass
class Mapping:
    """One source table mapped row by row onto one feed: read = written + rejected."""

    source: str
    feed: str
    rows_read: int
    rows_written: int
    rows_rejected: int
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    note: str = ""

    @property
    def reconciles(self) -> bool:
        return self.rows_read == self.rows_written + self.rows_rejected


@dataclass
class ImportReport:
    dataset: str
    source: str
    landing: str
    started_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    seconds: float = 0.0
    #: source table -> rows read
    sources: dict[str, int] = field(default_factory=dict)
    #: feed -> {"file": path relative to landing, "rows_written": n}
    feeds: dict[str, dict] = field(default_factory=dict)
    mappings: list[Mapping] = field(default_factory=list)
    #: {"feed", "field", "value", "rows", "why"}: documented defaults for required fields
    defaults: list[dict] = field(default_factory=list)
    #: informational counts (e.g. events not written because the timestamp is empty)
    counts: dict[str, int] = field(default_factory=dict)
    #: KPI-relevant results the adapter computes itself (e.g. Brunel expected cost)
    results: dict = field(default_factory=dict)
    #: feed file key -> {"file", "rows", "would_quarantine", "by_rule": {"field: rule": n},
    #: "examples": [...], "copied": bool}: the loader's contract check run on the written files
    contract_check: dict[str, dict] = field(default_factory=dict)
    rejects_file: str | None = None
    rows_rejected: int = 0
    #: set by enforce_contract when the files were moved out of the landing zone
    held_in: str | None = None

    @property
    def rows_would_quarantine(self) -> int:
        """Rows of files the adapter *mapped* that the contract check would quarantine.

        Files copied unchanged from the data set (DCSA's deliberately invalid samples) are
        reported but not counted: their quarantine is the data set's, not an adapter bug.
        """
        return sum(
            c["would_quarantine"] for c in self.contract_check.values() if not c.get("copied")
        )

    def check(self) -> None:
        bad = [m for m in self.mappings if not m.reconciles]
        if bad:
            raise AssertionError(f"import does not reconcile: {bad}")

    def save(self) -> Path:
        path = Path(self.landing) / "_import" / f"{self.dataset}_report.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        d = self.to_dict()
        d["rows_would_quarantine"] = self.rows_would_quarantine
        path.write_text(json.dumps(d, indent=2, default=str) + "\n")
        return path

    def to_dict(self) -> dict:
        d = asdict(self)
        for m, md in zip(self.mappings, d["mappings"], strict=True):
            md["reconciles"] = m.reconciles
        return d

    def summary(self) -> str:
        lines = [f"import {self.dataset} from {self.source} ({self.seconds:.1f} s)"]
        lines.append(
            "  source rows read: " + ", ".join(f"{k} {v:,}" for k, v in self.sources.items())
        )
        w = max([22, *(len(f) + 2 for f in self.feeds)])
        lines.append(f"  {'feed':<{w}}{'rows written':>14}  file")
        for feed, info in self.feeds.items():
            lines.append(f"  {feed:<{w}}{info['rows_written']:>14,}  {info['file']}")
        w = max([40, *(len(m.source + m.feed) + 6 for m in self.mappings)])
        lines.append(f"  {'mapping':<{w}}{'read':>9}{'written':>9}{'rejected':>9}")
        for m in self.mappings:
            ok = "" if m.reconciles else "  DOES NOT RECONCILE"
            lines.append(
                f"  {m.source + ' -> ' + m.feed:<{w}}{m.rows_read:>9,}{m.rows_written:>9,}"
                f"{m.rows_rejected:>9,}{ok}"
            )
            for reason, n in sorted(m.rejected_by_reason.items(), key=lambda kv: -kv[1]):
                lines.append(f"      rejected {n:>7,}: {reason}")
        if self.defaults:
            lines.append("  documented defaults for required fields the data set lacks:")
            for d in self.defaults:
                lines.append(
                    f"    {d['feed']}.{d['field']} = {d['value']!r} on {d['rows']:,} rows: {d['why']}"
                )
        if self.counts:
            lines.append("  notes:")
            for k, v in self.counts.items():
                lines.append(f"    {k}: {v:,}")
        checked = sum(c["rows"] for c in self.contract_check.values())
        if self.contract_check:
            total = sum(c["would_quarantine"] for c in self.contract_check.values())
            copied = total - self.rows_would_quarantine
            lines.append(
                f"  contract check (the loader's rules) on {checked:,} written rows: "
                f"{total:,} would be quarantined"
                + (f" ({copied:,} in files copied unchanged from the data set)" if copied else "")
            )
            for key, c in self.contract_check.items():
                if not c["would_quarantine"]:
                    continue
                tag = " (copied unchanged: the data set's own)" if c.get("copied") else ""
                lines.append(f"    {key}: {c['would_quarantine']:,} rows{tag}")
                for rule, n in sorted(c["by_rule"].items(), key=lambda kv: -kv[1]):
                    lines.append(f"      {n:>7,}  {rule}")
                for ex in c["examples"][:3]:
                    lines.append(f"      e.g. row {ex['row']}: {ex['reason']}")
        if self.rejects_file:
            lines.append(f"  rejects ({self.rows_rejected:,} rows): {self.rejects_file}")
        if self.held_in:
            lines.append(f"  files HELD BACK (not in the landing zone): {self.held_in}")
        return "\n".join(lines)


class Importer:
    """Collects feed frames and rejects; ``finish`` writes files and the report."""

    def __init__(self, dataset: str, source: Path, landing: Path):
        self.dataset = dataset
        self.source = Path(source)
        self.landing = Path(landing)
        self.report = ImportReport(dataset=dataset, source=str(source), landing=str(landing))
        self._rejects: list[pl.DataFrame] = []
        self._t0 = time.perf_counter()

    # ------------------------------------------------------------------ bookkeeping

    def read(self, name: str, frame: pl.DataFrame) -> pl.DataFrame:
        """Record a source table's row count and add ``_src_row`` (1-based data row)."""
        self.report.sources[name] = frame.height
        return frame.with_row_index("_src_row", offset=1)

    def reject(
        self, source: str, feed: str, rows: pl.DataFrame, reason: str, detail: pl.Expr | None = None
    ) -> int:
        """Send ``rows`` (must have ``_src_row``) to the rejects file with one reason."""
        if rows.height == 0:
            return 0
        detail_expr = detail if detail is not None else pl.lit(None, dtype=pl.String)
        self._rejects.append(
            rows.select(
                pl.lit(source).alias("source"),
                pl.col("_src_row").cast(pl.Int64).alias("source_row"),
                pl.lit(feed).alias("feed"),
                pl.lit(reason).alias("reason"),
                detail_expr.cast(pl.String).alias("detail"),
            )
        )
        return rows.height

    def mapping(
        self,
        source: str,
        feed: str,
        read: int,
        written: int,
        rejected: dict[str, int],
        note: str = "",
    ) -> Mapping:
        m = Mapping(
            source=source,
            feed=feed,
            rows_read=read,
            rows_written=written,
            rows_rejected=sum(rejected.values()),
            rejected_by_reason={k: v for k, v in rejected.items() if v},
            note=note,
        )
        self.report.mappings.append(m)
        return m

    def default(self, feed: str, field_name: str, value: object, rows: int, why: str) -> None:
        if rows:
            self.report.defaults.append(
                {"feed": feed, "field": field_name, "value": value, "rows": int(rows), "why": why}
            )

    def count(self, key: str, n: int) -> None:
        self.report.counts[key] = int(n)

    # ------------------------------------------------------------------ output

    def write_feed(self, feed_name: str, frame: pl.DataFrame, suffix: str = "") -> Path:
        """Write ``frame`` as the feed's CSV: exactly the contract's columns, as text."""
        feed = FEEDS[feed_name]
        cols = []
        for f in feed.fields:
            if f.name in frame.columns:
                cols.append(pl.col(f.name).cast(pl.String))
            else:
                cols.append(pl.lit(None, dtype=pl.String).alias(f.name))
        out = frame.select(cols)
        folder = self.landing / feed.folder
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{self.dataset}_{feed_name}{suffix}.csv"
        out.write_csv(path)
        key = feed_name + suffix
        self.report.feeds[key] = {
            "file": str(path.relative_to(self.landing)),
            "rows_written": out.height,
        }
        self.check_contract(key, feed_name, out, path)
        return path

    def check_contract(
        self,
        key: str,
        feed_name: str,
        rows: pl.DataFrame,
        path: Path,
        copied: bool = False,
        extra_rejects: int = 0,
    ) -> dict:
        """Run the loader's contract check on rows written to ``path``; record the outcome.

        ``rows`` are the string rows as the loader's parser will see them (for a CSV: the file's
        columns; the row number is the 1-based data row); ``extra_rejects`` are rows the parser
        itself will reject (structure), counted as quarantined.
        """
        from ingestion.load import validate

        by_rule: dict[str, int] = {}
        examples: list[dict] = []
        bad = 0
        if rows.height:
            numbered = (
                rows.with_columns(pl.col("_row_number").alias("_row"))
                if "_row_number" in rows.columns
                else rows.with_row_index("_row", offset=1)
            )
            checked = validate(feed_name, numbered)
            failing = checked.filter(pl.col("_errors").list.len() > 0)
            bad = failing.height
            for errors in failing["_errors"].to_list():
                for e in errors:
                    rule = f"{e['field']}: {e['rule']}"
                    by_rule[rule] = by_rule.get(rule, 0) + 1
            for row, errors in zip(
                failing["_row"].head(5).to_list(), failing["_errors"].head(5).to_list(), strict=True
            ):
                examples.append({"row": int(row), "reason": "; ".join(e["reason"] for e in errors)})
        if extra_rejects:
            by_rule["structure (parser)"] = by_rule.get("structure (parser)", 0) + extra_rejects
        result = {
            "file": str(path.relative_to(self.landing)),
            "rows": rows.height + extra_rejects,
            "would_quarantine": bad + extra_rejects,
            "by_rule": by_rule,
            "examples": examples,
            "copied": copied,
        }
        self.report.contract_check[key] = result
        return result

    def record_copied(self, feed_name: str, path: Path, rows: int) -> None:
        self.report.feeds[f"{feed_name}:{path.name}"] = {
            "file": str(path.relative_to(self.landing)),
            "rows_written": rows,
        }

    def finish(self) -> ImportReport:
        out_dir = self.landing / "_import"
        out_dir.mkdir(parents=True, exist_ok=True)
        rejects_path = out_dir / f"{self.dataset}_rejects.csv"
        rejects = (
            pl.concat(self._rejects)
            if self._rejects
            else pl.DataFrame(schema={c: pl.String for c in REJECT_COLUMNS})
        )
        rejects.write_csv(rejects_path)
        self.report.rejects_file = str(rejects_path)
        self.report.rows_rejected = rejects.height
        self.report.seconds = round(time.perf_counter() - self._t0, 2)
        self.report.check()
        self.report.save()
        return self.report


class ImportContractError(Exception):
    """Written feed rows the loader would quarantine: the files were held back (report says where)."""

    def __init__(self, report: ImportReport):
        self.report = report
        rules = sorted(
            {
                rule
                for c in report.contract_check.values()
                if not c.get("copied")
                for rule in c["by_rule"]
            }
        )
        super().__init__(
            f"{report.dataset}: {report.rows_would_quarantine:,} written rows break the feed "
            f"contract ({', '.join(rules)}) and would be quarantined by `waybill run`; the files "
            f"were moved to {report.held_in} so nothing half-mapped is loaded. Fix the adapter, "
            "or re-run the import with --allow-quarantine to load them and quarantine those rows."
        )


def enforce_contract(report: ImportReport, allow_quarantine: bool = False) -> ImportReport:
    """Hold the import's files back if the contract check found rows to quarantine.

    With ``allow_quarantine`` the files stay in the landing zone (the pipeline quarantines the
    rows, with the reasons the report already lists). Otherwise every file of the import is moved
    to ``<landing>/_import/<dataset>_held/`` (the loader ignores underscore folders) and
    :class:`ImportContractError` is raised.
    """
    if not report.rows_would_quarantine or allow_quarantine:
        return report
    landing = Path(report.landing)
    held = landing / "_import" / f"{report.dataset}_held"
    for info in report.feeds.values():
        src = landing / info["file"]
        if src.exists():
            dst = held / info["file"]
            dst.parent.mkdir(parents=True, exist_ok=True)
            src.replace(dst)
    report.held_in = str(held)
    report.save()
    raise ImportContractError(report)


# ---------------------------------------------------------------------- helpers

ISO_FORMAT = "%Y-%m-%dT%H:%M:%S%:z"


def local_to_iso(expr: pl.Expr, time_zone: str) -> pl.Expr:
    """Naive local datetimes in ``time_zone`` -> ISO 8601 text with the UTC offset.

    A wall-clock time in the hour skipped when clocks go forward is read with the offset before
    the change (the clock had not been moved yet), i.e. as the same instant as one hour later;
    a repeated hour (clocks go back) is read as its first occurrence.
    """
    zoned = expr.dt.replace_time_zone(time_zone, ambiguous="earliest", non_existent="null")
    shifted = (expr + pl.duration(hours=1)).dt.replace_time_zone(
        time_zone, ambiguous="earliest", non_existent="null"
    )
    return pl.coalesce(zoned, shifted).dt.strftime(ISO_FORMAT)


def utc_iso(expr: pl.Expr) -> pl.Expr:
    """Naive datetimes taken as UTC -> ISO 8601 text with +00:00."""
    return expr.dt.strftime("%Y-%m-%dT%H:%M:%S+00:00")


def fmt_decimal(expr: pl.Expr, decimals: int = 4) -> pl.Expr:
    """A float as plain decimal text ('.' separator, no exponent, trailing zeros trimmed)."""
    return expr.round(decimals).map_elements(
        lambda v: f"{v:.{decimals}f}".rstrip("0").rstrip("."), return_dtype=pl.String
    )
