"""Parcel tracking parser: UPS-, FedEx- and DHL-style JSON (fixtures in tests/fixtures/parcel/)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingestion.contracts import PARCEL_FIELDS
from ingestion.parsers.base import MalformedFileError
from ingestion.parsers.parcel import parse

FIXTURES = Path(__file__).parent / "fixtures" / "parcel"
COLUMNS = (
    "tracking_number",
    "carrier_code",
    "status_code",
    "reason_code",
    "event_timestamp",
    "city",
    "country",
    "postcode",
)


def _invariant(parsed) -> None:
    assert parsed.rows_read == parsed.rows.height + len(parsed.rejects)


def _rows(parsed) -> list[tuple]:
    return [tuple(r[c] for c in COLUMNS) for r in parsed.rows.to_dicts()]


def test_a_ups_response_gives_one_row_per_activity_with_local_timestamps():
    parsed = parse(FIXTURES / "ups.json")

    _invariant(parsed)
    assert parsed.rows_read == 3 and parsed.rejects == []
    assert parsed.rows.columns == [f.name for f in PARCEL_FIELDS] + ["_row_number", "_position"]
    assert _rows(parsed) == [
        ("1Z999AA10123456784", "UPS", "D", "KB", "2026-11-23T14:30:05", "ATLANTA", "US", "30301"),
        # HHMM without seconds is accepted
        ("1Z999AA10123456784", "UPS", "X", "U5", "2026-11-22T06:15:00", "ATLANTA", "US", "30301"),
        # an ISO date where UPS sends CCYYMMDD is passed on as sent, for the contract to flag
        ("1Z999AA10123456795", "UPS", "P", "PU", "2026-11-21 090000", "LOUISVILLE", "US", "40201"),
    ]
    assert parsed.rows["status_description"].to_list()[0] == "Delivered"
    assert parsed.rows["received_at"].to_list() == [None] * 3
    assert parsed.rows["_row_number"].to_list() == [1, 2, 3]
    assert parsed.rows["_position"].to_list() == [
        "trackResponse.shipment[0].package[0].activity[0]",
        "trackResponse.shipment[0].package[0].activity[1]",
        # a lone activity object (no array) is read as a one-element list
        "trackResponse.shipment[0].package[1].activity",
    ]


def test_the_contract_accepts_local_ups_times_and_flags_the_non_ups_date():
    from ingestion.load import validate

    checked = validate("parcel", parse(FIXTURES / "ups.json").rows)
    errors = [[(e["field"], e["rule"]) for e in row] for row in checked["_errors"].to_list()]
    assert errors == [[], [], [("event_timestamp", "type:timestamp")]]


def test_a_fedex_response_keeps_the_offset_and_reads_the_exception_code():
    parsed = parse(FIXTURES / "fedex.json")

    _invariant(parsed)
    assert _rows(parsed) == [
        # FedEx sends "exceptionCode": "" when there is none: loaded as null
        (
            "794843185271",
            "FEDEX",
            "PU",
            None,
            "2026-11-23T14:30:00-05:00",
            "MEMPHIS",
            "US",
            "38118",
        ),
        (
            "794843185271",
            "FEDEX",
            "DE",
            "08",
            "2026-11-24T09:12:00-05:00",
            "NASHVILLE",
            "US",
            "37201",
        ),
    ]
    assert parsed.rows["_position"][1] == (
        "output.completeTrackResults[0].trackResults[0].scanEvents[1]"
    )


def test_a_dhl_response_joins_date_time_and_gmt_offset():
    parsed = parse(FIXTURES / "dhl.json")

    _invariant(parsed)
    assert _rows(parsed) == [
        ("1234567890", "DHL", "PU", None, "2026-11-23T14:30:00+01:00", "BONN", "DE", "53113"),
        # no GMTOffset: local time, which the contract's timestamp type allows
        ("1234567890", "DHL", "OK", None, "2026-11-24T08:05:00", "PARIS", "FR", "75001"),
    ]
    assert parsed.rows["status_description"].to_list() == ["Shipment picked up", "Delivered"]
    assert parsed.rows["_position"].to_list() == [
        "shipments[0].events[0]",
        "shipments[0].events[1]",
    ]


def test_an_event_or_shipment_that_is_not_an_object_is_rejected_and_keeps_its_number():
    parsed = parse(FIXTURES / "ups_with_a_broken_activity.json")

    _invariant(parsed)
    assert parsed.rows_read == 3
    assert [(r.row_number, r.position, r.record) for r in parsed.rejects] == [
        (1, "trackResponse.shipment[0].package[0].activity[0]", "Delivered 20261123 143005"),
        (3, "trackResponse.shipment[1]", "42"),
    ]
    assert parsed.rows["_row_number"].to_list() == [2]
    # the fetcher's receivedAt is carried onto every row
    assert parsed.rows["received_at"].to_list() == ["2026-11-23T15:00:00Z"]


def test_an_unknown_shape_is_malformed_naming_the_keys_found_and_the_shapes_expected():
    with pytest.raises(MalformedFileError) as caught:
        parse(FIXTURES / "unknown_shape.json")
    rule = caught.value.rule
    assert caught.value.position == "top level"
    assert "UPS-style" in rule and "FedEx-style" in rule and "DHL-style" in rule
    assert rule.endswith("found an object with top-level keys: trackingInfo, history")


def test_an_empty_file_is_malformed():
    with pytest.raises(MalformedFileError) as caught:
        parse(FIXTURES / "empty.json")
    assert (caught.value.position, caught.value.rule) == (
        "line 1",
        "the file is empty: expected a JSON document",
    )


def test_a_top_level_array_is_malformed(tmp_path):
    path = tmp_path / "array.json"
    path.write_text("[]")
    with pytest.raises(MalformedFileError, match="found an array"):
        parse(path)


def test_a_large_parcel_file_parses_every_event(tmp_path):
    """Correctness at size only; throughput is measured in benchmarks/parsers.py
    (docs/benchmarks.md), not asserted here: timed tests are flaky on shared machines."""
    import json

    doc = json.loads((FIXTURES / "dhl.json").read_text())
    event = doc["shipments"][0]["events"][0]
    doc["shipments"] = [
        {"shipmentTrackingNumber": str(i), "events": [event] * 10} for i in range(10_000)
    ]
    path = tmp_path / "big.json"
    path.write_text(json.dumps(doc))
    parsed = parse(path)
    assert parsed.rows.height == 100_000
    assert parsed.rejects == []
    assert parsed.rows["tracking_number"].n_unique() == 10_000
