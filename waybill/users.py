"""Dashboard users for tenant mode: a TOML file of argon2-hashed passwords.

Without users (no file, an empty one) the dashboard serves no data, unless the operator starts
it with ``waybill dashboard --no-auth`` on localhost. With users (``users.toml`` in the data
directory, or ``WAYBILL_USERS_FILE``), everyone signs in; an ``internal`` user sees every
customer, a ``customer`` user only the rows of its ``customer_id`` (dashboards/data.py builds
that user's database). Only hashes are stored; ``waybill users add`` writes them.

    [users.acme]
    name = "ACME Corp buyer"
    role = "customer"
    customer_id = "CUST-0001"
    password_hash = "$argon2id$v=19$m=65536,t=3,p=4$..."
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# Sign-in throttling lives in waybill/throttle.py; imported here for older callers.
from waybill.throttle import LoginThrottle as LoginThrottle
from waybill.throttle import state_file

ROLES = ("internal", "customer")
_HASHER = PasswordHasher()


@dataclass(frozen=True)
class User:
    username: str
    name: str
    role: str
    customer_id: str | None
    password_hash: str

    @property
    def is_tenant(self) -> bool:
        return self.role == "customer"


def load_users(path: Path) -> dict[str, User]:
    """The users in ``path``; empty when the file does not exist. Bad entries raise ValueError."""
    if not path.exists():
        return {}
    doc = tomllib.loads(path.read_text())
    users = {}
    for username, entry in doc.get("users", {}).items():
        role = entry.get("role", "customer")
        if role not in ROLES:
            raise ValueError(f"{path}: user {username!r} has role {role!r}; use one of {ROLES}")
        customer_id = entry.get("customer_id")
        if role == "customer" and not customer_id:
            raise ValueError(f"{path}: customer user {username!r} needs a customer_id")
        if not str(entry.get("password_hash", "")).startswith("$argon2"):
            raise ValueError(f"{path}: user {username!r} has no argon2 password_hash")
        users[username] = User(
            username=username,
            name=entry.get("name", username),
            role=role,
            customer_id=customer_id if role == "customer" else None,
            password_hash=entry["password_hash"],
        )
    return users


def authenticate(users: dict[str, User], username: str, password: str) -> User | None:
    """The user when the password matches its hash, else None (also for unknown names)."""
    user = users.get(username)
    if user is None:
        # Hash anyway so a wrong name takes as long as a wrong password.
        _HASHER.hash(password)
        return None
    try:
        _HASHER.verify(user.password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    return user


def _toml_str(value: str) -> str:
    # A JSON string of printable text is a valid TOML basic string.
    return json.dumps(value, ensure_ascii=False)


def add_user(
    path: Path,
    username: str,
    password: str,
    role: str = "customer",
    customer_id: str | None = None,
    name: str | None = None,
) -> User:
    """Add or replace ``username`` in the users file (created when missing)."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}")
    if role == "customer" and not customer_id:
        raise ValueError("a customer user needs a customer_id (--customer)")
    if not username or not username.replace("-", "").replace("_", "").replace(".", "").isalnum():
        raise ValueError("user names are letters, digits, '-', '_' and '.'")
    if len(password) < 8:
        raise ValueError("passwords have at least 8 characters")
    users = load_users(path)
    users[username] = User(
        username=username,
        name=name or username,
        role=role,
        customer_id=customer_id if role == "customer" else None,
        password_hash=_HASHER.hash(password),
    )
    lines = ["# waybill dashboard users; written by `waybill users add` (argon2 hashes only)", ""]
    for user in users.values():
        lines.append(f"[users.{_toml_str(user.username)}]")
        lines.append(f"name = {_toml_str(user.name)}")
        lines.append(f"role = {_toml_str(user.role)}")
        if user.customer_id:
            lines.append(f"customer_id = {_toml_str(user.customer_id)}")
        lines.append(f"password_hash = {_toml_str(user.password_hash)}")
        lines.append("")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("\n".join(lines))
    tmp.chmod(0o600)
    tmp.replace(path)
    return users[username]


def cmd_users(args) -> int:
    """``waybill users add|list``: the password comes from a prompt or stdin, never argv."""
    import getpass
    import sys

    from waybill.settings import load_settings

    path = load_settings().users_file
    if args.action == "add" and not args.username:
        print("error: waybill users add <username> [--customer ID]", file=sys.stderr)
        return 2
    if args.action == "list":
        for user in load_users(path).values():
            print(f"{user.username:<20} {user.role:<9} {user.customer_id or '-':<14} {user.name}")
        return 0
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass(f"password for {args.username}: ")
        if getpass.getpass("again: ") != password:
            print("passwords differ", file=sys.stderr)
            return 2
    try:
        user = add_user(
            path,
            args.username,
            password,
            role=args.role,
            customer_id=args.customer,
            name=args.name,
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    # A new password lifts the sign-in locks and delays on this name.
    LoginThrottle(state_file(path)).forget(user.username)
    scope = f"customer {user.customer_id}" if user.is_tenant else "all customers (internal)"
    print(f"{user.username} can sign in to the dashboard and sees {scope}; users file: {path}")
    return 0


def add_parser(sub) -> None:
    p = sub.add_parser("users", help="dashboard users for tenant mode (hashed passwords)")
    p.add_argument("action", choices=["add", "list"])
    p.add_argument("username", nargs="?")
    p.add_argument("--customer", help="customer_id the user may see (role customer)")
    p.add_argument("--role", choices=ROLES, default="customer")
    p.add_argument("--name", help="display name")
    p.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    p.set_defaults(func=cmd_users)
