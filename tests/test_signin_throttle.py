"""Sign-in throttling (waybill/throttle.py): per user name and client, per client, over all
clients and over everybody, kept in a file beside the users file. The clock is injected."""

from __future__ import annotations

import json
import time

import pytest

from waybill.throttle import LoginThrottle, state_file

WINDOW = 15 * 60


class Clock:
    def __init__(self, now: float = 1_700_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def path(tmp_path):
    return state_file(tmp_path / "users.toml")


def throttle(path, clock, **kw) -> LoginThrottle:
    return LoginThrottle(path, clock=clock, **kw)


def fail(t: LoginThrottle, name: str, client: str, times: int = 1) -> None:
    for _ in range(times):
        assert t.attempt(name, client) == 0
        t._clock.now += 1


def test_the_file_sits_beside_the_users_file(tmp_path):
    assert state_file(tmp_path / "users.toml") == tmp_path / "users.toml.throttle.json"


def test_five_failures_lock_the_name_for_that_client_until_the_window_ends(path, clock):
    t = throttle(path, clock)
    start = clock.now
    fail(t, "ops", "ip:10.0.0.1", 4)
    assert t.locked_for("ops", "ip:10.0.0.1") == 0
    fail(t, "OPS ", "ip:10.0.0.1")  # the name as typed, case and spaces aside
    assert t.locked_for("ops", "ip:10.0.0.1") == pytest.approx(start + WINDOW - clock.now)
    # refused attempts do not count and change nothing
    assert t.attempt("ops", "ip:10.0.0.1") > 0
    clock.now = start + WINDOW  # the first failure left the window: four remain
    assert t.locked_for("ops", "ip:10.0.0.1") == 0


def test_the_locks_are_the_same_for_known_and_unknown_names(tmp_path, clock):
    # The throttle never looks at the users file: an unknown name is counted the same way.
    waits = []
    for name in ("ops", "no-such-user"):
        t = throttle(tmp_path / f"{name}.json", Clock(clock.now))
        fail(t, name, "ip:10.0.0.1", 5)
        waits.append([t.locked_for(name, "ip:10.0.0.1"), t.locked_for(name, "ip:10.0.0.2")])
    assert waits[0] == waits[1]


def test_a_success_clears_the_pair_but_not_the_clients_other_failures(path, clock):
    t = throttle(path, clock, client_max_failures=6)
    fail(t, "a", "ip:10.0.0.1", 4)
    fail(t, "ops", "ip:10.0.0.1", 1)
    t.succeeded("ops", "ip:10.0.0.1")
    fail(t, "b", "ip:10.0.0.1")  # 4 + 1 on other names: one short of the client's 6
    assert t.locked_for("c", "ip:10.0.0.1") == 0
    fail(t, "c", "ip:10.0.0.1")
    assert t.locked_for("ops", "ip:10.0.0.1") > 60


def test_spraying_many_names_from_one_client_locks_that_client(path, clock):
    t = throttle(path, clock)
    for i in range(20):
        fail(t, f"user{i}", "ip:203.0.113.9")
    wait = t.locked_for("someone-new", "ip:203.0.113.9")
    assert wait == pytest.approx(WINDOW - 20)  # until its first failure leaves the window
    assert t.locked_for("someone-new", "ip:198.51.100.7") == 0  # others are not locked


def test_another_clients_failures_on_a_name_only_delay_its_owner(path, clock):
    t = throttle(path, clock)
    fail(t, "ops", "ip:203.0.113.9", 5)  # a stranger who knows the name
    assert t.locked_for("ops", "ip:203.0.113.9") > 60  # the stranger is locked out
    clock.now -= 1  # right after the stranger's last failure
    assert t.locked_for("ops", "ip:10.0.0.1") == pytest.approx(1)  # the owner waits 1 s
    # a distributed attack keeps at it from many addresses: the delay doubles up to 30 s
    for i in range(10):
        clock.now += t.locked_for("ops", f"ip:198.51.100.{i}")
        fail(t, "ops", f"ip:198.51.100.{i}")
    clock.now -= 1
    assert t.locked_for("ops", "ip:10.0.0.1") == pytest.approx(30)
    clock.now += 30
    assert t.attempt("ops", "ip:10.0.0.1") == 0  # never a lockout for the owner
    t.succeeded("ops", "ip:10.0.0.1")


def test_many_failures_everywhere_slow_everybody_down_a_little(path, clock):
    t = throttle(path, clock)
    for i in range(99):  # every failure a different name from a different address
        fail(t, f"user{i}", f"ip:10.1.{i // 200}.{i % 200}")
    assert t.locked_for("ops", "ip:10.9.9.9") == 0  # still within the budget
    fail(t, "user99", "ip:10.2.0.1")
    clock.now -= 1  # right after the 100th failure
    assert t.locked_for("ops", "ip:10.9.9.9") == pytest.approx(2)  # a short wait, for anyone
    clock.now += 2
    assert t.locked_for("ops", "ip:10.9.9.9") == 0
    clock.now += WINDOW  # the failures left the window: no delay at all
    fail(t, "x", "ip:10.3.0.1")
    assert t.locked_for("ops", "ip:10.9.9.9") == 0


def test_the_records_survive_a_restart_and_are_shared_between_processes(path, clock):
    fail(throttle(path, clock), "ops", "ip:10.0.0.1", 3)
    other = throttle(path, clock)  # a second dashboard process, or the same one restarted
    fail(other, "ops", "ip:10.0.0.1", 2)
    assert throttle(path, clock).locked_for("ops", "ip:10.0.0.1") > 60
    # neither the names nor the clients are stored as typed
    text = path.read_text()
    assert "ops" not in text and "10.0.0.1" not in text
    assert oct(path.stat().st_mode & 0o777) == oct(0o600)


def test_an_administrators_reset_lifts_the_names_locks(path, tmp_path, monkeypatch):
    from types import SimpleNamespace

    from waybill.users import add_user, cmd_users

    clock = Clock(time.time() - 60)  # `waybill users add` forgets on the real clock
    users = tmp_path / "users.toml"
    add_user(users, "ops", "ops-secret-12", role="internal")
    fail(throttle(path, clock), "ops", "ip:10.0.0.1", 5)
    fail(throttle(path, clock), "acme", "ip:10.0.0.1", 5)
    monkeypatch.setenv("WAYBILL_USERS_FILE", str(users))
    monkeypatch.setattr("sys.stdin", SimpleNamespace(readline=lambda: "new-secret-34\n"))
    args = SimpleNamespace(
        action="add",
        username="ops",
        password_stdin=True,
        role="internal",
        customer=None,
        name=None,
    )
    assert cmd_users(args) == 0
    assert throttle(path, clock).locked_for("ops", "ip:10.0.0.1") == 0
    assert throttle(path, clock).locked_for("acme", "ip:10.0.0.1") > 60  # other names stay


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        '{"failures": 3}',
        "[]",
        '{"failures": [[1, 2]]}',
        '{"failures": [["x", 1, 2]]}',
        "\xff\xfe",
    ],
)
def test_a_corrupt_file_starts_empty_with_one_log_line(path, clock, capsys, content):
    path.write_text(content, encoding="latin-1")
    t = throttle(path, clock)
    assert t.locked_for("ops", "ip:10.0.0.1") == 0
    assert t.locked_for("ops", "ip:10.0.0.1") == 0
    [line] = capsys.readouterr().err.strip().splitlines()
    assert "unreadable" in line and "starting with no recorded failures" in line
    fail(t, "ops", "ip:10.0.0.1", 5)  # and the next failure writes a good file
    assert json.loads(path.read_text())["failures"]
    assert throttle(path, clock).locked_for("ops", "ip:10.0.0.1") > 60


def test_a_missing_file_is_an_empty_state_without_a_log_line(path, clock, capsys):
    assert throttle(path, clock).locked_for("ops", "ip:10.0.0.1") == 0
    assert capsys.readouterr().err == ""
    assert not path.exists()


def test_the_file_keeps_only_the_windows_records_and_at_most_max_entries(path, clock):
    t = throttle(path, clock, max_entries=50, client_max_failures=1000)
    for i in range(40):
        fail(t, f"user{i}", "ip:10.0.0.1")
    clock.now += WINDOW  # all of them are old now
    fail(t, "late", "ip:10.0.0.1")
    assert len(json.loads(path.read_text())["failures"]) == 1
    for i in range(80):
        fail(t, f"user{i}", f"ip:10.0.1.{i}")
    failures = json.loads(path.read_text())["failures"]
    assert len(failures) == 50
    assert failures[-1][0] == clock.now - 1  # the newest are kept
    assert not list(path.parent.glob("*.tmp"))


def test_without_a_path_the_records_stay_in_memory(tmp_path, clock):
    t = LoginThrottle(clock=clock)
    fail(t, "ops", "", 5)
    assert t.locked_for("ops") > 60
    assert list(tmp_path.iterdir()) == []


def test_records_from_the_future_do_not_lock(path, clock):
    # A clock set back (or a hand-edited file) must not lock for longer than the window.
    far = clock.now + 365 * 24 * 3600
    records = [[far, "0" * 16, "1" * 16]] * 200
    path.write_text(json.dumps({"version": 1, "failures": records}))
    assert throttle(path, clock).locked_for("ops", "ip:10.0.0.1") == 0


def test_the_sign_in_form_answers_alike_for_unknown_names_and_keeps_its_lock_over_a_restart(
    tmp_path, monkeypatch
):
    from dashboards import ui
    from tests.test_dashboard import open_page
    from waybill.users import add_user

    users = tmp_path / "users.toml"
    add_user(users, "ops", "ops-secret-12", role="internal")
    monkeypatch.setenv("WAYBILL_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("WAYBILL_USERS_FILE", str(users))
    ui.login_throttle.clear()
    try:
        at = open_page("overview")
        answers = {}
        for name in ("ops", "no-such-user"):
            seen = []
            for _ in range(6):
                at.text_input(key="login_user").input(name)
                at.text_input(key="login_password").input("guess")
                at.button(key="login_submit").click().run()
                seen.append([e.value for e in at.error])
            answers[name] = seen
        assert answers["ops"] == answers["no-such-user"]
        assert answers["ops"][0] == ["Unknown user name or wrong password."]
        assert "Too many failed sign-ins: try again in 15 min" in answers["ops"][5][0]
        assert state_file(users).exists()
        ui.login_throttle.clear()  # a restart: the same browser session is still locked out
        at.text_input(key="login_user").input("ops")
        at.text_input(key="login_password").input("ops-secret-12")
        at.button(key="login_submit").click().run()
        assert not at.exception
        assert any("Too many failed sign-ins" in e.value for e in at.error)
    finally:
        ui.login_throttle.clear()
