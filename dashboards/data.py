"""Every query the dashboard runs, against the published snapshot only.

Two kinds of connection, both made here and nowhere else:

* everyone-sees-everything (``ALL``): the snapshot opened read-only once per published version
  and shared through short-lived cursors (``_SnapshotConnections``); the pipeline renames a new
  snapshot into place at any time (it never writes to the served file), the next query opens the
  new version and the old one is closed when its last query ends;
* a tenant (``Scope(customer_id=...)``): an in-memory database holding *copies* of the tables on
  the allow-list ``TENANT_TABLES``, each filtered to that customer's orders and the shipments
  carrying them, built once per snapshot version, with the snapshot detached again. Anything not
  listed (aggregates over all customers, the quarantine, carrier cost and margin, any new mart)
  is not copied at all, so no query, fully-qualified name or catalog trick can reach another
  customer's rows: they are not there. The databases are kept while together they hold less
  than ``WAYBILL_DASHBOARD_TENANT_CACHE`` bytes, and built without a lock other tenants wait
  on (``_TenantDatabases``).

Both connections run with ``enable_external_access = false`` and a locked configuration, so SQL
cannot read or write files (``read_parquet``, ``ATTACH``, ``COPY``) or switch that off.

The scorecard, alerts and finance marts are read as published; a snapshot without them (from an
older waybill) makes the function return ``None`` (or a page check the table list) so the page
says what to run; nothing is recomputed here. Data-quality results (meta.dq_results) are used
when the snapshot has them.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import duckdb
import polars as pl

from ingestion.db import frame
from ingestion.load import LOAD_SUMMARY_SQL
from waybill.settings import load_settings

# --------------------------------------------------------------------------------------------
# connections and scope


@dataclass(frozen=True)
class Scope:
    """Whose rows a connection shows: everything (customer_id None) or one customer's."""

    customer_id: str | None = None

    @property
    def is_tenant(self) -> bool:
        return self.customer_id is not None


ALL = Scope()

#: DuckDB settings for every dashboard connection: no file access beyond the snapshot itself,
#: and nobody can turn that back on from SQL.
_LOCKED = {"enable_external_access": False, "lock_configuration": True}


def _resource_caps() -> dict[str, str]:
    """Memory and spill limits of every dashboard connection, set before the configuration is
    locked: one workbench query (a tenant sorting millions of rows) must not take the server's
    memory (DuckDB's default is 80 % of RAM) or fill the disk of the working directory."""
    settings = load_settings()
    temp = settings.data_dir / "dashboard_tmp"
    temp.mkdir(parents=True, exist_ok=True)
    return {
        "memory_limit": settings.dashboard_memory_limit,
        "temp_directory": str(temp),
        "max_temp_directory_size": settings.dashboard_temp_limit,
    }


def _lock_down(con: duckdb.DuckDBPyConnection) -> None:
    """Resource caps, then no file access, then the configuration locked."""
    for key, value in _resource_caps().items():
        con.execute(f"set {key} = '{value}'")
    for key, value in _LOCKED.items():
        con.execute(f"set {key} = {str(value).lower()}")


#: How a tenant's copy of a table is cut down (SQL over the table's own columns; ``?`` is the
#: customer_id, ``_tenant_orders`` / ``_tenant_shipments`` are the customer's orders and the
#: shipments carrying them).
BY_CUSTOMER = "customer_id = ?"
BY_ORDER = "order_id in (select order_id from _tenant_orders)"
BY_SHIPMENT = "shipment_id in (select shipment_id from _tenant_shipments)"
EVERYONE = "true"

#: The tables a customer (tenant) user may see, each with its filter. Everything else in the
#: snapshot is left out of the tenant's database: the 3PL's carrier invoices, audit, payables,
#: rate cards, margins and landed cost, aggregates over every customer (KPI marts, the carrier
#: scorecard, carrier cost), data-quality internals, and any table added later until it is
#: listed here (docs/dashboard.md "Tenant mode" lists the same; a test keeps them equal).
TENANT_TABLES: dict[str, str] = {
    "marts.fct_orders": BY_CUSTOMER,
    "marts.fct_shipments": BY_SHIPMENT,
    "marts.fct_shipment_events": BY_SHIPMENT,
    "marts.fct_shipment_milestones": BY_SHIPMENT,
    # an alert names one order (the smallest on a consolidated shipment) and its customer
    "marts.rpt_shipment_alerts": BY_CUSTOMER,
    "marts.rpt_receivables_aging": BY_CUSTOMER,
    "staging.stg_oms__order_lines": BY_CUSTOMER,
    "staging.stg_oms__shipment_lines": BY_ORDER,
    "staging.stg_oms__returns": BY_ORDER,
    "staging.stg_erp__customer_invoice_lines": BY_CUSTOMER,
    "staging.stg_carrier_csv__shipment_status_events": BY_SHIPMENT,
    "staging.stg_x12__shipment_status_events": BY_SHIPMENT,
    "reference.canonical_milestones": EVERYONE,
    "reference.ref_locations": EVERYONE,
    "reference.ref_incoterms": EVERYONE,
    "reference.map_csv_event_codes": EVERYONE,
    "reference.map_event_remark_rules": EVERYONE,
    "reference.map_dcsa_event_codes": EVERYONE,
    "reference.map_dcsa_delay_reason_codes": EVERYONE,
    "reference.map_parcel_status_codes": EVERYONE,
    "reference.map_x12_status_codes": EVERYONE,
    "reference.map_x12_reason_codes": EVERYONE,
    "reference.map_x12_appointment_codes": EVERYONE,
    "reference.x12_time_codes": EVERYONE,
    "meta.snapshot_info": EVERYONE,
}
_KEY_OF = {BY_CUSTOMER: "customer_id", BY_ORDER: "order_id", BY_SHIPMENT: "shipment_id"}

#: Columns a tenant never sees, in any allow-listed table: the operator's costs, quotes and
#: margins (unit_cost_amount on order lines, quoted_cost_* on shipment lines) and lineage that
#: names the server's files (_source_file, source_file_name, the other _ columns). They stay in
#: the tenant's tables as typed nulls, so every page query still runs and shows them empty.
TENANT_DENIED_COLUMNS = re.compile(r"cost|quote|margin|source_file|^_", re.IGNORECASE)


def snapshot_path() -> Path:
    return load_settings().snapshot


def has_snapshot(snapshot: Path | None = None) -> bool:
    return (snapshot or snapshot_path()).exists()


def snapshot_version(snapshot: Path | None = None) -> float:
    """The snapshot's mtime: the cache key that changes whenever a new snapshot is published."""
    path = snapshot or snapshot_path()
    return path.stat().st_mtime_ns if path.exists() else 0


#: What a tenant database costs beyond the blocks DuckDB reports for its tables: the instance's
#: own threads, allocator and catalog (measured: 5-6 MB of RSS per database at 10,000 orders).
TENANT_DATABASE_OVERHEAD = 6 * 2**20


def database_bytes(con: duckdb.DuckDBPyConnection) -> int:
    """The memory a tenant database holds: its tables' blocks (``duckdb_memory()``: each
    ``duckdb.connect(":memory:")`` is its own instance) plus TENANT_DATABASE_OVERHEAD."""
    (used,) = con.execute(
        "select coalesce(sum(memory_usage_bytes), 0) from duckdb_memory()"
    ).fetchone()
    return int(used) + TENANT_DATABASE_OVERHEAD


@dataclass(eq=False)
class _TenantDatabase:
    con: duckdb.DuckDBPyConnection
    nbytes: int
    users: int = 0  # open cursors; a retired database is closed when the last one ends
    retired: bool = False


@dataclass(eq=False)
class _Build:
    """One tenant database being built; sessions of the same tenant asking meanwhile wait."""

    done: threading.Event = field(default_factory=threading.Event)
    waiters: int = 0
    db: _TenantDatabase | None = None
    error: BaseException | None = None


class _TenantDatabases:
    """Tenant in-memory databases keyed by (snapshot, version, customer), bounded by the memory
    they hold together (``Settings.dashboard_tenant_cache_bytes``, or ``max_bytes``): beyond it
    the least recently used ones are closed. The database just built is kept even when it alone
    is over the bound (its tenant is about to query it).

    ``_lock`` guards this bookkeeping only and is never held while a database is built: the
    build runs in the asking session's thread while other tenants read and build; a second
    session of the same tenant asking meanwhile waits for that build (``_Build``, the per-tenant
    lock) instead of building the same database again. The first database of a newer snapshot
    version retires the older versions' databases. A retired (evicted, outdated or cleared)
    database is closed when its last cursor is (closing a DuckDB connection closes its cursors,
    which would break a query of another session in mid-flight), so for the length of a query
    the memory in use can exceed the bound by the databases being retired.

    At most ``build_slots`` databases (default: one per core, at least two) are built at once;
    a build beyond them waits for a slot, never for a lock, so one slow build holds up no one.
    A build needs more memory while it runs than its database keeps: 20 tenants' builds at once
    at 100,000 orders peaked at 3.6-3.9 GB of RSS for a 0.93 GB cache, two at a time at 1.45 GB,
    with half the first page loads done by 10 s instead of 17 s (docs/benchmarks.md, "Tenants")."""

    def __init__(self, max_bytes: int | None = None, build_slots: int | None = None) -> None:
        self._max_bytes = max_bytes
        self.build_slots = build_slots or max(2, os.cpu_count() or 1)
        self._build_slots = threading.BoundedSemaphore(self.build_slots)
        self._lock = threading.Lock()
        self._dbs: OrderedDict[tuple, _TenantDatabase] = OrderedDict()
        self._builds: dict[tuple, _Build] = {}
        self._generation = 0  # bumped by clear(): a build started before is not cached
        self._bytes = 0
        self.counts = {"builds": 0, "hits": 0, "evictions": 0, "outdated": 0}

    @property
    def max_bytes(self) -> int:
        if self._max_bytes is not None:
            return self._max_bytes
        return load_settings().dashboard_tenant_cache_bytes

    def stats(self) -> dict:
        """Databases cached, the bytes they hold, the bound and the counters so far."""
        bound = self.max_bytes
        with self._lock:
            return {
                "databases": len(self._dbs),
                "bytes": self._bytes,
                "max_bytes": bound,
                "building": len(self._builds),
                "build_slots": self.build_slots,
                **self.counts,
            }

    @contextmanager
    def cursor(self, snapshot: Path, customer_id: str) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor on ``customer_id``'s database for the current version of ``snapshot``,
        built first if need be; the database stays open until the cursor is closed."""
        db, cursor = self._acquire(snapshot, customer_id)
        try:
            yield cursor
        finally:
            cursor.close()
            self._release(db)

    def _acquire(
        self, snapshot: Path, customer_id: str
    ) -> tuple[_TenantDatabase, duckdb.DuckDBPyConnection]:
        key = (str(snapshot), snapshot_version(snapshot), customer_id)
        with self._lock:
            db = self._dbs.get(key)
            if db is not None:
                self._dbs.move_to_end(key)
                self.counts["hits"] += 1
                return db, self._use(db)
            build = self._builds.get(key)
            mine = build is None
            if mine:
                build = self._builds[key] = _Build()
                generation = self._generation
            else:
                build.waiters += 1  # another session is building this one: wait for it
        if mine:
            return self._build(key, build, generation, snapshot, customer_id)  # lock released
        build.done.wait()
        if build.error is not None:
            raise build.error
        with self._lock:  # the builder counted this session among the database's users
            return build.db, build.db.con.cursor()

    def _build(
        self, key: tuple, build: _Build, generation: int, snapshot: Path, customer_id: str
    ) -> tuple[_TenantDatabase, duckdb.DuckDBPyConnection]:
        closing: list[duckdb.DuckDBPyConnection] = []
        try:
            bound = self.max_bytes
            with self._build_slots:
                con = build_tenant_database(snapshot, customer_id)  # no lock held
            try:
                db = _TenantDatabase(con, database_bytes(con))
                with self._lock:
                    db.users = 1 + build.waiters  # this session and every one that waited
                    cursor = db.con.cursor()
                    self._builds.pop(key, None)
                    self.counts["builds"] += 1
                    build.db = db
                    if generation == self._generation:
                        closing = self._insert(key, db, bound)
                    else:
                        db.retired = True  # cleared while it was built: served, not cached
            except BaseException:
                con.close()
                raise
        except BaseException as exc:
            with self._lock:
                self._builds.pop(key, None)
                build.error = exc
            raise
        finally:
            build.done.set()
            for old in closing:
                old.close()
        return db, cursor

    def _use(self, db: _TenantDatabase) -> duckdb.DuckDBPyConnection:
        db.users += 1  # lock held
        return db.con.cursor()

    def _insert(
        self, key: tuple, db: _TenantDatabase, bound: int
    ) -> list[duckdb.DuckDBPyConnection]:
        """Cache ``db``, retire older versions of its snapshot and the least recently used
        databases beyond the bound (lock held); the connections to close now."""
        path, version, _ = key
        closing = []
        for old in [k for k in self._dbs if k[0] == path and k[1] != version]:
            self.counts["outdated"] += 1
            closing += self._retire(old)
        self._dbs[key] = db
        self._bytes += db.nbytes
        while self._bytes > bound and len(self._dbs) > 1:
            self.counts["evictions"] += 1
            closing += self._retire(next(iter(self._dbs)))
        return closing

    def _retire(self, key: tuple) -> list[duckdb.DuckDBPyConnection]:
        db = self._dbs.pop(key)  # lock held
        self._bytes -= db.nbytes
        db.retired = True
        return [] if db.users else [db.con]

    def _release(self, db: _TenantDatabase) -> None:
        with self._lock:
            db.users -= 1
            close = db.retired and db.users == 0
        if close:
            db.con.close()

    def clear(self) -> None:
        """Retire every database (each closed now, or when its last query ends)."""
        with self._lock:
            self._generation += 1
            closing = []
            for key in list(self._dbs):
                closing += self._retire(key)
        for con in closing:
            con.close()


TENANT_DATABASES = _TenantDatabases()


class _SnapshotConnections:
    """One read-only connection per published snapshot version, shared through cursors.

    Opening the snapshot costs about 0.1-0.2 s (its catalog is read each time), which used to be
    most of a page's uncached time. The connection is keyed by the file's mtime and inode, so a
    publish (``os.replace`` of a new file, atomic on POSIX) is picked up by the next query; the
    old version's connection is closed as soon as no query is using it any more. Holding the
    renamed-away file open does not block the publish (it never writes to the served file)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._current: tuple | None = None
        self._cons: dict[tuple, duckdb.DuckDBPyConnection] = {}
        self._users: dict[tuple, int] = {}

    @staticmethod
    def _key(path: Path) -> tuple:
        st = path.stat()
        return (str(path), st.st_mtime_ns, st.st_ino)

    @staticmethod
    def _open(path: Path) -> duckdb.DuckDBPyConnection:
        """An in-memory database with the snapshot ATTACHed read-only, then locked down.

        Attached rather than ``duckdb.connect(path)``: DuckDB shares one instance per file among
        the process's connections and refuses a second connection with another configuration,
        so a connection held open with the locked configuration would break every other
        ``duckdb.connect`` of the snapshot in the process (exports, tests, the CLI)."""
        con = duckdb.connect(":memory:")
        try:
            literal = str(path).replace("'", "''")
            con.execute(f"attach '{literal}' as snapshot (read_only)")
            con.execute("use snapshot")
            _lock_down(con)
        except Exception:
            con.close()
            raise
        return con

    def _release(self, key: tuple) -> None:
        """Close every connection but the current one once nobody uses it (lock held)."""
        for k in [k for k in self._cons if k != self._current and not self._users.get(k)]:
            self._cons.pop(k).close()
            self._users.pop(k, None)

    @contextmanager
    def cursor(self, path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
        with self._lock:
            key = self._key(path)
            if key not in self._cons:
                self._cons[key] = self._open(path)
            self._current = key
            self._users[key] = self._users.get(key, 0) + 1
            cursor = self._cons[key].cursor()
            self._release(key)
        try:
            cursor.execute("use snapshot")  # a cursor starts in the empty in-memory database
            yield cursor
        finally:
            cursor.close()
            with self._lock:
                self._users[key] -= 1
                self._release(key)

    def clear(self) -> None:
        with self._lock:
            self._current = None
            self._release(None)


SNAPSHOT_CONNECTIONS = _SnapshotConnections()


def tenant_filter(schema: str, table: str, columns: list[str]) -> str | None:
    """The WHERE clause that cuts ``schema.table`` down to the tenant, or None to leave it out:
    None unless the table is in TENANT_TABLES and has the key column its filter needs."""
    where = TENANT_TABLES.get(f"{schema}.{table}".lower())
    if where is None:
        return None
    key = _KEY_OF.get(where)
    if key is not None and key not in {c.lower() for c in columns}:
        return None  # the table changed shape: leave it out rather than guess
    return where


def build_tenant_database(snapshot: Path, customer_id: str) -> duckdb.DuckDBPyConnection:
    """An in-memory database with only ``customer_id``'s rows, the snapshot detached again."""
    con = duckdb.connect(":memory:")
    try:
        con.execute(f"attach '{snapshot}' as snap (read_only)")
        tables = con.execute(
            """select schema_name, table_name from duckdb_tables()
            where database_name = 'snap' order by 1, 2"""
        ).fetchall()
        names = {f"{s}.{t}" for s, t in tables}
        con.execute("create temp table _tenant_orders (order_id varchar)")
        con.execute("create temp table _tenant_shipments (shipment_id varchar)")
        for source in ("marts.fct_orders", "staging.stg_oms__order_lines"):
            if source in names:
                con.execute(
                    f"insert into _tenant_orders select distinct order_id from snap.{source} "
                    "where customer_id = ?",
                    [customer_id],
                )
        if "staging.stg_oms__shipment_lines" in names:
            con.execute(
                """insert into _tenant_shipments select distinct shipment_id
                from snap.staging.stg_oms__shipment_lines
                where order_id in (select order_id from _tenant_orders) and shipment_id is not null
                """
            )
        for schema, table in tables:
            typed = con.execute(
                """select column_name, data_type from duckdb_columns()
                where database_name = 'snap' and schema_name = ? and table_name = ?
                order by column_index""",
                [schema, table],
            ).fetchall()
            where = tenant_filter(schema, table, [c for c, _ in typed])
            if where is None:
                continue
            select = ", ".join(
                f'cast(null as {dtype}) as "{column}"'
                if TENANT_DENIED_COLUMNS.search(column)
                else f'"{column}"'
                for column, dtype in typed
            )
            con.execute(f'create schema if not exists memory."{schema}"')
            con.execute(
                f'create table memory."{schema}"."{table}" as '
                f'select {select} from snap."{schema}"."{table}" where {where}',
                [customer_id] if "?" in where else None,
            )
        con.execute("drop table _tenant_orders")
        con.execute("drop table _tenant_shipments")
        con.execute("detach snap")
        _lock_down(con)
    except Exception:
        con.close()
        raise
    return con


@contextmanager
def connect(
    scope: Scope = ALL, snapshot: Path | None = None
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only, file-access-free connection for ``scope``; closed (or released) after use."""
    path = snapshot or snapshot_path()
    if scope.is_tenant:
        with TENANT_DATABASES.cursor(path, scope.customer_id) as cursor:
            yield cursor
        return
    with SNAPSHOT_CONNECTIONS.cursor(path) as cursor:
        yield cursor


def query(
    sql: str, params: list | None = None, scope: Scope = ALL, snapshot: Path | None = None
) -> pl.DataFrame:
    with connect(scope, snapshot) as con:
        return frame(con, sql, params)


def tables(scope: Scope = ALL, snapshot: Path | None = None) -> set[str]:
    """``schema.table`` names the scope can see."""
    df = query(
        """select schema_name || '.' || table_name as name from duckdb_tables()
        where not internal and not temporary""",
        scope=scope,
        snapshot=snapshot,
    )
    return set(df["name"].to_list())


# --------------------------------------------------------------------------------------------
# the shared filter bar


@dataclass(frozen=True)
class Filters:
    """The filter bar every page applies. Empty tuples mean "all"."""

    start: date | None = None
    end: date | None = None
    customers: tuple[str, ...] = ()
    carriers: tuple[str, ...] = ()
    lanes: tuple[str, ...] = ()
    modes: tuple[str, ...] = ()

    def previous(self) -> Filters | None:
        """The same filters over the period of equal length just before this one."""
        if not (self.start and self.end):
            return None
        days = (self.end - self.start).days + 1
        return Filters(
            self.start - timedelta(days=days),
            self.start - timedelta(days=1),
            self.customers,
            self.carriers,
            self.lanes,
            self.modes,
        )


NO_FILTERS = Filters()

_BRIDGE = """(select distinct order_id, shipment_id from staging.stg_oms__shipment_lines
              where order_id is not null and shipment_id is not null)"""


def _in(column: str, values: tuple[str, ...], params: list) -> str:
    params.extend(values)
    return f"{column} in ({', '.join('?' for _ in values)})"


@dataclass
class _Where:
    parts: list[str] = field(default_factory=list)
    params: list = field(default_factory=list)

    @property
    def sql(self) -> str:
        return " and ".join(self.parts) if self.parts else "true"


def order_where(f: Filters, alias: str = "o", date_column: str | None = None) -> _Where:
    """Filters on fct_orders rows; carrier and mode match orders any of whose shipments match."""
    w = _Where()
    if f.customers:
        w.parts.append(_in(f"{alias}.customer_id", f.customers, w.params))
    if f.lanes:
        w.parts.append(
            _in(f"({alias}.origin_locode || '->' || {alias}.destination_locode)", f.lanes, w.params)
        )
    if f.carriers or f.modes:
        inner = []
        if f.carriers:
            inner.append(_in("fs.carrier_code", f.carriers, w.params))
        if f.modes:
            inner.append(_in("fs.transport_mode", f.modes, w.params))
        w.parts.append(
            f"""exists (select 1 from {_BRIDGE} as ob
                inner join marts.fct_shipments as fs on fs.shipment_id = ob.shipment_id
                where ob.order_id = {alias}.order_id and {" and ".join(inner)})"""
        )
    if date_column:
        _date_range(w, date_column if "(" in date_column else f"{alias}.{date_column}", f)
    return w


def shipment_where(f: Filters, alias: str = "s", date_column: str | None = None) -> _Where:
    """Filters on fct_shipments rows; customer matches shipments carrying its orders."""
    w = _Where()
    if f.carriers:
        w.parts.append(_in(f"{alias}.carrier_code", f.carriers, w.params))
    if f.modes:
        w.parts.append(_in(f"{alias}.transport_mode", f.modes, w.params))
    if f.lanes:
        w.parts.append(_in(f"{alias}.lane", f.lanes, w.params))
    if f.customers:
        cond = _in("fo.customer_id", f.customers, w.params)
        w.parts.append(
            f"""exists (select 1 from {_BRIDGE} as sb
                inner join marts.fct_orders as fo on fo.order_id = sb.order_id
                where sb.shipment_id = {alias}.shipment_id and {cond})"""
        )
    if date_column:
        _date_range(w, date_column if "(" in date_column else f"{alias}.{date_column}", f)
    return w


def _date_range(w: _Where, column: str, f: Filters, by_month: bool = False) -> None:
    """The period on a date column, or on a month column (first day of the month): a month
    counts when it overlaps the period."""
    if f.start:
        w.parts.append(
            f"{column} >= date_trunc('month', ?::date)"
            if by_month
            else f"cast({column} as date) >= ?"
        )
        w.params.append(f.start)
    if f.end:
        w.parts.append(f"{column} <= ?" if by_month else f"cast({column} as date) <= ?")
        w.params.append(f.end)


def filter_options(scope: Scope = ALL) -> dict:
    """Values for the filter bar and the data's date span."""
    names = tables(scope)
    if not {"marts.fct_orders", "marts.fct_shipments"} <= names:
        return {}
    customers = query(
        "select distinct customer_id from marts.fct_orders where customer_id is not null "
        "order by 1",
        scope=scope,
    )["customer_id"].to_list()
    ship = query(
        """select
            list(distinct carrier_code order by carrier_code)
                filter (where carrier_code is not null) as carriers,
            list(distinct lane order by lane) filter (where lane is not null) as lanes,
            list(distinct transport_mode order by transport_mode)
                filter (where transport_mode is not null) as modes
        from marts.fct_shipments""",
        scope=scope,
    ).row(0, named=True)
    # The data's span from orders and shipments (a data set may have shipments and no orders,
    # as nycflights13), and the last order's creation day: real extracts fade out after it.
    span = query(
        """with o as (
            select
                least(min(cast(created_at as date)), min(cast(reference_window_end_at as date)))
                    as lo,
                greatest(max(cast(reference_window_end_at as date)),
                    max(cast(delivered_at as date)), max(cast(as_of_at as date))) as hi,
                max(cast(as_of_at as date)) as as_of,
                max(cast(created_at as date)) as last_order
            from marts.fct_orders
        ), s as (
            select min(cast(coalesce(booked_at, planned_pickup_end_at) as date)) as lo,
                max(cast(greatest(delivered_at, current_status_at) as date)) as hi,
                max(cast(coalesce(planned_pickup_end_at, booked_at) as date)) as last_start
            from marts.fct_shipments
        )
        select least(o.lo, s.lo) as lo, greatest(o.hi, s.hi) as hi,
            coalesce(o.as_of, s.last_start, s.hi) as as_of, o.last_order
        from o, s""",
        scope=scope,
    ).row(0, named=True)
    carrier_names = dict(
        query(
            "select distinct carrier_code, carrier_name from marts.fct_shipments "
            "where carrier_code is not null",
            scope=scope,
        ).iter_rows()
    )
    return {
        "customers": customers,
        "carriers": ship["carriers"] or [],
        "carrier_names": carrier_names,
        "lanes": ship["lanes"] or [],
        "modes": ship["modes"] or [],
        "min_date": span["lo"],
        "max_date": span["hi"],
        "as_of": span["as_of"] or span["hi"],
        "last_order": span["last_order"],
    }


# --------------------------------------------------------------------------------------------
# overview


def _between(column: str, f: Filters) -> str:
    """The period as SQL; dates are ``date`` objects from Filters, never user text."""
    parts = []
    if f.start:
        parts.append(f"cast({column} as date) >= date '{f.start.isoformat()}'")
    if f.end:
        parts.append(f"cast({column} as date) <= date '{f.end.isoformat()}'")
    return " and ".join(parts) or "true"


def order_kpis(f: Filters, scope: Scope = ALL) -> dict:
    """Order KPIs over the period, as kpi_orders_monthly defines them (docs/kpis.md): orders due
    by their reference window end, cycle time over orders delivered in the period."""
    w = order_where(f)
    due = f"is_due and {_between('reference_window_end_at', f)}"
    delivered = f"is_delivered and {_between('delivered_at', f)}"
    sql = f"""
    select
        count(*) filter (where {due}) as orders_due,
        count(*) filter (where {due} and is_on_time) as orders_on_time,
        count(*) filter (where {due} and is_in_full) as orders_in_full,
        count(*) filter (where {due} and is_damage_free) as orders_damage_free,
        count(*) filter (where {due} and is_documentation_accurate)
            as orders_documentation_accurate,
        count(*) filter (where {due} and is_perfect_order) as orders_perfect,
        coalesce(sum(otif_numerator) filter (where {due}), 0)::bigint as otif_numerator,
        coalesce(sum(otif_denominator) filter (where {due}), 0)::bigint as otif_denominator,
        coalesce(sum(units_filled) filter (where {due}), 0)::bigint as units_filled,
        coalesce(sum(units_ordered) filter (where {due}), 0)::bigint as units_ordered,
        coalesce(sum(lines_complete) filter (where {due}), 0)::bigint as lines_complete,
        coalesce(sum(lines_total) filter (where {due}), 0)::bigint as lines_total,
        count(*) filter (where {due} and is_filled_on_first_shipment)
            as orders_filled_on_first_shipment,
        count(*) filter (where {delivered}) as orders_delivered,
        avg(cycle_time_days) filter (where {delivered}) as cycle_time_days_mean,
        quantile_cont(cycle_time_days, 0.5) filter (where {delivered}) as cycle_time_days_p50,
        quantile_cont(cycle_time_days, 0.9) filter (where {delivered}) as cycle_time_days_p90,
        avg(order_to_booked_days) filter (where {delivered}) as order_to_booked_days_mean,
        avg(booked_to_picked_up_days) filter (where {delivered}) as booked_to_picked_up_days_mean,
        avg(picked_up_to_delivered_days) filter (where {delivered})
            as picked_up_to_delivered_days_mean
    from marts.fct_orders as o
    where {w.sql}
    """
    row = query(sql, w.params, scope=scope).row(0, named=True)
    return with_rates(row)


def with_rates(row: dict) -> dict:
    """Rates from numerators and denominators (None when the denominator is 0)."""

    def rate(num: str, den: str) -> float | None:
        d = row.get(den) or 0
        return (row.get(num) or 0) / d if d else None

    return row | {
        "on_time_rate": rate("orders_on_time", "orders_due"),
        "in_full_rate": rate("orders_in_full", "orders_due"),
        "damage_free_rate": rate("orders_damage_free", "orders_due"),
        "documentation_accuracy_rate": rate("orders_documentation_accurate", "orders_due"),
        "perfect_order_rate": rate("orders_perfect", "orders_due"),
        "otif_rate": rate("otif_numerator", "otif_denominator"),
        "unit_fill_rate": rate("units_filled", "units_ordered"),
        "line_fill_rate": rate("lines_complete", "lines_total"),
        "order_fill_rate": rate("orders_filled_on_first_shipment", "orders_due"),
    }


def shipment_kpis(f: Filters, scope: Scope = ALL) -> dict:
    """On-time delivery over shipments delivered in the period, gross and carrier-controllable."""
    w = shipment_where(f, date_column="delivered_at")
    row = query(
        f"""select
            count(*) as shipments_delivered,
            count(*) filter (where is_delivered_on_time is not null) as shipments_with_window,
            count(*) filter (where is_delivered_on_time) as shipments_on_time,
            count(*) filter (where is_delivered_on_time_controllable is not null)
                as shipments_controllable,
            count(*) filter (where is_delivered_on_time_controllable)
                as shipments_on_time_controllable,
            count(*) filter (where is_damaged) as shipments_damaged,
            count(*) filter (where has_exception) as shipments_with_exception,
            avg(transit_time_days) as transit_time_days_mean
        from marts.fct_shipments as s
        where is_delivered and {w.sql}""",
        w.params,
        scope=scope,
    ).row(0, named=True)
    on_time = row["shipments_with_window"]
    ctrl = row["shipments_controllable"]
    return row | {
        "on_time_delivery_rate": row["shipments_on_time"] / on_time if on_time else None,
        "on_time_delivery_controllable_rate": (
            row["shipments_on_time_controllable"] / ctrl if ctrl else None
        ),
    }


def monthly_order_kpis(f: Filters, scope: Scope = ALL) -> pl.DataFrame:
    """Month by month, the same numbers as kpi_orders_monthly but under the filter bar."""
    w = order_where(f)
    due = _between("reference_window_end_at", f)
    dlv = _between("delivered_at", f)
    return query(
        f"""
        with o as (select * from marts.fct_orders as o where {w.sql}),
        due as (
            select cast(date_trunc('month', reference_window_end_at) as date) as month_start_date,
                count(*) as orders_due,
                count(*) filter (where is_on_time) as orders_on_time,
                count(*) filter (where is_in_full) as orders_in_full,
                count(*) filter (where is_perfect_order) as orders_perfect,
                sum(otif_numerator)::bigint as otif_numerator,
                sum(otif_denominator)::bigint as otif_denominator,
                sum(units_filled)::bigint as units_filled,
                sum(units_ordered)::bigint as units_ordered
            from o where is_due and {due} group by all
        ),
        dlv as (
            select cast(date_trunc('month', delivered_at) as date) as month_start_date,
                count(*) as orders_delivered,
                avg(cycle_time_days) as cycle_time_days_mean,
                quantile_cont(cycle_time_days, 0.5) as cycle_time_days_p50,
                quantile_cont(cycle_time_days, 0.9) as cycle_time_days_p90
            from o where is_delivered and {dlv} group by all
        )
        select coalesce(due.month_start_date, dlv.month_start_date) as month_start_date,
            coalesce(orders_due, 0) as orders_due,
            coalesce(orders_on_time, 0) as orders_on_time,
            coalesce(orders_in_full, 0) as orders_in_full,
            coalesce(orders_perfect, 0) as orders_perfect,
            orders_perfect / nullif(orders_due, 0) as perfect_order_rate,
            otif_numerator / nullif(otif_denominator, 0) as otif_rate,
            units_filled / nullif(units_ordered, 0) as unit_fill_rate,
            coalesce(orders_delivered, 0) as orders_delivered,
            cycle_time_days_mean, cycle_time_days_p50, cycle_time_days_p90
        from due full outer join dlv on due.month_start_date = dlv.month_start_date
        order by 1""",
        w.params,
        scope=scope,
    )


def monthly_shipment_kpis(f: Filters, carrier: str | None = None, scope: Scope = ALL):
    """Shipments delivered per month with on-time delivery gross and controllable."""
    w = shipment_where(f, date_column="delivered_at")
    if carrier:
        w.parts.append("s.carrier_code = ?")
        w.params.append(carrier)
    return query(
        f"""select cast(date_trunc('month', delivered_at) as date) as month_start_date,
            count(*) as shipments_delivered,
            count(*) filter (where is_delivered_on_time) as shipments_on_time,
            count(*) filter (where is_delivered_on_time is not null) as shipments_with_window,
            count(*) filter (where is_delivered_on_time_controllable)
                as shipments_on_time_controllable,
            count(*) filter (where is_delivered_on_time_controllable is not null)
                as shipments_controllable,
            shipments_on_time / nullif(shipments_with_window, 0) as on_time_delivery_rate,
            shipments_on_time_controllable / nullif(shipments_controllable, 0)
                as on_time_delivery_controllable_rate
        from marts.fct_shipments as s
        where is_delivered and {w.sql}
        group by all order by 1""",
        w.params,
        scope=scope,
    )


#: Which orders are behind each overview KPI (the "not" side: what spoiled it).
DRILL_ORDERS = {
    "perfect_order": ("is_due", "not coalesce(is_perfect_order, false)", "reference_window_end_at"),
    "otif": ("is_due", "not coalesce(is_otif, false)", "reference_window_end_at"),
    "fill_rate": ("is_due", "not is_in_full", "reference_window_end_at"),
    "cycle_time": ("is_delivered", "true", "delivered_at"),
}


def drill_orders(kpi: str, f: Filters, scope: Scope = ALL) -> pl.DataFrame:
    """The orders behind a KPI in the period: those that missed it (cycle time: all, slowest
    first), with each component so the reason is visible."""
    population, missed, date_column = DRILL_ORDERS[kpi]
    w = order_where(f, date_column=date_column)
    order = "cycle_time_days desc" if kpi == "cycle_time" else "reference_window_end_at desc"
    return query(
        f"""select order_id, customer_id, first_shipment_id,
            origin_locode || '->' || destination_locode as lane,
            created_at, reference_window_end_at as promised_by, delivered_at,
            round(cycle_time_days, 2) as cycle_time_days,
            is_on_time, is_in_full, is_damage_free, is_documentation_accurate,
            is_perfect_order, units_ordered, units_filled, shipment_count
        from marts.fct_orders as o
        where {population} and {missed} and {w.sql}
        order by {order}""",
        w.params,
        scope=scope,
    )


def drill_shipments_late(f: Filters, scope: Scope = ALL) -> pl.DataFrame:
    """Shipments delivered late in the period, with the party responsible."""
    w = shipment_where(f, date_column="delivered_at")
    return query(
        f"""select shipment_id, carrier_code, transport_mode, lane,
            planned_delivery_end_at, delivered_at,
            round(date_diff('minute', planned_delivery_end_at, delivered_at) / 60.0, 1)
                as hours_late,
            coalesce(late_delivery_responsible_party, 'UNKNOWN') as responsible_party,
            exception_types
        from marts.fct_shipments as s
        where is_delivered and not is_delivered_on_time and {w.sql}
        order by hours_late desc""",
        w.params,
        scope=scope,
    )


def late_by_party(f: Filters, scope: Scope = ALL) -> pl.DataFrame:
    w = shipment_where(f, date_column="delivered_at")
    return query(
        f"""select coalesce(late_delivery_responsible_party, 'UNKNOWN') as responsible_party,
            count(*) as shipments
        from marts.fct_shipments as s
        where is_delivered and not is_delivered_on_time and {w.sql}
        group by all order by shipments desc""",
        w.params,
        scope=scope,
    )


def finance_kpis(f: Filters, scope: Scope = ALL) -> dict | None:
    """Cost per shipment and margin % under the filter bar, once the finance marts are
    published; else None. Margin over orders created in the period (fct_order_margin); cost per
    shipment = payable carrier invoices (not duplicate, not unmatched: as rpt_carrier_cost_monthly
    counts them) over the shipments they cover, for shipments delivered in the period."""
    names = tables(scope)
    out: dict = {}
    if "marts.fct_order_margin" in names:
        w = order_where(f, alias="o", date_column="created_at")
        row = query(
            f"""select sum(m.net_revenue_reporting_amount) as revenue,
                sum(m.contribution_margin_reporting_amount) as margin,
                count(*) as orders,
                count(*) filter (where m.is_goods_cost_estimated) as goods_cost_estimated
            from marts.fct_order_margin as m
            inner join marts.fct_orders as o on o.order_id = m.order_id
            where {w.sql}""",
            w.params,
            scope=scope,
        ).row(0, named=True)
        out["revenue"] = row["revenue"]
        out["margin"] = row["margin"]
        out["margin_orders"] = row["orders"]
        out["goods_cost_estimated"] = row["goods_cost_estimated"]
        out["margin_rate"] = (
            float(row["margin"]) / float(row["revenue"]) if row["revenue"] else None
        )
    if "marts.fct_freight_audit_invoices" in names:
        w = shipment_where(f, date_column="delivered_at")
        row = query(
            f"""select sum(i.invoiced_reporting_amount) as freight_cost,
                count(distinct i.shipment_id) as shipments_invoiced,
                any_value(i.reporting_currency) as currency
            from marts.fct_freight_audit_invoices as i
            inner join marts.fct_shipments as s on s.shipment_id = i.shipment_id
            where not i.is_duplicate and not i.is_unmatched and {w.sql}""",
            w.params,
            scope=scope,
        ).row(0, named=True)
        n = row["shipments_invoiced"]
        out["freight_cost"] = row["freight_cost"]
        out["currency"] = row["currency"]
        out["cost_per_shipment"] = float(row["freight_cost"]) / n if n else None
    return out or None


def _first(columns: list[str], candidates: tuple[str, ...]) -> str | None:
    return next((c for c in candidates if c in columns), None)


def columns_of(table: str, scope: Scope = ALL) -> list[str]:
    schema, name = table.split(".")
    return query(
        """select column_name from duckdb_columns() where schema_name = ? and table_name = ?
        order by column_index""",
        [schema, name],
        scope=scope,
    )["column_name"].to_list()


# --------------------------------------------------------------------------------------------
# carriers


SCORECARD = "marts.rpt_carrier_scorecard"
#: The scorecard's money columns: summed over cells, then divided as the mart divides them
#: (cost per shipment = payable / shipments_invoiced, per kg = payable / invoiced_gross_weight_kg).
SCORECARD_MONEY_SUMS = (
    "payable_reporting_amount",
    "shipments_invoiced",
    "invoiced_gross_weight_kg",
)
SCORECARD_MONEY = {
    "cost_per_shipment_reporting_amount": ("payable_reporting_amount", "shipments_invoiced"),
    "cost_per_kg_reporting_amount": ("payable_reporting_amount", "invoiced_gross_weight_kg"),
}


def scorecard_weights(project: Path | None = None) -> dict[str, float]:
    """The composite weights the scorecard was built with: dbt var carrier_scorecard_weights."""
    import yaml

    from waybill.settings import PROJECT_ROOT

    path = project or PROJECT_ROOT / "dbt_project" / "dbt_project.yml"
    doc = yaml.safe_load(path.read_text())
    return {
        k: float(v) for k, v in (doc.get("vars", {}).get("carrier_scorecard_weights") or {}).items()
    }


def carrier_ranking(f: Filters, scope: Scope = ALL) -> pl.DataFrame | None:
    """One row per carrier from rpt_carrier_scorecard over the filtered months, lanes and modes:
    volume, every KPI's numerator and denominator summed (never averaged rates) and its rate,
    and the composite rolled up the way the mart computes it (weights of the components present,
    renormalised). None when the snapshot has no scorecard."""
    if SCORECARD not in tables(scope):
        return None
    cols = columns_of(SCORECARD, scope)
    stems = [
        c.removesuffix("_numerator")
        for c in cols
        if c.endswith("_numerator") and c.removesuffix("_numerator") + "_denominator" in cols
    ]
    money = [c for c in SCORECARD_MONEY_SUMS if c in cols]
    w = _Where()
    if f.carriers:
        w.parts.append(_in("carrier_code", f.carriers, w.params))
    if f.lanes:
        w.parts.append(_in("lane", f.lanes, w.params))
    if f.modes:
        w.parts.append(_in("transport_mode", f.modes, w.params))
    _date_range(w, "month_start_date", f, by_month=True)
    sums = "".join(
        f", sum({p}_numerator)::bigint as {p}_numerator"
        f", sum({p}_denominator)::bigint as {p}_denominator"
        for p in stems
    )
    sums += "".join(f", sum({c}) as {c}" for c in money)
    sums += "".join(
        f", sum({a}) / nullif(sum({b}), 0) as {name}"
        for name, (a, b) in SCORECARD_MONEY.items()
        if a in money and b in money
    )
    df = query(
        f"""select carrier_code, any_value(carrier_name) as carrier_name,
            sum(shipments)::bigint as shipments,
            sum(shipments_delivered)::bigint as shipments_delivered,
            count(distinct lane) as lanes,
            sum(transit_time_days_total) / nullif(sum(transit_shipments), 0)
                as transit_time_days_mean
            {sums}
        from {SCORECARD} where {w.sql}
        group by carrier_code""",
        w.params,
        scope=scope,
    )
    rates = [
        (pl.col(f"{p}_numerator") / pl.col(f"{p}_denominator").replace(0, None)).alias(f"{p}_rate")
        for p in stems
    ]
    df = df.with_columns(rates)
    score, weight = pl.lit(0.0), pl.lit(0.0)
    for name, wt in scorecard_weights().items():
        stem, invert = (name, False) if name in stems else (name.removesuffix("_free"), True)
        if stem not in stems:
            continue  # a component this snapshot's scorecard does not have
        rate = pl.col(f"{stem}_rate")
        present = pl.col(f"{stem}_denominator") > 0
        score += pl.when(present).then(wt * ((1 - rate) if invert else rate)).otherwise(0.0)
        weight += pl.when(present).then(wt).otherwise(0.0)
    df = df.with_columns(
        (100 * score / pl.when(weight > 0).then(weight)).round(1).alias("composite_score")
    )
    first = ["carrier_code", "carrier_name", "shipments", "shipments_delivered", "lanes"]
    rate_cols = [f"{p}_rate" for p in stems]
    rest = [c for c in df.columns if c not in first + rate_cols + ["composite_score"]]
    return df.select(first + ["composite_score"] + rate_cols + rest).sort(
        ["composite_score", "shipments"], descending=True, nulls_last=True
    )


#: Outliers drawn as points per mode, most extreme first (the box itself is pre-aggregated).
TRANSIT_OUTLIER_POINTS = 300


def carrier_transit_times(carrier: str, f: Filters, scope: Scope = ALL) -> dict[str, pl.DataFrame]:
    """The carrier's transit-time distribution per mode, computed in the snapshot so the page
    sends a box per mode and at most ``TRANSIT_OUTLIER_POINTS`` points, not every shipment.

    ``stats``: shipments, mean, min, max, quartiles (``quantile_cont``, linear interpolation) and
    Tukey's fences (the most extreme transit times within 1.5 x IQR of the box), with the count of
    outliers beyond them; ``outliers``: the most extreme outlying shipments with their lane and
    service, for the hover."""
    w = shipment_where(f, date_column="delivered_at")
    w.parts.append("s.carrier_code = ?")
    w.params.append(carrier)
    transits = f"""transits as (
            select shipment_id, transport_mode, lane, service_level, transit_time_days as days
            from marts.fct_shipments as s
            where transit_time_days is not null and {w.sql}),
        box as (
            select transport_mode, quantile_cont(days, 0.25) as q1,
                quantile_cont(days, 0.75) as q3
            from transits group by transport_mode),
        fenced as (
            select t.*, b.q1, b.q3,
                t.days < b.q1 - 1.5 * (b.q3 - b.q1)
                    or t.days > b.q3 + 1.5 * (b.q3 - b.q1) as is_outlier
            from transits as t join box as b using (transport_mode))"""
    stats = query(
        f"""with {transits}
        select transport_mode, count(*) as shipments, avg(days) as mean,
            min(days) as min, any_value(q1) as q1, median(days) as median,
            any_value(q3) as q3, max(days) as max,
            min(days) filter (where not is_outlier) as lower_fence,
            max(days) filter (where not is_outlier) as upper_fence,
            count(*) filter (where is_outlier) as outliers
        from fenced group by transport_mode order by transport_mode""",
        w.params,
        scope=scope,
    )
    outliers = query(
        f"""with {transits}
        select shipment_id, transport_mode, lane, service_level,
            round(days, 2) as transit_time_days
        from fenced where is_outlier
        qualify row_number() over (
            partition by transport_mode
            order by greatest(q1 - days, days - q3) desc, shipment_id) <= ?
        order by transport_mode, transit_time_days""",
        [*w.params, TRANSIT_OUTLIER_POINTS],
        scope=scope,
    )
    return {"stats": stats, "outliers": outliers}


def carrier_lane_matrix(
    carrier: str, f: Filters, scope: Scope = ALL, top: int = 12
) -> pl.DataFrame:
    """Origin x destination: shipments delivered and the on-time delivery share. By country;
    when every lane is inside one country pair (Olist: Brazilian states) by location instead,
    the ``top`` busiest origins and destinations, the rest as "other"."""
    w = shipment_where(f, date_column="delivered_at")
    w.parts.append("s.carrier_code = ?")
    w.params.append(carrier)
    return query(
        f"""with s as (select * from marts.fct_shipments as s where is_delivered and {w.sql}),
        level as (
            select count(distinct origin_country) <= 1
                and count(distinct destination_country) <= 1 as by_location from s
        ),
        keyed as (
            select s.*,
                case when level.by_location then coalesce(origin_locode, '?')
                     else coalesce(origin_country, '?') end as o,
                case when level.by_location then coalesce(destination_locode, '?')
                     else coalesce(destination_country, '?') end as d,
                case when level.by_location then 'location' else 'country' end as level
            from s, level
        ),
        top_o as (select o from keyed group by o order by count(*) desc limit {int(top)}),
        top_d as (select d from keyed group by d order by count(*) desc limit {int(top)})
        select
            case when level = 'country' or o in (select o from top_o) then o else 'other' end
                as origin,
            case when level = 'country' or d in (select d from top_d) then d else 'other' end
                as destination,
            any_value(level) as level,
            count(*) as shipments_delivered,
            count(*) filter (where is_delivered_on_time) as shipments_on_time,
            count(*) filter (where is_delivered_on_time) * 1.0
                / nullif(count(*) filter (where is_delivered_on_time is not null), 0)
                as on_time_delivery_rate,
            avg(transit_time_days) as transit_time_days_mean
        from keyed
        group by 1, 2 order by 1, 2""",
        w.params,
        scope=scope,
    )


def exception_reasons(carrier: str | None, f: Filters, scope: Scope = ALL) -> pl.DataFrame:
    """Exception events by type and responsible party for the filtered shipments."""
    w = shipment_where(f, date_column="coalesce(delivered_at, current_status_at)")
    if carrier:
        w.parts.append("s.carrier_code = ?")
        w.params.append(carrier)
    return query(
        f"""select coalesce(e.exception_type, 'UNSPECIFIED') as exception_type,
            coalesce(e.responsible_party, 'UNKNOWN') as responsible_party,
            count(*) as events, count(distinct e.shipment_id) as shipments
        from marts.fct_shipment_events as e
        inner join marts.fct_shipments as s on s.shipment_id = e.shipment_id
        where e.is_exception and {w.sql}
        group by all order by events desc""",
        w.params,
        scope=scope,
    )


def carrier_finance(carrier: str, f: Filters, scope: Scope = ALL) -> pl.DataFrame | None:
    """Per month: invoice accuracy and cost per shipment / kg for one carrier from
    rpt_carrier_scorecard, the grain of every other scorecard component (a shipment's invoices
    count in the month of its planned pickup; lanes and modes summed: numerators, denominators
    and amounts, then divided as the mart divides them). None when the snapshot's scorecard has
    no invoice columns (an older waybill)."""
    if SCORECARD not in tables(scope):
        return None
    cols = columns_of(SCORECARD, scope)
    need = ("invoice_accuracy_numerator", "invoice_accuracy_denominator", *SCORECARD_MONEY_SUMS)
    if any(c not in cols for c in need):
        return None
    w = _Where(["carrier_code = ?"], [carrier])
    if f.lanes:
        w.parts.append(_in("lane", f.lanes, w.params))
    if f.modes:
        w.parts.append(_in("transport_mode", f.modes, w.params))
    if f.start:
        w.parts.append("month_start_date >= date_trunc('month', ?::date)")
        w.params.append(f.start)
    if f.end:
        w.parts.append("month_start_date <= ?")
        w.params.append(f.end)
    currency = "any_value(reporting_currency)" if "reporting_currency" in cols else "null"
    return query(
        f"""select month_start_date, {currency}::varchar as reporting_currency,
            sum(invoice_accuracy_numerator)::bigint as invoice_accuracy_numerator,
            sum(invoice_accuracy_denominator)::bigint as invoice_accuracy_denominator,
            sum(invoice_accuracy_numerator) / nullif(sum(invoice_accuracy_denominator), 0)
                as invoice_accuracy_rate,
            sum(payable_reporting_amount) as payable_reporting_amount,
            sum(shipments_invoiced)::bigint as shipments_invoiced,
            sum(invoiced_gross_weight_kg) as invoiced_gross_weight_kg,
            sum(payable_reporting_amount) / nullif(sum(shipments_invoiced), 0)
                as cost_per_shipment_reporting_amount,
            sum(payable_reporting_amount) / nullif(sum(invoiced_gross_weight_kg), 0)
                as cost_per_kg_reporting_amount
        from {SCORECARD} where {w.sql}
        group by month_start_date
        having sum(invoice_accuracy_denominator) > 0 or sum(shipments_invoiced) > 0
        order by month_start_date""",
        w.params,
        scope=scope,
    )


# --------------------------------------------------------------------------------------------
# shipment explorer


def search_shipments(text: str, f: Filters = NO_FILTERS, scope: Scope = ALL, limit: int = 200):
    """Shipments whose id, order id, tracking number or carrier reference contains ``text``."""
    w = shipment_where(f)
    needle = f"%{text.strip()}%"
    return query(
        f"""with hits as (
            select shipment_id from marts.fct_shipments
            where shipment_id ilike ? or tracking_number ilike ?
            union
            select shipment_id from {_BRIDGE} as b where order_id ilike ?
            union
            select shipment_id from marts.fct_shipment_events
            where carrier_shipment_ref ilike ? and shipment_id is not null
        )
        select s.shipment_id, s.tracking_number, s.carrier_code, s.transport_mode, s.lane,
            s.current_status, s.current_status_at, s.exception_count, s.delivered_at,
            (select string_agg(distinct b.order_id, ', ') from {_BRIDGE} as b
             where b.shipment_id = s.shipment_id) as order_ids
        from marts.fct_shipments as s
        where s.shipment_id in (select shipment_id from hits) and {w.sql}
        order by s.current_status_at desc nulls last
        limit {int(limit)}""",
        [needle] * 4 + w.params,
        scope=scope,
    )


def shipment_header(shipment_id: str, scope: Scope = ALL) -> dict | None:
    df = query("select * from marts.fct_shipments where shipment_id = ?", [shipment_id], scope)
    return df.row(0, named=True) if df.height else None


def shipment_orders(shipment_id: str, scope: Scope = ALL) -> pl.DataFrame:
    return query(
        f"""select o.order_id, o.customer_id, o.created_at, o.promised_delivery_end_at,
            o.is_on_time, o.is_in_full, o.is_perfect_order
        from {_BRIDGE} as b inner join marts.fct_orders as o on o.order_id = b.order_id
        where b.shipment_id = ? order by o.order_id""",
        [shipment_id],
        scope,
    )


def shipment_milestones(shipment_id: str, scope: Scope = ALL) -> pl.DataFrame:
    return query(
        """select milestone, milestone_sequence, planned_at, estimated_at, actual_at,
            actual_source, actual_raw_code, actual_location_locode, is_out_of_order,
            is_actual_from_fallback_code
        from marts.fct_shipment_milestones where shipment_id = ?
        order by milestone_sequence, milestone""",
        [shipment_id],
        scope,
    )


def shipment_events(shipment_id: str, scope: Scope = ALL) -> pl.DataFrame:
    return query(
        """select event_at, received_at, source, code_list, raw_code, raw_reason_code, milestone,
            classifier, is_exception, exception_type, responsible_party, location_locode,
            event_local, event_time_zone, source_file_name, source_event_id
        from marts.fct_shipment_events where shipment_id = ?
        order by event_at nulls last, received_at""",
        [shipment_id],
        scope,
    )


# --------------------------------------------------------------------------------------------
# exceptions and alerts

ALERTS = "marts.rpt_shipment_alerts"


def alerts(f: Filters, scope: Scope = ALL) -> pl.DataFrame | None:
    """Open alerts from rpt_shipment_alerts (the mart owns the rules and the as-of time), oldest
    and most valuable first, under the filter bar except the period. None without the mart."""
    if ALERTS not in tables(scope):
        return None
    w = shipment_where(f, alias="a")
    # the converted value arrived with a later waybill: an older snapshot shows it empty
    converted = "goods_value_reporting_amount" in columns_of(ALERTS, scope)
    reporting = (
        "a.goods_value_reporting_amount, a.reporting_currency"
        if converted
        else "null::decimal(18, 2) as goods_value_reporting_amount, null::varchar as reporting_currency"
    )
    return query(
        f"""select a.alert_type, a.shipment_id, a.order_id, a.customer_id, a.carrier_code,
            a.transport_mode, a.lane, a.exception_type, a.responsible_party,
            a.alert_description, a.opened_at, a.as_of_at, a.age_hours, a.order_count,
            {reporting},
            round(a.goods_value_amount, 2) as goods_value_amount, a.goods_value_currency
        from {ALERTS} as a
        where {w.sql}
        order by a.age_hours desc nulls last, goods_value_reporting_amount desc nulls last""",
        w.params,
        scope=scope,
    )


# --------------------------------------------------------------------------------------------
# finance

FINANCE_MARTS = (
    "fct_freight_audit_invoices",
    "fct_freight_audit_lines",
    "fct_landed_cost_lines",
    "fct_order_margin",
    "rpt_receivables_aging",
    "rpt_payables_aging",
    "rpt_carrier_cost_monthly",
)


def finance_tables(scope: Scope = ALL) -> dict[str, int | None]:
    """Rows in each finance mart (DuckDB's table statistics), None when it is not published."""
    sizes = dict(
        query(
            """select table_name, estimated_size from duckdb_tables()
            where schema_name = 'marts' and not temporary""",
            scope=scope,
        ).iter_rows()
    )
    return {m: sizes.get(m) for m in FINANCE_MARTS}


#: Per finance mart: the date the period filter applies to (None: the aging reports are what
#: is open as of the snapshot, like the alerts, so an old unpaid invoice never drops out of
#: view; a ``*_month`` column is compared by month), how a carrier, customer, mode or lane
#: filter reaches it when it is not applied to the mart's own column (through its
#: ``shipment_id``: fct_shipments, shipment_where; its ``order_id``: fct_orders, order_where;
#: None: not at all), and which filters may use the mart's own column. fct_order_margin names
#: one carrier and lane per order (the greatest when several), so an order's carriers, modes and
#: lanes go through its shipments, as on the other order-based pages.
_OWN_COLUMN = {
    "customers": "customer_id",
    "carriers": "carrier_code",
    "modes": "transport_mode",
    "lanes": "lane",
}
_ALL_OWN = frozenset(_OWN_COLUMN)
FINANCE_FILTERS: dict[str, tuple[str | None, str | None, frozenset[str]]] = {
    "fct_freight_audit_invoices": ("invoice_date", "shipment", _ALL_OWN),
    "fct_freight_audit_lines": ("invoice_date", "shipment", _ALL_OWN),
    "rpt_payables_aging": (None, "shipment", _ALL_OWN),
    "rpt_receivables_aging": (None, "order", frozenset({"customers"})),
    "fct_order_margin": ("order_date", "order", frozenset({"customers"})),
    "fct_landed_cost_lines": ("receipt_date", "order", frozenset({"customers"})),
    "rpt_carrier_cost_monthly": ("invoice_month", None, _ALL_OWN),
}


def finance_where(name: str, f: Filters, scope: Scope = ALL, alias: str = "m") -> _Where:
    """The filter bar on a finance mart (FINANCE_FILTERS): the period on its document date;
    customer, carrier, mode and lane on its own column where allowed, else through its shipment
    (an invoice of a shipment carrying the customer's orders) or order (an order with a
    shipment by the carrier). A filter a mart cannot reach (carrier cost by customer) is not
    applied: ``finance_unfiltered`` names it for the page."""
    date_column, link, own = FINANCE_FILTERS[name]
    columns = set(columns_of(f"marts.{name}", scope))
    w, linked = _Where(), {}
    for attr, column in _OWN_COLUMN.items():
        values = getattr(f, attr)
        if values and attr in own and column in columns:
            w.parts.append(_in(f"{alias}.{column}", values, w.params))
        elif values:
            linked[attr] = values
    if linked and link:
        # (where, table, key) of the shipment or order the document belongs to
        where, table, key = {
            "shipment": (shipment_where, "marts.fct_shipments", "shipment_id"),
            "order": (order_where, "marts.fct_orders", "order_id"),
        }[link]
        inner = where(Filters(**linked), alias="l")
        w.parts.append(
            f"""exists (select 1 from {table} as l
                where l.{key} = {alias}.{key} and {inner.sql})"""
        )
        w.params.extend(inner.params)
    if date_column and date_column not in columns:
        raise ValueError(f"marts.{name} has no {date_column}: publish with this waybill")
    if date_column:
        _date_range(w, f"{alias}.{date_column}", f, by_month=date_column.endswith("_month"))
    return w


def finance_unfiltered(name: str, f: Filters, scope: Scope = ALL) -> list[str]:
    """The filter bar's filters finance_where cannot apply to a mart (for the page to say)."""
    _date, link, own = FINANCE_FILTERS[name]
    if link is not None:
        return []
    columns = set(columns_of(f"marts.{name}", scope))
    return [
        attr.removesuffix("s")
        for attr, column in _OWN_COLUMN.items()
        if getattr(f, attr) and not (attr in own and column in columns)
    ]


def mart(name: str, scope: Scope = ALL, f: Filters = NO_FILTERS) -> pl.DataFrame:
    """A published finance mart under the filter bar (finance_where), rows as they are."""
    if name not in FINANCE_MARTS:
        raise ValueError(f"not a dashboard mart: {name}")
    w = finance_where(name, f, scope)
    return query(f"select * from marts.{name} as m where {w.sql}", w.params, scope=scope)


#: Aging buckets in their natural order (the marts' accepted values).
AGING_BUCKETS = ("NOT_DUE", "0-30", "31-60", "61-90", ">90")


#: Audit lines the finance page lists (flagged first); the freight-audit-exceptions export
#: has all of them.
AUDIT_LINES_SHOWN = 5_000


def freight_audit_lines(f: Filters, scope: Scope = ALL) -> tuple[pl.DataFrame, int]:
    """fct_freight_audit_lines under the filter bar, flagged lines first (then newest), at most
    AUDIT_LINES_SHOWN of them, and how many there are: at 1 M orders the mart has millions of
    lines, which no page should carry."""
    w = finance_where("fct_freight_audit_lines", f, scope)
    total = query(
        f"select count(*) as n from marts.fct_freight_audit_lines as m where {w.sql}",
        w.params,
        scope=scope,
    )["n"][0]
    shown = query(
        f"""select * from marts.fct_freight_audit_lines as m where {w.sql}
        order by m.line_status in ('MATCHED', 'WITHIN_TOLERANCE'), m.invoice_date desc,
            m.freight_audit_line_id
        limit {AUDIT_LINES_SHOWN}""",
        w.params,
        scope=scope,
    )
    return shown, total


def freight_audit_by_status(
    scope: Scope = ALL, by_carrier: bool = False, f: Filters = NO_FILTERS
) -> pl.DataFrame:
    """Carrier invoices per audit status (and carrier): count and reporting-currency amounts,
    from fct_freight_audit_invoices under the filter bar (finance_where)."""
    by = "carrier_code, invoice_status" if by_carrier else "invoice_status"
    w = finance_where("fct_freight_audit_invoices", f, scope)
    return query(
        f"""select {by}, count(*) as invoices,
            sum(invoiced_reporting_amount) as invoiced_reporting_amount,
            sum(expected_reporting_amount) as expected_reporting_amount,
            sum(invoiced_reporting_amount) - sum(expected_reporting_amount)
                as variance_reporting_amount,
            any_value(reporting_currency) as reporting_currency
        from marts.fct_freight_audit_invoices as m where {w.sql}
        group by {by} order by {by}""",
        w.params,
        scope=scope,
    )


def _bucket_order(column: str = "aging_bucket") -> str:
    return f"list_position({list(AGING_BUCKETS)}, {column})"


def receivables_aging(scope: Scope = ALL, f: Filters = NO_FILTERS) -> pl.DataFrame:
    """AR per aging bucket: documents, open amount, unbilled deliveries (rpt_receivables_aging)."""
    w = finance_where("rpt_receivables_aging", f, scope)
    return query(
        f"""select aging_bucket, count(*) as rows,
            sum(open_reporting_amount) as open_reporting_amount,
            count(*) filter (where is_unbilled_delivered) as unbilled_delivered,
            count(*) filter (where is_billed_without_pod) as billed_without_pod,
            any_value(reporting_currency) as reporting_currency
        from marts.rpt_receivables_aging as m where {w.sql} group by aging_bucket
        order by {_bucket_order()}""",
        w.params,
        scope=scope,
    )


def payables_aging(scope: Scope = ALL, f: Filters = NO_FILTERS) -> pl.DataFrame:
    """AP per aging bucket and payable status: invoiced, approved and disputed amounts."""
    w = finance_where("rpt_payables_aging", f, scope)
    return query(
        f"""select aging_bucket, payable_status, count(*) as rows,
            sum(invoiced_reporting_amount) as invoiced_reporting_amount,
            sum(approved_reporting_amount) as approved_reporting_amount,
            sum(disputed_reporting_amount) as disputed_reporting_amount,
            any_value(reporting_currency) as reporting_currency
        from marts.rpt_payables_aging as m where {w.sql} group by aging_bucket, payable_status
        order by {_bucket_order()}, payable_status""",
        w.params,
        scope=scope,
    )


MARGIN_AMOUNTS = (
    "net_revenue_reporting_amount",
    "landed_cost_excl_freight_duty_reporting_amount",
    "outbound_freight_reporting_amount",
    "accessorial_reporting_amount",
    "duty_reporting_amount",
    "contribution_margin_reporting_amount",
)


def margin_by(dimension: str | None, scope: Scope = ALL, f: Filters = NO_FILTERS) -> pl.DataFrame:
    """fct_order_margin summed over all orders (dimension None) or per customer_id / lane:
    orders, provisional orders, orders whose goods are valued at price (no unit cost), every
    amount, margin % = margin / net revenue."""
    if dimension not in (None, "customer_id", "lane", "carrier_code"):
        raise ValueError(f"cannot group margin by {dimension}")
    sums = ", ".join(f"sum({c}) as {c}" for c in MARGIN_AMOUNTS)
    key = f"{dimension}, " if dimension else ""
    w = finance_where("fct_order_margin", f, scope)
    return query(
        f"""select {key}count(*) as orders, count(*) filter (where is_provisional)
                as provisional_orders,
            count(*) filter (where is_goods_cost_estimated) as goods_cost_estimated_orders,
            {sums},
            sum(contribution_margin_reporting_amount)
                / nullif(sum(net_revenue_reporting_amount), 0) as contribution_margin_rate,
            any_value(reporting_currency) as reporting_currency
        from marts.fct_order_margin as m where {w.sql}
        {f"group by {dimension} order by contribution_margin_reporting_amount" if dimension else ""}
        """,
        w.params,
        scope=scope,
    )


LANDED_COST_AMOUNTS = (
    "goods_value_reporting_amount",
    "freight_reporting_amount",
    "insurance_reporting_amount",
    "duty_reporting_amount",
    "import_tax_reporting_amount",
    "brokerage_reporting_amount",
    "handling_reporting_amount",
)


def landed_cost_breakdown(scope: Scope = ALL, f: Filters = NO_FILTERS) -> pl.DataFrame:
    """Landed cost per component and Incoterm over the order lines under the filter bar
    (fct_landed_cost_lines)."""
    w = finance_where("fct_landed_cost_lines", f, scope)
    sums = ", ".join(f"sum({c}) as {c}" for c in LANDED_COST_AMOUNTS)
    by_incoterm = query(
        f"""select incoterm, {sums} from marts.fct_landed_cost_lines as m where {w.sql}
        group by incoterm""",
        w.params,
        scope=scope,
    )
    return (
        by_incoterm.unpivot(
            index="incoterm", variable_name="component", value_name="reporting_amount"
        )
        .with_columns(pl.col("component").str.strip_suffix("_reporting_amount"))
        .sort("incoterm", "component")
    )


# --------------------------------------------------------------------------------------------
# data quality


def snapshot_info(scope: Scope = ALL, snapshot: Path | None = None) -> dict | None:
    df = query(
        "select run_id, published_at, tables from meta.snapshot_info",
        scope=scope,
        snapshot=snapshot,
    )
    return df.row(0, named=True) if df.height else None


def load_summary(snapshot: Path | None = None) -> pl.DataFrame:
    return query(LOAD_SUMMARY_SQL, snapshot=snapshot)


def quarantine_by_reason(snapshot: Path | None = None) -> pl.DataFrame:
    return query(
        """select feed, rule, field, count(*) as rows, any_value(reason) as example_reason,
                  any_value(regexp_replace(source_file, '^(.*/)?landing/', '') || ' @ ' || position)
                      as example_position
        from meta.quarantine group by feed, rule, field order by rows desc""",
        snapshot=snapshot,
    )


def load_log(snapshot: Path | None = None) -> pl.DataFrame:
    return query(
        """select feed, regexp_replace(source_file, '^(.*/)?landing/', '') as file, status,
            rows_read, rows_loaded, rows_quarantined, error, started_at, finished_at, run_id
        from meta.load_log order by finished_at desc, feed, source_file""",
        snapshot=snapshot,
    )


def freshness(snapshot: Path | None = None) -> pl.DataFrame:
    """Per feed: the newest file loaded and how old it was when the snapshot was published."""
    return query(
        """select l.feed, max(l.finished_at) as last_loaded_at, count(*) as files,
            count(*) filter (where l.status = 'FAILED') as failed_files,
            round(date_diff('minute', max(l.finished_at), any_value(i.published_at)) / 60.0, 1)
                as hours_before_publish
        from meta.load_log as l, meta.snapshot_info as i
        where l.status <> 'SKIPPED'  -- a re-sent copy is no delivery
        group by l.feed order by l.feed""",
        snapshot=snapshot,
    )


def failed_files(snapshot: Path | None = None) -> pl.DataFrame:
    return query(
        """select feed, regexp_replace(source_file, '^(.*/)?landing/', '') as file, error, finished_at
        from meta.load_log
        where status = 'FAILED' order by feed, source_file""",
        snapshot=snapshot,
    )


def dq_results(snapshot: Path | None = None) -> pl.DataFrame | None:
    """meta.dq_results (one row per expectation per evaluation) when the snapshot has it."""
    if "meta.dq_results" not in tables(ALL, snapshot):
        return None
    cols = columns_of("meta.dq_results")
    when = _first(cols, ("checked_at", "run_at", "validated_at", "finished_at", "created_at"))
    return query(
        "select * from meta.dq_results" + (f" order by {when} desc" if when else ""),
        snapshot=snapshot,
    )


def dq_latest(snapshot: Path | None = None) -> pl.DataFrame | None:
    """The latest result of every check (failures first), when dq_results has the usual
    columns (check_name, asset, expectation, checked_at, passed)."""
    if "meta.dq_results" not in tables(ALL, snapshot):
        return None
    cols = set(columns_of("meta.dq_results"))
    if not {"check_name", "asset", "expectation", "checked_at", "passed"} <= cols:
        return None
    extra = [
        c for c in ("severity", "blocking", "observed_value", "threshold", "note") if c in cols
    ]
    return query(
        f"""select check_name, asset, expectation, passed, {", ".join(extra + ["checked_at"])}
        from meta.dq_results
        qualify row_number() over (
            partition by check_name, asset, expectation order by checked_at desc) = 1
        order by passed, check_name, asset, expectation""",
        snapshot=snapshot,
    )


def dq_history(snapshot: Path | None = None) -> pl.DataFrame | None:
    """Per evaluation (run, else check time to the minute): expectations checked and failed."""
    if "meta.dq_results" not in tables(ALL, snapshot):
        return None
    cols = set(columns_of("meta.dq_results"))
    if not {"checked_at", "passed"} <= cols:
        return None
    run = (
        "coalesce(run_id, strftime(checked_at, '%Y-%m-%d %H:%M'))"
        if "run_id" in cols
        else ("strftime(checked_at, '%Y-%m-%d %H:%M')")
    )
    severe = "and severity = 'error'" if "severity" in cols else ""
    return query(
        f"""select {run} as evaluation, min(checked_at) as checked_at,
            count(*) as expectations,
            count(*) filter (where not passed) as failed,
            count(*) filter (where not passed {severe}) as failed_blocking
        from meta.dq_results group by 1 order by checked_at""",
        snapshot=snapshot,
    )


def blocked_publication(snapshot: Path | None = None) -> pl.DataFrame | None:
    """Check results of a run whose failures stopped publication: the pipeline writes them to
    serving/dq_results.parquet when it keeps the old snapshot. None when that file is absent
    or older than the snapshot (a later run published)."""
    path = (snapshot or snapshot_path()).with_name("dq_results.parquet")
    snap = snapshot or snapshot_path()
    if not path.exists() or (snap.exists() and path.stat().st_mtime <= snap.stat().st_mtime):
        return None
    return pl.read_parquet(path)


def published_tables(scope: Scope = ALL, snapshot: Path | None = None) -> pl.DataFrame:
    return query(
        """select schema_name as schema, table_name, estimated_size as rows
        from duckdb_tables() where schema_name <> 'meta' and not temporary order by 1, 2""",
        scope=scope,
        snapshot=snapshot,
    )


# --------------------------------------------------------------------------------------------
# SQL workbench


class RefusedQuery(ValueError):
    """The statement is not a single read-only query."""


class QueryTimeout(RuntimeError):
    pass


def check_read_only(sql: str) -> None:
    """Refuse anything but one SELECT (or WITH ... SELECT) statement."""
    try:
        statements = duckdb.connect(":memory:").extract_statements(sql)
    except duckdb.Error as exc:
        raise RefusedQuery(f"cannot parse the query: {exc}") from exc
    if len(statements) != 1:
        raise RefusedQuery(f"one statement at a time, please (found {len(statements)})")
    kind = statements[0].type
    if kind != duckdb.StatementType.SELECT:
        raise RefusedQuery(f"only SELECT queries run here; this is {kind.name}")


def run_sql(
    sql: str,
    scope: Scope = ALL,
    timeout_s: float = 15.0,
    max_rows: int = 100_000,
    snapshot: Path | None = None,
) -> tuple[pl.DataFrame, bool]:
    """Run one read-only query; (rows, truncated). Interrupted after ``timeout_s``."""
    check_read_only(sql)
    with connect(scope, snapshot) as con:
        timed_out = threading.Event()

        def stop() -> None:
            timed_out.set()
            con.interrupt()

        timer = threading.Timer(timeout_s, stop)
        timer.start()
        try:
            rel = con.sql(sql)
            if rel is None:
                raise RefusedQuery("the statement returned no rows")
            if any("INTERVAL" in str(t) for t in rel.dtypes):
                # Arrow's interval type has no polars equivalent: show intervals as text.
                rel = rel.project(
                    ", ".join(
                        f'cast("{c}" as varchar) as "{c}"' if "INTERVAL" in str(t) else f'"{c}"'
                        for c, t in zip(rel.columns, rel.dtypes)
                    )
                )
            table = rel.limit(max_rows + 1).to_arrow_table()
        except duckdb.InterruptException as exc:
            raise QueryTimeout(
                f"the query ran longer than {timeout_s:g} s and was stopped"
            ) from exc
        except duckdb.Error:
            if timed_out.is_set():
                raise QueryTimeout(
                    f"the query ran longer than {timeout_s:g} s and was stopped"
                ) from None
            raise
        finally:
            timer.cancel()
    df = pl.from_arrow(table)
    return df.head(max_rows), df.height > max_rows


def catalog(scope: Scope = ALL, manifest: Path | None = None) -> pl.DataFrame:
    """Tables and columns the scope can query, with their documentation: the column comments
    in the snapshot, else the descriptions in the dbt manifest."""
    cols = query(
        """select c.schema_name as schema, c.table_name, c.column_name, c.data_type,
            c.comment as column_comment, t.comment as table_comment, c.column_index
        from duckdb_columns() as c
        inner join duckdb_tables() as t
            on t.database_name = c.database_name and t.schema_name = c.schema_name
           and t.table_name = c.table_name
        where not t.temporary and not t.internal
        order by 1, 2, c.column_index""",
        scope=scope,
    )
    docs = manifest_docs(manifest)
    rows = []
    for r in cols.iter_rows(named=True):
        node = docs.get((r["schema"], r["table_name"]), {})
        rows.append(
            {
                "schema": r["schema"],
                "table_name": r["table_name"],
                "column_name": r["column_name"],
                "data_type": r["data_type"],
                "table_description": r["table_comment"] or node.get("description") or "",
                "column_description": r["column_comment"]
                or node.get("columns", {}).get(r["column_name"], "")
                or "",
            }
        )
    return pl.DataFrame(
        rows,
        schema={
            k: pl.String
            for k in (
                "schema",
                "table_name",
                "column_name",
                "data_type",
                "table_description",
                "column_description",
            )
        },
    )


def manifest_docs(manifest: Path | None = None) -> dict[tuple[str, str], dict]:
    """(schema, table) -> description and column descriptions from dbt's manifest.json."""
    if manifest is None:
        from waybill.dbt import MANIFEST

        manifest = MANIFEST
    if not manifest.exists():
        return {}
    doc = json.loads(manifest.read_text())
    out = {}
    for node in doc.get("nodes", {}).values():
        if node.get("resource_type") not in ("model", "seed", "snapshot"):
            continue
        out[(node.get("schema"), node.get("alias") or node.get("name"))] = {
            "description": (node.get("description") or "").strip(),
            "columns": {
                name: (col.get("description") or "").strip()
                for name, col in node.get("columns", {}).items()
            },
        }
    return out


# --------------------------------------------------------------------------------------------
# exports


def export_frames(scope: Scope = ALL) -> dict[str, pl.DataFrame]:
    """The reports ``waybill export`` writes (waybill.exports.REPORTS: same mart, row filter and
    order), read through this scope's connection, so a tenant gets its own rows only and no
    report on a table its database does not hold."""
    from waybill import exports

    names = tables(scope)
    out = {}
    with connect(scope) as con:
        for name, spec in exports.REPORTS.items():
            if spec.table in names:
                out[name] = exports.read_report_from(con, name)
    return out


def export_counts(scope: Scope = ALL) -> dict[str, int]:
    """Rows of each report ``waybill export`` writes that this scope's database holds."""
    from waybill import exports

    names = tables(scope)
    out = {}
    for name, spec in exports.REPORTS.items():
        if spec.table in names:
            sql = f"select count(*) as n from {spec.table} where ({spec.where})"
            out[name] = query(sql, scope=scope)["n"][0]
    return out


def export_bytes(report: str, fmt: str, scope: Scope = ALL) -> bytes:
    """One report as the CLI writes it (XLSX with the same summary sheet), for a download."""
    import io

    from waybill import exports

    if exports.REPORTS[report].table not in tables(scope):
        raise ValueError(f"{report}: not in this snapshot")
    with connect(scope) as con:
        df = exports.read_report_from(con, report)
    buf = io.BytesIO()
    exports.write_to(df, buf, fmt, report, {}, snapshot_path())
    return buf.getvalue()
