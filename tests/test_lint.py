"""The house style is checked where the tests run, so CI (`./dev test`) enforces it: ruff's lint
rules and its formatter over every Python file (pyproject.toml [tool.ruff])."""

from __future__ import annotations

import subprocess
import sys

from waybill.settings import PROJECT_ROOT


def ruff(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ruff", *args],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_ruff_lint_passes():
    done = ruff("check", ".")
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]


def test_ruff_format_leaves_every_file_as_it_is():
    done = ruff("format", "--check", ".")
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
