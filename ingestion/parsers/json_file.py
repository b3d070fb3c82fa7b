"""Reading partner JSON: exact number text, and errors that name the line and column."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from ingestion.contracts import MAX_JSON_DEPTH
from ingestion.parsers.base import MalformedFileError

_ESCAPE = re.compile(rb"\\.", re.DOTALL)
_STRING = re.compile(rb'"[^"]*"')
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b'[]{}"')
_CHUNK = 1 << 24
_STEP = np.zeros(256, dtype=np.int8)
_STEP[[ord("["), ord("{")]] = 1
_STEP[[ord("]"), ord("}")]] = -1


def nesting_depth(data: bytes) -> int:
    """How deep the arrays and objects of a JSON text nest, without parsing it.

    Escapes are dropped first (an escaped quote must not open a string), then everything but
    brackets and quotes, then the strings themselves; what is left are the brackets, whose
    running sum is the depth. All steps run in C (re, bytes.translate, numpy), so a hostile file
    nested 100,000 levels is refused in milliseconds instead of exhausting Python's stack.
    """
    structure = _STRING.sub(b"", _ESCAPE.sub(b"", data).translate(None, _NOT_STRUCTURE))
    steps = np.frombuffer(structure, dtype=np.uint8)
    deepest, depth = 0, 0
    for start in range(0, len(steps), _CHUNK):  # bounded memory for a file of only brackets
        running = np.cumsum(_STEP[steps[start : start + _CHUNK]], dtype=np.int64) + depth
        deepest, depth = max(deepest, int(running.max())), int(running[-1])
    return deepest


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
    depth = nesting_depth(data)
    if depth > MAX_JSON_DEPTH:
        raise MalformedFileError(
            path,
            "file",
            f"JSON nested {depth:,} levels deep; the limit is {MAX_JSON_DEPTH} (carrier and order "
            "documents use under 10): the file is broken or hostile and was not parsed",
        )
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
    except RecursionError:
        # Only reachable when the depth estimate above was fooled by malformed quoting.
        raise MalformedFileError(
            path, "file", f"JSON nested too deeply to parse (limit {MAX_JSON_DEPTH} levels)"
        ) from None


def as_text(value: Any) -> str | None:
    """A JSON value as a contract string: text unchanged, booleans true/false, objects as JSON."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)
