"""Nothing new, nothing validated again (expectations/carry_over.py): a raw contract suite whose
table received no new load keeps its last outcome, says so, and keeps blocking when it failed;
a new load, rows deleted by hand or a changed definition validate again; the delivery suite
(freshness) runs every time, judged without GX (expectations/native.py) exactly as GX would."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import duckdb
import pytest

from expectations import carry_over
from expectations.core import Suite, expect, run_suite
from expectations.results import blocking_failures, ensure_dq_tables, store
from expectations.suites import contract_suite, delivery_suite, raw_suites
from ingestion.contracts import FEEDS
from ingestion.load import load_landing
from tests.test_quality import CUSTOMS_HEADER, GOOD_CUSTOMS, land_customs_deliveries
from waybill.settings import PROJECT_ROOT

CUSTOMS = FEEDS["customs"]


@pytest.fixture
def con(tmp_path: Path):
    c = duckdb.connect(str(tmp_path / "w.duckdb"))
    ensure_dq_tables(c)
    yield c
    c.close()


def _load(con, tmp_path: Path, name: str, *lines: str) -> None:
    folder = tmp_path / "landing" / CUSTOMS.folder
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text("\n".join([CUSTOMS_HEADER, *lines]) + "\n")
    load_landing(con, tmp_path / "landing")


def _evaluate(con, suite, run_id: str, carry: bool = True):
    outcome = carry_over.evaluate(con, suite, run_id, carry=carry)
    store(con, outcome, run_id)
    return outcome


def _stored(con, run_id: str, check: str = "contract") -> list[tuple]:
    return con.execute(
        """select expectation, passed, severity, blocking, observed_value, failing_sample,
                  rows_validated, note
        from meta.dq_results where run_id = ? and check_name = ? order by expectation""",
        [run_id, check],
    ).fetchall()


@pytest.fixture
def validations(monkeypatch) -> list[str]:
    """The suites actually validated (not carried over), in order."""
    seen: list[str] = []
    real = carry_over.run_suite_safely

    def counting(con, suite):
        seen.append(suite.key)
        return real(con, suite)

    monkeypatch.setattr(carry_over, "run_suite_safely", counting)
    return seen


def _plant_bad_row(con) -> None:
    """A row written behind the loader's back: a currency that does not exist, a negative duty."""
    con.execute(
        """insert into raw.customs_entries select * replace (
            'E2' as entry_number, 'ABC' as currency, '-5.00' as duty_amount,
            99 as _row_number) from raw.customs_entries"""
    )


def test_a_second_evaluation_with_no_new_load_carries_over_and_says_so(con, tmp_path, validations):
    _load(con, tmp_path, "c.csv", GOOD_CUSTOMS)
    suite = contract_suite(CUSTOMS)
    first = _evaluate(con, suite, "run-1")
    assert first.passed and first.carried_over is None
    [(load_id,)] = con.execute("select max(_load_id) from raw.customs_entries").fetchall()

    second = _evaluate(con, suite, "run-2")
    assert validations == [suite.key]  # validated once, carried the second time
    assert second.passed and second.rows_validated == 1
    assert second.carried_over.startswith("carried over from run run-1 of ")
    assert f"no new load into raw.customs_entries since load_id {load_id}" in second.carried_over
    # Stored again for this run: same findings, the note says where they come from.
    before, after = _stored(con, "run-1"), _stored(con, "run-2")
    assert [r[:7] for r in after] == [r[:7] for r in before]
    assert {r[7] for r in before} == {None}
    assert {r[7] for r in after} == {second.carried_over}
    # A third run carries from the run that validated, not from the carrying run.
    assert _evaluate(con, suite, "run-3").carried_over.startswith("carried over from run run-1 ")


def test_a_failing_contract_stays_failing_and_blocking_when_carried_over(
    con, tmp_path, validations
):
    _load(con, tmp_path, "c.csv", GOOD_CUSTOMS)
    _plant_bad_row(con)
    suite = contract_suite(CUSTOMS)
    first = _evaluate(con, suite, "run-1")
    assert first.blocks_publication
    second = _evaluate(con, suite, "run-2")
    assert validations == [suite.key] and second.carried_over
    assert second.blocks_publication and not second.passed
    failed = {o.expectation: o for o in second.outcomes if not o.passed}
    assert set(failed) == {
        "column_values_to_be_in_set(currency)",
        "column_values_to_be_between(duty_amount__num)",
    }
    assert failed["column_values_to_be_in_set(currency)"].failing_sample[0]["_row_number"] == 99
    # The publish gate reads meta.dq_results of its own run: the carried failure blocks it.
    assert {(a, c) for a, c, _, _ in blocking_failures(con, "run-2")} == {
        ("raw/customs_entries", "contract")
    }
    assert _stored(con, "run-2") == [r[:7] + (second.carried_over,) for r in _stored(con, "run-1")]


def test_a_new_load_validates_again(con, tmp_path, validations):
    _load(con, tmp_path, "a.csv", GOOD_CUSTOMS)
    suite = contract_suite(CUSTOMS)
    _evaluate(con, suite, "run-1")
    _load(con, tmp_path, "b.csv", GOOD_CUSTOMS.replace("E1", "E2"))
    second = _evaluate(con, suite, "run-2")
    assert second.carried_over is None and second.rows_validated == 2
    assert validations == [suite.key, suite.key]
    [(load_id,)] = con.execute("select max(load_id) from meta.load_log").fetchall()
    third = _evaluate(con, suite, "run-3")
    assert third.carried_over.startswith("carried over from run run-2 ")
    assert third.carried_over.endswith(f"since load_id {load_id}")


def test_a_new_load_that_fixes_nothing_keeps_failing_and_deleting_the_bad_rows_heals(con, tmp_path):
    _load(con, tmp_path, "a.csv", GOOD_CUSTOMS)
    _plant_bad_row(con)
    suite = contract_suite(CUSTOMS)
    assert _evaluate(con, suite, "run-1").blocks_publication
    # A file whose rows are all quarantined adds no row: the verdict is carried over.
    _load(con, tmp_path, "b.csv", GOOD_CUSTOMS.replace("EUR", "EURO"))
    assert _evaluate(con, suite, "run-2").carried_over
    # The remedy: delete the bad rows (no new load, but the table changed): validated again.
    con.execute("delete from raw.customs_entries where _row_number = 99")
    healed = _evaluate(con, suite, "run-3")
    assert healed.carried_over is None and healed.passed
    assert blocking_failures(con, "run-3") == []


def test_a_changed_definition_validates_again(con, tmp_path, validations, monkeypatch):
    _load(con, tmp_path, "c.csv", GOOD_CUSTOMS)
    suite = contract_suite(CUSTOMS)
    _evaluate(con, suite, "run-1")
    assert _evaluate(con, suite, "run-2").carried_over
    # A threshold from the environment, an expectation more, a larger sample: each is new.
    monkeypatch.setenv("WAYBILL_DQ_FUTURE_TOLERANCE_HOURS", "12")
    changed = contract_suite(CUSTOMS)
    assert carry_over.definition_hash(changed) != carry_over.definition_hash(suite)
    assert _evaluate(con, changed, "run-3").carried_over is None
    stricter = replace(
        changed,
        expectations=(
            *changed.expectations,
            expect("expect_column_values_to_be_in_set", column="currency", value_set=["USD"]),
        ),
    )
    outcome = _evaluate(con, stricter, "run-4")
    assert outcome.carried_over is None and not outcome.passed  # EUR is not USD
    monkeypatch.setenv("WAYBILL_DQ_MAX_ROWS", "5")
    assert _evaluate(con, contract_suite(CUSTOMS), "run-5").carried_over is None
    assert len(validations) == 4
    # Back to a definition evaluated before: only the last evaluation counts, so it runs.
    monkeypatch.delenv("WAYBILL_DQ_MAX_ROWS")
    monkeypatch.delenv("WAYBILL_DQ_FUTURE_TOLERANCE_HOURS")
    assert _evaluate(con, contract_suite(CUSTOMS), "run-6").carried_over is None
    assert _evaluate(con, contract_suite(CUSTOMS), "run-7").carried_over


def test_a_failure_measured_against_the_clock_is_checked_again(con, tmp_path, validations):
    """'Not in the future' can heal while the rows stay the same: a failure is not carried
    (a pass is: a time only moves out of the future)."""
    future = GOOD_CUSTOMS.replace("2026-10-01,2026-10-02", "2099-10-01,2099-10-02")
    _load(con, tmp_path, "c.csv", future)
    suite = contract_suite(CUSTOMS)
    assert _evaluate(con, suite, "run-1").failed_severity == "warn"
    again = _evaluate(con, suite, "run-2")
    assert again.carried_over is None and again.failed_severity == "warn"
    assert validations == [suite.key, suite.key]
    clocked = [e for e in suite.expectations if e.clock]
    assert clocked and {e.clock for e in clocked} == {"heals"}


def test_freshness_and_the_last_delivery_are_judged_every_run(con, tmp_path, validations):
    _load(con, tmp_path, "c.csv", GOOD_CUSTOMS)
    contract, delivery = contract_suite(CUSTOMS), delivery_suite(CUSTOMS)
    assert not carry_over.carryable(delivery)
    for run in ("run-1", "run-2"):
        _evaluate(con, contract, run)
        assert _evaluate(con, delivery, run).passed
    # Ten days without a file, nothing new loaded: the contract is carried, freshness warns.
    con.execute("update meta.load_log set finished_at = finished_at - interval 10 days")
    assert _evaluate(con, contract, "run-3").carried_over
    stale = _evaluate(con, delivery, "run-3")
    assert stale.carried_over is None and stale.failed_severity == "warn"
    [failed] = [o for o in stale.outcomes if not o.passed]
    assert failed.expectation == "column_values_to_be_between(hours_since_last_load)"
    assert json.loads(failed.observed_value)["unexpected"] == 1
    assert validations.count(delivery.key) == 3 and validations.count(contract.key) == 1
    assert {r[7] for r in _stored(con, "run-3", "delivery")} == {None}


def test_carrying_over_can_be_switched_off(con, tmp_path, validations, monkeypatch):
    _load(con, tmp_path, "c.csv", GOOD_CUSTOMS)
    suite = contract_suite(CUSTOMS)
    _evaluate(con, suite, "run-1")
    assert _evaluate(con, suite, "run-2", carry=False).carried_over is None
    assert _evaluate(con, suite, "run-3").carried_over.startswith("carried over from run run-2 ")
    assert len(validations) == 2

    from orchestration.defs.quality import may_carry_over
    from waybill.build_state import FULL_REFRESH_TAG

    def context(job: str, **tags: str):
        return SimpleNamespace(run=SimpleNamespace(job_name=job, tags=tags))

    assert may_carry_over(context("pipeline"))
    assert not may_carry_over(context("data_quality"))
    assert not may_carry_over(context("pipeline", **{FULL_REFRESH_TAG: "true"}))
    monkeypatch.setenv("WAYBILL_DQ_CARRY_OVER", "0")
    assert not may_carry_over(context("pipeline"))


def test_a_suite_that_could_not_run_is_not_remembered(con, tmp_path, validations):
    _load(con, tmp_path, "c.csv", GOOD_CUSTOMS)
    broken = replace(contract_suite(CUSTOMS), sql="select nonsense from raw.customs_entries")
    for run in ("run-1", "run-2"):
        outcome = _evaluate(con, broken, run)
        assert outcome.blocks_publication and outcome.carried_over is None
    assert len(validations) == 2


def test_the_dagster_check_says_it_was_carried_over(con, tmp_path):
    from orchestration.defs.quality import check_result

    _load(con, tmp_path, "c.csv", GOOD_CUSTOMS)
    _plant_bad_row(con)
    suite = contract_suite(CUSTOMS)
    _evaluate(con, suite, "run-1")
    result = check_result(_evaluate(con, suite, "run-2"))
    assert not result.passed and result.severity.value == "ERROR"
    assert result.metadata["carried_over"].value.startswith("carried over from run run-1")


def test_a_run_with_nothing_new_does_not_import_great_expectations(tmp_path):
    """Every raw suite in a fresh process, twice: the first validates (GX), the second carries
    the contracts over and judges the delivery suites in Python."""
    with duckdb.connect(str(tmp_path / "w.duckdb")) as c:
        _load(c, tmp_path, "c.csv", GOOD_CUSTOMS)
    script = textwrap.dedent(
        f"""
        import sys, duckdb
        from expectations import carry_over
        from expectations.results import ensure_dq_tables, store
        from expectations.suites import raw_suites
        con = duckdb.connect({str(tmp_path / "w.duckdb")!r})
        ensure_dq_tables(con)
        carried = 0
        for suite in raw_suites():
            outcome = carry_over.evaluate(con, suite, sys.argv[1])
            store(con, outcome, sys.argv[1])
            carried += outcome.carried_over is not None
        print(carried, "great_expectations" in sys.modules)
        """
    )

    def run(run_id: str) -> str:
        done = subprocess.run(
            [sys.executable, "-c", script, run_id],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout.split()

    assert run("run-1") == ["0", "True"]
    contracts = sum(1 for s in raw_suites() if s.name == "contract")
    assert run("run-2") == [str(contracts), "False"]


# --- the delivery suites' Python judge says what GX says ------------------------------------


def _same_as_gx(con, suite: Suite) -> None:
    """Same results in Python as in GX (an error's wording aside)."""

    def shown(outcome) -> list[dict]:
        return [vars(o) | {"error": o.error is not None} for o in outcome.outcomes]

    native = run_suite(con, replace(suite, engine="python"))
    gx = run_suite(con, replace(suite, engine="gx"))
    assert native.rows_validated == gx.rows_validated
    assert shown(native) == shown(gx)


def test_the_delivery_suite_judged_in_python_matches_gx(con, tmp_path):
    folder = land_customs_deliveries(tmp_path / "landing")
    (folder / "d_header_only.csv").write_text(f"{CUSTOMS_HEADER}\n")
    load_landing(con, tmp_path / "landing")
    delivery = delivery_suite(CUSTOMS)
    assert delivery.engine == "python"
    outcome = run_suite(con, delivery)
    assert {o.expectation for o in outcome.outcomes if not o.passed} == {
        "column_values_to_not_be_in_set(status)",
        "column_values_to_be_between(quarantined_share)",
    }
    _same_as_gx(con, delivery)
    con.execute("update meta.load_log set finished_at = finished_at - interval 10 days")
    _same_as_gx(con, delivery)
    for feed in FEEDS.values():  # never delivered: no rows, the row count warns
        _same_as_gx(con, delivery_suite(feed))


@pytest.mark.parametrize(
    "values",
    [
        "(1, 'a', 0.5, 'LOADED'), (2, 'b', null, 'FAILED'), (3, null, 'nan'::double, null), "
        "(4, 'd', 0.05, 'FAILED'), (5, 'e', -1.0, 'SKIPPED')",
        "(1, 'a', null, null), (2, 'b', null, null)",
        "(1, 'a', 0.0, 'LOADED')",
        "(1, 'a', 0.5, 'LOADED') limit 0",
        "(1, 'a', 'nan'::double, 'X'), (2, 'b', 'nan'::double, 'Y')",
    ],
)
def test_the_python_judge_matches_gx_on_nulls_nan_bounds_and_empty_frames(con, values):
    rows = ", ".join(f"({i}, 'f{i}', {0.01 * i}, 'FAILED')" for i in range(1, 15))
    for body in (values, rows):
        suite = Suite(
            name="probe",
            asset="raw/probe",
            description="",
            sql=f"select * from (values {body}) t(n, source_file, share, status)",
            expectations=(
                expect("expect_table_row_count_to_be_between", min_value=1),
                expect("expect_table_row_count_to_be_between", min_value=0, max_value=2),
                expect(
                    "expect_column_values_to_not_be_in_set", column="status", value_set=["FAILED"]
                ),
                expect("expect_column_values_to_be_in_set", column="status", value_set=["LOADED"]),
                expect("expect_column_values_to_be_between", column="share", max_value=0.05),
                expect("expect_column_values_to_be_between", column="share", min_value=0),
                expect("expect_column_values_to_be_between", column="n", min_value=2, max_value=4),
                expect("expect_column_values_to_be_between", column="missing", min_value=0),
            ),
            id_columns=("source_file",),
            engine="python",
        )
        _same_as_gx(con, suite)
        _same_as_gx(con, replace(suite, id_columns=()))


def test_gx_results_keep_their_expectations_when_a_column_is_missing(con):
    """GX lists an expectation whose metric raised first, and reports its exception per
    metric: run_suite puts the results back in definition order and reads the error."""
    suite = Suite(
        name="probe",
        asset="raw/probe",
        description="",
        sql="select * from (values (1, -1.0), (2, 3.0)) t(n, share)",
        expectations=(
            expect("expect_table_row_count_to_be_between", min_value=1),
            expect("expect_column_values_to_be_between", column="gone", min_value=0),
            expect("expect_column_values_to_be_between", column="share", min_value=0),
        ),
    )
    rows, gone, share = run_suite(con, suite).outcomes
    assert (rows.expectation, rows.passed, rows.observed_value) == (
        "table_row_count_to_be_between",
        True,
        "2",
    )
    assert gone.expectation == "column_values_to_be_between(gone)" and not gone.passed
    assert gone.error and "gone" in gone.error
    assert share.expectation == "column_values_to_be_between(share)" and share.error is None
    assert share.failing_sample == [0]  # no id columns: GX gives the row's position


def test_the_python_judge_refuses_what_it_does_not_know():
    with pytest.raises(ValueError, match="expect_column_values_to_match_regex"):
        replace(contract_suite(CUSTOMS), engine="python")
    with pytest.raises(ValueError, match="mostly"):
        Suite(
            name="x",
            asset="raw/x",
            description="",
            sql="select 1",
            expectations=(
                expect("expect_column_values_to_be_in_set", column="a", value_set=[1], mostly=0.9),
            ),
            engine="python",
        )
    assert {s.name for s in raw_suites() if s.engine == "python"} == {"delivery"}
    assert {s.name for s in raw_suites() if s.rows_of} == {"contract"}
