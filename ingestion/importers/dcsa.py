"""DCSA Track & Trace samples -> the dcsa carrier-event landing folder, unchanged.

The conformance messages (v2.2 and v3.0, valid and deliberately invalid) already are our DCSA
feed format, so the adapter copies every ``conformance_messages/*.json`` byte for byte into
``landing/carrier_events/dcsa/`` (as ``dcsa_<name>.json``). The pipeline's contract check then
loads the valid events and quarantines the invalid ones with their reasons; the adapter rejects
nothing itself.

For the report it runs the same parser and contract check the loader runs, so it states per
file how many events the pipeline will load and quarantine (and why) before ``waybill run``.
"""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

from ingestion.contracts import FEEDS
from ingestion.importers.base import Importer, ImportReport
from ingestion.parsers.base import MalformedFileError
from ingestion.parsers.dcsa import parse


def _messages_dir(source: Path) -> Path:
    sub = source / "conformance_messages"
    return sub if sub.is_dir() else source


def run(source: Path, landing: Path, dataset: str = "dcsa") -> ImportReport:
    imp = Importer(dataset, source, landing)
    folder = landing / FEEDS["dcsa"].folder
    folder.mkdir(parents=True, exist_ok=True)
    expected: dict[str, dict] = {}
    for path in sorted(_messages_dir(source).glob("*.json")):
        target = folder / f"{dataset}_{path.name}"
        shutil.copyfile(path, target)
        try:
            parsed = parse(path)
        except MalformedFileError as exc:
            imp.report.sources[path.name] = 0
            imp.record_copied("dcsa", target, 0)
            expected[path.name] = {"unreadable": str(exc)}
            continue
        imp.report.sources[path.name] = parsed.rows_read
        imp.record_copied("dcsa", target, parsed.rows_read)
        imp.mapping(
            path.name,
            "dcsa",
            parsed.rows_read,
            parsed.rows_read,
            {},
            "copied unchanged; the pipeline loads or quarantines each event",
        )
        # the loader's contract check on the parsed events (structure rejects count as
        # quarantined): reported, but copied files do not fail the import (the invalid samples
        # are meant to be quarantined)
        check = imp.check_contract(
            f"dcsa:{target.name}",
            "dcsa",
            parsed.rows,
            target,
            copied=True,
            extra_rejects=len(parsed.rejects),
        )
        reasons: Counter[str] = Counter(f"parse: {r.rule}" for r in parsed.rejects)
        reasons.update({k: v for k, v in check["by_rule"].items() if k != "structure (parser)"})
        expected[path.name] = {
            "events": parsed.rows_read,
            "expected_loaded": parsed.rows_read - check["would_quarantine"],
            "expected_quarantined": check["would_quarantine"],
            "quarantine_reasons": dict(reasons),
        }
    imp.report.results["expected_by_file"] = expected
    imp.count("files copied", len(expected))
    imp.count("events in the files", sum(v.get("events", 0) for v in expected.values()))
    imp.count(
        "events the contract check will quarantine",
        sum(v.get("expected_quarantined", 0) for v in expected.values()),
    )
    return imp.finish()
