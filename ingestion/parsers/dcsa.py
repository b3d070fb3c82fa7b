"""DCSA Track & Trace event parser (v2.2 flat events and v3.0 nested events).

Three shapes are accepted, detected from the JSON itself:

- v2.2 ``GET /events`` response: a JSON array of flat events;
- v3.0 response or pushed notification: ``{"events": [...]}``;
- v3.0 single pushed event: one event object (it has ``eventID`` / ``eventClassification``).

Each event becomes one row of ``contracts.DCSA_FIELDS``. The schema version is taken per event
from its layout (a nested ``eventClassification`` means 3.0), so a v3 event inside an array is
not mislabelled. Values of the wrong JSON type are kept as text (numbers as written in the file,
booleans as ``true``/``false``, objects as compact JSON) for the contract to judge.

Field names follow the conformance messages DCSA publishes (``eventTypeCode``,
``facilityTypeCode``, ``originatingParty``) and also the spellings of the v3.0.0 data
dictionary (``eventType``, ``facilityType``, ``originatingParties``, ``type``): both occur in
DCSA's own material.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl

from ingestion.contracts import DCSA_FIELDS
from ingestion.parsers.base import MalformedFileError, ParsedFile, Reject
from ingestion.parsers.json_file import as_text, read_json

__all__ = ["as_text", "parse", "read_json"]

#: Keys of which a DCSA event of either version carries at least one.
_EVENT_KEYS = (
    "eventID",
    "eventType",
    "eventClassification",
    "eventDateTime",
    "eventClassifierCode",
)
_NAMES = [f.name for f in DCSA_FIELDS]
_SCHEMA = {name: pl.Utf8 for name in _NAMES} | {"_row_number": pl.Int64, "_position": pl.Utf8}


def _obj(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list:
    if isinstance(value, list):
        return value
    return [value] if isinstance(value, dict) else []


def _t(value: Any) -> str | None:
    """One value as contract text; empty text counts as absent."""
    if value.__class__ is str:
        return value or None
    return None if value is None else as_text(value)


def _first(*values: Any) -> str | None:
    for value in values:
        if value is not None and value != "":
            return as_text(value)
    return None


def _references(pairs: list[tuple[Any, Any]]) -> tuple[str | None, str | None]:
    """(booking reference, transport document reference) from (type, value) pairs; first wins."""
    found: dict[str, str | None] = {}
    for kind, value in pairs:
        if kind in ("BKG", "TRD") and kind not in found and value not in (None, ""):
            found[kind] = as_text(value)
    return found.get("BKG"), found.get("TRD")


def _flatten_v22(event: dict) -> dict[str, str | None]:
    call = _obj(event.get("transportCall"))
    location = _obj(event.get("eventLocation"))
    refs = [
        (_obj(r).get("documentReferenceType"), _obj(r).get("documentReferenceValue"))
        for r in _list(event.get("documentReferences"))
    ]
    # A shipment event names its own document (documentTypeCode + documentID).
    refs.append((event.get("documentTypeCode"), event.get("documentID")))
    booking, transport_document = _references(refs)
    return {
        "event_id": _t(event.get("eventID")),
        "schema_version": "2.2",
        "carrier_code": _first(_obj(call.get("vessel")).get("vesselOperatorCarrierCode")),
        "event_type": _t(event.get("eventType")),
        "event_classifier_code": _t(event.get("eventClassifierCode")),
        "event_type_code": _first(
            event.get("transportEventTypeCode"),
            event.get("equipmentEventTypeCode"),
            event.get("shipmentEventTypeCode"),
        ),
        "event_datetime": _t(event.get("eventDateTime")),
        "event_created_datetime": _t(event.get("eventCreatedDateTime")),
        "event_updated_datetime": None,
        "is_retracted": None,
        "booking_reference": booking,
        "transport_document_reference": transport_document,
        "equipment_reference": _t(event.get("equipmentReference")),
        "empty_indicator_code": _t(event.get("emptyIndicatorCode")),
        # Where the event happened beats the transport call it relates to.
        "un_location_code": _first(
            location.get("UNLocationCode"),
            call.get("UNLocationCode"),
            _obj(call.get("location")).get("UNLocationCode"),
        ),
        "facility_type_code": _first(
            event.get("facilityTypeCode"),
            location.get("facilityTypeCode"),
            call.get("facilityTypeCode"),
        ),
        "delay_reason_code": _t(event.get("delayReasonCode")),
        "remark": _first(event.get("changeRemark"), event.get("description"), event.get("reason")),
    }


def _flatten_v3(event: dict) -> dict[str, str | None]:
    kind = _obj(event.get("eventClassification"))
    location = _obj(event.get("eventLocation"))
    shipment = _obj(event.get("shipmentDetails"))
    equipment = _obj(event.get("equipmentDetails"))
    transport = _obj(event.get("transportDetails"))
    routing = _obj(event.get("eventRouting"))
    originator = _obj(routing.get("originatingParty")) or next(
        (_obj(p) for p in _list(routing.get("originatingParties"))), {}
    )
    vessel = _obj(_obj(transport.get("transportCall")).get("vesselTransport"))
    documents = [_obj(shipment.get("documentReference"))] + [
        _obj(d) for d in _list(shipment.get("additionalDocumentReferences"))
    ]
    booking, transport_document = _references(
        [(d.get("typeCode", d.get("type")), d.get("reference")) for d in documents]
    )
    delays = transport.get("delayReasonCodes")
    if isinstance(delays, list):
        # Several reasons are kept, in the sender's order, separated by ';'.
        delay = ";".join(as_text(d) for d in delays if d not in (None, "")) or None
    else:
        delay = _first(delays)
    return {
        "event_id": _t(event.get("eventID")),
        "schema_version": "3.0",
        "carrier_code": _first(originator.get("partyCode"), vessel.get("operatorCarrierCode")),
        "event_type": _first(kind.get("eventTypeCode"), kind.get("eventType")),
        "event_classifier_code": _first(
            kind.get("eventClassifierCode"), kind.get("eventClassifier")
        ),
        "event_type_code": _first(
            *(
                kind.get(f"{k}EventType{suffix}")
                for k in ("transport", "equipment", "shipment", "reefer", "iot")
                for suffix in ("Code", "")
            )
        ),
        "event_datetime": _t(event.get("eventDateTime")),
        "event_created_datetime": _t(event.get("eventCreatedDateTime")),
        "event_updated_datetime": _t(event.get("eventUpdatedDateTime")),
        "is_retracted": _t(event.get("isRetracted")),
        "booking_reference": booking,
        "transport_document_reference": transport_document,
        "equipment_reference": _t(equipment.get("equipmentReference")),
        "empty_indicator_code": _first(
            equipment.get("emptyIndicatorCode"), equipment.get("emptyIndicator")
        ),
        "un_location_code": _t(location.get("UNLocationCode")),
        "facility_type_code": _first(
            location.get("facilityTypeCode"), location.get("facilityType")
        ),
        "delay_reason_code": delay,
        "remark": _first(event.get("changeRemark"), event.get("description"), event.get("reason")),
    }


def _events(path: Path, document: Any) -> tuple[list, str, str]:
    """(events, position prefix, default version) for the three accepted shapes."""
    if isinstance(document, list):
        return document, "$", "2.2"
    if isinstance(document, dict):
        if "events" in document:
            events = document["events"]
            if isinstance(events, list):
                return events, "events", "3.0"
            raise MalformedFileError(
                path,
                "events",
                f"'events' must be a JSON array of event objects, found {_kind(events)}",
            )
        if any(key in document for key in _EVENT_KEYS):
            return [document], "", "3.0"
        keys = ", ".join(list(document)[:10]) or "none"
        raise MalformedFileError(
            path,
            "top level",
            "expected a JSON array of events (DCSA v2.2), an object with an 'events' array "
            "(v3.0) or a single event object with eventID/eventClassification (v3.0 push); "
            f"found an object with keys: {keys}",
        )
    raise MalformedFileError(
        path,
        "top level",
        "expected a JSON array of events (DCSA v2.2) or an object with an 'events' array "
        f"(v3.0); found {_kind(document)}",
    )


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, bool) or value is None:
        return f"the literal {json.dumps(value)}"
    return f"a scalar value {str(value)[:40]!r}"


def parse(path: Path) -> ParsedFile:
    """Parse a DCSA Track & Trace JSON file into rows of ``contracts.DCSA_FIELDS``."""
    path = Path(path)
    events, prefix, default_version = _events(path, read_json(path))
    single = prefix == "" and default_version == "3.0"

    rows: list[dict] = []
    rejects: list[Reject] = []
    for index, event in enumerate(events):
        number = index + 1
        position = "the event object" if single else f"{prefix}[{index}]"
        if not isinstance(event, dict):
            rejects.append(
                Reject(
                    number,
                    position,
                    f"an event must be a JSON object, found {_kind(event)}",
                    as_text(event),
                )
            )
            continue
        if not any(key in event for key in _EVENT_KEYS):
            keys = ", ".join(list(event)[:10]) or "none"
            rejects.append(
                Reject(
                    number,
                    position,
                    "not a DCSA event: it has none of eventID, eventType, eventClassification, "
                    f"eventDateTime, eventClassifierCode (keys found: {keys})",
                    as_text(event)[:2000],
                )
            )
            continue
        nested = "eventClassification" in event or (
            default_version == "3.0" and "eventType" not in event
        )
        row = _flatten_v3(event) if nested else _flatten_v22(event)
        row["_row_number"] = number
        row["_position"] = position
        rows.append(row)

    frame = pl.from_dicts(rows, schema=_SCHEMA) if rows else pl.DataFrame(schema=_SCHEMA)
    return ParsedFile(frame, len(events), rejects)
