"""Parcel tracking JSON parser: UPS-, FedEx- and DHL-style responses, one carrier per file.

The carrier is detected from the top-level shape:

- UPS:   ``trackResponse.shipment[].package[].activity[]``
- FedEx: ``output.completeTrackResults[].trackResults[].scanEvents[]``
- DHL:   ``shipments[].events[]``

One row per scan event (``contracts.PARCEL_FIELDS``). ``_row_number`` is the 1-based ordinal of
the event in the file (rejected events keep their number) and ``_position`` its JSON path, e.g.
``trackResponse.shipment[0].package[2].activity[5]``.

Time rules: UPS activity date/time is local to the scan location and stays without an offset;
FedEx ``date`` is passed through (it carries its offset); DHL ``date`` + ``time`` + ``GMTOffset``.
``received_at`` is filled only when the file carries one (a top-level ``receivedAt`` /
``received_at`` added by the fetcher).

A container that should hold events but is not an object (a shipment that is a string, say) is
rejected as one record with its path, so no event disappears without a trace.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import polars as pl

from ingestion.contracts import PARCEL_FIELDS
from ingestion.parsers.base import MalformedFileError, ParsedFile, Reject
from ingestion.parsers.json_file import as_text, read_json

__all__ = ["parse"]

_NAMES = [f.name for f in PARCEL_FIELDS]
_SCHEMA = {name: pl.Utf8 for name in _NAMES} | {"_row_number": pl.Int64, "_position": pl.Utf8}
_UPS_DATE = re.compile(r"\d{8}")
_UPS_TIME = re.compile(r"\d{6}|\d{4}")

# What the walkers yield: (path, event dict) for an event, or (path, reason, raw) for a
# record that cannot become a row.
_Item = tuple[str, dict] | tuple[str, str, Any]


def _obj(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _items(parent: dict, key: str, path: str) -> Iterator[tuple[str, Any]]:
    """Children under ``key`` with their paths. A lone object stands for a one-element list
    (XML-to-JSON gateways, UPS's among them, drop the array when there is one element)."""
    value = parent.get(key)
    if value is None:
        return
    if isinstance(value, dict):
        yield f"{path}.{key}", value
    elif isinstance(value, list):
        for i, child in enumerate(value):
            yield f"{path}.{key}[{i}]", child
    else:
        yield f"{path}.{key}", value


def _walk(node: dict, path: str, levels: list[str]) -> Iterator[tuple[str, Any, list[dict]]]:
    """Depth-first over nested arrays named by ``levels``: (path, leaf, ancestor objects)."""

    def go(parent: dict, parent_path: str, depth: int, ancestors: list[dict]):
        for child_path, child in _items(parent, levels[depth], parent_path):
            if depth == len(levels) - 1 or not isinstance(child, dict):
                yield child_path, child, ancestors
            else:
                yield from go(child, child_path, depth + 1, ancestors + [child])

    yield from go(node, path, 0, [])


def _describe(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if value is None:
        return "null"
    return f"the value {as_text(value)[:40]!r}"


def _ups_timestamp(date: Any, time: Any) -> str | None:
    date, time = as_text(date), as_text(time)
    if date and time and _UPS_DATE.fullmatch(date) and _UPS_TIME.fullmatch(time):
        seconds = time[4:6] or "00"
        return f"{date[:4]}-{date[4:6]}-{date[6:]}T{time[:2]}:{time[2:4]}:{seconds}"
    # Not the documented layout: pass on what was sent so the contract names the value.
    return " ".join(v for v in (date, time) if v) or None


def _ups(document: dict) -> Iterator[tuple[str, Any, dict | None]]:
    for path, event, ancestors in _walk(
        _obj(document.get("trackResponse")), "trackResponse", ["shipment", "package", "activity"]
    ):
        if len(ancestors) < 2 or not isinstance(event, dict):
            yield path, event, None
            continue
        package = ancestors[1]
        status = _obj(event.get("status"))
        address = _obj(_obj(event.get("location")).get("address"))
        yield (
            path,
            event,
            {
                "tracking_number": as_text(package.get("trackingNumber")),
                "carrier_code": "UPS",
                "status_code": as_text(status.get("type")),
                "status_description": as_text(status.get("description")),
                "reason_code": as_text(status.get("code")),
                "event_timestamp": _ups_timestamp(event.get("date"), event.get("time")),
                "city": as_text(address.get("city")),
                "country": as_text(address.get("countryCode")),
                "postcode": as_text(address.get("postalCode")),
            },
        )


def _fedex(document: dict) -> Iterator[tuple[str, Any, dict | None]]:
    for path, event, ancestors in _walk(
        _obj(document.get("output")),
        "output",
        ["completeTrackResults", "trackResults", "scanEvents"],
    ):
        if len(ancestors) < 2 or not isinstance(event, dict):
            yield path, event, None
            continue
        complete, result = ancestors
        location = _obj(event.get("scanLocation"))
        tracking = complete.get("trackingNumber") or _obj(result.get("trackingNumberInfo")).get(
            "trackingNumber"
        )
        yield (
            path,
            event,
            {
                "tracking_number": as_text(tracking),
                "carrier_code": "FEDEX",
                "status_code": as_text(event.get("eventType")),
                "status_description": as_text(event.get("eventDescription")),
                "reason_code": as_text(event.get("exceptionCode")),
                "event_timestamp": as_text(event.get("date")),
                "city": as_text(location.get("city")),
                "country": as_text(location.get("countryCode")),
                "postcode": as_text(location.get("postalCode")),
            },
        )


def _dhl(document: dict) -> Iterator[tuple[str, Any, dict | None]]:
    for path, event, ancestors in _walk(document, "", ["shipments", "events"]):
        path = path.lstrip(".")
        if len(ancestors) < 1 or not isinstance(event, dict):
            yield path, event, None
            continue
        shipment = ancestors[0]
        address = _obj(_obj(event.get("location")).get("address"))
        date, time = as_text(event.get("date")), as_text(event.get("time"))
        if date and time:
            timestamp = f"{date}T{time}{as_text(event.get('GMTOffset')) or ''}"
        else:
            timestamp = date or time or as_text(event.get("timestamp"))
        tracking = shipment.get("shipmentTrackingNumber") or shipment.get("id")
        yield (
            path,
            event,
            {
                "tracking_number": as_text(tracking),
                "carrier_code": "DHL",
                "status_code": as_text(event.get("typeCode")),
                "status_description": as_text(event.get("description")),
                "reason_code": None,
                "event_timestamp": timestamp,
                "city": as_text(address.get("addressLocality")),
                "country": as_text(address.get("countryCode")),
                "postcode": as_text(address.get("postalCode")),
            },
        )


_SHAPES: list[tuple[str, Callable[[dict], bool], Callable]] = [
    ("UPS", lambda d: isinstance(d.get("trackResponse"), dict), _ups),
    (
        "FEDEX",
        lambda d: isinstance(d.get("output"), dict) and "completeTrackResults" in d["output"],
        _fedex,
    ),
    ("DHL", lambda d: isinstance(d.get("shipments"), list), _dhl),
]

_EXPECTED = (
    "expected one of three parcel tracking shapes: UPS-style "
    "{'trackResponse': {'shipment': [{'package': [{'activity': [...]}]}]}}, FedEx-style "
    "{'output': {'completeTrackResults': [{'trackResults': [{'scanEvents': [...]}]}]}} or "
    "DHL-style {'shipments': [{'events': [...]}]}"
)


def parse(path: Path) -> ParsedFile:
    """Parse a UPS-, FedEx- or DHL-style tracking response into ``contracts.PARCEL_FIELDS`` rows."""
    path = Path(path)
    document = read_json(path)
    if not isinstance(document, dict):
        kind = "an array" if isinstance(document, list) else "a single value"
        raise MalformedFileError(path, "top level", f"{_EXPECTED}; found {kind}")
    walker = next((w for _, detect, w in _SHAPES if detect(document)), None)
    if walker is None:
        keys = ", ".join(list(document)[:10]) or "none (an empty object)"
        raise MalformedFileError(
            path, "top level", f"{_EXPECTED}; found an object with top-level keys: {keys}"
        )
    received_at = as_text(document.get("receivedAt", document.get("received_at")))

    rows: list[dict] = []
    rejects: list[Reject] = []
    for number, (position, raw, row) in enumerate(walker(document), start=1):
        if row is None:
            rejects.append(
                Reject(
                    number,
                    position,
                    "expected a JSON object here (a scan event, or the shipment/package that "
                    f"holds them), found {_describe(raw)}",
                    as_text(raw),
                )
            )
            continue
        # An empty string is a field the carrier left blank (FedEx sends "exceptionCode": "").
        row = {key: (None if value == "" else value) for key, value in row.items()}
        row["received_at"] = received_at
        row["_row_number"] = number
        row["_position"] = position
        rows.append(row)

    frame = pl.from_dicts(rows, schema=_SCHEMA) if rows else pl.DataFrame(schema=_SCHEMA)
    return ParsedFile(frame, frame.height + len(rejects), rejects)
