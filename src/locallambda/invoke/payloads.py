"""Invoke payloads must be JSON: the check, and AWS's (Jackson's) wording when they are not.

AWS parses payloads with Jackson and reports its errors, location included; the two answers AWS
gave in LocalStack's parity snapshots (test_lambda_invoke_payload_encoding_error) are reproduced
exactly, other syntax errors keep Jackson's shape with Python's description.

Jackson also bounds how deep a document may nest (``StreamReadConstraints``: 1000 levels by
default) and words a deeper one ``Document nesting depth (1001) exceeds the maximum allowed
(1000, from StreamReadConstraints.getMaxNestingDepth())``. ``loads`` keeps that bound, and
parses any document within it although Python's decoder, recursing once per level, runs out of
interpreter stack before 1000 levels. The rest-json codec (protocol/) reads request bodies with
it too.
"""

from __future__ import annotations

import json
import re
import sys
from itertools import accumulate
from typing import Any

from locallambda.errors import InvalidRequestContentError

__all__ = ["MAX_NESTING_DEPTH", "NestingError", "check_json", "loads"]

# AWS parses payloads with Jackson and reports its errors, location included.
_JSON_PREFIX = "Could not parse request body into json: Could not parse payload into json: "
_VALUE_LIST = "(JSON String, Number, Array, Object or token 'null', 'true' or 'false')"
_VALUE_START = frozenset(b'{["-0123456789tfn')
_WHITESPACE = b" \t\r\n"

MAX_NESTING_DEPTH = 1000  # Jackson's StreamReadConstraints.DEFAULT_MAX_DEPTH

# A complete JSON string (its brackets are text, not nesting); everything but brackets, to drop.
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_STEP = tuple(1 if b in b"[{" else -1 for b in range(256))
# Interpreter frames Python's decoder may need on top of the caller's, one per level.
_HEADROOM = MAX_NESTING_DEPTH + 100


class NestingError(ValueError):
    """A document nests deeper than Jackson reads; the message is Jackson's."""

    def __init__(self) -> None:
        super().__init__(
            f"Document nesting depth ({MAX_NESTING_DEPTH + 1}) exceeds the maximum allowed "
            f"({MAX_NESTING_DEPTH}, from StreamReadConstraints.getMaxNestingDepth())"
        )


def _too_deep(document: bytes) -> bool:
    """Whether ``document`` nests deeper than Jackson reads, judged by its brackets outside
    complete strings (Jackson meets the depth before anything after it). Linear in the size."""
    brackets = _STRING.sub(b"", document).translate(None, _NOT_BRACKETS)
    if brackets.count(b"[") + brackets.count(b"{") <= MAX_NESTING_DEPTH:
        return False
    return max(accumulate(map(_STEP.__getitem__, brackets))) > MAX_NESTING_DEPTH


def loads(document: str | bytes) -> Any:
    """``json.loads`` within Jackson's nesting bound: deeper documents raise ``NestingError``.

    Python's decoder counts each level against the interpreter's recursion limit (1000, part of
    it taken by the caller's frames), so what it parses at that limit is within the bound and
    costs nothing more. Only a document it cannot parse so is measured, and parsed again, if
    within the bound, with the limit raised for the call (on this thread, nothing else running
    on it meanwhile). Raises ``ValueError``: ``JSONDecodeError`` for a syntax error,
    ``NestingError``, ``UnicodeDecodeError`` for bytes that are not text.
    """
    try:
        return json.loads(document)
    except RecursionError:
        pass
    raw = document.encode("utf-8", "surrogatepass") if isinstance(document, str) else document
    if _too_deep(raw):
        raise NestingError()
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(limit + _HEADROOM)
    try:
        return json.loads(document)
    except RecursionError as exc:  # deeper than the brackets told (not UTF-8, say)
        raise NestingError() from exc
    finally:
        sys.setrecursionlimit(limit)


def _char_desc(code: int) -> str:
    """A character as Jackson names it in its messages (``_getCharDesc``)."""
    if code < 32 or 127 <= code <= 159:
        return f"(CTRL-CHAR, code {code})"
    if code > 255:
        return f"'{chr(code)}' (code {code} / 0x{code:x})"
    return f"'{chr(code)}' (code {code})"


def _json_error(message: str, line: int, column: int) -> InvalidRequestContentError:
    return InvalidRequestContentError(
        f"{_JSON_PREFIX}{message}\n at [Source: REDACTED (`StreamReadFeature.INCLUDE_SOURCE_IN_LOCATION` "
        f"disabled); line: {line}, column: {column}]"
    )


def check_json(payload: bytes) -> None:
    """Raises ``InvalidRequestContentError`` with Jackson's wording when ``payload`` is not JSON.

    The two recorded AWS answers (test_lambda_invoke_payload_encoding_error) are reproduced
    exactly; other syntax errors keep Jackson's shape with Python's description.
    """
    if not payload:
        return
    if payload.startswith(b"\xef\xbb\xbf"):  # Jackson accepts (and skips) a UTF-8 byte order mark
        payload = payload[3:]
    start = len(payload) - len(payload.lstrip(_WHITESPACE))
    line = payload.count(b"\n", 0, start) + 1
    column = start - (payload.rfind(b"\n", 0, start) + 1) + 1
    if start < len(payload) and payload[start] not in _VALUE_START:
        # The document does not start with a value. Jackson reads one byte as one character here.
        first = payload[start]
        if chr(first).isalpha():
            token = payload[start:].split(None, 1)[0].decode("utf-8", "replace")
            token = "".join(ch for ch in token if ch.isalnum() or ch in "_$") or token[:1]
            raise _json_error(f"Unrecognized token '{token}': was expecting {_VALUE_LIST}", line, column + len(token))
        raise _json_error(
            f"Unexpected character ({_char_desc(first)}): expected a valid value {_VALUE_LIST}", line, column
        )
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.reason == "invalid continuation byte" and exc.end < len(payload):
            kind, bad, at = "middle", payload[exc.end], exc.end
        else:
            kind, bad, at = "start", payload[exc.start], exc.start
        line = payload.count(b"\n", 0, at) + 1
        column = at - (payload.rfind(b"\n", 0, at) + 1) + 2  # Jackson: just after the byte
        raise _json_error(f"Invalid UTF-8 {kind} byte 0x{bad:02x}", line, column) from exc
    try:
        loads(text)
    except json.JSONDecodeError as exc:
        what = "end-of-input" if exc.pos >= len(text.rstrip()) else "character"
        raise _json_error(f"Unexpected {what}: {exc.msg}", exc.lineno, exc.colno) from exc
    except NestingError as exc:  # Jackson's constraint errors carry no location
        raise InvalidRequestContentError(_JSON_PREFIX + str(exc)) from exc
