"""Streamlit pieces every page shares: sign-in, scope, the filter bar, cached queries, empty
states and paginated tables. Queries stay in data.py, figures in charts.py."""

from __future__ import annotations

import secrets
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import streamlit as st

from dashboards import data
from waybill.settings import load_settings
from waybill.throttle import LoginThrottle, state_file
from waybill.users import User, authenticate, load_users

PAGE_SIZE = 50
RUN_HINT = (
    "Run `./dev demo` (sample data) or `waybill run` after dropping partner files into the "
    "landing zone"
)


# ---------------------------------------------------------------------------- users and scope


def users() -> dict[str, User]:
    return load_users(load_settings().users_file)


def current_user() -> User | None:
    return st.session_state.get("user")


def scope() -> data.Scope:
    """Whose rows this session may see; the one place a page gets it from."""
    user = current_user()
    if user is not None and user.is_tenant:
        return data.Scope(customer_id=user.customer_id)
    return data.ALL


def login_gate() -> None:
    """Nobody passes without signing in; with no users nobody passes at all, unless the operator
    started the dashboard with ``--no-auth`` on localhost (then everyone is internal)."""
    try:
        configured = users()
    except (ValueError, OSError) as exc:
        print(f"waybill dashboard: the users file cannot be read: {exc}", flush=True)
        st.error(
            "The dashboard's users file cannot be read, so nobody can sign in. The operator "
            "sees why in the server log; `waybill dashboard` checks the file at start."
        )
        st.stop()
    if not configured:
        if load_settings().dashboard_no_auth:
            return
        st.title("waybill")
        st.warning(
            "No dashboard users are set up, so this dashboard serves no data. An operator adds "
            "one with `waybill users add NAME --role internal` (or a customer user with "
            "`--customer ID`); on a single-user machine, `waybill dashboard --no-auth` serves "
            "it on localhost without sign-in."
        )
        st.stop()
    if current_user() is not None:
        user = current_user()
        # A user removed from the file (or changed) is signed out at the next rerun.
        fresh = configured.get(user.username)
        if fresh is None or fresh.password_hash != user.password_hash:
            st.session_state.pop("user", None)
        else:
            return
    st.title("waybill: sign in")
    with st.form("login"):
        username = st.text_input("User name", key="login_user")
        password = st.text_input("Password", type="password", key="login_password")
        submitted = st.form_submit_button("Sign in", key="login_submit")
    if submitted:
        throttle = login_throttle(load_settings().users_file)
        client = client_key()
        # Checked and counted as failed in one step; the same answers for unknown names.
        wait = throttle.attempt(username, client)
        if wait > 0:
            when = f"{max(1, round(wait / 60))} min" if wait >= 90 else f"{max(1, round(wait))} s"
            st.error(
                f"Too many failed sign-ins: try again in {when}. If you forgot your password, "
                "ask your administrator to reset it (waybill users add)."
            )
            st.stop()
        user = authenticate(configured, username.strip(), password)
        if user is None:
            st.error("Unknown user name or wrong password.")
        else:
            throttle.succeeded(username, client)
            st.session_state["user"] = user
            st.rerun()
    st.stop()


@st.cache_resource
def login_throttle(users_file: Path) -> LoginThrottle:
    """One throttle per users file; its records live beside it (waybill/throttle.py has the
    rules), so they survive a restart and are shared with other dashboard processes."""
    return LoginThrottle(state_file(users_file))


def client_key() -> str:
    """Who is signing in, for the throttle: the connection's address (behind a reverse proxy on
    this host, uvicorn takes it from X-Forwarded-For), else this browser session (localhost)."""
    ip = st.context.ip_address
    if isinstance(ip, str) and ip:  # (AppTest's mocked runtime answers a non-string)
        return f"ip:{ip}"
    if "signin_client" not in st.session_state:
        st.session_state["signin_client"] = secrets.token_hex(8)
    return f"session:{st.session_state['signin_client']}"


def user_box() -> None:
    user = current_user()
    if user is None:
        return
    who = f"{user.name} ({user.customer_id})" if user.is_tenant else f"{user.name} (internal)"
    st.sidebar.caption(f"Signed in as {who}")
    if st.sidebar.button("Sign out"):
        st.session_state.pop("user", None)
        st.rerun()


# ---------------------------------------------------------------------------- cached queries


@st.cache_data(ttl=600, max_entries=512, show_spinner=False)
def _cached(name: str, version: tuple, args: tuple, kwargs: tuple):
    return getattr(data, name)(*args, **dict(kwargs))


def call(name: str, *args, **kwargs):
    """``data.<name>(*args, **kwargs)``, cached until a new snapshot is published."""
    version = (str(data.snapshot_path()), data.snapshot_version())
    return _cached(name, version, args, tuple(sorted(kwargs.items())))


def tables() -> set[str]:
    return call("tables", scope=scope())


def require_snapshot() -> None:
    if not data.has_snapshot():
        st.info(
            f"No published snapshot yet. {RUN_HINT}; the dashboard reads {data.snapshot_path()}."
        )
        st.stop()


def require_tables(*names: str, what: str = "this page") -> None:
    """Stop with an actionable message when the snapshot lacks a table the page needs."""
    require_snapshot()
    missing = [n for n in names if n not in tables()]
    if missing:
        st.info(
            f"The published snapshot has no {', '.join(missing)} yet, which {what} needs. "
            f"{RUN_HINT}."
        )
        st.stop()


# ---------------------------------------------------------------------------- filter bar

_F = "flt_"


def _default_period(opts: dict) -> tuple[date, date]:
    """Three calendar months up to the snapshot's "as of" time, or up to the last order when
    that is earlier (a real extract ends with months of stragglers and no new orders)."""
    end = opts.get("as_of") or opts.get("max_date") or date.today()
    if opts.get("last_order"):
        end = min(end, opts["last_order"])
    start = (end.replace(day=1) - timedelta(days=1)).replace(day=1)
    start = (start - timedelta(days=1)).replace(day=1)
    return max(start, opts.get("min_date") or start), end


def filter_bar(applies: bool = True) -> None:
    """The sidebar filters; rendered on every page so their state survives page switches."""
    if not data.has_snapshot():
        return
    opts = call("filter_options", scope=scope())
    if not opts:
        return
    sb = st.sidebar
    sb.header("Filters")
    if not applies:
        sb.caption("These filters do not apply to this page; they are kept for the others.")
    if f"{_F}period" not in st.session_state:
        st.session_state[f"{_F}period"] = _default_period(opts)
    sb.date_input(
        "Period",
        key=f"{_F}period",
        min_value=date(2000, 1, 1),
        max_value=date(2100, 1, 1),
        help="KPIs count each order or shipment by its own date: orders due by the end of the "
        "promised window, deliveries and transit by the delivery date.",
    )
    if not scope().is_tenant:
        sb.multiselect("Customer", opts["customers"], key=f"{_F}customers", placeholder="All")
    names = opts.get("carrier_names", {})
    sb.multiselect(
        "Carrier",
        opts["carriers"],
        key=f"{_F}carriers",
        placeholder="All",
        format_func=lambda c: f"{c} - {names[c]}" if names.get(c) else c,
    )
    sb.multiselect("Lane (origin->destination)", opts["lanes"], key=f"{_F}lanes", placeholder="All")
    sb.multiselect("Mode", opts["modes"], key=f"{_F}modes", placeholder="All")
    if sb.button("Reset filters"):
        for k in [k for k in st.session_state if str(k).startswith(_F)]:
            del st.session_state[k]
        st.rerun()


def filters() -> data.Filters:
    s = st.session_state
    period = s.get(f"{_F}period") or ()
    start = period[0] if len(period) > 0 else None
    end = period[1] if len(period) > 1 else start
    return data.Filters(
        start=start,
        end=end,
        customers=tuple(s.get(f"{_F}customers") or ()),
        carriers=tuple(s.get(f"{_F}carriers") or ()),
        lanes=tuple(s.get(f"{_F}lanes") or ()),
        modes=tuple(s.get(f"{_F}modes") or ()),
    )


def describe(f: data.Filters) -> str:
    parts = []
    if f.start:
        parts.append(f"{f.start:%d %b %Y} - {f.end:%d %b %Y}")
    for label, values in (
        ("customer", f.customers),
        ("carrier", f.carriers),
        ("lane", f.lanes),
        ("mode", f.modes),
    ):
        if values:
            parts.append(f"{label} {', '.join(values[:3])}{' ...' if len(values) > 3 else ''}")
    return " | ".join(parts) or "all data"


def no_match(what: str = "rows") -> None:
    st.info(
        f"No {what} match the filters ({describe(filters())}). Widen the period or clear a "
        "filter in the sidebar (Reset filters)."
    )


def goods_at_price_note(estimated, orders) -> str | None:
    """Why a margin is understated: orders whose feed had no unit cost, so their goods are
    costed at the selling price (fct_order_margin.is_goods_cost_estimated). None when none."""
    if not estimated:
        return None
    return (
        f"{int(estimated):,} of {int(orders):,} orders ({100 * estimated / orders:.1f} %) have no "
        "unit cost in the orders feed: their goods are costed at the selling price, so their "
        "margin is understated. Send unit_cost in the orders feed (docs/feeds.md) to fix it."
    )


# ---------------------------------------------------------------------------- formatting


def pct(value, digits: int = 1) -> str:
    return "n/a" if value is None else f"{100 * float(value):.{digits}f} %"


def pct_delta(now, before) -> str | None:
    if now is None or before is None:
        return None
    return f"{100 * (float(now) - float(before)):+.1f} pp"


def days(value) -> str:
    return "n/a" if value is None else f"{float(value):.2f} days"


def table(df: pl.DataFrame, key: str, download: str | None = None, page_size: int = PAGE_SIZE):
    """A table that pages through large frames, with an optional CSV download of all rows."""
    if df.height == 0:
        st.caption("No rows.")
        return
    pages = max(1, -(-df.height // page_size))
    if pages > 1:
        c1, c2 = st.columns([1, 4])
        page = c1.number_input(
            "Page", min_value=1, max_value=pages, value=1, step=1, key=f"{key}_page"
        )
        c2.caption(f"{df.height:,} rows, {page_size} per page, page {page} of {pages}")
    else:
        page = 1
    st.dataframe(df.slice((page - 1) * page_size, page_size), hide_index=True, width="stretch")
    if download:
        st.download_button(
            f"Download all {df.height:,} rows (CSV)",
            # encoded when clicked, not on every render (large drill-downs)
            lambda: df.write_csv().encode(),
            file_name=download,
            mime="text/csv",
            key=f"{key}_csv",
        )
