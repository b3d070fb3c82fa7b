"""X12 214 / 210 parsers: tokenizer, envelope checks and the rows they produce.

Fixtures live in tests/fixtures/x12/ (one segment per line, readable in any editor).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ingestion.contracts import X12_210_FIELDS, X12_214_FIELDS
from ingestion.parsers.base import MalformedFileError
from ingestion.parsers.x12 import n2_to_decimal, parse_210, parse_214

FIXTURES = Path(__file__).parent / "fixtures" / "x12"


def _invariant(parsed) -> None:
    assert parsed.rows_read == parsed.rows.height + len(parsed.rejects)


def _statuses(parsed) -> list[tuple]:
    return [
        (
            r["_row_number"],
            r["transaction_control_number"],
            r["status_code"],
            r["event_date"],
            r["event_time"],
            r["time_code"],
            r["city"],
        )
        for r in parsed.rows.to_dicts()
    ]


GOOD_214_STATUSES = [
    (7, "0001", "X3", "20261120", "0815", None, "CHICAGO"),
    (10, "0001", "AF", "20261120", "1030", "CT", "JOLIET"),
    (11, "0001", "P1", "20261120", "1805", "CT", "JOLIET"),
    (18, "0002", "D1", "20261122", "163015", "LT", "MEMPHIS"),
]


def test_a_tilde_terminated_214_gives_one_row_per_at7_with_its_header_and_loop_location():
    parsed = parse_214(FIXTURES / "214_tilde_terminated.edi")

    _invariant(parsed)
    assert parsed.rows_read == 4 and parsed.rejects == []
    assert _statuses(parsed) == GOOD_214_STATUSES
    first = parsed.rows.row(0, named=True)
    assert first == {
        "interchange_control_number": "000000905",
        "group_control_number": "905",
        "transaction_control_number": "0001",
        "sender_id": "ACMEFREIGHT",
        "received_at": "2026-11-23T14:30:05",
        "carrier_pro_number": "PRO1001",
        "shipment_id": "SHP-0001",
        "carrier_scac": "ACFR",
        "bill_of_lading": "BOL-77",
        "lx_number": "1",
        "status_code": "X3",
        "status_reason_code": "NS",
        "appointment_code": None,
        "appointment_reason_code": None,
        "event_date": "20261120",
        "event_time": "0815",
        "time_code": None,
        "city": "CHICAGO",
        "state": "IL",
        "country": "US",
        "_row_number": 7,
        "_position": "segment 7 (AT7) in ST 0001",
    }


def test_rows_carry_exactly_the_contract_columns_plus_lineage():
    parsed = parse_214(FIXTURES / "214_tilde_terminated.edi")
    assert parsed.rows.columns == [f.name for f in X12_214_FIELDS] + ["_row_number", "_position"]
    assert parsed.rows.schema["_row_number"].is_integer()


def test_two_at7_in_one_lx_loop_are_two_rows_sharing_the_ms1_that_follows_them():
    rows = parse_214(FIXTURES / "214_tilde_terminated.edi").rows.to_dicts()
    assert [(r["lx_number"], r["status_code"], r["city"], r["state"]) for r in rows[1:3]] == [
        ("2", "AF", "JOLIET", "IL"),
        ("2", "P1", "JOLIET", "IL"),
    ]


def test_an_ms1_before_the_at7_in_its_loop_still_locates_it():
    rows = parse_214(FIXTURES / "214_tilde_terminated.edi").rows.to_dicts()
    assert (rows[3]["city"], rows[3]["state"], rows[3]["country"]) == ("MEMPHIS", "TN", "US")
    assert rows[3]["bill_of_lading"] is None  # transaction 0002 sends no L11*BM


def test_newline_terminated_segments_parse_the_same_as_tilde_terminated():
    parsed = parse_214(FIXTURES / "214_newline_terminated.edi")
    _invariant(parsed)
    assert _statuses(parsed) == GOOD_214_STATUSES
    assert parsed.rows.equals(parse_214(FIXTURES / "214_tilde_terminated.edi").rows)


def test_separators_are_read_from_the_isa_so_a_pipe_separated_file_parses_the_same():
    parsed = parse_214(FIXTURES / "214_pipe_separated.edi")
    _invariant(parsed)
    assert parsed.rows.equals(parse_214(FIXTURES / "214_tilde_terminated.edi").rows)


def test_a_missing_iea_trailer_is_reported_with_its_segment_number():
    with pytest.raises(MalformedFileError) as caught:
        parse_214(FIXTURES / "214_missing_iea.edi")
    assert caught.value.position == "end of file after segment 20 (GE)"
    assert "no IEA trailer" in caught.value.rule and "truncated" in caught.value.rule


def test_an_iea_whose_control_number_differs_from_the_isa_makes_the_file_malformed():
    with pytest.raises(MalformedFileError) as caught:
        parse_214(FIXTURES / "214_iea_control_mismatch.edi")
    assert caught.value.position == "segment 21 (IEA)"
    assert "'000000906' does not match ISA-13 '000000905'" in caught.value.rule


def test_a_bad_se_count_rejects_that_transactions_records_and_the_other_transaction_still_loads():
    parsed = parse_214(FIXTURES / "214_bad_se_count_in_first_transaction.edi")

    _invariant(parsed)
    assert parsed.rows_read == 4
    assert _statuses(parsed) == [GOOD_214_STATUSES[3]]
    assert [(r.row_number, r.position, r.record) for r in parsed.rejects] == [
        (7, "segment 7 (AT7) in ST 0001", "AT7*X3*NS***20261120*0815**"),
        (10, "segment 10 (AT7) in ST 0001", "AT7*AF*NS***20261120*1030*CT"),
        (11, "segment 11 (AT7) in ST 0001", "AT7*P1*NS***20261120*1805*CT"),
    ]
    assert parsed.rejects[0].rule.startswith(
        "SE-01 says 13 segments but transaction set 0001 holds 11 (segments 3-13)"
    )


def test_an_unknown_status_code_and_a_non_date_are_kept_as_rows_for_later_mapping_and_contract():
    parsed = parse_214(FIXTURES / "214_unknown_status_and_non_date.edi")

    _invariant(parsed)
    assert parsed.rejects == []
    assert [(r["status_code"], r["event_date"], r["city"]) for r in parsed.rows.to_dicts()] == [
        ("ZZ", "20261121", "DALLAS"),
        ("D1", "NOV-22", None),  # its LX loop has no MS1
    ]
    assert parsed.rows["received_at"].to_list() == ["2026-11-23T14:30:00"] * 2


def test_the_contract_flags_the_non_date_but_not_the_unknown_status_code():
    from ingestion.load import validate

    checked = validate("x12_214", parse_214(FIXTURES / "214_unknown_status_and_non_date.edi").rows)
    errors = [[(e["field"], e["rule"]) for e in row] for row in checked["_errors"].to_list()]
    assert errors == [[], [("event_date", "type:date8")]]


def test_a_file_without_an_isa_header_is_malformed(tmp_path):
    path = tmp_path / "no_isa.edi"
    path.write_text("GS*QM*A*B*20261123*1430*1*X*004010~ST*214*0001~SE*2*0001~GE*1*1~")
    with pytest.raises(MalformedFileError) as caught:
        parse_214(path)
    assert caught.value.position.startswith("segment 1")
    assert "no ISA interchange header" in caught.value.rule


def test_an_empty_file_is_malformed(tmp_path):
    path = tmp_path / "empty.edi"
    path.write_bytes(b"")
    with pytest.raises(MalformedFileError, match="empty"):
        parse_214(path)


def test_a_210_file_in_the_214_feed_is_refused_as_a_whole():
    with pytest.raises(MalformedFileError) as caught:
        parse_214(FIXTURES / "210_two_invoices.edi")
    assert caught.value.position == "segment 3 (ST)"
    assert "type 210" in caught.value.rule


def test_a_210_gives_one_row_per_l1_with_n2_amounts_as_decimals():
    parsed = parse_210(FIXTURES / "210_two_invoices.edi")

    _invariant(parsed)
    assert parsed.rows_read == 4 and parsed.rejects == []
    assert parsed.rows.columns == [f.name for f in X12_210_FIELDS] + ["_row_number", "_position"]
    got = [
        (
            r["_row_number"],
            r["invoice_number"],
            r["net_amount_due"],
            r["currency"],
            r["bill_of_lading"],
            r["line_number"],
            r["rate"],
            r["rate_qualifier"],
            r["charge_amount"],
            r["charge_code"],
            r["billed_weight_kg"],
        )
        for r in parsed.rows.to_dicts()
    ]
    assert got == [
        (9, "INV-5001", "1543.00", "USD", "BOL-77", "1", "1.20", "PK", "1500.50", "400", "1250.5"),
        (11, "INV-5001", "1543.00", "USD", "BOL-77", "2", "12.5", "PS", "42.50", "FSC", None),
        (13, "INV-5001", "1543.00", "USD", "BOL-77", "3", None, None, "-5.00", "DSC", None),
        # B3-07 "12A0" is not a number: kept as sent for the contract; L0 weight in pounds (L)
        # does not fill the kilogram column.
        (21, "INV-5002", "12A0", "EUR", None, "1", "0.9", "PK", "0.05", "400", None),
    ]
    first = parsed.rows.row(0, named=True)
    assert (
        first["interchange_control_number"],
        first["transaction_control_number"],
        first["shipment_id"],
        first["payment_method"],
        first["invoice_date"],
        first["carrier_scac"],
        first["_position"],
    ) == ("000000077", "1001", "SHP-0001", "PP", "20261124", "ACFR", "segment 9 (L1) in ST 1001")


def test_the_contract_flags_a_non_numeric_net_amount_in_a_210():
    from ingestion.load import validate

    checked = validate("x12_210", parse_210(FIXTURES / "210_two_invoices.edi").rows)
    errors = [[(e["field"], e["rule"]) for e in row] for row in checked["_errors"].to_list()]
    assert errors == [[], [], [], [("net_amount_due", "type:decimal")]]


@pytest.mark.parametrize(
    ("sent", "loaded"),
    [
        ("154300", "1543.00"),
        ("-500", "-5.00"),
        ("5", "0.05"),
        ("0", "0.00"),
        ("-0", "0.00"),
        ("+1200", "12.00"),
        ("000123", "1.23"),
        ("12A0", "12A0"),
        ("15.43", "15.43"),
        (None, None),
    ],
)
def test_n2_implied_decimals_become_decimal_strings_and_anything_else_stays_as_sent(sent, loaded):
    assert n2_to_decimal(sent) == loaded


def _envelope(body: list[str], ge: str = "GE*{n}*1", iea: str = "IEA*1*000000001") -> str:
    isa = (
        "ISA*00*          *00*          *ZZ*ACMEFREIGHT    *ZZ*WAYBILL        *261123*1430*U*00401"
        "*000000001*0*P*>"
    )
    n = sum(1 for s in body if s.startswith("ST*"))
    segments = [isa, "GS*QM*A*B*20261123*1430*1*X*004010", *body, ge.format(n=n), iea]
    return "~\n".join(segments) + "~\n"


def test_a_wrong_ge_transaction_count_rejects_the_groups_records(tmp_path):
    path = tmp_path / "bad_ge.edi"
    path.write_text(
        _envelope(
            ["ST*214*0001", "B10*P*S*ACFR", "LX*1", "AT7*X3*NS***20261120*0815", "SE*5*0001"],
            ge="GE*2*1",
        )
    )
    parsed = parse_214(path)
    _invariant(parsed)
    assert parsed.rows.height == 0
    assert [r.row_number for r in parsed.rejects] == [6]
    assert "GE-01 says 2 transaction sets but the group holds 1" in parsed.rejects[0].rule


def test_a_transaction_without_se_is_rejected_and_the_next_one_loads(tmp_path):
    path = tmp_path / "no_se.edi"
    path.write_text(
        _envelope(
            [
                "ST*214*0001",
                "B10*P*S1*ACFR",
                "LX*1",
                "AT7*X3*NS***20261120*0815",
                "ST*214*0002",
                "B10*P*S2*ACFR",
                "LX*1",
                "AT7*D1*NS***20261121*0900",
                "SE*5*0002",
            ],
            ge="GE*2*1",
        )
    )
    parsed = parse_214(path)
    _invariant(parsed)
    assert parsed.rows["shipment_id"].to_list() == ["S2"]
    assert [r.row_number for r in parsed.rejects] == [6]
    assert "has no SE trailer before segment 7 (ST)" in parsed.rejects[0].rule


def test_a_status_outside_any_transaction_set_is_rejected_not_dropped(tmp_path):
    path = tmp_path / "stray.edi"
    path.write_text(
        _envelope(["AT7*X3*NS***20261120*0815", "ST*214*0001", "B10*P*S*ACFR", "SE*3*0001"])
    )
    parsed = parse_214(path)
    _invariant(parsed)
    assert parsed.rows_read == 1 and parsed.rows.height == 0
    assert (parsed.rejects[0].position, parsed.rejects[0].record) == (
        "segment 3 (AT7)",
        "AT7*X3*NS***20261120*0815",
    )


def test_a_latin1_file_is_decoded_with_a_note(tmp_path):
    path = tmp_path / "latin1.edi"
    text = _envelope(
        [
            "ST*214*0001",
            "B10*P*S*ACFR",
            "LX*1",
            "AT7*X3*NS***20261120*0815",
            "MS1*MONTR\xc9AL*QC*CA",
            "SE*6*0001",
        ]
    )
    path.write_bytes(text.encode("latin-1"))
    parsed = parse_214(path)
    assert parsed.rows["city"].to_list() == ["MONTR\xc9AL"]
    assert any("Latin-1" in note for note in parsed.notes)


def test_a_large_214_parses_in_about_a_second(tmp_path):
    import time

    body = []
    for t in range(5000):
        body += [f"ST*214*{t:04d}", f"B10*PRO*SHP-{t}*ACFR"]
        for lx in (1, 2):
            body += [f"LX*{lx}", "AT7*X3*NS***20261120*0815", "MS1*CHICAGO*IL*US"]
        body.append(f"SE*9*{t:04d}")
    path = tmp_path / "big.edi"
    path.write_text(_envelope(body))
    started = time.perf_counter()
    parsed = parse_214(path)
    assert parsed.rows.height == 10_000 and parsed.rejects == []
    assert time.perf_counter() - started < 2.0  # ~50k segments; generous for slow CI


def test_a_quote_terminator_followed_by_crlf_parses_the_same_as_tilde(tmp_path):
    text = (FIXTURES / "214_tilde_terminated.edi").read_text().replace("~\n", "'\r\n")
    path = tmp_path / "quote.edi"
    path.write_bytes(text.encode())
    parsed = parse_214(path)
    assert parsed.rows.equals(parse_214(FIXTURES / "214_tilde_terminated.edi").rows)
