"""waybill dashboard: `waybill dashboard` starts it. Pages live in app_pages/.

Sign-in (when data/users.toml exists), the filter bar and the navigation are set up here, so
every page gets the same scope and filters (dashboards/ui.py).
"""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

# Streamlit runs this file as a script; make the project importable when not pip-installed.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dashboards import ui  # noqa: E402

st.set_page_config(page_title="waybill", page_icon=":package:", layout="wide")
ui.login_gate()

tenant = ui.scope().is_tenant
operations = [
    st.Page("app_pages/overview.py", title="Overview", icon=":material/dashboard:", default=True),
    st.Page("app_pages/shipments.py", title="Shipment explorer", icon=":material/search:"),
    st.Page("app_pages/exceptions.py", title="Exceptions and alerts", icon=":material/warning:"),
]
if not tenant:
    # The scorecard counts every customer's shipments: internal users only.
    operations.insert(
        1,
        st.Page(
            "app_pages/carriers.py", title="Carrier scorecards", icon=":material/local_shipping:"
        ),
    )
money = [st.Page("app_pages/finance.py", title="Finance", icon=":material/payments:")]
analysis = [st.Page("app_pages/workbench.py", title="SQL workbench", icon=":material/code:")]
if not tenant:
    # Data quality shows every customer's rejected rows: internal users only.
    analysis.insert(
        0, st.Page("app_pages/quality.py", title="Data quality", icon=":material/fact_check:")
    )
page = st.navigation({"Operations": operations, "Finance": money, "Data": analysis})
ui.user_box()
ui.filter_bar(applies=page.title not in ("Data quality", "SQL workbench"))
page.run()
