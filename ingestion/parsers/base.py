"""What every parser returns, and the one error a parser raises for an unreadable file."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import polars as pl


class MalformedFileError(Exception):
    """The file as a whole cannot be read (not JSON, missing IEA trailer, no header...).

    The message must name the file, the position (line / segment / byte) and the rule broken,
    in words the sender can act on. The loader records it and moves on to the next file.
    """

    def __init__(self, path: Path | str, position: str, rule: str):
        self.path, self.position, self.rule = str(path), position, rule
        super().__init__(f"{Path(path).name}: {position}: {rule}")


@dataclass
class Reject:
    """A record the parser could not even split into fields (wrong column count, bad segment)."""

    row_number: int  # same numbering as ParsedFile.rows["_row_number"]
    position: str  # human words: "line 17", "segment 45 (AT7)", "events[3]"
    rule: str  # what is wrong and what to fix
    record: str | None = None  # the raw text of the record, for the sender
    field: str | None = None
    value: str | None = None


@dataclass
class ParsedFile:
    """A parsed file: string rows named after the feed contract, plus structural rejects.

    ``rows`` has one Utf8 column per contract field it could find (missing optional fields may
    be absent; the loader adds them as null), plus ``_row_number`` (Int64: CSV line number with
    the header as line 1, EDI segment number of the status/charge segment, or 1-based JSON
    record number) and ``_position`` (Utf8, the same in words). Values are untrimmed strings or
    null; the loader trims and validates them against the contract.

    Invariant checked by the loader: ``rows_read == rows.height + len(rejects)``.
    """

    rows: pl.DataFrame
    rows_read: int
    rejects: list[Reject] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def empty_rows(columns: list[str]) -> pl.DataFrame:
    schema = {c: pl.Utf8 for c in columns} | {"_row_number": pl.Int64, "_position": pl.Utf8}
    return pl.DataFrame(schema=schema)
