"""Reading partner JSON: exact number text, and errors that name the line and column."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ingestion.parsers.base import MalformedFileError


def read_json(path: Path) -> Any:
    """Load a JSON file, keeping numbers as the text written in the file.

    Raises MalformedFileError with line and column when the file is empty, not UTF-8 or not
    JSON, and says so when the document stops in the middle (a truncated transfer).
    """
    data = Path(path).read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise MalformedFileError(
            path, f"byte {exc.start + 1}", "not UTF-8 text: JSON must be encoded as UTF-8"
        ) from None
    if not text.strip():
        raise MalformedFileError(path, "line 1", "the file is empty: expected a JSON document")
    try:
        # parse_int/parse_float=str keep "20.0" and "0012" as written; the contract decides.
        return json.loads(text, parse_int=str, parse_float=str, parse_constant=str)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        # An unterminated string runs to the end of the file: as truncated as a missing ']'.
        if exc.pos >= len(text.rstrip()) or exc.msg.startswith("Unterminated string"):
            rule = (
                f"the JSON document ends before it is complete ({exc.msg}): the file is "
                "truncated; resend it"
            )
        else:
            rule = f"not valid JSON: {exc.msg}"
        raise MalformedFileError(path, where, rule) from None


def as_text(value: Any) -> str | None:
    """A JSON value as a contract string: text unchanged, booleans true/false, objects as JSON."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)
