"""The cache of tenant databases (dashboards/data.py ``_TenantDatabases``): bounded by the bytes
the databases hold, least recently used out first; one build per tenant however many of its
sessions ask at once; no lock held over a build, so other tenants read and build meanwhile; a
new snapshot retires the old version's databases. Threads, as Streamlit serves sessions; every
wait is on an event with a generous timeout, nothing is timed."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import duckdb
import pytest

from dashboards import data
from waybill.settings import SettingsError, byte_size, load_settings

CUSTOMERS = ("C1", "C2", "C3", "C4")
WAIT = 60  # seconds any wait may take before the test fails (never reached when it works)


def write_snapshot(path: Path, orders_per_customer: int) -> Path:
    """A small published snapshot: orders, their shipment lines and snapshot_info."""
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    con = duckdb.connect(str(tmp))
    try:
        con.execute("create schema marts; create schema staging; create schema meta")
        con.execute(
            """create table marts.fct_orders as
            select 'O' || c.i || '-' || o.i as order_id, 'C' || c.i as customer_id,
                   repeat('x', 40) || o.i as note
            from range(1, 5) c(i), range(?) o(i)""",
            [orders_per_customer],
        )
        con.execute(
            """create table staging.stg_oms__shipment_lines as
            select order_id, 'S' || order_id as shipment_id, customer_id from marts.fct_orders"""
        )
        con.execute("create table meta.snapshot_info as select 'test' as producer")
    finally:
        con.close()
    old = path.stat().st_mtime_ns if path.exists() else None
    os.replace(tmp, path)
    if old is not None:  # a publish always moves the version on, even within one clock tick
        os.utime(path, ns=(old + 10**9, old + 10**9))
    return path


@pytest.fixture
def snapshot(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("WAYBILL_DATA_DIR", str(tmp_path))  # dashboard_tmp goes here
    return write_snapshot(tmp_path / "waybill.duckdb", 2000)


def orders_of(cache: data._TenantDatabases, snapshot: Path, customer: str) -> int:
    with cache.cursor(snapshot, customer) as con:
        return con.execute("select count(*) from marts.fct_orders").fetchone()[0]


def wait_until(condition, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


class HeldBuilds:
    """``build_tenant_database`` counting its calls and, for the customers in ``hold``, waiting
    for ``release`` once it has started (``started[customer]`` is set then)."""

    def __init__(self, monkeypatch, hold=()) -> None:
        self.real = data.build_tenant_database
        self.calls: list[str] = []
        self.started = {c: threading.Event() for c in CUSTOMERS}
        self.release = threading.Event()
        self.hold = set(hold)
        monkeypatch.setattr(data, "build_tenant_database", self)

    def __call__(self, snapshot: Path, customer_id: str):
        self.calls.append(customer_id)
        self.started[customer_id].set()
        if customer_id in self.hold:
            assert self.release.wait(WAIT), "the held build was never released"
        return self.real(snapshot, customer_id)


def in_thread(fn, *args) -> tuple[threading.Thread, list]:
    """Run ``fn(*args)`` in a thread; the list receives its result or its exception."""
    out: list = []

    def run() -> None:
        try:
            out.append(fn(*args))
        except BaseException as exc:
            out.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, out


def test_sessions_of_one_tenant_asking_at_once_build_its_database_once(snapshot, monkeypatch):
    builds = HeldBuilds(monkeypatch, hold={"C1"})
    cache = data._TenantDatabases(max_bytes=10**9)
    sessions = [in_thread(orders_of, cache, snapshot, "C1") for _ in range(8)]
    assert builds.started["C1"].wait(WAIT)
    # every other session is waiting for that build, none has started its own
    wait_until(lambda: sum(b.waiters for b in cache._builds.values()) == 7, "7 waiting sessions")
    builds.release.set()
    for thread, out in sessions:
        thread.join(WAIT)
        assert out == [2000]
    assert builds.calls == ["C1"]
    stats = cache.stats()
    assert (stats["builds"], stats["databases"], stats["building"]) == (1, 1, 0)
    assert orders_of(cache, snapshot, "C1") == 2000 and builds.calls == ["C1"]  # a hit


def test_a_tenant_reads_and_another_builds_while_one_database_is_being_built(snapshot, monkeypatch):
    cache = data._TenantDatabases(max_bytes=10**9)
    assert orders_of(cache, snapshot, "C2") == 2000  # C2's database exists before
    builds = HeldBuilds(monkeypatch, hold={"C1"})
    held, held_out = in_thread(orders_of, cache, snapshot, "C1")
    assert builds.started["C1"].wait(WAIT)
    try:
        # C2 reads its own database and C3's is built, start to end, while C1's build is open
        for customer in ("C2", "C3"):
            thread, out = in_thread(orders_of, cache, snapshot, customer)
            thread.join(WAIT)
            assert out == [2000], f"{customer} was blocked by C1's build"
        assert held.is_alive() and cache.stats()["building"] == 1
    finally:
        builds.release.set()
    held.join(WAIT)
    assert held_out == [2000]
    assert builds.calls == ["C1", "C3"]


def test_builds_beyond_the_slots_wait_their_turn_while_reads_go_on(snapshot, monkeypatch):
    cache = data._TenantDatabases(max_bytes=10**9, build_slots=2)
    assert orders_of(cache, snapshot, "C4") == 2000
    builds = HeldBuilds(monkeypatch, hold={"C1", "C2"})
    held = [in_thread(orders_of, cache, snapshot, c) for c in ("C1", "C2")]
    assert builds.started["C1"].wait(WAIT) and builds.started["C2"].wait(WAIT)
    queued, queued_out = in_thread(orders_of, cache, snapshot, "C3")
    try:
        wait_until(lambda: cache.stats()["building"] == 3, "C3 asking for its database")
        thread, out = in_thread(orders_of, cache, snapshot, "C4")  # a read is not held up
        thread.join(WAIT)
        assert out == [2000]
        assert not builds.started["C3"].is_set()  # both slots taken: C3 has not started
    finally:
        builds.release.set()
    for thread, out in [*held, (queued, queued_out)]:
        thread.join(WAIT)
        assert out == [2000]
    assert sorted(builds.calls) == ["C1", "C2", "C3"]


def test_the_least_recently_used_databases_go_once_the_bytes_exceed_the_bound(snapshot):
    sizes = {}
    for customer in CUSTOMERS[:3]:
        con = data.build_tenant_database(snapshot, customer)
        sizes[customer] = data.database_bytes(con)
        con.close()
    assert min(sizes.values()) > data.TENANT_DATABASE_OVERHEAD
    # room for two of the three databases, not for three
    bound = sum(sizes.values()) - min(sizes.values()) // 2
    assert bound >= sum(sorted(sizes.values())[-2:])
    cache = data._TenantDatabases(max_bytes=bound)
    orders_of(cache, snapshot, "C1")
    orders_of(cache, snapshot, "C2")
    orders_of(cache, snapshot, "C1")  # C1 used last: C2 is now the least recently used
    orders_of(cache, snapshot, "C3")
    stats = cache.stats()
    assert (stats["databases"], stats["evictions"]) == (2, 1)
    assert stats["bytes"] == sizes["C1"] + sizes["C3"] <= bound
    cached = {key[2] for key in cache._dbs}
    assert cached == {"C1", "C3"}
    orders_of(cache, snapshot, "C2")  # back again: built again, C1 out now
    assert {key[2] for key in cache._dbs} == {"C3", "C2"}
    assert cache.stats()["builds"] == 4


def test_a_database_larger_than_the_bound_is_kept_alone_and_an_evicted_one_in_use_stays_open(
    snapshot,
):
    cache = data._TenantDatabases(max_bytes=1)
    with cache.cursor(snapshot, "C1") as held:
        orders_of(cache, snapshot, "C2")  # C1 evicted while its query is still open
        assert [key[2] for key in cache._dbs] == ["C2"]
        assert held.execute("select count(*) from marts.fct_orders").fetchone()[0] == 2000
        assert cache.stats()["bytes"] == cache_entry(cache, "C2").nbytes > 1
    # once its query has ended, the evicted database is closed
    assert cache.stats()["evictions"] == 1
    with pytest.raises(duckdb.ConnectionException):
        held.execute("select 1")


def cache_entry(cache: data._TenantDatabases, customer: str):
    return next((db for key, db in cache._dbs.items() if key[2] == customer), None)


def test_a_new_snapshot_retires_the_old_versions_databases(snapshot, monkeypatch):
    cache = data._TenantDatabases(max_bytes=10**9)
    monkeypatch.setattr(data, "TENANT_DATABASES", cache)
    scope = data.Scope("C1")
    count = "select count(*) as n from marts.fct_orders"
    assert data.query(count, scope=scope, snapshot=snapshot)["n"][0] == 2000
    assert data.query(count, scope=data.Scope("C2"), snapshot=snapshot)["n"][0] == 2000
    old = cache_entry(cache, "C1")
    write_snapshot(snapshot, 300)  # the pipeline publishes
    assert data.query(count, scope=scope, snapshot=snapshot)["n"][0] == 300
    stats = cache.stats()
    assert (stats["databases"], stats["outdated"], stats["builds"]) == (1, 2, 3)
    assert [key[1] for key in cache._dbs] == [data.snapshot_version(snapshot)]
    with pytest.raises(duckdb.ConnectionException):  # the old version's database is closed
        old.con.execute("select 1")
    assert data.query(count, scope=data.Scope("C2"), snapshot=snapshot)["n"][0] == 300


def test_a_failed_build_reaches_every_waiting_session_and_is_not_cached(snapshot, monkeypatch):
    builds = HeldBuilds(monkeypatch, hold={"C1"})
    cache = data._TenantDatabases(max_bytes=10**9)
    missing = snapshot.with_name("gone.duckdb")
    sessions = [in_thread(orders_of, cache, missing, "C1") for _ in range(3)]
    assert builds.started["C1"].wait(WAIT)
    wait_until(lambda: sum(b.waiters for b in cache._builds.values()) == 2, "2 waiting sessions")
    builds.release.set()
    for thread, out in sessions:
        thread.join(WAIT)
        assert len(out) == 1 and isinstance(out[0], duckdb.Error)
    assert builds.calls == ["C1"] and cache.stats()["databases"] == 0
    assert orders_of(cache, snapshot, "C1") == 2000  # the next ask builds again


def test_clear_retires_everything_and_a_build_under_way_is_served_but_not_cached(
    snapshot, monkeypatch
):
    cache = data._TenantDatabases(max_bytes=10**9)
    orders_of(cache, snapshot, "C2")
    builds = HeldBuilds(monkeypatch, hold={"C1"})
    held, out = in_thread(orders_of, cache, snapshot, "C1")
    assert builds.started["C1"].wait(WAIT)
    cache.clear()
    builds.release.set()
    held.join(WAIT)
    assert out == [2000]
    assert cache.stats()["databases"] == 0 and cache.stats()["bytes"] == 0


def test_the_bound_is_a_setting_in_bytes_or_a_share_of_ram(monkeypatch, tmp_path):
    assert load_settings(tmp_path).dashboard_tenant_cache_bytes == 1_000_000_000
    monkeypatch.setenv("WAYBILL_DASHBOARD_TENANT_CACHE", "512MiB")
    assert load_settings(tmp_path).dashboard_tenant_cache_bytes == 512 * 2**20
    assert data._TenantDatabases().max_bytes == 512 * 2**20  # read when a database is added
    assert byte_size("1.5GB") == 1_500_000_000 and byte_size("2048") == 2048
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    assert abs(byte_size("10%") - ram // 10) <= 1
    monkeypatch.setenv("WAYBILL_DASHBOARD_TENANT_CACHE", "lots")
    with pytest.raises(SettingsError, match="WAYBILL_DASHBOARD_TENANT_CACHE"):
        load_settings(tmp_path)
