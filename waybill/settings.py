"""Where everything lives. The environment is read here and nowhere else.

``WAYBILL_DATA_DIR`` (default: ``data/`` in the project checkout) holds the landing zone,
the warehouse, the published snapshot and the exports, so several copies can run side by side.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from ingestion.contracts import DATE_RANGE

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    #: DuckDB memory cap for every pipeline connection (the loader, publish and dbt's profile);
    #: beyond it DuckDB spills to disk instead of growing (DESIGN.md: under 4 GB at 1 M orders).
    duckdb_memory_limit: str = "3GB"
    #: Dashboard users (tenant mode); see waybill/users.py. None: ``users.toml`` in data_dir.
    users_file_override: Path | None = None
    #: The dashboard serves data without sign-in only when the operator said so on a loopback
    #: address (`waybill dashboard --no-auth`, which `waybill demo` uses); otherwise no users
    #: means no data.
    dashboard_no_auth: bool = False
    #: Plausible dates for every date and timestamp field of the feeds (inclusive, ISO); rows
    #: outside are quarantined (ingestion.contracts.DATE_RANGE is the default).
    date_range: tuple[str, str] = DATE_RANGE
    #: Rows above which a report's scheduled XLSX holds its Summary sheet only (the rows are in
    #: the CSV and Parquet of the same name; `waybill export --format xlsx` writes them all).
    #: Writing cells costs ~7,000 rows/s: 100,000-row workbooks were 40 % of a 100 k-order run.
    export_xlsx_max_rows: int = 50_000
    #: Where a failed run or a blocked publication is reported (JSON POST; waybill/notify.py).
    alert_webhook_url: str | None = None
    #: Per dashboard connection (each tenant's database, the shared snapshot connection):
    #: DuckDB memory cap and the most it may spill to data_dir/dashboard_tmp.
    dashboard_memory_limit: str = "1GB"
    dashboard_temp_limit: str = "2GB"
    #: Memory the tenants' in-memory databases may hold together (dashboards/data.py): beyond
    #: it the least recently used one is closed and rebuilt when its tenant comes back.
    #: ``WAYBILL_DASHBOARD_TENANT_CACHE``: bytes with a unit ("1GB", "512MB", "2GiB") or a
    #: share of the machine's RAM ("10%").
    dashboard_tenant_cache_bytes: int = 1_000_000_000

    @property
    def landing(self) -> Path:
        return self.data_dir / "landing"

    @property
    def warehouse(self) -> Path:
        """The pipeline's DuckDB file. Only the pipeline opens it (one writer at a time)."""
        return self.data_dir / "warehouse" / "waybill.duckdb"

    @property
    def serving_dir(self) -> Path:
        return self.data_dir / "serving"

    @property
    def snapshot(self) -> Path:
        """The published snapshot dashboards and analysts read; replaced atomically."""
        return self.serving_dir / "waybill.duckdb"

    @property
    def exports(self) -> Path:
        return self.data_dir / "exports"

    @property
    def users_file(self) -> Path:
        """Dashboard users with hashed passwords; without one the dashboard serves no data
        unless started with ``--no-auth`` on localhost (waybill/users.py)."""
        return self.users_file_override or self.data_dir / "users.toml"

    @property
    def dagster_home(self) -> Path:
        return self.data_dir / "dagster_home"

    def ensure_dirs(self) -> None:
        for d in (
            self.landing,
            self.warehouse.parent,
            self.serving_dir,
            self.exports,
            self.dagster_home,
        ):
            d.mkdir(parents=True, exist_ok=True)

    def dbt_env(self) -> dict[str, str]:
        """Environment dbt needs: an absolute warehouse path (dagster-dbt runs dbt from a copy
        of the project, so a relative path would point somewhere else)."""
        return {
            "WAYBILL_WAREHOUSE_PATH": str(self.warehouse.resolve()),
            "WAYBILL_DUCKDB_MEMORY_LIMIT": self.duckdb_memory_limit,
        }


def load_settings(data_dir: str | os.PathLike | None = None) -> Settings:
    raw = data_dir or os.environ.get("WAYBILL_DATA_DIR") or PROJECT_ROOT / "data"
    return Settings(
        data_dir=Path(raw).expanduser().resolve(),
        duckdb_memory_limit=os.environ.get("WAYBILL_DUCKDB_MEMORY_LIMIT", "3GB"),
        users_file_override=(
            Path(os.environ["WAYBILL_USERS_FILE"]).expanduser().resolve()
            if os.environ.get("WAYBILL_USERS_FILE")
            else None
        ),
        dashboard_no_auth=os.environ.get("WAYBILL_DASHBOARD_NO_AUTH") == "1",
        alert_webhook_url=os.environ.get("WAYBILL_ALERT_WEBHOOK") or None,
        dashboard_memory_limit=os.environ.get("WAYBILL_DASHBOARD_MEMORY_LIMIT", "1GB"),
        dashboard_temp_limit=os.environ.get("WAYBILL_DASHBOARD_TEMP_LIMIT", "2GB"),
        dashboard_tenant_cache_bytes=byte_size(
            os.environ.get("WAYBILL_DASHBOARD_TENANT_CACHE") or "1GB",
            "WAYBILL_DASHBOARD_TENANT_CACHE",
        ),
        export_xlsx_max_rows=int(os.environ.get("WAYBILL_EXPORT_XLSX_MAX_ROWS", "50000")),
        date_range=_date_range(
            os.environ.get("WAYBILL_DATE_MIN") or DATE_RANGE[0],
            os.environ.get("WAYBILL_DATE_MAX") or DATE_RANGE[1],
        ),
    )


class SettingsError(ValueError):
    """A setting from the environment that cannot be used; the CLI prints it in one line."""


def _date_range(low: str, high: str) -> tuple[str, str]:
    """WAYBILL_DATE_MIN/MAX as ISO dates, checked here so a typo stops the command with one
    line instead of failing every file's contract check."""
    try:
        first, last = date.fromisoformat(low), date.fromisoformat(high)
    except ValueError as exc:
        raise SettingsError(f"WAYBILL_DATE_MIN/WAYBILL_DATE_MAX must be ISO dates: {exc}") from None
    if first > last:
        raise SettingsError(f"WAYBILL_DATE_MIN {low} is after WAYBILL_DATE_MAX {high}")
    return first.isoformat(), last.isoformat()


#: Units of a byte size, DuckDB's way: KB/MB/GB/TB are powers of 1000, KiB/MiB/GiB/TiB of 1024.
_UNITS = {
    "": 1,
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
}


def byte_size(text: str, name: str = "size") -> int:
    """``"1GB"``, ``"512 MiB"``, ``"1000000"`` or ``"10%"`` (of physical RAM) as bytes; a value
    that is none of those stops the command with one line naming the setting."""
    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([a-z]*|%)\s*", text.lower())
    if match is None or match[2] not in {*_UNITS, "%"}:
        raise SettingsError(
            f"{name} must be bytes with a unit (1GB, 512MB, 2GiB) or a % of RAM: {text!r}"
        )
    value = float(match[1])
    if match[2] == "%":
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        return int(ram * value / 100)
    return int(value * _UNITS[match[2]])
