"""Who may see the dashboard: localhost by default, no data without users unless the operator
said --no-auth (on localhost only), and a broken users file stops start-up in one line."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.test_dashboard import open_page
from waybill.cli import check_dashboard_access, dashboard_command
from waybill.settings import PROJECT_ROOT, load_settings
from waybill.users import add_user


def start(*args: str, data_dir, users_file) -> subprocess.CompletedProcess:
    env = os.environ | {"WAYBILL_DATA_DIR": str(data_dir), "WAYBILL_USERS_FILE": str(users_file)}
    return subprocess.run(
        [sys.executable, "-m", "waybill.cli", "dashboard", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=PROJECT_ROOT,
        timeout=60,
    )


@pytest.fixture
def published(pipeline_run, monkeypatch):
    """The e2e run's snapshot, with no users file unless a test writes one."""
    monkeypatch.setenv("WAYBILL_DATA_DIR", str(pipeline_run["data_dir"]))
    monkeypatch.delenv("WAYBILL_DASHBOARD_NO_AUTH", raising=False)
    return pipeline_run["settings"].snapshot


def test_the_dashboard_listens_on_localhost_unless_told_otherwise(tmp_path):
    settings = load_settings(tmp_path)
    command = dashboard_command(settings, 8501)
    assert command[command.index("--server.address") + 1] == "127.0.0.1"
    assert command[command.index("--client.showErrorDetails") + 1] == "none"
    opened = dashboard_command(settings, 8501, "0.0.0.0")
    assert opened[opened.index("--server.address") + 1] == "0.0.0.0"


def test_no_auth_is_refused_off_localhost_and_a_broken_users_file_stops_start_up(tmp_path):
    users = tmp_path / "users.toml"
    refused = start("--no-auth", "--host", "0.0.0.0", data_dir=tmp_path, users_file=users)
    assert refused.returncode == 2
    assert "allowed on localhost only" in refused.stderr
    users.write_text("[users.ops]\nrole = 'internal'\npassword_hash = 'plain-text'\n")
    broken = start(data_dir=tmp_path, users_file=users)
    assert broken.returncode == 2
    [line] = broken.stderr.strip().splitlines()  # one line, no traceback
    assert line.startswith("error: the users file cannot be read") and "argon2" in line


def test_no_users_starts_with_a_warning_and_no_auth_with_a_louder_one(tmp_path, capsys):
    settings = load_settings(tmp_path)
    assert check_dashboard_access(settings, "127.0.0.1", no_auth=False) is None
    assert "serves no data until one is added" in capsys.readouterr().err
    assert check_dashboard_access(settings, "127.0.0.1", no_auth=True) is None
    assert "WARNING: --no-auth" in capsys.readouterr().err
    add_user(settings.users_file, "ops", "ops-secret-12", role="internal")
    assert check_dashboard_access(settings, "0.0.0.0", no_auth=False) is None
    assert capsys.readouterr().err == ""


@pytest.mark.slow
@pytest.mark.parametrize("content", [None, "", "[users]\n"], ids=["no file", "empty", "no users"])
@pytest.mark.parametrize("page", ["overview", "workbench"])
def test_without_users_no_page_serves_data_unless_started_with_no_auth(
    published, tmp_path, monkeypatch, content, page
):
    users = tmp_path / "users.toml"
    if content is not None:
        users.write_text(content)
    monkeypatch.setenv("WAYBILL_USERS_FILE", str(users))
    monkeypatch.setenv("WAYBILL_DASHBOARD_NO_AUTH", "0")
    at = open_page("overview")
    assert not at.exception
    assert any("serves no data" in w.value for w in at.warning)
    assert not at.metric and not at.dataframe and not at.text_area
    # Asking for the page directly runs the app again and meets the same gate.
    at.switch_page(f"app_pages/{page}.py").run()
    assert not at.exception
    assert any("serves no data" in w.value for w in at.warning)
    assert not at.metric and not at.dataframe and not at.text_area
    monkeypatch.setenv("WAYBILL_DASHBOARD_NO_AUTH", "1")
    at = open_page(page)
    assert not at.exception
    assert not at.warning or not any("serves no data" in w.value for w in at.warning)
    assert at.metric or at.text_area


@pytest.mark.slow
def test_a_malformed_users_file_shows_one_message_without_the_path(
    published, tmp_path, monkeypatch
):
    users = tmp_path / "users.toml"
    users.write_text("[users.ops\nthis is not toml")
    monkeypatch.setenv("WAYBILL_USERS_FILE", str(users))
    at = open_page("overview")
    assert not at.exception
    [error] = at.error
    assert "users file cannot be read" in error.value and str(tmp_path) not in error.value
    assert not at.metric and not at.dataframe


@pytest.mark.slow
def test_dashboard_connections_are_capped_and_spill_under_the_data_directory(published):
    from dashboards import data

    settings = load_settings()
    with data.connect(data.ALL) as con:
        memory, temp, spill = con.execute(
            "select current_setting('memory_limit'), current_setting('temp_directory'), "
            "current_setting('max_temp_directory_size')"
        ).fetchall()[0]
    assert memory == "953.6 MiB" and spill == "1.8 GiB"  # 1 GB and 2 GB, DuckDB's way
    assert temp == str(settings.data_dir / "dashboard_tmp")
    # An interval (which the result table cannot hold as such) comes back as text, not a trace.
    rows, _ = data.run_sql("select interval 3 day as waited", data.ALL)
    assert rows["waited"].to_list() == ["3 days"]
