"""ANSI X12 004010 parsers: 214 (carrier shipment status) and 210 (motor carrier freight invoice).

A small tokenizer reads the separators from the fixed-width ISA segment, an envelope walker
checks ISA/IEA, GS/GE and ST/SE, and one mapper per transaction type turns segments into rows:
one row per AT7 (214) or per L1 (210), with the transaction's header fields repeated.

Failure levels follow the envelope:

- the interchange (the file) cannot be trusted -> ``MalformedFileError``: no ISA, an ISA that is
  not fixed width, a missing IEA (truncated file), IEA-02 not matching ISA-13, IEA-01 not
  matching the number of groups;
- a functional group fails its GE check, or a transaction set fails its SE check (segment
  count, control number, missing trailer) -> every record of that group/transaction is
  rejected with the failed check in words; other transactions still load;
- a segment that belongs nowhere (outside a transaction set, after the IEA, with an
  unreadable segment id) -> rejected on its own.

Values are kept as received except N2 implied-decimal amounts (B3-07, L1-04), which are
turned into decimal strings; the contract in ``ingestion.contracts`` checks everything else.

Two paths give the same ``ParsedFile``:

- fast path (``_fast_parse``): the file is split into segments and elements by polars in one
  pass, the envelope is checked on whole columns (segment ids, the ISA/GS/ST/SE/GE/IEA order
  as one regular expression over a letter per segment, SE/GE/IEA counts and control numbers),
  and the rows come from joins and window functions (LX loop, MS1 after the AT7, L0 of the
  same line). No Python code runs per segment. It applies only to a clean interchange: one
  that the walker would pass without a reject, a note or an error;
- fallback: anything else (an envelope error, a stray or unreadable segment, a foreign
  transaction set, counts that match only after trimming, non-ASCII digits where the N2 and
  date rules apply) goes through the tokenizer, envelope walker and mappers below, which
  word every reject and error. A false alarm in the clean check only costs speed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from ingestion.contracts import X12_210_FIELDS, X12_214_FIELDS
from ingestion.parsers.base import MalformedFileError, ParsedFile, Reject

__all__ = ["n2_to_decimal", "parse_210", "parse_214"]

# Whitespace a sender may put after a segment terminator (newlines for readability, a DOS
# end-of-file Ctrl-Z, padding NULs); it is not part of any segment.
_BETWEEN_SEGMENTS = " \t\r\n\x00\x1a"
_SEGMENT_ID = re.compile(r"[A-Z][A-Z0-9]{1,2}")
_N2 = re.compile(r"[+-]?\d+")
_DATE8 = re.compile(r"\d{8}")
_TIME = re.compile(r"\d{4}(?:\d{2}\d{0,2})?")
_ISA_LENGTH = 106  # ISA is fixed width: 105 characters plus the segment terminator


class _Segment:
    __slots__ = ("elements", "id", "number", "text")

    def __init__(self, number: int, elements: list[str], text: str):
        self.number = number  # 1-based position in the file, ISA = 1
        self.elements = elements  # elements[0] is the segment id
        self.text = text  # the segment as received, without its terminator
        self.id = elements[0]

    def get(self, index: int) -> str | None:
        """Element ``index`` (1-based, as in X12 element references), None when empty."""
        if index < len(self.elements):
            value = self.elements[index]
            return value if value != "" else None
        return None


@dataclass
class _Transaction:
    type: str | None  # ST-01
    control: str | None  # ST-02
    isa_control: str
    sender_id: str
    group_control: str | None
    received_at: str | None
    segments: list[_Segment] = field(default_factory=list)
    error: str | None = None  # why every record of the transaction is rejected


@dataclass
class _Interchange:
    segments: list[_Segment]
    transactions: list[_Transaction]
    strays: list[tuple[_Segment, str]]  # segments that belong nowhere, with the reason
    notes: list[str]


# --------------------------------------------------------------------------- tokenizer


def _decode(path: Path, notes: list[str]) -> str:
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        # X12 is ASCII by standard; some senders use Latin-1 for accented place names.
        text = data.decode("latin-1")
        notes.append("file is not UTF-8; decoded as Latin-1")
    return text.removeprefix("\ufeff")


def _separators(path: Path, text: str) -> tuple[int, str, str]:
    """(offset of the ISA, element separator, segment terminator), read from the fixed-width ISA.

    Raises MalformedFileError when there is no usable ISA: nothing else can be read without it.
    """
    start = len(text) - len(text.lstrip(_BETWEEN_SEGMENTS))
    if start == len(text):
        raise MalformedFileError(
            path, "segment 1", "the file is empty: expected an ISA interchange header"
        )
    if text[start : start + 3] != "ISA":
        found = text[start : start + 30].splitlines()[0] if text[start:].strip() else ""
        raise MalformedFileError(
            path,
            f"segment 1 (character {start + 1})",
            f"no ISA interchange header: an X12 file must start with 'ISA', found {found!r}",
        )
    if len(text) - start < _ISA_LENGTH:
        raise MalformedFileError(
            path,
            "segment 1 (ISA)",
            f"the ISA segment is fixed width ({_ISA_LENGTH} characters with its terminator) but "
            f"the file holds only {len(text) - start}: it is truncated or not X12",
        )
    element_sep = text[start + 3]
    terminator = text[start + 105]
    isa = text[start : start + 105].split(element_sep)
    if element_sep.isalnum() or terminator.isalnum() or element_sep == terminator or len(isa) != 17:
        raise MalformedFileError(
            path,
            "segment 1 (ISA)",
            "the ISA segment is not fixed width: the element separator (character 4, "
            f"{element_sep!r}) must split it into 16 elements ending at character 105, followed by "
            f"the segment terminator at character 106 (found {terminator!r}); check ISA padding",
        )
    return start, element_sep, terminator


def _tokenize(path: Path, text: str) -> list[_Segment]:
    start, element_sep, terminator = _separators(path, text)
    segments: list[_Segment] = []
    number = 0
    next_line_segment = re.compile(r"[\r\n]+([A-Z][A-Z0-9]{1,2})" + re.escape(element_sep))
    for raw in text[start:].split(terminator):
        raw = raw.strip(_BETWEEN_SEGMENTS)
        if not raw:
            continue
        number += 1
        hidden = next_line_segment.search(raw)
        if hidden and terminator not in "\r\n":
            # Several segments in one: the sender ends segments with line breaks, not with the
            # terminator its own ISA declares. Reading on would glue them into one segment.
            raise MalformedFileError(
                path,
                f"segment {number} ({raw[:3].rstrip(element_sep)})",
                f"wrong segment terminator: the ISA declares {terminator!r} (character 106) but "
                f"segment {number} runs on over a line break into a {hidden.group(1)} segment; "
                "the sender must end every segment with the ISA's terminator",
            )
        segments.append(_Segment(number, raw.split(element_sep), raw))
    return segments


# --------------------------------------------------------------------------- envelope


def _received_at(gs_date: str | None, gs_time: str | None) -> str | None:
    """GS-04 CCYYMMDD + GS-05 HHMM[SS[dd]] as ISO 8601, or the raw values for the contract to flag."""
    if gs_date is None and gs_time is None:
        return None
    if gs_date and gs_time and _DATE8.fullmatch(gs_date) and _TIME.fullmatch(gs_time):
        seconds = gs_time[4:6] or "00"
        return f"{gs_date[:4]}-{gs_date[4:6]}-{gs_date[6:]}T{gs_time[:2]}:{gs_time[2:4]}:{seconds}"
    return " ".join(v for v in (gs_date, gs_time) if v)


def _walk(path: Path, segments: list[_Segment], notes: list[str]) -> _Interchange:
    transactions: list[_Transaction] = []
    strays: list[tuple[_Segment, str]] = []
    isa: _Segment | None = None
    isa_control = sender = ""
    groups_in_interchange = 0
    gs: _Segment | None = None
    group: list[_Transaction] = []
    st: _Segment | None = None
    txn: _Transaction | None = None

    def close_transaction_without_se(at: _Segment) -> None:
        nonlocal st, txn
        if txn is not None and st is not None:
            txn.error = txn.error or (
                f"transaction set {txn.control} (ST at segment {st.number}) has no SE trailer "
                f"before segment {at.number} ({at.id}): it is truncated; resend it"
            )
        st = txn = None

    def close_group(problem: str | None) -> None:
        nonlocal gs, group
        if problem:
            for t in group:
                t.error = t.error or problem
        gs, group = None, []

    for seg in segments:
        sid = seg.id
        if sid == "ISA":
            if isa is not None:
                raise MalformedFileError(
                    path,
                    f"segment {seg.number} (ISA)",
                    f"a new interchange starts before the IEA trailer of interchange {isa_control} "
                    f"(ISA at segment {isa.number}): the first interchange is truncated",
                )
            isa, groups_in_interchange = seg, 0
            isa_control = (seg.get(13) or "").strip()
            sender = (seg.get(6) or "").strip()
        elif isa is None:
            strays.append((seg, "segment after the IEA trailer, outside any interchange"))
        elif sid == "GS":
            close_transaction_without_se(seg)
            if gs is not None:
                close_group(
                    f"functional group {gs.get(6)} (GS at segment {gs.number}) has no GE trailer "
                    f"before segment {seg.number} (GS)"
                )
            gs, group = seg, []
            groups_in_interchange += 1
        elif sid == "ST":
            close_transaction_without_se(seg)
            st = seg
            txn = _Transaction(
                type=seg.get(1),
                control=seg.get(2),
                isa_control=isa_control,
                sender_id=sender,
                group_control=gs.get(6) if gs else None,
                received_at=_received_at(gs.get(4), gs.get(5)) if gs else None,
                segments=[seg],
            )
            if gs is None:
                txn.error = "transaction set outside a GS/GE functional group"
            else:
                group.append(txn)
            transactions.append(txn)
        elif sid == "SE":
            if txn is None or st is None:
                strays.append((seg, "SE trailer without a matching ST header"))
                continue
            txn.segments.append(seg)
            problems = []
            counted = len(txn.segments)
            declared = (seg.get(1) or "").strip()
            if declared != str(counted):
                problems.append(
                    f"SE-01 says {declared or 'nothing'} segments but transaction set "
                    f"{txn.control} holds {counted} (segments {st.number}-{seg.number}): segments "
                    "were lost or added in transit"
                )
            if (seg.get(2) or "").strip() != (txn.control or "").strip():
                problems.append(
                    f"SE-02 control number {seg.get(2)!r} does not match ST-02 {txn.control!r}"
                )
            if problems:
                txn.error = txn.error or "; ".join(problems) + "; resend the transaction set"
            st = txn = None
        elif sid == "GE":
            close_transaction_without_se(seg)
            if gs is None:
                strays.append((seg, "GE trailer without a matching GS header"))
                continue
            problems = []
            declared = (seg.get(1) or "").strip()
            if declared != str(len(group)):
                problems.append(
                    f"GE-01 says {declared or 'nothing'} transaction sets but the group holds "
                    f"{len(group)}"
                )
            if (seg.get(2) or "").strip() != (gs.get(6) or "").strip():
                problems.append(
                    f"GE-02 control number {seg.get(2)!r} does not match GS-06 {gs.get(6)!r}"
                )
            close_group(
                f"functional group {gs.get(6)} (GS at segment {gs.number}) failed its GE check: "
                + "; ".join(problems)
                + "; resend the group"
                if problems
                else None
            )
        elif sid == "IEA":
            close_transaction_without_se(seg)
            if gs is not None:
                close_group(
                    f"functional group {gs.get(6)} (GS at segment {gs.number}) has no GE trailer "
                    f"before segment {seg.number} (IEA)"
                )
            control = (seg.get(2) or "").strip()
            if control != isa_control:
                raise MalformedFileError(
                    path,
                    f"segment {seg.number} (IEA)",
                    f"IEA-02 interchange control number {control!r} does not match ISA-13 "
                    f"{isa_control!r} (segment {isa.number}): the trailer belongs to another "
                    "interchange; resend the file",
                )
            declared = (seg.get(1) or "").strip()
            if declared != str(groups_in_interchange):
                raise MalformedFileError(
                    path,
                    f"segment {seg.number} (IEA)",
                    f"IEA-01 says {declared or 'nothing'} functional groups but the interchange "
                    f"holds {groups_in_interchange}: groups were lost or added; resend the file",
                )
            isa = None
        elif txn is not None:
            txn.segments.append(seg)
        else:
            strays.append((seg, "segment outside a transaction set (no ST header before it)"))

    if isa is not None:
        last = segments[-1]
        raise MalformedFileError(
            path,
            f"end of file after segment {last.number} ({last.id})",
            f"no IEA trailer for interchange {isa_control} (ISA at segment {isa.number}): the "
            "file is truncated; resend the complete interchange",
        )
    return _Interchange(segments, transactions, strays, notes)


# --------------------------------------------------------------------------- mappers


def n2_to_decimal(value: str | None) -> str | None:
    """X12 N2 (implied two decimals) to a decimal string: "154300" -> "1543.00", "-500" -> "-5.00".

    Anything that is not an optionally signed run of digits is returned unchanged, so the
    contract reports it with the value the sender actually sent.
    """
    if value is None:
        return None
    text = value.strip()
    if not _N2.fullmatch(text):
        return value
    negative = text.startswith("-")
    digits = text.lstrip("+-").rjust(3, "0")
    units, cents = int(digits[:-2]), digits[-2:]
    sign = "-" if negative and (units or cents != "00") else ""
    return f"{sign}{units}.{cents}"


def _position(seg: _Segment, txn: _Transaction) -> str:
    return f"segment {seg.number} ({seg.id}) in ST {txn.control}"


def _record(seg: _Segment, txn: _Transaction, values: dict[str, str | None]) -> dict:
    return values | {
        "_row_number": seg.number,
        "_position": _position(seg, txn),
        "_record": seg.text,
    }


def _header(txn: _Transaction) -> dict[str, str | None]:
    return {
        "interchange_control_number": txn.isa_control or None,
        "transaction_control_number": txn.control,
    }


def _rows_214(txn: _Transaction) -> list[dict]:
    """One row per AT7; each takes the MS1 that follows it in its LX loop (else the loop's MS1)."""
    rows: list[dict] = []
    header = _header(txn) | {
        "group_control_number": txn.group_control,
        "sender_id": txn.sender_id or None,
        "received_at": txn.received_at,
    }
    lx_number: str | None = None
    loop_rows: list[dict] = []  # AT7 rows of the current LX loop
    waiting: list[dict] = []  # AT7 rows of the loop not yet followed by an MS1
    loop_ms1: _Segment | None = None

    def locate(row: dict, ms1: _Segment) -> None:
        row["city"], row["state"], row["country"] = ms1.get(1), ms1.get(2), ms1.get(3)

    def close_loop() -> None:
        nonlocal loop_rows, waiting, loop_ms1
        if loop_ms1 is not None:
            for row in waiting:
                locate(row, loop_ms1)
        loop_rows, waiting, loop_ms1 = [], [], None

    for seg in txn.segments:
        sid = seg.id
        if sid == "B10":
            header |= {
                "carrier_pro_number": seg.get(1),
                "shipment_id": seg.get(2),
                "carrier_scac": seg.get(3),
            }
        elif sid == "L11" and seg.get(2) == "BM" and "bill_of_lading" not in header:
            header["bill_of_lading"] = seg.get(1)
        elif sid == "LX":
            close_loop()
            lx_number = seg.get(1)
        elif sid == "AT7":
            row = _record(
                seg,
                txn,
                {
                    "lx_number": lx_number,
                    "status_code": seg.get(1),
                    "status_reason_code": seg.get(2),
                    "appointment_code": seg.get(3),
                    "appointment_reason_code": seg.get(4),
                    "event_date": seg.get(5),
                    "event_time": seg.get(6),
                    "time_code": seg.get(7),
                    "city": None,
                    "state": None,
                    "country": None,
                },
            )
            rows.append(row)
            loop_rows.append(row)
            waiting.append(row)
        elif sid == "MS1":
            for row in waiting:
                locate(row, seg)
            waiting, loop_ms1 = [], seg
        elif sid == "SE":
            close_loop()
    close_loop()
    # B10/L11 are header segments: they apply to every status of the transaction set.
    for row in rows:
        row.update(header)
    return rows


def _rows_210(txn: _Transaction) -> list[dict]:
    """One row per L1; billed weight comes from the L0 of the same LX loop when its unit is K."""
    rows: list[dict] = []
    header = _header(txn)
    loop_rows: list[dict] = []
    loop_l0s: list[_Segment] = []

    def close_loop() -> None:
        nonlocal loop_rows, loop_l0s
        for row in loop_rows:
            same_line = [l0 for l0 in loop_l0s if l0.get(1) == row["line_number"]]
            l0 = same_line[0] if same_line else (loop_l0s[0] if len(loop_l0s) == 1 else None)
            # L0-11 weight unit: K = kilograms, L = pounds. Only kilograms fill the kg column;
            # a pound weight is not converted here (the EDI keeps it for audit).
            if l0 is not None and (l0.get(11) or "").strip() == "K":
                row["billed_weight_kg"] = l0.get(4)
        loop_rows, loop_l0s = [], []

    for seg in txn.segments:
        sid = seg.id
        if sid == "B3":
            header |= {
                "invoice_number": seg.get(2),
                "shipment_id": seg.get(3),
                "payment_method": seg.get(4),
                "invoice_date": seg.get(6),
                "net_amount_due": n2_to_decimal(seg.get(7)),
                "carrier_scac": seg.get(11),
            }
        elif sid == "C3" and "currency" not in header:
            header["currency"] = seg.get(1)
        elif sid == "N9" and seg.get(1) == "BM" and "bill_of_lading" not in header:
            header["bill_of_lading"] = seg.get(2)
        elif sid == "LX":
            close_loop()
        elif sid == "L0":
            loop_l0s.append(seg)
        elif sid == "L1":
            row = _record(
                seg,
                txn,
                {
                    "line_number": seg.get(1),
                    "rate": seg.get(2),
                    "rate_qualifier": seg.get(3),
                    "charge_amount": n2_to_decimal(seg.get(4)),
                    "charge_code": seg.get(8),
                    "billed_weight_kg": None,
                },
            )
            rows.append(row)
            loop_rows.append(row)
        elif sid in ("SE", "L3"):
            close_loop()
    close_loop()
    for row in rows:
        row.update(header)
    return rows


# --------------------------------------------------------------------------- fast path

# What Python's str.strip() removes. Rust's (polars') whitespace is narrower: it keeps the ASCII
# information separators \x1c-\x1f, which some X12 senders use as delimiters.
_PY_WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
    "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
# One letter per envelope segment, x for any other; a clean interchange spells _CLEAN_SHAPE.
_ENVELOPE_LETTER = {"ISA": "I", "GS": "G", "ST": "S", "SE": "E", "GE": "g", "IEA": "i"}
_CLEAN_SHAPE = re.compile(r"I(?:G(?:Sx*E)*g)*i")
# Columns that are the same for the whole file (from the ISA).
_FILE_HEADER = ("interchange_control_number", "sender_id")


def _element(index: int) -> pl.Expr:
    """Element ``index`` of every segment, None when absent or empty (as ``_Segment.get``)."""
    value = pl.col("els").list.get(index, null_on_oob=True)
    return pl.when(value != "").then(value)


def _raw(index: int) -> pl.Expr:
    """Element ``index`` as received, "" when absent (the envelope checks' ``get(i) or ""``)."""
    return pl.col("els").list.get(index, null_on_oob=True).fill_null("")


def _non_ascii(expr: pl.Expr) -> pl.Expr:
    # Python's \d and int() accept any Unicode digit; the vectorised rules below know ASCII only.
    return expr.str.contains(r"[^\x00-\x7f]").fill_null(False)


def _n2_expr(value: pl.Expr) -> pl.Expr:
    """``n2_to_decimal`` for a column of ASCII values."""
    text = value.str.strip_chars(_PY_WHITESPACE)
    digits = text.str.strip_chars_start("+-").str.pad_start(3, "0")
    units = digits.str.slice(0, digits.str.len_chars() - 2).str.strip_chars_start("0")
    units = pl.when(units == "").then(pl.lit("0")).otherwise(units)
    cents = digits.str.slice(-2)
    sign = pl.when(text.str.starts_with("-") & ((units != "0") | (cents != "00")))
    decimal = pl.concat_str(
        [sign.then(pl.lit("-")).otherwise(pl.lit("")), units, pl.lit("."), cents]
    )
    return pl.when(text.str.contains(r"^[+-]?[0-9]+$")).then(decimal).otherwise(value)


def _received_at_expr(date: pl.Expr, time: pl.Expr) -> pl.Expr:
    """``_received_at`` for columns of ASCII GS-04 / GS-05 values."""
    iso = pl.concat_str(
        [
            date.str.slice(0, 4),
            pl.lit("-"),
            date.str.slice(4, 2),
            pl.lit("-"),
            date.str.slice(6),
            pl.lit("T"),
            time.str.slice(0, 2),
            pl.lit(":"),
            time.str.slice(2, 2),
            pl.lit(":"),
            pl.when(time.str.len_chars() > 4).then(time.str.slice(4, 2)).otherwise(pl.lit("00")),
        ]
    )
    well_formed = date.str.contains(r"^[0-9]{8}$") & time.str.contains(
        r"^[0-9]{4}(?:[0-9]{2}[0-9]{0,2})?$"
    )
    return (
        pl.when(date.is_null() & time.is_null())
        .then(pl.lit(None, pl.Utf8))
        .when(well_formed.fill_null(False))
        .then(iso)
        .otherwise(pl.concat_str([date, time], separator=" ", ignore_nulls=True))
    )


def _segment_frame(text: str, start: int, element_sep: str, terminator: str) -> pl.DataFrame:
    """One row per segment, numbered as ``_tokenize`` numbers them: n, text, id, els, txn, grp."""
    frame = (
        pl.DataFrame({"text": [text[start:]]})
        .select(pl.col("text").str.split(terminator).explode())
        .with_columns(pl.col("text").str.strip_chars(_BETWEEN_SEGMENTS))
        .filter(pl.col("text") != "")
        .with_row_index("n", offset=1)
        .with_columns(pl.col("n").cast(pl.Int64), els=pl.col("text").str.split(element_sep))
    )
    return frame.with_columns(id=pl.col("els").list.first()).with_columns(
        txn=(pl.col("id") == "ST").cum_sum(), grp=(pl.col("id") == "GS").cum_sum()
    )


def _clean_envelope(frame: pl.DataFrame, st_type: str, element_sep: str, terminator: str) -> bool:
    """True when the walker would find nothing to reject, note or raise in this interchange.

    Checked on whole columns: readable segment ids, a single ISA ... IEA with every segment in
    a GS/ST pair, all transaction sets of ``st_type``, and SE / GE / IEA counts and control
    numbers that match exactly. Values that match only after ``strip()`` are left to the walker.
    """
    if terminator not in "\r\n":
        hidden = r"[\r\n]+[A-Z][A-Z0-9]{1,2}" + f"\\x{{{ord(element_sep):X}}}"
        if frame["text"].str.contains(hidden).any():
            return False
    if not frame["id"].str.contains(r"^[A-Z][A-Z0-9]{1,2}$").all():
        return False
    shape = frame["id"].replace_strict(_ENVELOPE_LETTER, default="x").str.join("").item()
    if not _CLEAN_SHAPE.fullmatch(shape) or "S" not in shape:
        return False

    st = frame.filter(pl.col("id") == "ST").select(
        "txn", "grp", st_n="n", st_type=_raw(1), st_control=_raw(2)
    )
    se = frame.filter(pl.col("id") == "SE").select("txn", se_n="n", count=_raw(1), control=_raw(2))
    sets = st.join(se, on="txn")
    if not (
        (sets["st_type"] == st_type).all()
        and (sets["count"] == (sets["se_n"] - sets["st_n"] + 1).cast(pl.Utf8)).all()
        and (sets["control"] == sets["st_control"]).all()
    ):
        return False

    gs = frame.filter(pl.col("id") == "GS").select("grp", gs_control=_raw(6))
    ge = frame.filter(pl.col("id") == "GE").select("grp", count=_raw(1), control=_raw(2))
    held = st.group_by("grp").len()
    groups = (
        gs.join(ge, on="grp")
        .join(held, on="grp", how="left")
        .with_columns(pl.col("len").fill_null(0))
    )
    if not (
        (groups["count"] == groups["len"].cast(pl.Utf8)).all()
        and (groups["control"] == groups["gs_control"]).all()
    ):
        return False

    isa, iea = frame["els"][0].to_list(), frame["els"][-1].to_list()
    isa_control = (isa[13] if len(isa) > 13 else "").strip()
    return iea[1:3] == [str(gs.height), isa_control]


def _fast_parse(path: Path, text: str, st_type: str, fields, notes: list[str]) -> ParsedFile | None:
    """The whole file in column operations, or None when the envelope needs the walker."""
    start, element_sep, terminator = _separators(path, text)
    frame = _segment_frame(text, start, element_sep, terminator)
    if not _clean_envelope(frame, st_type, element_sep, terminator):
        return None
    money = ("GS", 4), ("GS", 5), ("B3", 7), ("L1", 4)
    if frame.select(
        pl.any_horizontal(
            (pl.col("id") == sid) & _non_ascii(_element(index)) for sid, index in money
        ).any()
    ).item():
        return None

    isa = frame["els"][0].to_list()
    isa_control = (isa[13] if len(isa) > 13 else "").strip()
    sender = (isa[6] if len(isa) > 6 else "").strip()
    # One lazy query: polars shares the filters between the joins and runs them in parallel.
    segments = frame.lazy().select("n", "id", "els", "txn", "grp")
    sets = segments.filter(pl.col("id") == "ST").select(
        "txn", "grp", transaction_control_number=_element(2)
    )
    groups = segments.filter(pl.col("id") == "GS").select(
        "grp",
        group_control_number=_element(6),
        received_at=_received_at_expr(_element(4), _element(5)),
    )
    mapper = _fast_214 if st_type == "214" else _fast_210
    frame = (
        mapper(segments.drop("grp"))
        .join(sets, on="txn", how="left")
        .join(groups, on="grp", how="left")
        .sort("n")
        .select(
            *(pl.col(f.name).cast(pl.Utf8) for f in fields if f.name not in _FILE_HEADER),
            interchange_control_number=pl.lit(isa_control or None, pl.Utf8),
            sender_id=pl.lit(sender or None, pl.Utf8),
            _row_number=pl.col("n"),
            _position=pl.format(
                "segment {} ({}) in ST {}",
                "n",
                "id",
                pl.col("transaction_control_number").fill_null("None"),
            ),
        )
        .select(*(f.name for f in fields), "_row_number", "_position")
        # The in-memory engine: the streaming default costs milliseconds of set-up per file.
        .collect(engine="in-memory")
    )
    return ParsedFile(frame, frame.height, [], notes)


def _header_per_transaction(
    segments: pl.LazyFrame, where: pl.Expr, keep: str, **values: pl.Expr
) -> pl.LazyFrame:
    """One header value set per transaction set: the first or last segment matching ``where``."""
    return (
        segments.filter(where).select("txn", **values).unique("txn", keep=keep, maintain_order=True)
    )


def _fast_214(segments: pl.LazyFrame) -> pl.LazyFrame:
    """``_rows_214`` on columns: AT7 rows with their LX number, MS1 location and B10/L11 header."""
    segments = segments.with_columns(lx=(pl.col("id") == "LX").cum_sum())
    loop = ["txn", "lx"]
    ms1_n = pl.when(pl.col("id") == "MS1").then(pl.col("n"))
    located = (
        segments.filter(pl.col("id").is_in(["AT7", "MS1"]))
        .with_columns(ms1_n=pl.coalesce(ms1_n.backward_fill().over(loop), ms1_n.max().over(loop)))
        .filter(pl.col("id") == "AT7")
        .select(
            "n",
            "id",
            "txn",
            "lx",
            "ms1_n",
            status_code=_element(1),
            status_reason_code=_element(2),
            appointment_code=_element(3),
            appointment_reason_code=_element(4),
            event_date=_element(5),
            event_time=_element(6),
            time_code=_element(7),
        )
    )
    ms1 = segments.filter(pl.col("id") == "MS1").select(
        ms1_n="n", city=_element(1), state=_element(2), country=_element(3)
    )
    lx = segments.filter(pl.col("id") == "LX").select(*loop, lx_number=_element(1))
    b10 = _header_per_transaction(
        segments,
        pl.col("id") == "B10",
        "last",
        carrier_pro_number=_element(1),
        shipment_id=_element(2),
        carrier_scac=_element(3),
    )
    l11 = _header_per_transaction(
        segments,
        (pl.col("id") == "L11") & (_element(2) == "BM"),
        "first",
        bill_of_lading=_element(1),
    )
    return (
        located.join(ms1, on="ms1_n", how="left")
        .join(lx, on=loop, how="left")
        .join(b10, on="txn", how="left")
        .join(l11, on="txn", how="left")
    )


def _fast_210(segments: pl.LazyFrame) -> pl.LazyFrame:
    """``_rows_210`` on columns: L1 rows with the billed weight of their loop's L0 and B3 header."""
    segments = segments.with_columns(loop=pl.col("id").is_in(["LX", "L3", "SE"]).cum_sum())
    loop = ["txn", "loop"]
    charges = segments.filter(pl.col("id") == "L1").select(
        "n",
        "id",
        *loop,
        line_number=_element(1),
        rate=_element(2),
        rate_qualifier=_element(3),
        charge_amount=_n2_expr(_element(4)),
        charge_code=_element(8),
    )
    l0 = segments.filter(pl.col("id") == "L0").select(
        *loop, "n", line_number=_element(1), weight=_element(4), unit=_element(11)
    )
    same_line = l0.unique([*loop, "line_number"], keep="first", maintain_order=True).select(
        *loop, "line_number", same_weight="weight", same_unit="unit", same=pl.lit(True)
    )
    only = (
        l0.group_by(loop)
        .agg(pl.len(), only_weight=pl.col("weight").first(), only_unit=pl.col("unit").first())
        .filter(pl.col("len") == 1)
        .drop("len")
    )
    weighed = (
        charges.join(same_line, on=[*loop, "line_number"], how="left", nulls_equal=True)
        .join(only, on=loop, how="left")
        .with_columns(
            weight=pl.when(pl.col("same")).then("same_weight").otherwise("only_weight"),
            unit=pl.when(pl.col("same")).then("same_unit").otherwise("only_unit"),
        )
        .with_columns(
            billed_weight_kg=pl.when(
                pl.col("unit").fill_null("").str.strip_chars(_PY_WHITESPACE) == "K"
            ).then("weight")
        )
    )
    b3 = _header_per_transaction(
        segments,
        pl.col("id") == "B3",
        "last",
        invoice_number=_element(2),
        shipment_id=_element(3),
        payment_method=_element(4),
        invoice_date=_element(6),
        net_amount_due=_n2_expr(_element(7)),
        carrier_scac=_element(11),
    )
    c3 = _header_per_transaction(segments, pl.col("id") == "C3", "first", currency=_element(1))
    n9 = _header_per_transaction(
        segments,
        (pl.col("id") == "N9") & (_element(1) == "BM"),
        "first",
        bill_of_lading=_element(2),
    )
    return (
        weighed.join(b3, on="txn", how="left")
        .join(c3, on="txn", how="left")
        .join(n9, on="txn", how="left")
    )


# --------------------------------------------------------------------------- driver


def _parse(path: Path, st_type: str, record_segment: str, fields, mapper) -> ParsedFile:
    path = Path(path)
    notes: list[str] = []
    text = _decode(path, notes)
    fast = _fast_parse(path, text, st_type, fields, notes)
    if fast is not None:
        return fast
    segments = _tokenize(path, text)
    interchange = _walk(path, segments, notes)

    ours = [t for t in interchange.transactions if t.type == st_type]
    foreign = [t for t in interchange.transactions if t.type != st_type]
    if foreign and not ours:
        types = sorted({str(t.type) for t in foreign})
        raise MalformedFileError(
            path,
            f"segment {foreign[0].segments[0].number} (ST)",
            f"the file holds only transaction sets of type {', '.join(types)}; this feed reads "
            f"X12 {st_type}: send the file to the matching feed",
        )
    if not interchange.transactions:
        notes.append("the interchange holds no transaction sets")

    names = [f.name for f in fields]
    loaded: list[dict] = []
    rejects: list[Reject] = []

    for txn in interchange.transactions:
        st = txn.segments[0]
        if txn.type != st_type:
            rejects.append(
                Reject(
                    st.number,
                    _position(st, txn),
                    f"transaction set of type {txn.type} in an X12 {st_type} file: send it to the "
                    "feed for that transaction type",
                    "\n".join(s.text for s in txn.segments),
                )
            )
            continue
        rows = mapper(txn)
        if txn.error:
            rejects.extend(
                Reject(r["_row_number"], r["_position"], txn.error, r["_record"]) for r in rows
            )
            if not rows:
                notes.append(
                    f"transaction set {txn.control} (segment {st.number}) was not loaded and "
                    f"held no {record_segment} records: {txn.error}"
                )
            continue
        loaded.extend(rows)

    for seg, reason in interchange.strays:
        rejects.append(Reject(seg.number, f"segment {seg.number} ({seg.id})", reason, seg.text))
    unreadable = {sid for sid in {s.id for s in segments} if not _SEGMENT_ID.fullmatch(sid)}
    # A mangled segment id might have been a status or charge: quarantine it, never drop it.
    for seg in segments:
        if seg.id in unreadable:
            rejects.append(
                Reject(
                    seg.number,
                    f"segment {seg.number}",
                    f"unreadable segment id {seg.id!r}: expected 2-3 letters/digits such as AT7 "
                    "or L1; the segment was not loaded",
                    seg.text,
                )
            )

    schema = {name: pl.Utf8 for name in names} | {"_row_number": pl.Int64, "_position": pl.Utf8}
    # One DataFrame from all row dicts; keys outside the schema (_record) are dropped.
    frame = pl.from_dicts(loaded, schema=schema) if loaded else pl.DataFrame(schema=schema)
    rejects.sort(key=lambda r: r.row_number)
    return ParsedFile(frame, frame.height + len(rejects), rejects, notes)


def parse_214(path: Path) -> ParsedFile:
    """Parse an X12 214 file: one row per AT7 shipment status (contracts.X12_214_FIELDS)."""
    return _parse(path, "214", "AT7", X12_214_FIELDS, _rows_214)


def parse_210(path: Path) -> ParsedFile:
    """Parse an X12 210 file: one row per L1 charge line (contracts.X12_210_FIELDS)."""
    return _parse(path, "210", "L1", X12_210_FIELDS, _rows_210)
