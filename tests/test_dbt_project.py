"""The dbt project: staging casts, UTC and re-send handling on hand-written raw rows, and the
project rules dbt-project-evaluator would check, restated over target/manifest.json.

One ``dbt build`` (seeds, views, data tests, unit tests) runs per module against a throwaway
DuckDB built with ``ingestion.warehouse.ensure_schema``; nothing is written inside the repo.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import duckdb
import pytest
import yaml

from ingestion.contracts import FEEDS
from ingestion.warehouse import ensure_schema

REPO_ROOT = Path(__file__).resolve().parents[1]
DBT_PROJECT = REPO_ROOT / "dbt_project"

LOADED_AT = datetime(2026, 3, 5, 12, 0, 0)

#: Hand-written raw rows per raw table. Lineage columns default to load 1, row = list position.
RAW_ROWS: dict[str, list[dict]] = {
    "orders": [
        {
            "order_id": "O1",
            "line_number": "1",
            "customer_id": "C1",
            "channel": "ecom",
            "created_at": "2026-03-01T09:30:00+01:00",
            "promised_delivery_end": "2026-03-04T18:00:00Z",
            "incoterm": "DAP",
            "origin_country": "DE",
            "destination_country": "US",
            "currency": "EUR",
            "sku": "SKU-1",
            "quantity": "5",
            "unit_price": "10.50",
            "_load_id": 1,
            "_row_number": 2,
        },
        # the corrected re-send of O1/1 in a later file: quantity and time changed
        {
            "order_id": "O1",
            "line_number": "1",
            "customer_id": "C1",
            "channel": "ecom",
            "created_at": "2026-03-01T10:00:00+01:00",
            "promised_delivery_end": "2026-03-04T18:00:00Z",
            "incoterm": "DAP",
            "origin_country": "DE",
            "destination_country": "US",
            "currency": "EUR",
            "sku": "SKU-1",
            "quantity": "7",
            "unit_price": "10.50",
            "_load_id": 3,
            "_row_number": 2,
        },
        {
            "order_id": "O1",
            "line_number": "2",
            "customer_id": "C1",
            "created_at": "2026-03-01T09:30:00+01:00",
            "promised_delivery_end": "2026-03-04T18:00:00Z",
            "incoterm": "DAP",
            "origin_country": "DE",
            "destination_country": "US",
            "currency": "EUR",
            "sku": "SKU-2",
            "quantity": "1",
            "unit_price": "99.99",
            "weight_kg": "1.25",
            "_load_id": 1,
            "_row_number": 3,
        },
    ],
    "shipments": [
        {
            "shipment_id": "SH1",
            "order_id": "O1",
            "line_number": "1",
            "quantity_shipped": "7",
            "carrier_code": "ups",
            "mode": "PARCEL",
            "planned_pickup_end": "2026-03-02T17:00:00-05:00",
            "planned_delivery_end": "2026-03-04T20:00:00-05:00",
            "gross_weight_kg": "3.5",
            "quoted_cost": "12.00",
            "quoted_currency": "USD",
        },
    ],
    "x12_214_events": [
        {
            "interchange_control_number": "000000001",
            "transaction_control_number": "0001",
            "shipment_id": "SH1",
            "carrier_scac": "ABCD",
            "status_code": "AF",
            "event_date": "20260302",
            "event_time": "1405",
            "time_code": "",
            "city": "Chicago",
            "state": "IL",
            "country": "US",
            "received_at": "2026-03-02T20:00:00",
        },
        {
            "interchange_control_number": "000000001",
            "transaction_control_number": "0001",
            "shipment_id": "SH1",
            "carrier_scac": "ABCD",
            "status_code": "D1",
            "event_date": "20260304",
            "event_time": "093015",
            "time_code": "UT",
            "received_at": "2026-03-04T09:40:00-06:00",
        },
    ],
    "dcsa_events": [
        {
            "event_id": "3cecb101-7a1a-43a4-9d62-e88a131651e1",
            "schema_version": "3.0",
            "event_type": "TRANSPORT",
            "event_classifier_code": "ACT",
            "event_type_code": "DEPA",
            "event_datetime": "2026-03-02T23:15:00+08:00",
            "is_retracted": "false",
            "un_location_code": "cnsha",
        },
    ],
    "parcel_events": [
        {
            "tracking_number": "1Z999",
            "carrier_code": "UPS",
            "status_code": "D",
            "event_timestamp": "2026-03-04T14:05:00",
            "city": "Atlanta",
            "country": "US",
        },
        {
            "tracking_number": "7781",
            "carrier_code": "FEDEX",
            "status_code": "PU",
            "event_timestamp": "2026-03-02T21:15:00-05:30",
            "received_at": "2026-03-03T00:00:00Z",
        },
    ],
    "csv_events": [
        {
            "event_id": "E-1",
            "shipment_id": "SH1",
            "carrier_code": "CARR",
            "event_code": "PICKUP",
            "event_time": "2026-03-02T08:00:00+0200",
            "location_locode": "DEHAM",
        },
        {
            "shipment_id": "SH1",
            "carrier_code": "CARR",
            "event_code": "DELIVERED",
            "event_time": "2026-03-04 16:45:00",
            "location_locode": "USNYC",
        },
    ],
    "x12_210_invoice_lines": [
        {
            "interchange_control_number": "000000002",
            "transaction_control_number": "0001",
            "invoice_number": "INV-1",
            "shipment_id": "SH1",
            "invoice_date": "20260305",
            "net_amount_due": "15.75",
            "carrier_scac": "ABCD",
            "currency": "USD",
            "line_number": "1",
            "charge_amount": "15.75",
            "charge_code": "400",
            "rate": "4.5",
            "rate_qualifier": "PK",
        },
    ],
    "carrier_invoice_lines": [
        {
            "invoice_number": "CI-1",
            "carrier_code": "CARR",
            "shipment_id": "SH1",
            "invoice_date": "2026-03-06",
            "currency": "EUR",
            "line_number": "1",
            "charge_code": "FRT",
            "amount": "120.00",
        },
    ],
    "customer_invoice_lines": [
        {
            "document_number": "D-1",
            "document_type": "INVOICE",
            "customer_id": "C1",
            "order_id": "O1",
            "document_date": "2026-03-05",
            "currency": "EUR",
            "line_number": "1",
            "charge_type": "GOODS",
            "amount": "73.50",
        },
    ],
    "customs_entries": [
        {
            "entry_number": "ENT-1",
            "shipment_id": "SH1",
            "entry_date": "2026-03-03",
            "import_country": "US",
            "currency": "USD",
            "customs_value": "80",
            "duty_amount": "2.40",
            "import_tax_amount": "0",
            "is_tax_recoverable": "Y",
        },
    ],
    "returns": [
        {
            "rma_number": "R-1",
            "order_id": "O1",
            "line_number": "2",
            "quantity": "1",
            "reason": "DAMAGED",
            "returned_at": "2026-03-10T12:00:00+00:00",
        },
    ],
    "fx_rates": [
        # the Friday before the orders (Sunday 1 March): the finance marts convert at order date
        {"rate_date": "2026-02-27", "currency": "USD", "rate_per_eur": "1.0850"},
        {"rate_date": "2026-03-02", "currency": "USD", "rate_per_eur": "1.0856"},
        {"rate_date": "2026-03-02", "currency": "USD", "rate_per_eur": "1.0857", "_load_id": 2},
    ],
    "carriers": [
        {
            "carrier_code": "UPS",
            "carrier_name": "United Parcel Service",
            "scac": "UPSN",
            "modes": "PARCEL",
        },
    ],
    "rate_cards": [
        {
            "carrier_code": "UPS",
            "mode": "PARCEL",
            "origin_country": "US",
            "destination_country": "US",
            "basis": "PER_KG",
            "rate": "2.15",
            "currency": "USD",
            "valid_from": "2026-01-01",
        },
    ],
    "accessorial_tariffs": [
        {
            "carrier_code": "UPS",
            "charge_code": "RDL",
            "amount": "15",
            "basis": "PER_SHIPMENT",
            "currency": "USD",
        },
    ],
}


def insert_raw(con: duckdb.DuckDBPyConnection, table: str, rows: list[dict]) -> None:
    for position, row in enumerate(rows, start=1):
        values = {
            "_source_file": f"{table}_{row.get('_load_id', 1)}.csv",
            "_row_number": position,
            "_file_sha256": "0" * 64,
            "_loaded_at": LOADED_AT,
            "_load_id": 1,
        } | row
        columns = ", ".join(f'"{name}"' for name in values)
        marks = ", ".join("?" for _ in values)
        con.execute(f"insert into raw.{table} ({columns}) values ({marks})", list(values.values()))


def run_dbt(args: list[str], tmp: Path, warehouse: Path):
    from dbt.cli.main import dbtRunner

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WAYBILL_WAREHOUSE_PATH", str(warehouse))
        mp.setenv("DO_NOT_TRACK", "1")
        return dbtRunner().invoke(
            [
                *args,
                "--project-dir",
                str(DBT_PROJECT),
                "--profiles-dir",
                str(DBT_PROJECT),
                "--target-path",
                str(tmp / "target"),
                "--log-path",
                str(tmp / "logs"),
                "--quiet",
            ]
        )


@pytest.fixture(scope="module")
def dbt_build(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dbt")
    warehouse = tmp / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        ensure_schema(con)
        for table, rows in RAW_ROWS.items():
            insert_raw(con, table, rows)
    result = run_dbt(["build"], tmp, warehouse)
    manifest = json.loads((tmp / "target" / "manifest.json").read_text())
    return {"result": result, "warehouse": warehouse, "manifest": manifest}


@pytest.fixture(scope="module")
def warehouse(dbt_build):
    # dbt-duckdb keeps its in-process connection open; a second connection in this process
    # must use the same configuration (read-write), or duckdb refuses it
    with duckdb.connect(str(dbt_build["warehouse"])) as con:
        yield con


def rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict]:
    cursor = con.execute(sql)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, values)) for values in cursor.fetchall()]


# --- the build -------------------------------------------------------------------------------


def test_dbt_build_succeeds_with_every_test_and_unit_test_passing(dbt_build):
    result = dbt_build["result"]
    failures = [
        f"{r.node.unique_id}: {r.status} {r.message}"
        for r in (result.result or [])
        if str(r.status) not in ("success", "pass")
    ]
    assert result.success and not failures, failures or result.exception
    kinds = {r.node.resource_type for r in result.result}
    assert {"model", "seed", "test", "unit_test"} <= {str(k) for k in kinds}


def test_every_raw_table_has_one_staging_table(dbt_build, warehouse):
    """One staging model per raw table, materialised as a table (computed once per build: its
    tests, the intermediates and the publish step read it without re-running the dedupe)."""
    views = {
        name
        for (name,) in warehouse.execute(
            "select table_name from information_schema.tables "
            "where table_schema = 'staging' and table_type = 'BASE TABLE'"
        ).fetchall()
    }
    sources = {
        node["name"]: [
            child for child in dbt_build["manifest"]["child_map"][uid] if child.startswith("model.")
        ]
        for uid, node in dbt_build["manifest"]["sources"].items()
    }
    assert set(sources) == {feed.table for feed in FEEDS.values()}
    for table, children in sources.items():
        staging = [c.split(".")[-1] for c in children if c.split(".")[-1].startswith("stg_")]
        assert len(staging) == 1, f"raw.{table} -> {staging}"
        assert staging[0] in views


# --- staging behaviour -----------------------------------------------------------------------


def test_a_corrected_resend_replaces_the_older_version(warehouse):
    lines = rows(
        warehouse,
        "select order_id, line_number, quantity_ordered, created_at, _load_id, _versions_received "
        "from staging.stg_oms__order_lines order by line_number",
    )
    assert [
        (r["line_number"], r["quantity_ordered"], r["_load_id"], r["_versions_received"])
        for r in lines
    ] == [(1, 7, 3, 2), (2, 1, 1, 1)]
    assert lines[0]["created_at"] == datetime(2026, 3, 1, 9, 0)
    fx = rows(
        warehouse,
        "select rate_per_eur, _load_id from staging.stg_ecb__fx_rates where rate_date = '2026-03-02'",
    )
    assert [(str(r["rate_per_eur"]), r["_load_id"]) for r in fx] == [("1.085700", 2)]


def test_timestamps_with_an_offset_are_converted_to_exact_utc(warehouse):
    parcel = {
        r["tracking_number"]: r
        for r in rows(warehouse, "select * from staging.stg_parcel__tracking_events")
    }
    # 21:15 at UTC-05:30 is 02:45 UTC the next day
    assert parcel["7781"]["event_at"] == datetime(2026, 3, 3, 2, 45)
    assert parcel["7781"]["event_local"] == datetime(2026, 3, 2, 21, 15)
    assert parcel["7781"]["event_utc_offset_minutes"] == -330
    assert parcel["7781"]["received_at"] == datetime(2026, 3, 3, 0, 0)

    csv_events = {
        r["event_code"]: r
        for r in rows(warehouse, "select * from staging.stg_carrier_csv__shipment_status_events")
    }
    assert csv_events["PICKUP"]["event_at"] == datetime(2026, 3, 2, 6, 0)
    assert csv_events["PICKUP"]["event_utc_offset_minutes"] == 120

    (dcsa,) = rows(warehouse, "select * from staging.stg_dcsa__events")
    assert dcsa["event_at"] == datetime(2026, 3, 2, 15, 15)
    assert dcsa["event_utc_offset_minutes"] == 480
    assert dcsa["location_locode"] == "CNSHA"
    assert dcsa["is_retracted"] is False

    (shipment,) = rows(warehouse, "select * from staging.stg_oms__shipment_lines")
    assert shipment["planned_pickup_end_at"] == datetime(2026, 3, 2, 22, 0)
    assert shipment["carrier_code"] == "UPS"


def test_local_times_without_an_offset_stay_local_and_have_no_utc_value(warehouse):
    (ups,) = rows(
        warehouse,
        "select * from staging.stg_parcel__tracking_events where carrier_code = 'UPS'",
    )
    assert ups["event_local"] == datetime(2026, 3, 4, 14, 5)
    assert ups["event_at"] is None and ups["event_utc_offset_minutes"] is None

    (delivered,) = rows(
        warehouse,
        "select * from staging.stg_carrier_csv__shipment_status_events "
        "where event_code = 'DELIVERED'",
    )
    assert delivered["event_local"] == datetime(2026, 3, 4, 16, 45)
    assert delivered["event_at"] is None


def test_x12_date8_and_time4_become_a_local_timestamp(warehouse):
    events = {
        r["status_code"]: r
        for r in rows(warehouse, "select * from staging.stg_x12__shipment_status_events")
    }
    assert events["AF"]["event_local"] == datetime(2026, 3, 2, 14, 5)
    assert events["AF"]["time_code"] is None
    assert events["AF"]["received_at"] is None  # GS date/time without an offset
    assert events["AF"]["received_local"] == datetime(2026, 3, 2, 20, 0)
    assert events["D1"]["event_local"] == datetime(2026, 3, 4, 9, 30, 15)
    assert str(events["D1"]["event_time"]) == "09:30:15"
    assert events["D1"]["received_at"] == datetime(2026, 3, 4, 15, 40)


def test_money_dates_and_booleans_are_typed(warehouse):
    (entry,) = rows(warehouse, "select * from staging.stg_customs__entries")
    assert entry["is_import_tax_recoverable"] is True
    assert str(entry["duty_amount"]) == "2.4000"
    (line,) = rows(warehouse, "select * from staging.stg_x12__freight_invoice_lines")
    assert str(line["invoice_date"]) == "2026-03-05"
    assert str(line["charge_amount"]) == "15.7500"
    types = dict(
        warehouse.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = 'staging' and table_name = 'stg_oms__order_lines'"
        ).fetchall()
    )
    assert types["unit_price_amount"] == "DECIMAL(18,4)"
    assert types["created_at"] == "TIMESTAMP"
    assert types["line_number"] == "BIGINT"


# --- project rules (dbt-project-evaluator, restated) -----------------------------------------

FOLDER_PREFIXES = {
    "staging": ("stg_",),
    "intermediate": ("int_",),
    "marts": ("fct_", "dim_", "rpt_", "kpi_"),
}


def models(manifest: dict) -> list[dict]:
    return [n for n in manifest["nodes"].values() if n["resource_type"] == "model"]


def generic_tests_by_column(manifest: dict, model_id: str) -> dict[str, set[str]]:
    """{column: {test names}} for the generic tests attached to a model."""
    found: dict[str, set[str]] = {}
    for node in manifest["nodes"].values():
        if node["resource_type"] != "test" or node.get("attached_node") != model_id:
            continue
        name = (node.get("test_metadata") or {}).get("name")
        if name and node.get("column_name"):
            found.setdefault(node["column_name"], set()).add(name)
    return found


def test_every_model_has_a_description_stating_its_grain(dbt_build):
    for model in models(dbt_build["manifest"]):
        description = model["description"].strip()
        assert description, f"{model['name']} has no description"
        assert re.search(r"\bone row per\b", description, re.IGNORECASE), (
            f"{model['name']}: the description should state the grain ('One row per ...')"
        )


def test_every_model_has_a_unique_and_not_null_primary_key(dbt_build):
    manifest = dbt_build["manifest"]
    for model in models(manifest):
        tested = generic_tests_by_column(manifest, model["unique_id"])
        keys = [c for c, names in tested.items() if {"unique", "not_null"} <= names]
        assert keys, f"{model['name']} has no column tested unique + not_null"


def test_model_prefix_matches_its_folder_and_yaml_file(dbt_build):
    for model in models(dbt_build["manifest"]):
        folder = Path(model["original_file_path"]).parts[1]
        assert folder in FOLDER_PREFIXES, f"{model['name']} is in unknown folder {folder}"
        assert model["name"].startswith(FOLDER_PREFIXES[folder]), model["name"]
        assert model["patch_path"] and model["patch_path"].endswith(f"_{folder}__models.yml"), (
            f"{model['name']} should be documented in {folder}/_{folder}__models.yml"
        )
        if folder == "staging":
            assert re.fullmatch(r"stg_[a-z0-9_]+?__[a-z0-9_]+", model["name"]), model["name"]
        if folder == "intermediate":
            # int_<entities>_<verb>ed
            assert re.fullmatch(r"int_[a-z0-9_]+_[a-z]+ed", model["name"]), model["name"]


def test_staging_models_select_from_exactly_one_source_and_nothing_else(dbt_build):
    for model in models(dbt_build["manifest"]):
        parents = model["depends_on"]["nodes"]
        if model["name"].startswith("stg_"):
            assert len(parents) == 1 and parents[0].startswith("source."), (
                f"{model['name']} depends on {parents}"
            )
        else:
            assert not any(p.startswith("source.") for p in parents), (
                f"{model['name']} reads a source directly: only staging may"
            )


def test_marts_have_an_enforced_contract_and_every_column_documented(dbt_build):
    marts = [m for m in models(dbt_build["manifest"]) if m["fqn"][1] == "marts"]
    assert marts, "no marts found"
    for model in marts:
        assert model["config"]["contract"]["enforced"], f"{model['name']}: enforce its contract"
        for name, column in model["columns"].items():
            assert column.get("data_type"), f"{model['name']}.{name} has no data_type"
            assert column.get("description", "").strip(), f"{model['name']}.{name} undocumented"


def test_marts_read_no_staging_model_except_reference_staging(dbt_build):
    """Marts build on intermediate models and seeds; staging is reached through intermediate
    (reference tables such as stg_ref__carriers excepted)."""
    for model in models(dbt_build["manifest"]):
        if model["fqn"][1] != "marts":
            continue
        for parent in model["depends_on"]["nodes"]:
            name = parent.split(".")[-1]
            assert not name.startswith("stg_") or name.startswith("stg_ref__"), (
                f"{model['name']} reads {name}"
            )


def test_yaml_uses_data_tests_not_tests(dbt_build):
    for path in DBT_PROJECT.rglob("*.yml"):
        if "target" in path.parts:
            continue
        text = path.read_text()
        assert not re.search(r"^\s*tests:", text, re.MULTILINE), f"{path}: use data_tests:"


def test_accepted_values_match_the_feed_contracts(dbt_build):
    """The value sets in the models YAML must be the contracts' (ingestion/contracts.py)."""
    manifest = dbt_build["manifest"]
    by_name = {m["name"]: m for m in models(manifest)}
    # (model, column) -> (raw table, contract field)
    mapping = {}
    for model in by_name.values():
        if not model["name"].startswith("stg_"):
            continue
        (source_id,) = model["depends_on"]["nodes"]
        table = manifest["sources"][source_id]["name"]
        feed = next(f for f in FEEDS.values() if f.table == table)
        for node in manifest["nodes"].values():
            meta = node.get("test_metadata") or {}
            if (
                node.get("attached_node") != model["unique_id"]
                or meta.get("name") != "accepted_values"
            ):
                continue
            mapping[(model["name"], node["column_name"])] = (feed, meta["kwargs"]["values"])
    assert mapping, "no accepted_values tests found"
    fields_with_values = {
        (feed.table, f.name) for feed in FEEDS.values() for f in feed.fields if f.values
    }
    covered = set()
    for (model, column), (feed, values) in mapping.items():
        matches = [f for f in feed.fields if f.values and sorted(f.values) == sorted(values)]
        assert matches, f"{model}.{column}: {values} is not a value set of feed {feed.name}"
        covered |= {(feed.table, f.name) for f in matches}
    assert fields_with_values <= covered, fields_with_values - covered


def test_sources_yaml_is_generated_from_the_contracts():
    script = DBT_PROJECT / "scripts" / "gen_sources.py"
    check = subprocess.run(
        [sys.executable, str(script), "--check"], capture_output=True, text=True, check=False
    )
    assert check.returncode == 0, check.stderr
    doc = yaml.safe_load((DBT_PROJECT / "models" / "staging" / "_raw__sources.yml").read_text())
    tables = {t["name"]: t for t in doc["sources"][0]["tables"]}
    for feed in FEEDS.values():
        assert [c["name"] for c in tables[feed.table]["columns"]][: len(feed.fields)] == (
            feed.field_names
        )


# --- documentation ---------------------------------------------------------------------------


def test_dbt_docs_generate_catalogues_every_mart_with_its_documented_columns(dbt_build, tmp_path):
    """`dbt docs generate` on the module's built warehouse: it succeeds, and the catalog holds
    every mart with exactly the columns its YAML documents."""
    result = run_dbt(["docs", "generate"], tmp_path, dbt_build["warehouse"])
    assert result.success, result.exception
    catalog = json.loads((tmp_path / "target" / "catalog.json").read_text())
    assert (tmp_path / "target" / "index.html").exists()
    assert not catalog.get("errors"), catalog.get("errors")
    nodes = {node["metadata"]["name"]: node for node in catalog["nodes"].values()}
    marts = [m for m in models(dbt_build["manifest"]) if m["fqn"][1] == "marts"]
    assert {"rpt_carrier_scorecard", "rpt_shipment_alerts", "kpi_orders_daily"} <= {
        m["name"] for m in marts
    }
    for model in marts:
        assert model["name"] in nodes, f"{model['name']} missing from the catalog"
        catalogued = {name.lower() for name in nodes[model["name"]]["columns"]}
        assert catalogued == set(model["columns"]), model["name"]
