"""The bad-input corpus: what partners really send, and what the loader must make of it.

Each :class:`Case` is one file in ``tests/bad_inputs/<feed>/`` with the outcome expected from
the loader, stated by hand from the file's content (not from running the loader):

- ``failed``: the file is unreadable as a whole; (position, words of the rule) must appear in
  the FAILED line of meta.load_log and in its meta.quarantine row;
- otherwise ``loaded`` rows reach raw and ``quarantined`` lists (position, field, rule) of each
  rejected row, in file order.

The files are small and written by :func:`write_corpus` (``python -m tests.bad_inputs.corpus``
rewrites them; a test checks the committed files match). Encodings and line endings are the
point of several cases, so bytes are spelled out here rather than edited by hand. Bigger inputs
(100 MB of repeated rows) are made at test time in a temporary folder.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).parent

RETURNS = "rma_number,order_id,line_number,quantity,reason,returned_at"
R1 = "RMA1,O1,1,2,DAMAGED,2026-10-01T10:00:00Z"
R2 = "RMA2,O1,2,1,DEFECT,2026-10-02T11:00:00+02:00"
R3 = "RMA3,O2,1,1,NOT_WANTED,2026-10-03T12:00:00-05:00"

CARRIERS = "carrier_code,carrier_name,scac,modes,country"
INVOICES = (
    "invoice_number,carrier_code,shipment_id,invoice_date,currency,line_number,charge_code,"
    "charge_description,quantity,amount"
)
CSV_EVENTS = (
    "event_id,shipment_id,carrier_code,event_code,reason_code,event_time,location_locode,"
    "received_at"
)


def isa(control: str = "000000905", terminator: str = "~") -> str:
    return (
        "ISA*00*          *00*          *ZZ*ACMEFREIGHT    *ZZ*WAYBILL        *261123*1430*U*"
        f"00401*{control}*0*P*>{terminator}"
    )


def x12_214(
    terminator: str = "~",
    isa_control: str = "000000905",
    iea_control: str = "000000905",
    se_control: str = "0001",
    status: str = "X3",
    iea: bool = True,
    separator: str = "\n",
) -> str:
    segments = [
        "GS*QM*ACMEFREIGHT*WAYBILL*20261123*143005*905*X*004010",
        "ST*214*0001",
        "B10*PRO1001*SHP-0001*ACFR",
        "LX*1",
        f"AT7*{status}*NS***20261120*0815*CT",
        "MS1*CHICAGO*IL*US",
        "AT7*AF*NS***20261120*1030*CT",
        f"SE*7*{se_control}",
        "ST*214*0002",
        "B10*PRO1002*SHP-0002*ACFR",
        "LX*1",
        "AT7*D1*NS***20261122*1630*CT",
        "MS1*MEMPHIS*TN*US",
        "SE*6*0002",
        "GE*2*905",
    ]
    if iea:
        segments.append(f"IEA*1*{iea_control}")
    return (
        isa(isa_control, terminator)
        + separator
        + (terminator + separator).join(segments)
        + (terminator + separator)
    )


DCSA_V22 = """[
 {"eventID": "e1", "eventType": "TRANSPORT", "eventClassifierCode": "ACT",
  "eventDateTime": "2026-10-01T10:00:00+02:00", "transportEventTypeCode": "DEPA",
  "eventCreatedDateTime": "2026-10-01T10:05:00Z"},
 {"eventID": "e2", "eventType": "TRANSPORT", "eventClassifierCode": "ACT",
  "eventDateTime": "2026-10-05T10:00:00+02:00", "transportEventTypeCode": "ARRI",
  "eventCreatedDateTime": "2026-10-05T10:05:00Z"}
]"""


ORDER_JSON = """[
 {"order_id": "O1", "customer_id": "CUST-1", "created_at": "2026-10-01T10:00:00Z",
  "promised_delivery_end": "2026-10-05T18:00:00Z", "incoterm": "DAP", "origin_country": "DE",
  "destination_country": "FR", "currency": "EUR",
  "lines": [{"line_number": 1, "sku": "A-1", "quantity": 2, "unit_price": "5.00"}, "oops"]},
 {"order_id": "O2", "customer_id": "CUST-1", "created_at": "2026-10-01T11:00:00Z",
  "lines": []}
]"""


def x12_210(iea: bool = True) -> str:
    """One carrier invoice (X12 210) in an interchange, as the generator writes them."""
    segments = [
        "ISA*00*          *00*          *02*JBHT           *ZZ*WAYBILLSHIPPER *260830*0600*U*"
        "00401*000500001*0*P*>",
        "GS*IM*JBHT*WAYBILLSHIPPER*20260830*0600*1*X*004010",
        "ST*210*0001",
        "B3**JBHINV00000052*SHP000000052*PP*K*20260718*319488**20260713*035*JBHT",
        "C3*USD",
        "N9*BM*BOL000000052",
        "LX*1",
        "L0*1***21716.1*G******K",
        "L1*1*2496.0000*PS*249600****400",
        "LX*2",
        "L0*2***21716.1*G******K",
        "L1*2*28.0000*PC*69888****FUE",
        "L3*21716.1*G***319488",
        "SE*12*0001",
        "GE*1*1",
    ]
    if iea:
        segments.append("IEA*1*000500001")
    return "~\n".join(segments) + "~\n"


@dataclass(frozen=True)
class Case:
    id: str
    feed: str
    file: str
    content: bytes
    what: str
    failed: tuple[str, str] | None = None
    loaded: int = 0
    quarantined: tuple[tuple[str, str | None, str], ...] = ()
    #: (column, value) pairs that must be in raw after the load (decoding checks)
    raw_values: tuple[tuple[str, str], ...] = field(default=())

    @property
    def path(self) -> Path:
        return HERE / self.feed / self.file


def _lines(*lines: str, eol: str = "\n") -> bytes:
    return (eol.join(lines) + eol).encode()


CASES: tuple[Case, ...] = (
    # ------------------------------------------------------------------ delimited text
    Case("empty", "returns", "empty.csv", b"", "a 0-byte file", failed=("file", "empty")),
    Case(
        "header_only",
        "returns",
        "header_only.csv",
        _lines(RETURNS),
        "a header and no rows: a valid delivery of nothing",
    ),
    Case(
        "semicolon_delimiter",
        "returns",
        "semicolon.csv",
        _lines(*(x.replace(",", ";") for x in (RETURNS, R1, R2))),
        "';' instead of ',' throughout: the reader detects it",
        loaded=2,
    ),
    Case(
        "mixed_delimiter",
        "returns",
        "mixed_delimiter.csv",
        _lines(RETURNS, R1, R2.replace(",", ";"), R3),
        "one line with ';' in a ',' file: that line has one field",
        loaded=2,
        quarantined=(("line 3", None, "structure"),),
    ),
    Case(
        "latin1",
        "carriers",
        "latin1.csv",
        _lines(CARRIERS, "GEO,Géodis Öst,GEOD,FTL,FR").replace(
            "Géodis Öst".encode(), "Géodis Öst".encode("latin-1")
        ),
        "Latin-1 bytes (no BOM, not valid UTF-8)",
        loaded=1,
        raw_values=(("carrier_name", "Géodis Öst"),),
    ),
    Case(
        "utf8_bom",
        "carriers",
        "utf8_bom.csv",
        codecs.BOM_UTF8 + _lines(CARRIERS, "GEO,Géodis,GEOD,FTL,FR"),
        "UTF-8 with a byte-order mark before the header",
        loaded=1,
        raw_values=(("carrier_code", "GEO"), ("carrier_name", "Géodis")),
    ),
    Case(
        "utf16",
        "carriers",
        "utf16.csv",
        (CARRIERS + "\r\n" + "GEO,Géodis,GEOD,FTL,FR\r\n").encode("utf-16"),
        "UTF-16 (little-endian with BOM), as Excel's 'Unicode text' writes",
        loaded=1,
        raw_values=(("carrier_name", "Géodis"),),
    ),
    Case(
        "cr_only",
        "returns",
        "cr_only.csv",
        _lines(RETURNS, R1, R2, R3, eol="\r"),
        "classic Mac line endings (CR only)",
        loaded=3,
    ),
    Case(
        "truncated_csv",
        "returns",
        "truncated.csv",
        _lines(RETURNS, R1, R2)[:-1] + b"\n" + R3[:14].encode(),
        "the transfer stopped in the middle of the last line",
        loaded=2,
        quarantined=(("line 4", None, "structure"),),
    ),
    Case(
        "dates_three_formats",
        "returns",
        "dates.csv",
        _lines(
            RETURNS,
            R1,
            "RMA2,O1,2,1,DEFECT,02/10/2026 11:00",
            "RMA3,O2,1,1,DEFECT,2026/10/03 12:00:00",
            "RMA4,O2,2,1,DEFECT,03.10.2026",
        ),
        "ISO 8601, dd/mm/yyyy, yyyy/mm/dd and dd.mm.yyyy in one column",
        loaded=1,
        quarantined=(
            ("line 3", "returned_at", "type:timestamp_tz"),
            ("line 4", "returned_at", "type:timestamp_tz"),
            ("line 5", "returned_at", "type:timestamp_tz"),
        ),
    ),
    Case(
        "negative_quantity",
        "returns",
        "negative.csv",
        _lines(RETURNS, R1, "RMA2,O1,2,-3,DEFECT,2026-10-02T11:00:00Z"),
        "a negative quantity",
        loaded=1,
        quarantined=(("line 3", "quantity", "min:1"),),
    ),
    Case(
        "amount_formats",
        "carrier_invoices_csv",
        "amounts.csv",
        _lines(
            INVOICES,
            "INV1,UPS,S1,2026-10-01,USD,1,FRT,Freight,1,1234.50",
            'INV1,UPS,S1,2026-10-01,USD,2,FSC,Fuel,1,"1,234.50"',
            'INV1,UPS,S1,2026-10-01,USD,3,RDL,Redelivery,1,"1234,50"',
            'INV1,UPS,S1,2026-10-01,USD,4,LFT,Liftgate,1,"1.234,50"',
            "INV1,UPS,S1,2026-10-01,USD,5,DET,Detention,1,1 234.50",
        ),
        "thousands separators, comma decimals, a space as group separator",
        loaded=1,
        quarantined=(
            ("line 3", "amount", "type:decimal"),
            ("line 4", "amount", "type:decimal"),
            ("line 5", "amount", "type:decimal"),
            ("line 6", "amount", "type:decimal"),
        ),
    ),
    Case(
        "unknown_currency",
        "carrier_invoices_csv",
        "currency.csv",
        _lines(
            INVOICES,
            "INV2,UPS,S1,2026-10-01,EUR,1,FRT,Freight,1,10.00",
            "INV2,UPS,S1,2026-10-01,US$,2,FSC,Fuel,1,1.00",
            "INV2,UPS,S1,2026-10-01,ABC,3,FSC,Fuel,1,1.00",
            "INV2,UPS,S1,2026-10-01,eur,4,FSC,Fuel,1,1.00",
        ),
        "currency codes that are not ISO 4217 (and a lower-case one)",
        loaded=1,
        quarantined=(
            ("line 3", "currency", "reference:currency"),
            ("line 4", "currency", "reference:currency"),
            ("line 5", "currency", "reference:currency"),
        ),
    ),
    Case(
        "csv_event_dates",
        "csv_events",
        "events_dates.csv",
        _lines(
            CSV_EVENTS,
            "E1,S1,SNDR,PU,,2026-10-01T10:00:00,USCHI,2026-10-01T11:00:00Z",
            "E2,S1,SNDR,DEL,,2026-10-02T10:00:00-05:00,USDAL,2026-10-02T11:00:00Z",
            "E3,S1,SNDR,DEL,,10/02/2026 10:00 AM,USDAL,2026-10-02T11:00:00Z",
        ),
        "event times local, with offset, and US style",
        loaded=2,
        quarantined=(("line 4", "event_time", "type:timestamp"),),
    ),
    # ------------------------------------------------------------------ JSON
    Case(
        "not_json",
        "dcsa",
        "not_json.json",
        b"<html><body>502 Bad Gateway</body></html>\n",
        "an HTML error page saved as .json",
        failed=("line 1, column 1", "not valid JSON"),
    ),
    Case(
        "truncated_json",
        "dcsa",
        "truncated.json",
        DCSA_V22.encode()[:300],
        "a JSON document cut off in transfer",
        failed=("line", "truncated"),
    ),
    Case(
        "json_wrong_shape",
        "dcsa",
        "wrong_shape.json",
        b'{"status": "ok", "data": {"count": 2}}',
        "valid JSON, but neither DCSA shape",
        failed=("top level", "expected a JSON array of events"),
    ),
    Case(
        "json_wrong_shape_parcel",
        "parcel",
        "wrong_shape.json",
        b'[{"trackingNumber": "1Z1", "events": []}]',
        "valid JSON array where a parcel tracking object is expected",
        failed=("top level", "found an array"),
    ),
    Case(
        "json_non_objects",
        "dcsa",
        "non_objects.json",
        (DCSA_V22[:-1] + ', "e3", null, 42]').encode(),
        "an events array with a string, a null and a number among the events",
        loaded=2,
        quarantined=(
            ("$[2]", None, "structure"),
            ("$[3]", None, "structure"),
            ("$[4]", None, "structure"),
        ),
    ),
    Case(
        "orders_json_bad_lines",
        "orders",
        "api_page.json",
        ORDER_JSON.encode(),
        "an API page of orders: a line that is a string, an order without lines",
        loaded=1,
        quarantined=(("$[0].lines[1]", None, "structure"), ("$[1]", None, "structure")),
    ),
    # ------------------------------------------------------------------ binary order uploads
    Case(
        "orders_xlsx_not_a_workbook",
        "orders",
        "upload.xlsx",
        b"PK\x03\x04 a zip header and then nothing a workbook needs",
        "a file named .xlsx that is not a workbook (a broken upload)",
        failed=("file", "not a readable XLSX workbook"),
    ),
    Case(
        "orders_parquet_truncated",
        "orders",
        "export.parquet",
        b"PAR1\x15\x00\x15\x1c\x15\x1e,\x15\x04",
        "a Parquet file cut off after its first bytes",
        failed=("file", "not a readable Parquet file"),
    ),
    # ------------------------------------------------------------------ ECB reference rates
    Case(
        "ecb_wrong_layout",
        "fx_rates",
        "rates.csv",
        _lines("currency,rate", "USD,1.0853"),
        "a rates file in some other layout than the ECB's eurofxref-hist.csv",
        failed=("line 1 (header)", "eurofxref-hist.csv layout"),
    ),
    Case(
        "ecb_bad_cell",
        "fx_rates",
        "eurofxref-hist.csv",
        _lines("Date,USD,JPY,", "2026-10-02,1.0853,N/A,", "2026-10-01,abc,161.20,"),
        "an ECB file with N/A (no rate that day: not a row) and one cell that is not a number",
        loaded=2,
        quarantined=(("line 3, column USD", "rate_per_eur", "type:decimal"),),
    ),
    # ------------------------------------------------------------------ X12
    Case(
        "x12_210_missing_iea",
        "x12_210",
        "JBHT_210_missing_iea.edi",
        x12_210(iea=False).encode(),
        "a carrier invoice interchange without its IEA trailer",
        failed=("end of file after segment 15 (GE)", "no IEA trailer"),
    ),
    Case(
        "x12_ok_unknown_at7",
        "x12_214",
        "unknown_at7.edi",
        x12_214(status="ZZ").encode(),
        "an AT7 status code no mapping knows: loaded (mapping coverage reports it)",
        loaded=3,
    ),
    Case(
        "x12_wrong_terminator",
        "x12_214",
        "wrong_terminator.edi",
        x12_214(terminator="~").replace("~\n", "\n").replace("*>\n", "*>~\n", 1).encode(),
        "ISA declares '~' but the segments end with newlines only",
        failed=("segment 2 (GS)", "wrong segment terminator"),
    ),
    Case(
        "x12_missing_iea",
        "x12_214",
        "missing_iea.edi",
        x12_214(iea=False).encode(),
        "no IEA trailer: a truncated interchange",
        failed=("end of file after segment 16 (GE)", "no IEA trailer"),
    ),
    Case(
        "x12_iea_control_mismatch",
        "x12_214",
        "iea_mismatch.edi",
        x12_214(iea_control="000000999").encode(),
        "IEA-02 differs from ISA-13",
        failed=("segment 17 (IEA)", "does not match ISA-13"),
    ),
    Case(
        "x12_se_control_mismatch",
        "x12_214",
        "se_mismatch.edi",
        x12_214(se_control="9999").encode(),
        "SE-02 differs from ST-02 in the first transaction: its two statuses are rejected",
        loaded=1,
        quarantined=(
            ("segment 6 (AT7) in ST 0001", None, "structure"),
            ("segment 8 (AT7) in ST 0001", None, "structure"),
        ),
    ),
)

#: The DCSA conformance messages that are invalid on purpose (../shared/datasets), with the
#: outcome stated from DCSA's own description of each test case (the TEST_CASE / reason keys).
DCSA_INVALID: dict[str, dict] = {
    # event 1 has no eventID; the SHIPMENT VOID and equipment RMVD values are odd but the
    # contract has no closed list for event type codes: mapping coverage reports them.
    "tnt-220-response-wrong-attribute-values.json": {
        "loaded": 2,
        "quarantined": [("$[0]", "event_id", "required")],
    },
    # every event lacks an eventID (required) and two have malformed date-times as well.
    "tnt-220-response-wrong-date-times.json": {
        "loaded": 0,
        "quarantined": [(f"$[{i}]", "event_id", "required") for i in range(7)],
    },
    # a numeric eventID is kept as text, duplicates are left to staging's dedupe.
    "tnt-220-response-wrong-event-ids.json": {"loaded": 7, "quarantined": []},
    # two objects that are not events at all.
    "tnt-220-response-wrong-structure.json": {
        "loaded": 0,
        "quarantined": [("$[0]", None, "structure"), ("$[1]", None, "structure")],
    },
}


def write_corpus() -> list[Path]:
    written = []
    for case in CASES:
        case.path.parent.mkdir(parents=True, exist_ok=True)
        case.path.write_bytes(case.content)
        written.append(case.path)
    return written


if __name__ == "__main__":
    for p in write_corpus():
        print(p.relative_to(HERE))
