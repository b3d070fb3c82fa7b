"""waybill dashboard: `waybill dashboard` starts it. Pages live in app_pages/."""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

# Streamlit runs this file as a script; make the project importable when not pip-installed.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

st.set_page_config(page_title="waybill", page_icon=":package:", layout="wide")

pages = [
    st.Page(
        "app_pages/pipeline.py",
        title="Pipeline and data quality",
        icon=":material/fact_check:",
        default=True,
    ),
]
st.navigation(pages).run()
