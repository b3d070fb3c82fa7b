"""Resources shared by the assets: the warehouse connection and the dbt CLI."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
import duckdb

from waybill.settings import Settings, load_settings

#: Every asset or check that opens the warehouse runs in this pool; its limit is 1 (see
#: ``instance.write_instance_yaml``), because DuckDB allows one writer per file.
WAREHOUSE_POOL = "duckdb_warehouse"


class WarehouseResource(dg.ConfigurableResource):
    """The pipeline's DuckDB file. Opened per asset and closed straight after."""

    #: overrides WAYBILL_DATA_DIR; None means the environment (or data/) decides at run time
    data_dir: str | None = None
    #: how long to wait for another process (a second run, a stray reader) to let go of the file
    lock_wait_seconds: float = 120.0

    @property
    def settings(self) -> Settings:
        return load_settings(self.data_dir)

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        deadline = time.monotonic() + self.lock_wait_seconds
        while True:
            try:
                settings = self.settings
                settings.ensure_dirs()
                con = duckdb.connect(
                    str(settings.warehouse),
                    config={
                        "memory_limit": settings.duckdb_memory_limit,
                        "temp_directory": str(settings.warehouse.parent / "tmp"),
                    },
                )
                break
            except duckdb.IOException as exc:
                if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                    raise
                time.sleep(1.0)
        try:
            yield con
        finally:
            con.close()
