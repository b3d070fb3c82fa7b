"""The dashboard: every page renders from the published snapshot (with data, with an empty
snapshot, with filters that match nothing), the overview equals the marts, and a tenant never
reaches another customer's rows, on a page or in SQL."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from dashboards import charts, data
from ingestion.load import load_landing
from waybill.publish import publish_snapshot
from waybill.users import add_user, authenticate, load_users

APP = str(Path(__file__).parent.parent / "dashboards" / "app.py")
PAGES = ["overview", "carriers", "shipments", "exceptions", "finance", "quality", "workbench"]
TENANT_PAGES = ["overview", "shipments", "exceptions", "finance", "workbench"]
PERIOD = (date(2026, 8, 1), date(2026, 10, 31))
#: a period wider than any data set: the whole snapshot (the filter bar's date range ends 2100)
WHOLE_HISTORY = (date(2000, 1, 1), date(2099, 12, 31))


_COMPONENTS = None  # Streamlit's component registry, built by the first AppTest


def open_page(page: str, setup=None) -> AppTest:
    """A fresh session on ``page``. Every fresh AppTest would scan the metadata of all installed
    packages for Streamlit components (~1 s each, a server does it once at start-up), so the
    registry of the first one is reused, as benchmarks/dashboard.py does."""
    global _COMPONENTS
    at = AppTest.from_file(APP, default_timeout=60)
    at._bidi_component_manager = _COMPONENTS
    if setup:
        setup(at)
    at.run()
    _COMPONENTS = at._bidi_component_manager
    if page != "overview":
        at.switch_page(f"app_pages/{page}.py").run()
    return at


def texts(at: AppTest) -> str:
    """Everything a page shows as text, tables included."""
    parts = [e.value for kind in ("info", "warning", "error", "success") for e in getattr(at, kind)]
    parts += [m.value for m in at.markdown] + [c.value for c in at.caption]
    parts += [f"{m.label} {m.value}" for m in at.metric]
    for df in at.dataframe:
        value = df.value
        frame = value.data if hasattr(value, "data") else value  # pandas Styler or DataFrame
        parts.append(frame.to_csv())
    return "\n".join(str(p) for p in parts)


# ------------------------------------------------------------------ no snapshot / empty snapshot


@pytest.fixture
def data_dir(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("WAYBILL_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("WAYBILL_USERS_FILE", raising=False)
    monkeypatch.setenv("WAYBILL_DASHBOARD_NO_AUTH", "1")  # no users: open only with --no-auth
    return tmp_path


@pytest.mark.parametrize("page", PAGES)
def test_without_a_snapshot_every_page_says_how_to_make_one(data_dir, page):
    at = open_page(page)
    assert not at.exception
    assert any("No published snapshot yet" in i.value for i in at.info)


@pytest.fixture
def empty_snapshot(data_dir) -> Path:
    """A snapshot with a load log and a quarantine but no marts (no dbt run yet)."""
    folder = data_dir / "landing" / "returns"
    folder.mkdir(parents=True)
    (folder / "r.csv").write_text(
        "rma_number,order_id,line_number,quantity,reason,returned_at\n"
        "RMA1,O1,1,2,DAMAGED,2026-10-01T10:00:00Z\n"
        "RMA2,O1,2,-4,DAMAGED,2026-10-01T10:00:00Z\n"
    )
    con = duckdb.connect(str(data_dir / "w.duckdb"))
    load_landing(con, data_dir / "landing")
    publish_snapshot(con, data_dir / "serving" / "waybill.duckdb", run_id="t")
    con.close()
    return data_dir


@pytest.mark.parametrize("page", PAGES)
def test_with_a_snapshot_without_marts_every_page_says_what_to_run(empty_snapshot, page):
    at = open_page(page)
    assert not at.exception
    shown = texts(at)
    if page == "quality":
        metrics = {m.label: m.value for m in at.metric}
        assert metrics["Rows loaded"] == "1"
        assert metrics["Rows quarantined"] == "1"
    elif page == "workbench":
        # The workbench still works: the meta tables are there to query.
        assert "meta" in str(at.selectbox(key="wb_table").options)
    else:
        assert "waybill run" in shown, shown


# ------------------------------------------------------------------ with the pipeline's data


@pytest.fixture
def snapshot(pipeline_run, monkeypatch) -> Path:
    monkeypatch.setenv("WAYBILL_DATA_DIR", str(pipeline_run["data_dir"]))
    monkeypatch.delenv("WAYBILL_USERS_FILE", raising=False)
    monkeypatch.setenv("WAYBILL_DASHBOARD_NO_AUTH", "1")  # no users: open only with --no-auth
    return pipeline_run["settings"].snapshot


def marts(snapshot: Path, sql: str) -> pl.DataFrame:
    con = duckdb.connect(str(snapshot), read_only=True)
    try:
        return pl.from_arrow(con.sql(sql).to_arrow_table())
    finally:
        con.close()


def set_period(at: AppTest, start: date, end: date) -> None:
    at.session_state["flt_period"] = (start, end)


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_with_data(snapshot, page):
    at = open_page(page, lambda a: set_period(a, *PERIOD))
    assert not at.exception, at.exception
    assert not at.error


@pytest.mark.slow
def test_overview_tiles_equal_kpi_orders_monthly_over_whole_months(snapshot):
    at = open_page("overview", lambda a: set_period(a, *PERIOD))
    tiles = {m.label: m.value for m in at.metric}
    months = marts(
        snapshot,
        f"""select * from marts.kpi_orders_monthly
        where month_start_date between '{PERIOD[0]}' and '{PERIOD[1]}'""",
    )
    assert months.height == 3
    s = {c: months[c].sum() for c in months.columns if c != "month_start_date"}
    assert tiles["Perfect order"] == f"{100 * s['orders_perfect'] / s['orders_due']:.1f} %"
    assert tiles["OTIF"] == f"{100 * s['otif_numerator'] / s['otif_denominator']:.1f} %"
    assert tiles["Fill rate (units)"] == f"{100 * s['units_filled'] / s['units_ordered']:.1f} %"
    mean_ct = float(s["cycle_time_days_total"]) / s["orders_delivered"]
    assert tiles["Order cycle time"] == f"{mean_ct:.2f} days"
    ships = marts(
        snapshot,
        f"""select is_delivered_on_time from marts.fct_shipments
        where is_delivered and cast(delivered_at as date) between '{PERIOD[0]}' and '{PERIOD[1]}'""",
    )
    assert tiles["Shipments delivered"] == f"{ships.height:,}"
    on_time = ships["is_delivered_on_time"]
    assert tiles["On-time delivery"] == f"{100 * on_time.sum() / on_time.count():.1f} %"
    # The money tiles equal the finance marts: margin over orders created in the period,
    # payable carrier invoices over the shipments they cover, delivered in the period.
    money = marts(
        snapshot,
        f"""select sum(m.contribution_margin_reporting_amount)
                / sum(m.net_revenue_reporting_amount) as margin_rate
        from marts.fct_order_margin as m join marts.fct_orders as o using (order_id)
        where cast(o.created_at as date) between '{PERIOD[0]}' and '{PERIOD[1]}'""",
    ).row(0, named=True)
    assert tiles["Margin"] == f"{100 * float(money['margin_rate']):.1f} %"
    cost = marts(
        snapshot,
        f"""select sum(i.invoiced_reporting_amount) / count(distinct i.shipment_id) as cps
        from marts.fct_freight_audit_invoices as i join marts.fct_shipments as s using (shipment_id)
        where not i.is_duplicate and not i.is_unmatched
          and cast(s.delivered_at as date) between '{PERIOD[0]}' and '{PERIOD[1]}'""",
    )["cps"][0]
    assert tiles["Cost per shipment"] == f"{float(cost):,.2f}"


@pytest.mark.slow
def test_overview_under_a_carrier_and_customer_filter_equals_the_orders_recounted(snapshot):
    orders = marts(snapshot, "select * from marts.fct_orders")
    ships = marts(snapshot, "select * from marts.fct_shipments")
    lines = marts(snapshot, "select order_id, shipment_id from staging.stg_oms__shipment_lines")
    customer = orders.group_by("customer_id").len().sort("len", descending=True)["customer_id"][0]
    carrier = "UPS"

    def setup(at):
        set_period(at, *PERIOD)
        at.session_state["flt_customers"] = [customer]
        at.session_state["flt_carriers"] = [carrier]

    at = open_page("overview", setup)
    tiles = {m.label: m.value for m in at.metric}
    carried = lines.join(ships.filter(pl.col("carrier_code") == carrier), on="shipment_id")
    mine = orders.filter(
        (pl.col("customer_id") == customer) & pl.col("order_id").is_in(carried["order_id"])
    )
    due = mine.filter(
        pl.col("is_due")
        & pl.col("reference_window_end_at").dt.date().is_between(*PERIOD, closed="both")
    )
    assert due.height > 0
    assert tiles["Perfect order"] == f"{100 * due['is_perfect_order'].sum() / due.height:.1f} %"


@pytest.mark.slow
@pytest.mark.parametrize("page", ["overview", "carriers", "exceptions", "finance"])
def test_filters_that_match_nothing_say_so(snapshot, page):
    def setup(at):
        # An ocean carrier never carries parcels: valid options, empty together.
        at.session_state["flt_carriers"] = ["HLCU"]
        at.session_state["flt_modes"] = ["PARCEL"]

    at = open_page(page, setup)
    assert not at.exception
    assert any("match the filters" in i.value for i in at.info), texts(at)


@pytest.mark.slow
def test_a_period_without_data_says_so(snapshot):
    at = open_page("overview", lambda a: set_period(a, date(2001, 1, 1), date(2001, 1, 31)))
    assert not at.exception
    assert any("match the filters" in i.value for i in at.info), texts(at)


@pytest.mark.slow
def test_carrier_page_shows_the_picked_carrier_with_its_volume(snapshot):
    at = open_page("carriers", lambda a: set_period(a, *PERIOD))
    at.pills(key="carrier_pick").set_value("FEDEX").run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    # Counted from fct_shipments by the scorecard's own month rule (docs/kpis.md: the month of
    # the planned pickup), not read back from the mart.
    expected = marts(
        snapshot,
        f"""select count(*) as n from marts.fct_shipments where carrier_code = 'FEDEX'
        and date_trunc('month', coalesce(planned_pickup_start_at, planned_pickup_end_at,
            booked_at, order_created_at)) between '{PERIOD[0]}' and '{PERIOD[1]}'""",
    )["n"][0]
    assert metrics["Shipments"] == f"{expected:,}"
    assert any("FEDEX" in s.value for s in at.subheader)
    # Invoice accuracy and cost per shipment recounted from fct_freight_audit_invoices by the
    # scorecard's month rule (the shipment's planned-pickup month), not read back from a mart.
    money = marts(
        snapshot,
        f"""with s as (select shipment_id from marts.fct_shipments where carrier_code = 'FEDEX'
            and date_trunc('month', coalesce(planned_pickup_start_at, planned_pickup_end_at,
                booked_at, order_created_at)) between '{PERIOD[0]}' and '{PERIOD[1]}'),
        i as (select i.* from marts.fct_freight_audit_invoices as i
            inner join s on s.shipment_id = i.shipment_id where i.carrier_code = 'FEDEX')
        select avg(case when is_accurate then 1.0 else 0.0 end) as acc,
            sum(invoiced_reporting_amount) filter (where not is_duplicate and not is_unmatched)
            / count(distinct shipment_id) filter (where not is_duplicate and not is_unmatched)
                as per_shipment
        from i""",
    ).row(0, named=True)
    assert metrics["Invoice accuracy"] == f"{100 * money['acc']:.1f} %"
    assert metrics["Cost per shipment (USD)"] == f"{money['per_shipment']:,.2f}"


@pytest.mark.slow
def test_transit_box_is_the_carriers_quartiles_and_fences_without_every_point(
    snapshot, monkeypatch
):
    # Recomputed with polars from the shipments (linear-interpolated quartiles, Tukey fences at
    # 1.5 x IQR), not read back from the dashboard's SQL.
    shipments = marts(
        snapshot,
        """select shipment_id, transport_mode, transit_time_days from marts.fct_shipments
        where carrier_code = 'FEDEX' and transit_time_days is not null""",
    )
    days = shipments["transit_time_days"]
    q1, median, q3 = (days.quantile(q, interpolation="linear") for q in (0.25, 0.5, 0.75))
    low, high = q1 - 1.5 * (q3 - q1), q3 + 1.5 * (q3 - q1)
    inside = days.filter((days >= low) & (days <= high))
    outlying = shipments.filter(
        (pl.col("transit_time_days") < low) | (pl.col("transit_time_days") > high)
    )
    assert outlying.height >= 2, "the fixture should have outliers to draw"
    monkeypatch.setattr(data, "TRANSIT_OUTLIER_POINTS", 1)

    got = data.carrier_transit_times("FEDEX", data.NO_FILTERS)

    row = got["stats"].row(0, named=True)
    assert got["stats"].height == shipments["transport_mode"].n_unique() == 1
    assert row["shipments"] == shipments.height
    assert (row["q1"], row["median"], row["q3"]) == pytest.approx((q1, median, q3))
    assert (row["lower_fence"], row["upper_fence"]) == pytest.approx((inside.min(), inside.max()))
    assert row["outliers"] == outlying.height
    # Only the single most extreme outlier is sent, not every shipment.
    extreme = outlying.sort(
        pl.max_horizontal(q1 - pl.col("transit_time_days"), pl.col("transit_time_days") - q3),
        descending=True,
    )["shipment_id"][0]
    assert got["outliers"]["shipment_id"].to_list() == [extreme]
    fig = charts.transit_box(got, "FEDEX")
    assert [t.type for t in fig.data] == ["box", "scatter"]
    assert fig.data[0].q3 == pytest.approx([q3])
    mode = row["transport_mode"]
    assert fig.data[1].name == f"{mode}: outliers ({outlying.height:,}, 1 most extreme)"


@pytest.mark.slow
def test_carrier_ranking_rolls_the_scorecard_up_by_summing_numerators(snapshot):
    card = marts(snapshot, "select * from marts.rpt_carrier_scorecard")
    weights = data.scorecard_weights()
    # One carrier x lane x mode x month row: the ranking's score is the mart's own composite.
    # A cell with invoices, so invoice accuracy (a composite component) is in its score.
    assert "invoice_accuracy" in weights
    row = (
        card.filter(
            pl.col("composite_score").is_not_null() & (pl.col("invoice_accuracy_denominator") > 0)
        )
        .sort("shipments")
        .row(-1, named=True)
    )
    one = data.Filters(
        start=row["month_start_date"],
        end=row["month_start_date"],
        carriers=(row["carrier_code"],),
        lanes=(row["lane"],),
        modes=(row["transport_mode"],),
    )
    ranked = data.carrier_ranking(one).row(0, named=True)
    assert ranked["shipments"] == row["shipments"]
    assert ranked["composite_score"] == round(100 * row["composite_score"], 1)
    assert ranked["invoice_accuracy_rate"] == row["invoice_accuracy_rate"]
    # the mart stores them as decimal(18,2) and decimal(18,4); the ranking divides unrounded
    for name, places in (
        ("cost_per_shipment_reporting_amount", 2),
        ("cost_per_kg_reporting_amount", 4),
    ):
        assert round(float(ranked[name]), places) == float(row[name]), name
    # The whole carrier over every month: each rate = summed numerator / summed denominator,
    # the composite re-weighted over the summed components (recomputed here in polars).
    carrier = row["carrier_code"]
    mine = card.filter(pl.col("carrier_code") == carrier)
    ranked = data.carrier_ranking(data.Filters(carriers=(carrier,))).row(0, named=True)
    assert ranked["shipments"] == mine["shipments"].sum()
    num, den = 0.0, 0.0
    for name, wt in weights.items():
        stem = name.removesuffix("_free")
        d = mine[f"{stem}_denominator"].sum()
        if d:
            r = mine[f"{stem}_numerator"].sum() / d
            num += wt * ((1 - r) if name.endswith("_free") else r)
            den += wt
        assert ranked[f"{stem}_rate"] == (mine[f"{stem}_numerator"].sum() / d if d else None)
    assert ranked["composite_score"] == round(100 * num / den, 1)


@pytest.mark.slow
def test_shipment_explorer_finds_a_shipment_by_order_and_shows_its_events(snapshot):
    row = marts(
        snapshot,
        """select l.order_id, l.shipment_id, count(distinct e.event_id) as events
        from staging.stg_oms__shipment_lines as l
        inner join marts.fct_shipment_events as e on e.shipment_id = l.shipment_id
        group by all order by events desc, l.shipment_id limit 1""",
    ).row(0, named=True)
    at = open_page("shipments")
    at.text_input(key="shipment_search").input(row["order_id"]).run()
    assert not at.exception
    assert at.selectbox(key="shipment_pick").value == row["shipment_id"]
    raw_events = at.dataframe[-1].value
    frame = raw_events.data if hasattr(raw_events, "data") else raw_events
    assert len(frame) == row["events"]
    at.text_input(key="shipment_search").input("NO-SUCH-REF-123").run()
    assert any("No shipment matches" in w.value for w in at.warning)


@pytest.mark.slow
def test_alerts_are_open_shipments_oldest_first(snapshot):
    at = open_page("exceptions")
    assert not at.exception
    table = at.dataframe[0].value
    assert len(table) > 0
    ages = list(table["age_hours"])
    assert ages == sorted(ages, reverse=True)
    alert_ids = marts(snapshot, "select alert_id, shipment_id from marts.rpt_shipment_alerts")
    assert len(table) == alert_ids.height
    assert sorted(table["shipment_id"]) == sorted(alert_ids["shipment_id"])
    open_ids = set(
        marts(snapshot, "select shipment_id from marts.fct_shipments where delivered_at is null")[
            "shipment_id"
        ]
    )
    assert set(table["shipment_id"]) <= open_ids


# ------------------------------------------------------------------ SQL workbench


@pytest.mark.slow
def test_workbench_runs_a_select_and_refuses_everything_else(snapshot):
    df, truncated = data.run_sql("select count(*) as n from marts.fct_orders")
    assert df["n"][0] == marts(snapshot, "select count(*) as n from marts.fct_orders")["n"][0]
    assert not truncated
    refused = [
        "create table x as select 1",
        "select 1; select 2",
        "attach 'x.duckdb' as x",
        "copy marts.fct_orders to 'out.csv'",
        "pragma database_list",
        "set enable_external_access = true",
        "install httpfs",
    ]
    for sql in refused:
        with pytest.raises(data.RefusedQuery):
            data.run_sql(sql)
    for sql in (
        "select * from read_csv('/etc/passwd')",
        "select * from read_parquet('/tmp/*.parquet')",
    ):
        with pytest.raises(duckdb.PermissionException):
            data.run_sql(sql)
    with pytest.raises(data.QueryTimeout):
        data.run_sql("select count(*) from range(100000000000) as a", timeout_s=0.5)
    df, truncated = data.run_sql("select * from range(50)", max_rows=10)
    assert df.height == 10 and truncated


@pytest.mark.slow
def test_workbench_page_shows_results_and_errors(snapshot):
    at = open_page("workbench")
    # A form: the new text is submitted together with the click.
    at.text_area(key="wb_sql").input("select carrier_code from marts.fct_shipments")
    at.button(key="wb_run").click().run()
    assert not at.exception
    n = marts(snapshot, "select count(*) as n from marts.fct_shipments")["n"][0]
    assert any(c.value == f"{n:,} rows" for c in at.caption), [c.value for c in at.caption]
    at.text_area(key="wb_sql").input("drop table marts.fct_orders")
    at.button(key="wb_run").click().run()
    assert any("only SELECT" in e.value for e in at.error)


# ------------------------------------------------------------------ tenant mode


def customers(snapshot: Path) -> list[str]:
    return (
        marts(snapshot, "select customer_id, count(*) as n from marts.fct_orders group by 1")
        .sort(["n", "customer_id"], descending=True)["customer_id"]
        .to_list()
    )


def truth(snapshot: Path, customer: str) -> dict[str, set[str]]:
    """The customer's orders and the shipments carrying them, from the full snapshot."""
    orders = set(
        marts(snapshot, f"select order_id from marts.fct_orders where customer_id = '{customer}'")[
            "order_id"
        ]
    )
    lines = marts(snapshot, "select order_id, shipment_id from staging.stg_oms__shipment_lines")
    shipments = set(lines.filter(pl.col("order_id").is_in(orders))["shipment_id"].drop_nulls())
    return {"orders": orders, "shipments": shipments}


@pytest.mark.slow
def test_a_tenant_database_holds_only_that_customers_rows(snapshot):
    tenant = customers(snapshot)[0]
    own = truth(snapshot, tenant)
    scope = data.Scope(customer_id=tenant)
    names = data.tables(scope)
    assert "marts.kpi_orders_monthly" not in names  # an aggregate over every customer
    assert "meta.quarantine" not in names and "meta.load_log" not in names
    for name in names:
        cols = data.columns_of(name, scope)
        df = data.query(f"select * from {name}", scope=scope)
        if "customer_id" in cols:
            assert set(df["customer_id"].drop_nulls()) <= {tenant}, name
        if "order_id" in cols:
            assert set(df["order_id"].drop_nulls()) <= own["orders"], name
        if "shipment_id" in cols:
            assert set(df["shipment_id"].drop_nulls()) <= own["shipments"], name
        if not {"customer_id", "order_id", "shipment_id"} & set(cols):
            assert name.startswith(("reference.", "meta.snapshot_info")), name
    counted = data.query("select count(*) as n from marts.fct_orders", scope=scope)["n"][0]
    assert counted == len(own["orders"]) > 0


@pytest.mark.slow
def test_no_sql_reaches_another_tenants_rows(snapshot):
    tenant, other = customers(snapshot)[:2]
    scope = data.Scope(customer_id=tenant)
    ok = {
        "select distinct customer_id from marts.fct_orders": {tenant},
        "select distinct customer_id from memory.marts.fct_orders": {tenant},
        "select distinct customer_id from staging.stg_oms__order_lines": {tenant},
    }
    for sql, expected in ok.items():
        try:
            df, _ = data.run_sql(sql, scope=scope)
        except duckdb.Error:
            continue  # refusing is as good as hiding
        if expected is not None:
            assert set(df[df.columns[0]]) == expected, sql
    df, _ = data.run_sql(
        f"select count(*) as n from marts.fct_orders where customer_id = '{other}'", scope=scope
    )
    assert df["n"][0] == 0
    df, _ = data.run_sql(
        "select distinct database_name from duckdb_tables() union "
        "select distinct table_catalog from information_schema.tables",
        scope=scope,
    )
    assert set(df[df.columns[0]]) <= {"memory", "temp", "system"}
    snapshot_file = str(snapshot)
    for sql in (
        f"select * from '{snapshot_file}'",
        f"select * from read_parquet('{snapshot_file}')",
        "select * from marts.kpi_orders_monthly",
        "select * from snap.marts.fct_orders",
        "select * from waybill.marts.fct_orders",
        "select * from meta.quarantine",
    ):
        with pytest.raises(duckdb.Error):
            data.run_sql(sql, scope=scope)
    for sql in (f"attach '{snapshot_file}' as s2 (read_only)", "set lock_configuration = false"):
        with pytest.raises(data.RefusedQuery):
            data.run_sql(sql, scope=scope)
    # And straight on the tenant connection (what a bug in the statement check would allow).
    with data.connect(scope) as con:
        for sql in (
            f"attach '{snapshot_file}' as s2 (read_only)",
            "set enable_external_access = true",
            "set lock_configuration = false",
        ):
            with pytest.raises(duckdb.Error):
                con.execute(sql)


@pytest.fixture
def users_file(snapshot, tmp_path, monkeypatch) -> dict:
    path = tmp_path / "users.toml"
    tenant, other = customers(snapshot)[:2]
    add_user(path, "acme", "acme-secret-1", role="customer", customer_id=tenant)
    add_user(path, "ops", "ops-secret-12", role="internal")
    monkeypatch.setenv("WAYBILL_USERS_FILE", str(path))
    return {"path": path, "tenant": tenant, "other": other}


def signed_in(username: str, password: str):
    def setup(at):
        at.session_state["user"] = authenticate(load_users_from_env(), username, password)

    return setup


def load_users_from_env():
    from waybill.settings import load_settings

    return load_users(load_settings().users_file)


@pytest.mark.slow
def test_with_users_nobody_passes_without_signing_in(users_file):
    at = open_page("overview")
    assert not at.exception
    assert at.title[0].value == "waybill: sign in"
    assert not at.metric
    at.text_input(key="login_user").input("acme")
    at.text_input(key="login_password").input("wrong-password")
    at.button(key="login_submit").click().run()
    assert any("wrong password" in e.value for e in at.error)
    at.text_input(key="login_password").input("acme-secret-1")
    at.button(key="login_submit").click().run()
    assert not at.exception
    assert any(m.label == "Perfect order" for m in at.metric)


def sign_in_form(at: AppTest, username: str, password: str) -> AppTest:
    at.text_input(key="login_user").input(username)
    at.text_input(key="login_password").input(password)
    return at.button(key="login_submit").click().run()


@pytest.mark.slow
def test_five_wrong_passwords_lock_the_user_name_for_a_while(users_file):
    from dashboards import ui

    ui.login_throttle.clear()
    try:
        at = open_page("overview")
        for _ in range(5):
            sign_in_form(at, "ops", "guess")
            assert any("wrong password" in e.value for e in at.error)
        # locked: even the right password is refused, and says for how long
        sign_in_form(at, "ops", "ops-secret-12")
        assert any("Too many failed sign-ins" in e.value and "15 min" in e.value for e in at.error)
        assert not at.metric
        # another name is not locked by them
        sign_in_form(at, "acme", "acme-secret-1")
        assert not at.exception and any(m.label == "Perfect order" for m in at.metric)
    finally:
        ui.login_throttle.clear()


def test_login_throttle_unlocks_after_the_window_and_on_success():
    from waybill.users import LoginThrottle

    now = [1000.0]
    t = LoginThrottle(max_failures=3, window_s=600, clock=lambda: now[0])
    for _ in range(2):
        t.failed("Ops")
        now[0] += 60
    assert t.locked_for("ops") == 0  # two failures: still free
    t.failed(" ops ")  # the name as typed, case and spaces aside
    assert t.locked_for("OPS") == pytest.approx(1000 + 600 - now[0])
    now[0] = 1000 + 599
    assert t.locked_for("ops") == pytest.approx(1)
    now[0] = 1000 + 600  # the first failure is out of the window: 2 left, free again
    assert t.locked_for("ops") == 0
    t.failed("ops")
    assert t.locked_for("ops") > 0
    t.succeeded("ops")
    assert t.locked_for("ops") == 0
    assert t.locked_for("someone-else") == 0


@pytest.mark.slow
@pytest.mark.parametrize("page", TENANT_PAGES)
def test_no_page_shows_a_tenant_another_customers_rows(users_file, snapshot, page):
    tenant, other = users_file["tenant"], users_file["other"]
    own = truth(snapshot, tenant)
    all_orders = set(marts(snapshot, "select order_id from marts.fct_orders")["order_id"])
    all_ships = set(marts(snapshot, "select shipment_id from marts.fct_shipments")["shipment_id"])
    foreign_orders = all_orders - own["orders"]
    foreign_ships = all_ships - own["shipments"]

    def setup(at):
        signed_in("acme", "acme-secret-1")(at)
        at.session_state["flt_period"] = (date(2026, 1, 1), date(2026, 12, 31))
        if page == "shipments":
            at.session_state["shipment_search"] = "SHP"
        if page == "workbench":
            at.session_state["wb_sql"] = "select * from marts.fct_orders"

    at = open_page(page, setup)
    if page == "workbench":
        at.button(key="wb_run").click().run()
    assert not at.exception
    shown = texts(at)
    assert other not in shown
    leaked_orders = {o for o in foreign_orders if o in shown}
    leaked_ships = {s for s in foreign_ships if s in shown}
    assert not leaked_orders and not leaked_ships
    if page == "overview":
        tiles = {m.label: m.value for m in at.metric}
        due = marts(
            snapshot,
            f"""select count(*) filter (where is_perfect_order) as perfect, count(*) as due
            from marts.fct_orders where customer_id = '{tenant}' and is_due
            and year(reference_window_end_at) = 2026""",
        ).row(0, named=True)
        assert tiles["Perfect order"] == f"{100 * due['perfect'] / due['due']:.1f} %"


# ------------------------------------------------------------------ users file


def test_users_file_keeps_only_argon2_hashes_and_checks_passwords(tmp_path):
    path = tmp_path / "users.toml"
    add_user(path, "acme", "correct horse", role="customer", customer_id="CUST-0001")
    text = path.read_text()
    assert "correct horse" not in text and "$argon2id$" in text
    users = load_users(path)
    assert authenticate(users, "acme", "correct horse").customer_id == "CUST-0001"
    assert authenticate(users, "acme", "wrong horse") is None
    assert authenticate(users, "nobody", "correct horse") is None
    with pytest.raises(ValueError, match="customer_id"):
        add_user(path, "bad", "long enough", role="customer")
    path.write_text('[users.x]\nrole = "internal"\npassword_hash = "plain"\n')
    with pytest.raises(ValueError, match="argon2"):
        load_users(path)


# ------------------------------------------------------------------ an older snapshot


OLDER_SNAPSHOT_LACKS = (
    "marts.rpt_carrier_scorecard",
    "marts.rpt_shipment_alerts",
    "marts.rpt_carrier_cost_monthly",
    *(f"marts.{m}" for m in data.FINANCE_MARTS),
)


@pytest.fixture
def older_snapshot(pipeline_run, tmp_path, monkeypatch) -> Path:
    """A copy of the snapshot as an older waybill published it: no scorecard, alerts or finance
    marts; plus data-quality results (shaped as meta.dq_results will be)."""
    serving = tmp_path / "serving"
    serving.mkdir()
    path = serving / "waybill.duckdb"
    shutil.copy(pipeline_run["settings"].snapshot, path)
    con = duckdb.connect(str(path))
    for name in dict.fromkeys(OLDER_SNAPSHOT_LACKS):
        con.execute(f"drop table if exists {name}")
    con.execute(
        """create or replace table meta.dq_results as
        select * from (values
            ('contract', 'raw/orders', 'not_null(order_id)', 'r1',
             timestamp '2026-11-01 10:00', false, 'error'),
            ('contract', 'raw/orders', 'not_null(order_id)', 'r2',
             timestamp '2026-11-02 10:00', true, 'error'),
            ('coverage', 'marts/fct_shipment_events', 'mapped_share', 'r2',
             timestamp '2026-11-02 10:00', false, 'warn')
        ) as t(check_name, asset, expectation, run_id, checked_at, passed, severity)"""
    )
    con.close()
    monkeypatch.setenv("WAYBILL_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("WAYBILL_USERS_FILE", raising=False)
    monkeypatch.setenv("WAYBILL_DASHBOARD_NO_AUTH", "1")  # no users: open only with --no-auth
    return path


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES)
def test_an_older_snapshot_without_the_new_marts_gets_the_empty_state(older_snapshot, page):
    """No recomputation in the dashboard: a missing mart says what to run."""
    at = open_page(page, lambda a: set_period(a, *PERIOD))
    assert not at.exception, at.exception
    shown = texts(at)
    if page == "carriers":
        assert "rpt_carrier_scorecard" in shown and "waybill run" in shown, shown
        assert not at.metric
    if page == "exceptions":
        assert "rpt_shipment_alerts" in shown and "waybill run" in shown, shown
        assert not at.dataframe
    if page == "overview":
        tiles = {m.label: m.value for m in at.metric}
        assert tiles["Margin"] == "-" and tiles["Cost per shipment"] == "-"
    if page == "finance":
        assert "needs the finance marts" in shown
    if page == "quality":
        # The latest result per expectation: the contract check recovered, coverage fails.
        assert "Latest results: 1 of 2 expectations pass, 1 fail" in shown


def test_waybill_users_add_writes_a_hash_the_dashboard_accepts(tmp_path):
    import os
    import subprocess
    import sys

    from waybill.settings import PROJECT_ROOT

    path = tmp_path / "users.toml"
    env = os.environ | {"WAYBILL_USERS_FILE": str(path), "WAYBILL_DATA_DIR": str(tmp_path)}
    # Scripts pass the password on stdin (interactive use gets a getpass prompt).
    add = subprocess.run(
        [sys.executable, "-m", "waybill.cli", "users", "add", "acme", "--customer", "C-1"]
        + ["--password-stdin"],
        input="s3cret-pass\n",
        capture_output=True,
        text=True,
        env=env,
        cwd=PROJECT_ROOT,
    )
    assert add.returncode == 0, add.stderr
    assert "customer C-1" in add.stdout
    user = authenticate(load_users(path), "acme", "s3cret-pass")
    assert user is not None and user.customer_id == "C-1" and user.is_tenant
    assert "s3cret-pass" not in path.read_text()


# ------------------------------------------------------------------ finance page


def frame_with(at: AppTest, *columns: str, without: tuple[str, ...] = ()) -> pl.DataFrame:
    """The first table on the page having ``columns`` (and none of ``without``), as polars."""
    for df in at.dataframe:
        value = df.value
        pdf = value.data if hasattr(value, "data") else value
        if set(columns) <= set(pdf.columns) and not set(without) & set(pdf.columns):
            return pl.from_pandas(pdf)
    raise AssertionError(f"no table with {columns}")


def cents(series) -> list[float]:
    return [round(float(v), 2) for v in series]


@pytest.mark.slow
def test_finance_page_numbers_equal_the_finance_marts(snapshot):
    at = open_page("finance", lambda a: set_period(a, *WHOLE_HISTORY))
    assert not at.exception, at.exception
    metrics = {m.label: m.value for m in at.metric}

    invoices = marts(snapshot, "select * from marts.fct_freight_audit_invoices")
    assert invoices.height > 0
    by_status = (
        invoices.group_by("invoice_status")
        .agg(pl.len().alias("n"), pl.col("invoiced_reporting_amount").cast(pl.Float64).sum())
        .sort("invoice_status")
    )
    shown = frame_with(at, "invoice_status", "invoices", without=("carrier_code",)).sort(
        "invoice_status"
    )
    assert shown["invoice_status"].to_list() == by_status["invoice_status"].to_list()
    assert shown["invoices"].to_list() == by_status["n"].to_list()
    assert cents(shown["invoiced_reporting_amount"]) == cents(
        by_status["invoiced_reporting_amount"]
    )
    assert metrics["Invoices audited"] == f"{invoices.height:,}"
    flagged = invoices.filter(~pl.col("invoice_status").is_in(["MATCHED", "WITHIN_TOLERANCE"]))
    assert metrics["Invoices flagged"] == f"{flagged.height:,}"

    ar = marts(
        snapshot, "select aging_bucket, open_reporting_amount from marts.rpt_receivables_aging"
    )
    ar_truth = ar.group_by("aging_bucket").agg(
        pl.len().alias("rows"), pl.col("open_reporting_amount").cast(pl.Float64).sum()
    )
    ar_shown = frame_with(at, "aging_bucket", "open_reporting_amount")
    assert ar_shown["aging_bucket"].to_list() == [
        b for b in data.AGING_BUCKETS if b in set(ar_truth["aging_bucket"])
    ]
    joined = ar_shown.join(ar_truth, on="aging_bucket", suffix="_truth")
    assert joined["rows"].to_list() == joined["rows_truth"].to_list()
    assert cents(joined["open_reporting_amount"]) == cents(joined["open_reporting_amount_truth"])

    ap = marts(
        snapshot,
        "select aging_bucket, payable_status, invoiced_reporting_amount from marts.rpt_payables_aging",
    )
    ap_truth = ap.group_by("aging_bucket", "payable_status").agg(
        pl.len().alias("rows"), pl.col("invoiced_reporting_amount").cast(pl.Float64).sum()
    )
    ap_shown = frame_with(at, "aging_bucket", "payable_status")
    assert ap_shown.height == ap_truth.height
    joined = ap_shown.join(ap_truth, on=["aging_bucket", "payable_status"], suffix="_truth")
    assert joined.height == ap_truth.height
    assert joined["rows"].to_list() == joined["rows_truth"].to_list()
    assert cents(joined["invoiced_reporting_amount"]) == cents(
        joined["invoiced_reporting_amount_truth"]
    )

    margin = marts(
        snapshot,
        """select count(*) as orders, sum(net_revenue_reporting_amount)::double as revenue,
            sum(contribution_margin_reporting_amount)::double as margin
        from marts.fct_order_margin""",
    ).row(0, named=True)
    assert metrics["Orders"] == f"{margin['orders']:,}"
    assert metrics["Net revenue (USD)"] == f"{margin['revenue']:,.0f}"
    assert metrics["Contribution margin (USD)"] == f"{margin['margin']:,.0f}"
    assert metrics["Margin %"] == f"{100 * margin['margin'] / margin['revenue']:.1f} %"
    # the generator sends unit_cost on every line: no margin is costed at price
    assert "costed at the selling price" not in texts(at)


@pytest.mark.slow
def test_finance_page_applies_the_filter_bar_through_each_documents_links(snapshot):
    # Recounted with polars from the published marts and the shipment lines (the link between
    # orders and shipments), not with the dashboard's SQL.
    invoices = marts(snapshot, "select * from marts.fct_freight_audit_invoices")
    lines = marts(snapshot, "select order_id, shipment_id from staging.stg_oms__shipment_lines")
    orders = marts(snapshot, "select order_id, customer_id from marts.fct_orders")
    customer = orders["customer_id"].sort()[0]
    start, end = PERIOD

    def setup(at):
        set_period(at, start, end)
        at.session_state["flt_customers"] = [customer]

    at = open_page("finance", setup)
    assert not at.exception, at.exception
    metrics = {m.label: m.value for m in at.metric}

    carrying = set(
        lines.join(orders.filter(pl.col("customer_id") == customer), on="order_id")["shipment_id"]
    )
    mine = invoices.filter(
        pl.col("shipment_id").is_in(carrying), pl.col("invoice_date").is_between(start, end)
    )
    assert 0 < mine.height < invoices.height
    assert metrics["Invoices audited"] == f"{mine.height:,}"
    margin = marts(
        snapshot,
        f"""select count(*) as n from marts.fct_order_margin where customer_id = '{customer}'
        and order_date between '{start}' and '{end}'""",
    )["n"][0]
    assert metrics["Orders"] == f"{margin:,}"
    # the aging is what is open now: the customer filter applies, the period does not
    ar = marts(
        snapshot,
        f"select count(*) as n from marts.rpt_receivables_aging where customer_id = '{customer}'",
    )["n"][0]
    assert frame_with(at, "aging_bucket", "open_reporting_amount")["rows"].sum() == ar


@pytest.mark.slow
def test_finance_page_under_a_carrier_filter_counts_each_order_of_the_carrier(snapshot):
    # Margin and landed cost by order: an order belongs to each carrier that shipped part of
    # it (fct_order_margin names only one; the generator splits orders within one carrier, so
    # the two agree here); carrier cost by month is per carrier and month.
    lines = marts(snapshot, "select order_id, shipment_id from staging.stg_oms__shipment_lines")
    shipments = marts(snapshot, "select shipment_id, carrier_code from marts.fct_shipments")
    margin = marts(
        snapshot, "select order_id, carrier_code, order_date from marts.fct_order_margin"
    )
    cost = marts(snapshot, "select carrier_code, invoice_month from marts.rpt_carrier_cost_monthly")
    start, end = PERIOD
    ups_orders = set(
        lines.join(shipments.filter(pl.col("carrier_code") == "UPS"), on="shipment_id")["order_id"]
    )

    def setup(at):
        set_period(at, start, end)
        at.session_state["flt_carriers"] = ["UPS"]

    at = open_page("finance", setup)
    assert not at.exception, at.exception
    metrics = {m.label: m.value for m in at.metric}
    mine = margin.filter(
        pl.col("order_id").is_in(ups_orders), pl.col("order_date").is_between(start, end)
    )
    assert metrics["Orders"] == f"{mine.height:,}" and mine.height > 0
    months = cost.filter(
        pl.col("carrier_code") == "UPS",
        pl.col("invoice_month").is_between(start.replace(day=1), end),
    )
    shown = frame_with(at, "invoice_month", "invoices_audited")  # its first page
    assert months.height > 0 and set(shown["carrier_code"]) == {"UPS"}
    if months.height <= 50:
        assert shown.height == months.height
    else:
        assert any(f"{months.height:,} rows, 50 per page" in c.value for c in at.caption)


@pytest.fixture
def snapshot_goods_at_price(pipeline_run, tmp_path, monkeypatch) -> tuple[Path, int, int]:
    """A copy of the snapshot where every order of one customer had no unit cost (as in the
    Olist and SCMS imports): fct_order_margin flags them is_goods_cost_estimated."""
    serving = tmp_path / "serving"
    serving.mkdir()
    path = serving / "waybill.duckdb"
    shutil.copy(pipeline_run["settings"].snapshot, path)
    con = duckdb.connect(str(path))
    customer = con.execute(
        "select customer_id from marts.fct_order_margin group by 1 order by count(*) desc limit 1"
    ).fetchall()[0][0]
    con.execute(
        "update marts.fct_order_margin set is_goods_cost_estimated = (customer_id = ?)", [customer]
    )
    flagged, orders = con.execute(
        "select count(*) filter (where is_goods_cost_estimated), count(*) "
        "from marts.fct_order_margin"
    ).fetchall()[0]
    con.close()
    monkeypatch.setenv("WAYBILL_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("WAYBILL_USERS_FILE", raising=False)
    monkeypatch.setenv("WAYBILL_DASHBOARD_NO_AUTH", "1")  # no users: open only with --no-auth
    return path, flagged, orders


def test_a_margin_with_goods_costed_at_price_says_it_is_understated(snapshot_goods_at_price):
    _, flagged, orders = snapshot_goods_at_price
    assert 0 < flagged < orders
    expected = (
        f"{flagged:,} of {orders:,} orders ({100 * flagged / orders:.1f} %) have no unit cost"
    )
    at = open_page("finance", lambda a: set_period(a, *WHOLE_HISTORY))
    assert not at.exception, at.exception
    assert any(expected in w.value for w in at.warning), [w.value for w in at.warning]
    # on the overview, under the margin tile, over the whole history
    at = open_page("overview", lambda a: set_period(a, date(2000, 1, 1), date(2030, 12, 31)))
    assert not at.exception, at.exception
    assert any(expected in c.value for c in at.caption), [c.value for c in at.caption]


def summary_sheet(content: bytes | Path) -> dict[str, str]:
    import io

    source = io.BytesIO(content) if isinstance(content, bytes) else content
    df = pl.read_excel(source, sheet_name="Summary", has_header=False)
    rows = {str(k): str(v) for k, v in df.iter_rows()}
    rows.pop("Generated at (UTC)")
    return rows


@pytest.mark.slow
def test_xlsx_download_has_the_same_summary_sheet_as_the_cli(snapshot, tmp_path):
    from tests.conftest import waybill

    for report in ("margin", "payables-aging"):
        out = tmp_path / f"{report}.xlsx"
        cli = waybill(
            "export",
            report,
            "--format",
            "xlsx",
            "--out",
            str(out),
            data_dir=snapshot.parent.parent,
        )
        assert cli.returncode == 0, cli.stdout + cli.stderr
        downloaded = summary_sheet(data.export_bytes(report, "xlsx"))
        assert downloaded == summary_sheet(out)
        assert int(downloaded["Rows"]) > 0
    # A tenant's download holds its own receivables only, and no carrier-side report at all.
    tenant = customers(snapshot)[0]
    scope = data.Scope(customer_id=tenant)
    assert set(data.export_frames(scope)) == {"receivables-aging"}
    own = marts(
        snapshot,
        f"select count(*) as n from marts.rpt_receivables_aging where customer_id = '{tenant}'",
    )["n"][0]
    assert summary_sheet(data.export_bytes("receivables-aging", "xlsx", scope))["Rows"] == str(own)
    with pytest.raises(ValueError):
        data.export_bytes("margin", "xlsx", scope)


# ------------------------------------------------------------------ tenant allow-list


@pytest.mark.slow
def test_a_table_not_on_the_tenant_allow_list_is_invisible_to_tenants(pipeline_run, tmp_path):
    """A new mart with a customer_id is not copied into a tenant's database until it is listed
    in data.TENANT_TABLES, however well it is keyed."""
    path = tmp_path / "waybill.duckdb"
    shutil.copy(pipeline_run["settings"].snapshot, path)
    con = duckdb.connect(str(path))
    con.execute(
        "create table marts.rpt_new_customer_mart as select customer_id, order_id "
        "from marts.fct_orders"
    )
    con.close()
    tenant = customers(path)[0]
    scope = data.Scope(customer_id=tenant)
    names = data.tables(scope, snapshot=path)
    assert "marts.rpt_new_customer_mart" not in names
    assert "marts.rpt_new_customer_mart" in data.tables(snapshot=path)
    assert names == {n for n in data.TENANT_TABLES if n in data.tables(snapshot=path)}
    with pytest.raises(duckdb.Error):
        data.run_sql("select * from marts.rpt_new_customer_mart", scope=scope, snapshot=path)


def test_docs_list_the_tenant_allow_list():
    """docs/dashboard.md's tenant table equals data.TENANT_TABLES (name and filter)."""
    import re

    doc = (Path(__file__).parent.parent / "docs" / "dashboard.md").read_text()
    section = doc.split("## Tenant mode", 1)[1].split("\n## ", 1)[0]
    listed = dict(re.findall(r"^\| `([a-z_]+\.[a-z0-9_]+)` \| `([^`]+)` \|", section, re.M))
    assert listed == data.TENANT_TABLES


# ------------------------------------------------------------------ waybill dashboard


def test_waybill_dashboard_becomes_streamlit_and_stops_with_it(tmp_path):
    """`waybill dashboard` execs Streamlit: the pid we started is Streamlit itself, so a plain
    SIGTERM to it (no process group) stops the server and leaves nothing behind."""
    import os
    import signal
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    from waybill.settings import PROJECT_ROOT

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = os.environ | {"WAYBILL_DATA_DIR": str(tmp_path)}
    env.pop("WAYBILL_USERS_FILE", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "waybill.cli", "dashboard", "--no-auth", "--port", str(port)],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, "dashboard exited"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2):
                    break
            except OSError:
                assert time.monotonic() < deadline, "dashboard did not come up"
                time.sleep(0.5)
        cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes().split(b"\0")
        assert b"streamlit" in cmdline and b"waybill.cli" not in cmdline, cmdline
        children = [
            p.name
            for p in Path("/proc").iterdir()
            if p.name.isdigit()
            and (p / "stat").exists()
            and (p / "stat").read_text().rsplit(")", 1)[1].split()[1] == str(proc.pid)
        ]
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=20) is not None
        for child in children:
            assert not Path(f"/proc/{child}").exists(), f"orphan {child}"
        with pytest.raises(OSError):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
