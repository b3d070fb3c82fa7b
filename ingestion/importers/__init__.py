"""Adapters that turn public data sets into our feed files (``waybill import <dataset>``).

One module per data set; each has ``run(source, landing, dataset) -> ImportReport``. The data
sets live beside the checkout in ``../shared/datasets`` (docs/real-data.md): that folder is the
default ``--source``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

from ingestion.importers.base import ImportContractError, ImportReport, enforce_contract

__all__ = ["DATASETS", "ImportContractError", "ImportReport", "run_import"]

DATASETS_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "datasets"


@dataclass(frozen=True)
class Dataset:
    name: str
    module: str
    #: default source folder under DATASETS_DIR
    folder: str
    description: str


DATASETS: dict[str, Dataset] = {
    d.name: d
    for d in (
        Dataset(
            "olist",
            "olist",
            "olist_brazilian_ecommerce/subset_2017_10k",
            "Olist marketplace orders (subset_2017_10k; or --source .../sample_8k_status_stratified)",
        ),
        Dataset(
            "olist_sample_8k",
            "olist",
            "olist_brazilian_ecommerce/sample_8k_status_stratified",
            "Olist 8,135-order sample with every non-delivered order",
        ),
        Dataset("scms", "scms", "usaid_scms_shipment_pricing", "USAID SCMS shipment lines"),
        Dataset("nycflights13", "nycflights13", "nycflights13_bts_ontime", "NYC flights 2013"),
        Dataset(
            "brunel", "brunel", "brunel_supply_chain_logistics_problem", "Brunel order list + rates"
        ),
        Dataset("dcsa", "dcsa", "dcsa_track_and_trace_samples", "DCSA T&T sample messages"),
    )
}


def default_source(name: str) -> Path:
    return DATASETS_DIR / DATASETS[name].folder


def run_import(
    name: str, landing: Path, source: Path | None = None, allow_quarantine: bool = False
) -> ImportReport:
    """Import data set ``name`` from ``source`` (default: its shared folder) into ``landing``.

    Raises :class:`ImportContractError` (files held back under ``_import/``) when written rows
    break the feed contract, unless ``allow_quarantine``.
    """
    if name not in DATASETS:
        raise KeyError(f"unknown data set {name!r}; known: {', '.join(DATASETS)}")
    ds = DATASETS[name]
    src = Path(source) if source else default_source(name)
    if not src.exists():
        raise FileNotFoundError(f"source {src} does not exist (pass --source)")
    module = importlib.import_module(f"ingestion.importers.{ds.module}")
    report = module.run(src, Path(landing), dataset=name)
    return enforce_contract(report, allow_quarantine)
