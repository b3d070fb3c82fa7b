"""The data-quality part of ``waybill run``'s summary: what the run's checks found."""

from __future__ import annotations

import duckdb

from waybill.settings import Settings

SUMMARY_SQL = """
select asset, check_name, severity,
       count(*) filter (where not passed) as failed,
       count(*) as expectations,
       bool_or(blocking) as blocking,
       max(note) filter (where note like 'skipped:%') as skipped,
       max(note) filter (where note like 'carried over%') as carried_over
from meta.dq_results where run_id = ?
group by asset, check_name, severity order by asset, check_name, severity
"""

FAILURES_SQL = """
select asset, check_name, expectation, severity, observed_value, threshold, failing_sample
from meta.dq_results where run_id = ? and not passed
order by blocking desc, asset, check_name, expectation
"""


def check_summary(con: duckdb.DuckDBPyConnection, run_id: str) -> dict:
    """Counts and failed expectations of one run, from meta.dq_results."""
    have = con.execute(
        "select count(*) from information_schema.tables "
        "where table_schema = 'meta' and table_name = 'dq_results'"
    ).fetchall()[0][0]
    if not have:
        return {"checks": [], "failures": []}
    return {
        "checks": con.execute(SUMMARY_SQL, [run_id]).fetchall(),
        "failures": con.execute(FAILURES_SQL, [run_id]).fetchall(),
    }


def print_check_summary(settings: Settings, run_id: str) -> bool:
    """Print the run's check results; True if a blocking (error-severity) check failed."""
    if not settings.warehouse.exists():
        return False
    try:
        con = duckdb.connect(str(settings.warehouse), read_only=True)
    except duckdb.IOException as exc:
        print(f"\nno data-quality summary: {exc}")
        return False
    try:
        summary = check_summary(con, run_id)
    finally:
        con.close()
    checks = {}
    for asset, name, _severity, failed, _n, blocking, skipped, carried in summary["checks"]:
        state = checks.setdefault(
            (asset, name), {"failed": 0, "blocking": False, "skipped": None, "carried": None}
        )
        state["failed"] += failed
        state["blocking"] |= bool(blocking)
        state["skipped"] = state["skipped"] or skipped
        state["carried"] = state["carried"] or carried
    if not checks:
        print("\ndata-quality checks: none ran (see the log above)")
        return False
    blocking = sorted(k for k, v in checks.items() if v["blocking"])
    warned = sorted(k for k, v in checks.items() if v["failed"] and not v["blocking"])
    skipped = sorted(k for k, v in checks.items() if v["skipped"])
    passed = len(checks) - len(blocking) - len(warned) - len(skipped)
    carried = sum(1 for v in checks.values() if v["carried"])
    print(
        f"\ndata-quality checks: {len(checks)} run, {passed} passed, {len(warned)} warning(s), "
        f"{len(blocking)} blocking failure(s), {len(skipped)} skipped"
        + (
            f"; {carried} carried over from an earlier run (their table had no new load)"
            if carried
            else ""
        )
    )
    shown = 0
    for asset, name, expectation, severity, observed, threshold, sample in summary["failures"]:
        if shown >= 25:
            print(f"  ... and more: select * from meta.dq_results where run_id = '{run_id}'")
            break
        tag = "BLOCKING" if severity == "error" else "warning"
        line = f"  {tag:<8} {asset} {name}: {expectation} observed {observed} threshold {threshold}"
        if sample:
            line += f" e.g. {sample[:160]}"
        if checks.get((asset, name), {}).get("carried"):
            line += " (carried over: no new load)"
        print(line)
        shown += 1
    if blocking:
        print(
            "\npublication STOPPED by a blocking check: dashboards keep the last good snapshot. "
            "What to do: docs/data-quality.md"
        )
    return bool(blocking)
