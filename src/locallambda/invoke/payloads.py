"""Invoke payloads must be JSON: the check, and AWS's (Jackson's) wording when they are not.

AWS parses payloads with Jackson and reports its errors, location included; the two answers AWS
gave in LocalStack's parity snapshots (test_lambda_invoke_payload_encoding_error) are reproduced
exactly, other syntax errors keep Jackson's shape with Python's description.
"""

from __future__ import annotations

import json

from locallambda.errors import InvalidRequestContentError

__all__ = ["check_json"]

# AWS parses payloads with Jackson and reports its errors, location included.
_JSON_PREFIX = "Could not parse request body into json: Could not parse payload into json: "
_VALUE_LIST = "(JSON String, Number, Array, Object or token 'null', 'true' or 'false')"
_VALUE_START = frozenset(b'{["-0123456789tfn')
_WHITESPACE = b" \t\r\n"


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
        json.loads(text)
    except json.JSONDecodeError as exc:
        what = "end-of-input" if exc.pos >= len(text.rstrip()) else "character"
        raise _json_error(f"Unexpected {what}: {exc.msg}", exc.lineno, exc.colno) from exc
