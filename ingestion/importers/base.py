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
    rejects_file: str | None = None
    rows_rejected: int = 0

    def check(self) -> None:
        bad = [m for m in self.mappings if not m.reconciles]
        if bad:
            raise AssertionError(f"import does not reconcile: {bad}")

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
        if self.rejects_file:
            lines.append(f"  rejects ({self.rows_rejected:,} rows): {self.rejects_file}")
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
        return path

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
        (out_dir / f"{self.dataset}_report.json").write_text(
            json.dumps(self.report.to_dict(), indent=2, default=str) + "\n"
        )
        return self.report


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
