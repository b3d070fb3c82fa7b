"""Sign-in throttling for the dashboard: per user name, per client and over everybody, kept in a
small JSON file beside the users file so a restart does not clear it.

Every failed sign-in is one record ``[time, name, client]`` (the name as typed, case and spaces
aside, and the client are stored as short SHA-256 hashes, never as typed: people type passwords
into the name field). Within ``window_s`` (15 min) these rules apply, the longest wait wins:

* **name on one client**: ``max_failures`` (5) failures lock that name *for that client* until
  the oldest of them leaves the window; a success there clears them.
* **client**: ``client_max_failures`` (20) failures over any names lock the client the same way
  (password spraying across names).
* **name over all clients**: from ``max_failures`` failures on, every attempt at that name, from
  anywhere, waits 1 s after its last failure, doubling with each further failure up to
  ``name_delay_max_s`` (30 s). A delay, never a lockout: a stranger who knows a name cannot
  lock its owner out, only slow them down by up to 30 s per attempt while the attack goes on.
* **everybody**: from ``global_max_failures`` (100) failures on, every attempt waits
  ``global_delay_s`` (2 s) after the last failure anywhere, which caps a spray spread over many
  addresses at one guess per 2 s without locking anyone out.

Attempts that are refused do not count (they verify no password). The file is rewritten whole
(temp file + ``os.replace``) under an exclusive ``flock`` on ``<file>.lock``, so two dashboard
processes merge their records; it holds only the window's records, at most ``max_entries``. A
missing file is an empty state; an unreadable one is logged in one line and starts empty.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no flock, the last writer wins
    fcntl = None


def state_file(users_file: Path) -> Path:
    """Where the throttle keeps its records: beside the users file."""
    return users_file.with_name(users_file.name + ".throttle.json")


def _key(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class LoginThrottle:
    """Counts failed sign-ins and says how long a (user name, client) pair must wait. ``path``
    None keeps the records in memory (one process, gone on restart)."""

    def __init__(
        self,
        path: Path | None = None,
        *,
        max_failures: int = 5,
        client_max_failures: int = 20,
        global_max_failures: int = 100,
        window_s: float = 15 * 60,
        name_delay_max_s: float = 30,
        global_delay_s: float = 2,
        max_entries: int = 10_000,
        clock=time.time,
    ):
        self.path, self._clock = path, clock
        self.max_failures, self.client_max_failures = max_failures, client_max_failures
        self.global_max_failures, self.window_s = global_max_failures, window_s
        self.name_delay_max_s, self.global_delay_s = name_delay_max_s, global_delay_s
        self.max_entries = max_entries
        self._memory: list[list] = []
        self._lock = threading.Lock()
        self._warned = False

    # ------------------------------------------------------------------ the rules

    def locked_for(self, username: str, client: str = "") -> float:
        """Seconds until ``username`` may be tried again from ``client``; 0 when it may now."""
        with self._locked():
            return self._wait(self._load(), username, client)

    def attempt(self, username: str, client: str = "") -> float:
        """``locked_for``, and when that is 0 the attempt is counted as failed at once (so
        parallel guesses are counted too); call ``succeeded`` when the password matched."""
        with self._locked():
            failures = self._load()
            wait = self._wait(failures, username, client)
            if wait == 0:
                self._save([*failures, self._record(username, client)])
            return wait

    def failed(self, username: str, client: str = "") -> None:
        with self._locked():
            self._save([*self._load(), self._record(username, client)])

    def succeeded(self, username: str, client: str = "") -> None:
        """Clears the failures of this name on this client (not the client's other names')."""
        _, name, who = self._record(username, client)
        self._drop(lambda f: f[1] == name and f[2] == who)

    def forget(self, username: str) -> None:
        """Clears every failure of this name (after an administrator reset its password)."""
        name = self._record(username, "")[1]
        self._drop(lambda f: f[1] == name)

    def _record(self, username: str, client: str) -> list:
        return [self._clock(), _key(username.strip().lower()), _key(client)]

    def _wait(self, failures: list[list], username: str, client: str) -> float:
        now, name, who = self._record(username, client)
        recent = self._recent(failures, now)
        pair = [t for t, n, c in recent if n == name and c == who]
        by_client = [t for t, _, c in recent if c == who]
        by_name = [t for t, n, _ in recent if n == name]
        waits = [0.0]
        for times, limit in ((pair, self.max_failures), (by_client, self.client_max_failures)):
            if len(times) >= limit:  # locked until the oldest of the last `limit` leaves
                waits.append(times[-limit] + self.window_s - now)
        if len(by_name) >= self.max_failures:
            extra = min(len(by_name) - self.max_failures, 10)
            waits.append(by_name[-1] + min(self.name_delay_max_s, 2.0**extra) - now)
        if len(recent) >= self.global_max_failures:
            waits.append(recent[-1][0] + self.global_delay_s - now)
        return max(waits)

    def _recent(self, failures: list[list], now: float) -> list[list]:
        """The window's records, oldest first; records from the future (a clock set back, a
        hand-edited file) are dropped rather than allowed to lock for longer than the window."""
        return sorted(f for f in failures if 0 <= now - f[0] < self.window_s)

    # ------------------------------------------------------------------ the file

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with self._lock:
            if self.path is None or fcntl is None:
                yield
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path.with_name(self.path.name + ".lock"), "a") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                yield

    def _drop(self, matches) -> None:
        with self._locked():
            failures = self._load()
            kept = [f for f in failures if not matches(f)]
            if len(kept) < len(failures):
                self._save(kept)

    def _load(self) -> list[list]:
        if self.path is None:
            return list(self._memory)
        try:
            doc = json.loads(self.path.read_text())
            return [[float(t), str(n), str(c)] for t, n, c in doc["failures"]]
        except FileNotFoundError:
            return []
        except (OSError, ValueError, TypeError, KeyError) as exc:
            if not self._warned:
                self._warned = True
                print(
                    f"waybill: sign-in throttle file {self.path} is unreadable "
                    f"({type(exc).__name__}); starting with no recorded failures",
                    file=sys.stderr,
                    flush=True,
                )
            return []

    def _save(self, failures: list[list]) -> None:
        failures = self._recent(failures, self._clock())[-self.max_entries :]
        if self.path is None:
            self._memory = failures
            return
        tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"version": 1, "failures": failures}))
        tmp.chmod(0o600)
        os.replace(tmp, self.path)
