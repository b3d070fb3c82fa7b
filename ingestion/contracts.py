"""Feed contracts: the one place that says what each landing feed must contain.

Every parser turns a partner's file into rows of *strings* named after the contract's fields
(plus ``_row_number``: the 1-based data row, JSON element or EDI segment the row came from).
``ingestion.load`` then checks each row against the contract and writes it either to
``raw.<table>`` (values kept as received, trimmed) or to ``meta.quarantine`` with the field,
value and rule it broke. Staging models in dbt cast the validated strings; the casts cannot fail
because the contract already proved them.

The generator (``generator/``), the parsers, the docs (``docs/feeds.md``) and the dbt sources
all read this module, so a field is added in exactly one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

FieldType = Literal[
    "string",
    "int",  # whole number, optional sign
    "decimal",  # plain decimal with '.' as separator, no thousands separators
    "timestamp_tz",  # ISO 8601 with a UTC offset or Z, e.g. 2026-03-01T09:30:00+01:00
    "timestamp",  # ISO 8601 date-time with or without offset (local time if none)
    "date",  # ISO 8601 date YYYY-MM-DD
    "date8",  # CCYYMMDD, as in X12
    "time4",  # HHMM or HHMMSS, as in X12
    "bool",  # true/false (case-insensitive), 1/0, Y/N
]

INCOTERMS_2020 = ("EXW", "FCA", "CPT", "CIP", "DAP", "DPU", "DDP", "FAS", "FOB", "CFR", "CIF")
MODES = ("PARCEL", "LTL", "FTL", "AIR", "OCEAN")
RETURN_REASONS = ("DAMAGED", "DEFECT", "WRONG_ITEM", "NOT_WANTED")
CUSTOMER_DOCUMENT_TYPES = ("INVOICE", "CREDIT_NOTE")
RATE_BASES = ("PER_KG", "PER_SHIPMENT")


@dataclass(frozen=True)
class Field:
    name: str
    type: FieldType = "string"
    required: bool = False
    #: closed value set (compared case-sensitively after trimming)
    values: tuple[str, ...] | None = None
    #: one of the reference lists in ``ingestion.reference``: "currency" (ISO 4217) or
    #: "country" (ISO 3166-1 alpha-2)
    reference: Literal["currency", "country"] | None = None
    #: inclusive lower bound for int/decimal
    min: float | None = None
    description: str = ""


#: The largest file the loader reads, per format. JSON, X12 and workbooks are held in memory
#: while parsed (a JSON document takes about ten times its size as Python objects), CSV streams
#: through DuckDB. A bigger file is recorded as FAILED with the limit and the advice to split it,
#: so one oversized or bomb-like delivery cannot take the machine's memory from the rest.
MAX_FILE_BYTES: dict[str, int] = {
    "csv": 8 << 30,
    "ecb_fx_csv": 256 << 20,
    "order_file": 512 << 20,  # CSV orders stream; .xlsx/.json/.parquet are read whole
    "x12_214": 512 << 20,
    "x12_210": 512 << 20,
    "dcsa_json": 512 << 20,
    "parcel_json": 512 << 20,
}
#: Plausible dates (inclusive, ISO) for every date and timestamp field. Absolute, never relative
#: to the run date: real data sets go back to 2006 and test fixtures must not expire. A value
#: outside (1900-01-01 placeholders, 2200 typos) is quarantined with the bounds in the reason,
#: instead of passing the contract and failing an FX or KPI test later for every customer.
#: Operators change it with WAYBILL_DATE_MIN / WAYBILL_DATE_MAX (waybill/settings.py).
DATE_RANGE = ("1990-01-01", "2100-12-31")
#: The deepest JSON nesting the loader accepts. Real carrier responses nest under 10 levels; a
#: document nested deeper (hostile or broken) is FAILED before Python's parser recurses into it.
MAX_JSON_DEPTH = 64
#: The longest CSV line the loader accepts (DuckDB's max_line_size); longer is a structural
#: error of that line or, when the header is, of the file.
MAX_CSV_LINE_BYTES = 2 << 20


@dataclass(frozen=True)
class Feed:
    """A kind of file partners send, the folder it lands in and the raw table it fills."""

    name: str
    folder: str  # under <data_dir>/landing/
    table: str  # raw.<table>
    format: Literal[
        "csv", "order_file", "x12_214", "x12_210", "dcsa_json", "parcel_json", "ecb_fx_csv"
    ]
    patterns: tuple[str, ...]
    fields: tuple[Field, ...]
    #: columns that identify one business record; a later file with the same key supersedes
    #: the earlier version in staging (corrected re-send)
    business_key: tuple[str, ...]
    description: str = ""
    #: the time-zone rule for this feed's timestamps, stated for the docs
    time_zone_rule: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def max_bytes(self) -> int:
        return MAX_FILE_BYTES[self.format]

    @property
    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]

    def field(self, name: str) -> Field:
        return next(f for f in self.fields if f.name == name)


def F(name: str, type: FieldType = "string", required: bool = False, **kw) -> Field:
    return Field(name=name, type=type, required=required, **kw)


ORDER_FIELDS = (
    F("order_id", required=True, description="Shipper's order number"),
    F("line_number", "int", True, min=1, description="Order line number, unique within order"),
    F("customer_id", required=True, description="Customer (tenant) account"),
    F("channel", description="Sales channel, e.g. ECOM, B2B, EDI, MARKETPLACE"),
    F("created_at", "timestamp_tz", True, description="When the order was accepted"),
    F("promised_delivery_start", "timestamp_tz", description="Promised delivery window start"),
    F("promised_delivery_end", "timestamp_tz", True, description="Promised delivery window end"),
    F("incoterm", required=True, values=INCOTERMS_2020, description="Incoterms 2020 rule"),
    F("incoterm_place", description="Named place of the Incoterm"),
    F("origin_country", required=True, reference="country"),
    F("origin_postcode"),
    F("origin_locode", description="UN/LOCODE of the ship-from location, where known"),
    F("destination_country", required=True, reference="country"),
    F("destination_postcode"),
    F("destination_locode", description="UN/LOCODE of the ship-to location, where known"),
    F(
        "currency",
        required=True,
        reference="currency",
        description="Currency of unit_price and unit_cost",
    ),
    F("sku", required=True),
    F("quantity", "int", True, min=1, description="Units ordered"),
    F("unit_price", "decimal", True, min=0, description="Price per unit in `currency`"),
    F(
        "unit_cost",
        "decimal",
        min=0,
        description="Cost of goods per unit (purchase or standard cost), in `currency` like "
        "unit_price; when absent, landed cost values the goods at unit_price and the margin is "
        "flagged",
    ),
    F("weight_kg", "decimal", min=0, description="Line weight in kilograms"),
    F("volume_m3", "decimal", min=0, description="Line volume in cubic metres"),
)

SHIPMENT_FIELDS = (
    F("shipment_id", required=True, description="Shipper's shipment number"),
    F("order_id", required=True),
    F("line_number", "int", True, min=1),
    F("quantity_shipped", "int", True, min=0, description="Units of the line on this shipment"),
    F("carrier_code", required=True, description="SCAC or carrier code (see carriers feed)"),
    F("mode", required=True, values=MODES),
    F("service_level", description="Carrier service, e.g. GROUND, EXPRESS, STANDARD"),
    F("tracking_number", description="Carrier's reference: parcel tracking no., PRO, booking"),
    F("origin_locode", description="UN/LOCODE of the pickup location"),
    F("destination_locode", description="UN/LOCODE of the delivery location"),
    F("planned_pickup_start", "timestamp_tz"),
    F("planned_pickup_end", "timestamp_tz", True),
    F("planned_delivery_start", "timestamp_tz"),
    F("planned_delivery_end", "timestamp_tz", True),
    F("gross_weight_kg", "decimal", True, min=0, description="Whole shipment's weight"),
    F("quoted_cost", "decimal", min=0, description="Quoted freight for the whole shipment"),
    F("quoted_currency", reference="currency"),
    F("shipped_at", "timestamp_tz", description="When the shipper released the shipment"),
)

X12_214_FIELDS = (
    F("interchange_control_number", required=True, description="ISA13"),
    F("group_control_number", description="GS06"),
    F("transaction_control_number", required=True, description="ST02"),
    F("sender_id", description="ISA06, the carrier's EDI id"),
    F("received_at", "timestamp", description="GS04/GS05 date and time the file was sent"),
    F("carrier_pro_number", description="B10-01, carrier's reference number (PRO)"),
    F("shipment_id", required=True, description="B10-02, shipper's shipment identification"),
    F("carrier_scac", required=True, description="B10-03, carrier SCAC"),
    F("bill_of_lading", description="L11 qualifier BM"),
    F("lx_number", "int", description="LX-01, assigned number of the status loop"),
    F("status_code", description="AT7-01 shipment status code (X12 element 1650)"),
    F("status_reason_code", description="AT7-02 status reason code (1651)"),
    F("appointment_code", description="AT7-03 appointment status code (1652)"),
    F("appointment_reason_code", description="AT7-04 appointment reason code"),
    F("event_date", "date8", True, description="AT7-05 CCYYMMDD"),
    F("event_time", "time4", True, description="AT7-06 HHMM[SS]"),
    F("time_code", description="AT7-07 time code (UT, LT, ET, CT, ...); blank = local to MS1"),
    F("city", description="MS1-01"),
    F("state", description="MS1-02"),
    F("country", description="MS1-03"),
)

DCSA_FIELDS = (
    F("event_id", required=True, description="eventID"),
    F("schema_version", required=True, values=("2.2", "3.0")),
    F("carrier_code", description="Publisher: v3 eventRouting.originatingParty.partyCode"),
    F("event_type", required=True, values=("TRANSPORT", "EQUIPMENT", "SHIPMENT", "REEFER", "IOT")),
    F("event_classifier_code", required=True, values=("PLN", "EST", "ACT", "REQ")),
    F("event_type_code", description="transport/equipment/shipmentEventTypeCode"),
    F("event_datetime", "timestamp_tz", True, description="eventDateTime"),
    F("event_created_datetime", "timestamp_tz", description="eventCreatedDateTime (v2.2)"),
    F("event_updated_datetime", "timestamp_tz", description="eventUpdatedDateTime (v3)"),
    F("is_retracted", "bool", description="v3 isRetracted"),
    F("booking_reference", description="document reference of type BKG"),
    F("transport_document_reference", description="document reference of type TRD"),
    F("equipment_reference"),
    F("empty_indicator_code", values=("LADEN", "EMPTY")),
    F("un_location_code", description="UN/LOCODE of the event location or transport call"),
    F("facility_type_code", description="POTE, DEPO, CLOC, POL, POD, ..."),
    F("delay_reason_code"),
    F("remark", description="changeRemark / description"),
)

PARCEL_FIELDS = (
    F("tracking_number", required=True),
    F("carrier_code", required=True, values=("UPS", "FEDEX", "DHL")),
    F("status_code", required=True, description="The carrier's own status code"),
    F("status_description"),
    F("reason_code", description="Exception or delay reason code, where given"),
    F("event_timestamp", "timestamp", True, description="With offset, or local to location"),
    F("city"),
    F("country"),
    F("postcode"),
    F("received_at", "timestamp_tz", description="When we fetched the tracking response"),
)

CSV_EVENT_FIELDS = (
    F("event_id", description="Sender's event id; hashed from the other fields if blank"),
    F("shipment_id", required=True),
    F("carrier_code", required=True),
    F("event_code", required=True, description="Carrier's status code"),
    F("reason_code"),
    F("event_time", "timestamp", True, description="With offset, or local to the location"),
    F("location_locode", description="UN/LOCODE of the event location"),
    F("received_at", "timestamp_tz"),
)

X12_210_FIELDS = (
    F("interchange_control_number", required=True),
    F("transaction_control_number", required=True),
    F("invoice_number", required=True, description="B3-02 invoice number"),
    F("shipment_id", description="B3-03 shipment identification number"),
    F("payment_method", description="B3-04 method of payment PP/CC/TP"),
    F("invoice_date", "date8", True, description="B3-06"),
    F(
        "net_amount_due",
        "decimal",
        True,
        description="B3-07 (N2 implied decimals in the EDI; loaded as currency units)",
    ),
    F("carrier_scac", required=True, description="B3-11"),
    F("currency", required=True, reference="currency", description="C3-01"),
    F("bill_of_lading", description="N9 qualifier BM"),
    F("line_number", "int", True, min=1, description="L1-01"),
    F("rate", "decimal", description="L1-02"),
    F("rate_qualifier", description="L1-03, e.g. PK per kg, FR flat, PS per shipment"),
    F(
        "charge_amount",
        "decimal",
        True,
        description="L1-04 (N2 implied decimals in the EDI; loaded as currency units)",
    ),
    F("charge_code", required=True, description="L1-08 special charge code"),
    F("billed_weight_kg", "decimal", min=0, description="L0-04 when unit is K"),
)

CARRIER_INVOICE_FIELDS = (
    F("invoice_number", required=True),
    F("carrier_code", required=True),
    F("shipment_id"),
    F("invoice_date", "date", True),
    F("currency", required=True, reference="currency"),
    F("line_number", "int", True, min=1),
    F("charge_code", required=True, description="FRT, FSC, RDL, DET, LFT, ..."),
    F("charge_description"),
    F("quantity", "decimal", min=0),
    F("amount", "decimal", True),
)

CUSTOMER_INVOICE_FIELDS = (
    F("document_number", required=True),
    F("document_type", required=True, values=CUSTOMER_DOCUMENT_TYPES),
    F("related_document_number", description="For a credit note: the invoice it credits"),
    F("customer_id", required=True),
    F("order_id", required=True),
    F("shipment_id"),
    F("document_date", "date", True),
    F("due_date", "date"),
    F("currency", required=True, reference="currency"),
    F("line_number", "int", True, min=1),
    F("charge_type", required=True, values=("GOODS", "FREIGHT", "HANDLING", "OTHER")),
    F("amount", "decimal", True, min=0, description="Always positive; the type gives the sign"),
)

CUSTOMS_FIELDS = (
    F("entry_number", required=True),
    F("shipment_id", required=True),
    F("entry_date", "date", True),
    F("release_date", "date"),
    F("import_country", required=True, reference="country"),
    F("currency", required=True, reference="currency"),
    F("customs_value", "decimal", True, min=0),
    F("duty_amount", "decimal", True, min=0),
    F("import_tax_amount", "decimal", True, min=0),
    F("is_tax_recoverable", "bool", True),
    F("brokerage_amount", "decimal", min=0),
    F("broker_name"),
)

RETURN_FIELDS = (
    F("rma_number", required=True),
    F("order_id", required=True),
    F("line_number", "int", True, min=1),
    F("quantity", "int", True, min=1),
    F("reason", required=True, values=RETURN_REASONS),
    F("returned_at", "timestamp_tz", True),
)

FX_FIELDS = (
    F("rate_date", "date", True),
    F("currency", required=True, reference="currency"),
    F("rate_per_eur", "decimal", True, min=0, description="Units of currency per 1 EUR"),
)

CARRIER_FIELDS = (
    F("carrier_code", required=True),
    F("carrier_name", required=True),
    F("scac"),
    F("modes", description="Modes the carrier serves, ';'-separated"),
    F("country", reference="country"),
)

RATE_CARD_FIELDS = (
    F("carrier_code", required=True),
    F("mode", required=True, values=MODES),
    F("service_level"),
    F("origin_country", required=True, reference="country"),
    F("destination_country", required=True, reference="country"),
    F("basis", required=True, values=RATE_BASES),
    F("rate", "decimal", True, min=0, description="Per kg or per shipment, by `basis`"),
    F("minimum_charge", "decimal", min=0),
    F("fuel_surcharge_pct", "decimal", min=0, description="Percent of base, e.g. 12.5"),
    F("currency", required=True, reference="currency"),
    F("valid_from", "date", True),
    F("valid_to", "date"),
)

ACCESSORIAL_FIELDS = (
    F("carrier_code", required=True),
    F("charge_code", required=True),
    F("charge_description"),
    F("amount", "decimal", True, min=0),
    F("basis", required=True, values=("PER_SHIPMENT", "PER_HOUR")),
    F("free_time_hours", "decimal", min=0, description="For detention: hours before charging"),
    F("currency", required=True, reference="currency"),
)

FEEDS: dict[str, Feed] = {
    f.name: f
    for f in (
        Feed(
            "orders",
            "orders",
            "orders",
            "order_file",
            ("*.csv", "*.xlsx", "*.parquet", "*.json"),
            ORDER_FIELDS,
            ("order_id", "line_number"),
            "Order bulk-import template, one row per order line (CSV/XLSX/Parquet), or API-style "
            "JSON: a list of orders each with a `lines` array.",
            "created_at and promised window carry their own UTC offset.",
        ),
        Feed(
            "shipments",
            "shipments",
            "shipments",
            "csv",
            ("*.csv",),
            SHIPMENT_FIELDS,
            ("shipment_id", "order_id", "line_number"),
            "One row per shipment x order line: split shipments repeat the order line, "
            "consolidated shipments repeat the shipment.",
            "All timestamps carry their UTC offset.",
        ),
        Feed(
            "x12_214",
            "carrier_events/x12_214",
            "x12_214_events",
            "x12_214",
            ("*.edi", "*.x12", "*.214"),
            X12_214_FIELDS,
            (
                "shipment_id",
                "carrier_scac",
                "status_code",
                "appointment_code",
                "event_date",
                "event_time",
            ),
            "ANSI X12 214 Transportation Carrier Shipment Status: one row per AT7 status in "
            "an LX loop.",
            "AT7-05/06 with AT7-07 time code; without AT7-07 the time is local to the MS1 "
            "location and is resolved through that location's IANA time zone.",
        ),
        Feed(
            "dcsa",
            "carrier_events/dcsa",
            "dcsa_events",
            "dcsa_json",
            ("*.json",),
            DCSA_FIELDS,
            ("event_id",),
            'DCSA Track & Trace events, v2.2 (JSON array) or v3.0 ({"events": [...]}).',
            "eventDateTime is ISO 8601 with offset.",
        ),
        Feed(
            "parcel",
            "carrier_events/parcel",
            "parcel_events",
            "parcel_json",
            ("*.json",),
            PARCEL_FIELDS,
            ("tracking_number", "carrier_code", "status_code", "reason_code", "event_timestamp"),
            "Parcel tracking responses in UPS-, FedEx- and DHL-style JSON.",
            "UPS-style activity date/time is local to the scan location (no offset); FedEx- "
            "and DHL-style timestamps carry an offset.",
        ),
        Feed(
            "csv_events",
            "carrier_events/csv",
            "csv_events",
            "csv",
            ("*.csv",),
            CSV_EVENT_FIELDS,
            ("carrier_code", "event_id"),
            "Generic carrier status CSV for carriers without EDI or API. A re-sent event with the "
            "same event_id (e.g. a corrected time) replaces the earlier one; without an event_id "
            "the event is identified by a hash of shipment_id, carrier_code, event_code and "
            "event_time.",
            "event_time with offset, or local to location_locode.",
        ),
        Feed(
            "x12_210",
            "carrier_invoices/x12_210",
            "x12_210_invoice_lines",
            "x12_210",
            ("*.edi", "*.x12", "*.210"),
            X12_210_FIELDS,
            ("carrier_scac", "invoice_number", "line_number"),
            "ANSI X12 210 Motor Carrier Freight Details and Invoice: one row per L1 charge.",
        ),
        Feed(
            "carrier_invoices_csv",
            "carrier_invoices/csv",
            "carrier_invoice_lines",
            "csv",
            ("*.csv",),
            CARRIER_INVOICE_FIELDS,
            ("carrier_code", "invoice_number", "line_number"),
            "Carrier invoices as CSV, one row per charge line.",
        ),
        Feed(
            "customer_invoices",
            "customer_invoices",
            "customer_invoice_lines",
            "csv",
            ("*.csv",),
            CUSTOMER_INVOICE_FIELDS,
            ("document_number", "line_number"),
            "Customer invoices and credit notes (AR), one row per document line.",
        ),
        Feed(
            "customs",
            "customs",
            "customs_entries",
            "csv",
            ("*.csv",),
            CUSTOMS_FIELDS,
            ("entry_number",),
            "Customs entries: duties, import taxes and brokerage per shipment.",
        ),
        Feed(
            "returns",
            "returns",
            "returns",
            "csv",
            ("*.csv",),
            RETURN_FIELDS,
            ("rma_number", "order_id", "line_number"),
            "Customer returns (RMA) per order line.",
        ),
        Feed(
            "fx_rates",
            "fx_rates",
            "fx_rates",
            "ecb_fx_csv",
            ("*.csv",),
            FX_FIELDS,
            ("rate_date", "currency"),
            "ECB euro foreign exchange reference rates in the eurofxref-hist.csv layout (one "
            "line per publication day, one column per currency, N/A where none). Loaded long: "
            "one row per published (date, currency) rate.",
        ),
        Feed(
            "carriers",
            "reference/carriers",
            "carriers",
            "csv",
            ("*.csv",),
            CARRIER_FIELDS,
            ("carrier_code",),
            "Carrier master data.",
        ),
        Feed(
            "rate_cards",
            "reference/rate_cards",
            "rate_cards",
            "csv",
            ("*.csv",),
            RATE_CARD_FIELDS,
            (
                "carrier_code",
                "mode",
                "service_level",
                "origin_country",
                "destination_country",
                "valid_from",
            ),
            "Contracted base rates per carrier, mode, service and country lane.",
        ),
        Feed(
            "accessorial_tariffs",
            "reference/accessorial_tariffs",
            "accessorial_tariffs",
            "csv",
            ("*.csv",),
            ACCESSORIAL_FIELDS,
            ("carrier_code", "charge_code"),
            "Accessorial charges per carrier (redelivery, detention, liftgate, ...).",
        ),
    )
}

#: Columns every raw table carries after the contract fields.
LINEAGE_COLUMNS = ("_source_file", "_row_number", "_file_sha256", "_loaded_at", "_load_id")
