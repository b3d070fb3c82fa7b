"""Nothing new, nothing done: is the published snapshot already built from what the warehouse
holds now?

A build's inputs are the loaded files (``meta.load_log``: any new file, loaded or failed, adds a
row), the dbt project (models, macros, seeds, tests, vars in ``dbt_project.yml``) and the Python
that shapes the snapshot (publish, exports, data-quality suites). Their fingerprint is recorded
in ``meta.build_state`` when a snapshot is published. A run whose fingerprint equals the last
published one skips the dbt build, the mart checks, the publish and the exports; ingestion and
the checks on the raw feeds (contract, last delivery, freshness) still run, because they matter
most when nothing arrives. ``waybill run --full-refresh`` ignores the record.

``SCHEMA_VERSION`` is part of the fingerprint: a warehouse built by a version with a different
layout is rebuilt on its first run, never served as it is.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from waybill.settings import DBT_PROJECT_DIR, PROJECT_ROOT

#: Bump when the warehouse or snapshot layout changes in a way an older build cannot serve.
SCHEMA_VERSION = 1

#: Run tag that makes the dbt step rebuild even when nothing changed (`waybill run --full-refresh`).
FULL_REFRESH_TAG = "waybill/full_refresh"

_DBT_INPUTS = ("dbt_project.yml", "profiles.yml", "models", "macros", "seeds", "tests")
_CODE_INPUTS = ("waybill/publish.py", "waybill/exports.py", "expectations")

BUILD_STATE_DDL = """
create table if not exists meta.build_state (
    fingerprint varchar not null,   -- what the published snapshot was built from
    run_id varchar,
    load_id bigint,                 -- the newest meta.load_log row it includes
    schema_version integer not null,
    published_at timestamp not null -- UTC
)
"""


def _files(root: Path, names: tuple[str, ...]) -> list[Path]:
    out = []
    for name in names:
        path = root / name
        if path.is_file():
            out.append(path)
        elif path.is_dir():
            out += [
                p
                for p in path.rglob("*")
                if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
            ]
    return sorted(out)


def source_hash() -> str:
    """Content hash of the dbt project and the snapshot-shaping code (not of mtimes: a fresh
    checkout of the same commit gives the same hash)."""
    # the engine too: staging's _business_key is DuckDB's hash(), not promised across versions
    h = hashlib.sha256(f"duckdb {duckdb.__version__};".encode())
    for root, names in ((DBT_PROJECT_DIR, _DBT_INPUTS), (PROJECT_ROOT, _CODE_INPUTS)):
        for path in _files(root, names):
            h.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def fingerprint(con: duckdb.DuckDBPyConnection) -> tuple[str, int]:
    """(fingerprint of the build inputs, newest load_id) for the warehouse ``con`` holds."""
    # A re-sent copy (SKIPPED) changes no mart: it does not count as news.
    files, newest = con.execute(
        "select count(*), coalesce(max(load_id), 0) from meta.load_log where status <> 'SKIPPED'"
    ).fetchall()[0]
    h = hashlib.sha256(f"schema {SCHEMA_VERSION}; files {files}; newest {newest};".encode())
    h.update(source_hash().encode())
    return h.hexdigest()[:24], newest


def last_published(con: duckdb.DuckDBPyConnection) -> str | None:
    con.execute(BUILD_STATE_DDL)
    row = con.execute(
        "select fingerprint from meta.build_state order by published_at desc limit 1"
    ).fetchall()
    return row[0][0] if row else None


def up_to_date(con: duckdb.DuckDBPyConnection, snapshot: Path) -> tuple[bool, tuple[str, int]]:
    """(nothing to rebuild?, (current fingerprint, newest load_id)): the snapshot exists and was
    published from exactly these inputs."""
    inputs = fingerprint(con)
    return snapshot.exists() and last_published(con) == inputs[0], inputs


BUILD_INPUTS_DDL = """
create table if not exists meta.build_inputs (
    run_id varchar not null,        -- the run whose dbt step started from these inputs
    fingerprint varchar not null,
    load_id bigint,
    built_at timestamp not null     -- UTC
)
"""


def record_build_inputs(
    con: duckdb.DuckDBPyConnection, run_id: str, inputs: tuple[str, int] | None = None
) -> str:
    """Before dbt builds: what it is about to build from (``inputs`` as up_to_date returned
    them, else computed here). Publish records exactly this, so a file loaded by another run
    between this run's build and its publish is not counted as published (the next run builds
    it)."""
    current, newest = inputs or fingerprint(con)
    con.execute(BUILD_INPUTS_DDL)
    con.execute(
        "insert into meta.build_inputs values (?, ?, ?, ?)",
        [run_id, current, newest, datetime.now(UTC).replace(tzinfo=None)],
    )
    return current


def record_published(con: duckdb.DuckDBPyConnection, run_id: str | None) -> str | None:
    """Remember what the snapshot just published was built from: the inputs this run's dbt
    step recorded for a whole build (record_build_inputs). Without them (a publish on its own, a
    partial build) nothing is recorded, so the next run builds again: the safe direction."""
    con.execute(BUILD_INPUTS_DDL)
    built = con.execute(
        "select fingerprint, load_id from meta.build_inputs where run_id = ? "
        "order by built_at desc limit 1",
        [run_id],
    ).fetchall()
    if not built:
        return None
    current, newest = built[0]
    con.execute(BUILD_STATE_DDL)
    con.execute(
        "insert into meta.build_state values (?, ?, ?, ?, ?)",
        [current, run_id, newest, SCHEMA_VERSION, datetime.now(UTC).replace(tzinfo=None)],
    )
    return current


def published_by(con: duckdb.DuckDBPyConnection, run_id: str) -> bool:
    """Did run ``run_id`` publish a snapshot (False: it found nothing new, or was blocked)?"""
    try:
        sql = "select count(*) from meta.build_state where run_id = ?"
        return bool(con.execute(sql, [run_id]).fetchall()[0][0])
    except duckdb.CatalogException:
        return False  # a warehouse that never published


# --- incremental builds (dbt_project/macros/incremental.sql) -----------------------------------

#: Feeds the incremental models read without tracking which of their keys changed: a new load
#: of one forces a full build (stg_ref__carriers gives every event its carrier code and every
#: shipment its carrier name).
FULL_REFRESH_FEEDS = ("carriers",)

DBT_BUILDS_DDL = """
create table if not exists meta.dbt_builds (
    run_id varchar,
    load_id bigint not null,        -- the newest meta.load_log row the build included
    source_hash varchar not null,   -- the dbt project and snapshot-shaping code it was built with
    schema_version integer not null,
    full_refresh boolean not null,
    finished_at timestamp not null, -- UTC; only builds that completed are recorded
    since bigint,                   -- incremental: the load_id of the build it started after
    loads bigint                    -- meta.load_log rows up to load_id (fewer later: rows removed)
)
"""

#: source_hash of a meta.dbt_builds row written *before* a full build or a subset: until a whole
#: build completes after it, the tables are not what the last completed build left, so the next
#: build must be full (a full build killed half way, a subset that rebuilt some incremental
#: models whole and so lost the old references int_keys_changed looks up).
UNFINISHED = "unfinished"


@dataclass(frozen=True)
class BuildPlan:
    """How the dbt step builds: everything, or only what the loads after ``since`` touch."""

    full_refresh: bool
    reason: str
    load_id: int  # the newest load this build includes
    since: int | None = None  # the newest load the last completed build included

    def dbt_args(self) -> list[str]:
        if self.full_refresh:
            return ["--full-refresh"]
        if self.since is None:
            # incremental models recompute all their rows; what changed stays recorded
            return []
        return [
            "--vars",
            json.dumps({"incremental_since": self.since, "incremental_load_id": self.load_id}),
        ]

    def describe(self) -> str:
        if self.full_refresh:
            return f"full build ({self.reason})"
        if self.since is None:
            return f"selected models recomputed whole ({self.reason})"
        return f"incremental build: loads {self.since + 1}..{self.load_id} ({self.reason})"


def plan_build(con: duckdb.DuckDBPyConnection, load_id: int, force_full: bool = False) -> BuildPlan:
    """Full or incremental? Full when asked, on the first build, when the dbt project or the
    schema version changed since the last completed build, or when a feed in
    FULL_REFRESH_FEEDS received a new file; else incremental from that build's load_id."""
    if force_full:
        return BuildPlan(True, "asked for", load_id)
    con.execute(DBT_BUILDS_DDL)
    last = con.execute(
        "select load_id, source_hash, schema_version, loads from meta.dbt_builds "
        "order by finished_at desc limit 1"
    ).fetchall()
    if not last:
        return BuildPlan(True, "no completed build yet", load_id)
    since, built_hash, built_version, loads = last[0]
    if built_hash == UNFINISHED:
        return BuildPlan(True, "a full build or a subset of models did not complete", load_id)
    if loads is not None and _loads_up_to(con, since) < loads:
        return BuildPlan(True, "loads the last build included were removed", load_id)
    if built_version != SCHEMA_VERSION:
        return BuildPlan(True, f"schema version {built_version} -> {SCHEMA_VERSION}", load_id)
    if built_hash != source_hash():
        return BuildPlan(True, "the dbt project or the snapshot code changed", load_id)
    feeds = con.execute(
        "select distinct feed from meta.load_log where load_id > ? and status like 'LOADED%' "
        f"and feed in ({', '.join('?' for _ in FULL_REFRESH_FEEDS)}) order by feed",
        [since, *FULL_REFRESH_FEEDS],
    ).fetchall()
    if feeds:
        return BuildPlan(True, f"new {', '.join(f for (f,) in feeds)} file(s)", load_id)
    return BuildPlan(False, "the loads since the last completed build", load_id, since)


def _loads_up_to(con: duckdb.DuckDBPyConnection, load_id: int) -> int:
    return con.execute(
        "select count(*) from meta.load_log where load_id <= ?", [load_id]
    ).fetchall()[0][0]


def record_build(
    con: duckdb.DuckDBPyConnection, run_id: str | None, plan: BuildPlan, finished: bool = True
) -> None:
    """After a whole dbt build completed: the next incremental build starts after
    ``plan.load_id``. ``finished=False``, before a full build or a subset starts: until a whole
    build completes, the next one is full."""
    con.execute(DBT_BUILDS_DDL)
    con.execute(
        "insert into meta.dbt_builds values (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            run_id,
            plan.load_id,
            source_hash() if finished else UNFINISHED,
            SCHEMA_VERSION,
            plan.full_refresh,
            datetime.now(UTC).replace(tzinfo=None),
            plan.since,
            _loads_up_to(con, plan.load_id),
        ],
    )


def publish_since(con: duckdb.DuckDBPyConnection, run_id: str | None) -> int | None:
    """Can run ``run_id`` publish only what its build changed? The load_id its incremental
    build started after, when the published snapshot is exactly that earlier build's; None
    (publish everything) after a full build, without a build in this run, or when a build
    was never published (a blocked publication in between)."""
    con.execute(DBT_BUILDS_DDL)
    con.execute(BUILD_STATE_DDL)
    # only the newest build: another run's build since this one may have pruned its keys
    built = con.execute(
        "select full_refresh, since, run_id, source_hash from meta.dbt_builds "
        "order by finished_at desc limit 1"
    ).fetchall()
    if not built or built[0][2] != run_id or built[0][0] or built[0][1] is None:
        return None
    if built[0][3] == UNFINISHED:
        return None
    published = con.execute(
        "select load_id from meta.build_state order by published_at desc limit 1"
    ).fetchall()
    since = built[0][1]
    return since if published and published[0][0] == since else None
