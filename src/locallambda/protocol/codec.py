"""rest-json request parsing and response serialization, driven by the service model.

Input members are taken from where the model says they travel (uri, querystring, header,
payload or JSON body); output members are written the same way. Handlers see and return plain
dicts keyed by the model's member names.

Every input member is read as the model types it before any handler runs, so that a handler
(and the store) only ever sees values of its member's type: integers, booleans, strings,
structures of known members, lists and maps of such; blobs decoded; members the model does
not know dropped. A value of another JSON type is refused as AWS's (Coral's) rest-json front
end refuses it: 400 ``SerializationException``, ``class <Java class of the value> can not be
converted to an <type of the member>``. That wording is Coral's as recorded against real AWS
for API Gateway, another Coral rest-json service (LocalStack's test_apigateway_api.snapshot.json:
``class java.lang.Boolean can not be converted to an String``, ``class
com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be converted to an String``); no
recording of Lambda's own answer to a wrong type was found, so the same shape is used for every
type, and the Java classes of JSON objects and arrays (``java.util.LinkedHashMap``,
``java.util.ArrayList``) are our guess. Numbers for integer members are truncated, as Coral's
``TruncatingBigNumber`` says it does, and refused beyond Java's int and long.

Bodies are read as Jackson reads them: at most 1000 levels deep (``invoke.payloads.loads``),
and strings must be Unicode: a lone surrogate (a ``\\ud800`` escape without its pair) cannot be
stored or answered as UTF-8, so it is refused, worded as Jackson's UTF-8 writer words it.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime as dt
import json
import math
import re
from collections.abc import AsyncIterator, Mapping
from typing import Any

from botocore.model import ListShape, MapShape, OperationModel, Shape, StructureShape

from locallambda.errors import SerializationError
from locallambda.invoke.payloads import loads

__all__ = ["Response", "dumps", "parse_request", "serialize_response"]


def dumps(obj: Any) -> bytes:
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False, default=_default)
    try:
        return text.encode()
    except UnicodeEncodeError:  # a lone surrogate (in a stored document): escaped, the JSON stays valid
        return json.dumps(obj, separators=(",", ":"), default=_default).encode()


def _default(obj: Any) -> Any:
    if isinstance(obj, dt.datetime):
        return obj.timestamp()
    if isinstance(obj, (bytes, bytearray)):
        return base64.b64encode(obj).decode()
    raise TypeError(f"cannot serialize {type(obj).__name__}")


@dataclasses.dataclass(slots=True)
class Response:
    """What the edge writes back: status, headers (lower-case names) and body bytes; or, with
    ``stream``, a body written as its parts come (chunked)."""

    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes
    stream: AsyncIterator[bytes] | None = None


_JSON_CT = (b"content-type", b"application/json")


_INTEGER_TEXT = re.compile(r"[+-]?[0-9]+")
_RANGES = {"integer": (-(2**31), 2**31 - 1), "long": (-(2**63), 2**63 - 1)}


def _convert_scalar(shape: Shape, raw: str, where: str) -> Any:
    """A uri, querystring or header value as the member's type. Integers are decimal digits
    (as Java parses them: no underscores, no other digits); booleans follow Java's
    ``Boolean.parseBoolean`` (anything but ``true`` is false)."""
    t = shape.type_name
    if t in ("integer", "long"):
        if _INTEGER_TEXT.fullmatch(raw) is None or not _in_range(t, int(raw)):
            raise SerializationError(f"Cannot parse {where} value '{raw}' as {t}")
        return int(raw)
    if t in ("float", "double"):
        try:
            number = float(raw)
        except ValueError:
            number = math.nan
        if not math.isfinite(number) or "_" in raw:
            raise SerializationError(f"Cannot parse {where} value '{raw}' as {t}")
        return number
    if t == "boolean":
        return raw.lower() == "true"
    return raw


def _in_range(type_name: str, value: int) -> bool:
    low, high = _RANGES[type_name]
    return low <= value <= high


# The Java classes AWS names for the JSON value it could not convert, and for the member's type.
_NUMBER_CLASS = "com.amazon.coral.value.json.numbers.TruncatingBigNumber"
_VALUE_CLASSES: dict[type, str] = {
    str: "java.lang.String",
    bool: "java.lang.Boolean",
    int: _NUMBER_CLASS,
    float: _NUMBER_CLASS,
    dict: "java.util.LinkedHashMap",
    list: "java.util.ArrayList",
}
_TYPE_NAMES = {
    "string": "String",
    "integer": "Integer",
    "long": "Long",
    "boolean": "Boolean",
    "float": "Float",
    "double": "Double",
    "timestamp": "Date",
    "blob": "ByteBuffer",
    "list": "List",
    "map": "Map",
}


def _mismatch(shape: Shape, value: Any) -> SerializationError:
    source = _VALUE_CLASSES.get(type(value), type(value).__name__)
    target = shape.name if shape.type_name == "structure" else _TYPE_NAMES.get(shape.type_name, shape.type_name)
    return SerializationError(f"class {source} can not be converted to an {target}")


def _text(value: str) -> str:
    try:
        value.encode()
    except UnicodeEncodeError as exc:
        # Jackson's UTF8Writer: "Unmatched first (second) part of surrogate pair (0x...)".
        code = ord(value[exc.start])
        part = "first" if code < 0xDC00 else "second"
        raise SerializationError(
            f"Could not parse request body into json: Unmatched {part} part of surrogate pair (0x{code:x})"
        ) from exc
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _read(shape: Shape, value: Any, name: str) -> Any:
    """A JSON value as the member's type holds it (``None`` stays absent). Recursion follows the
    model's shapes, never the document's depth. Raises ``SerializationError``."""
    if value is None:
        return None
    t = shape.type_name
    if isinstance(shape, StructureShape):
        if not isinstance(value, dict):
            raise _mismatch(shape, value)
        # In the document's order: the first wrong member met is the one reported, as a parser would.
        members = shape.members
        return {n: _read(members[n], v, n) for n, v in value.items() if n in members}
    if isinstance(shape, ListShape):
        if not isinstance(value, list):
            raise _mismatch(shape, value)
        return [_read(shape.member, v, name) for v in value]
    if isinstance(shape, MapShape):
        if not isinstance(value, dict):
            raise _mismatch(shape, value)
        return {_text(k): _read(shape.value, v, name) for k, v in value.items()}
    if t == "string":
        if not isinstance(value, str):
            raise _mismatch(shape, value)
        return _text(value)
    if t in ("integer", "long"):
        if not _is_number(value) or (isinstance(value, float) and not math.isfinite(value)):
            raise _mismatch(shape, value)
        number = int(value)  # truncated, as Coral's TruncatingBigNumber is
        if not _in_range(t, number):
            raise _mismatch(shape, value)
        return number
    if t in ("float", "double"):
        if not _is_number(value) or not math.isfinite(value):
            raise _mismatch(shape, value)
        return value
    if t == "boolean":
        if not isinstance(value, bool):
            raise _mismatch(shape, value)
        return value
    if t == "blob":
        if not isinstance(value, str):
            raise _mismatch(shape, value)
        try:
            return base64.b64decode(value, validate=False)
        except (binascii.Error, ValueError) as exc:
            raise SerializationError(f"Invalid base64 for {name}") from exc
    if t == "timestamp":  # epoch seconds, or text for the handler to read
        if isinstance(value, str):
            return _text(value)
        if not _is_number(value) or not math.isfinite(value):
            raise _mismatch(shape, value)
        return value
    return value


def parse_request(
    op: OperationModel,
    uri_params: Mapping[str, str],
    query: Mapping[str, list[str]],
    headers: Mapping[str, str],
    body: bytes,
) -> dict[str, Any]:
    """Turn an HTTP request into the operation's input dict, every member of its model type.

    Raises ``SerializationError`` when the body is not the JSON object the model expects, or a
    member is not of its type.
    """
    shape = op.input_shape
    params: dict[str, Any] = {}
    if shape is None:
        return params
    payload_name = shape.serialization.get("payload")
    body_members: dict[str, Shape] = {}
    for name, member in shape.members.items():
        loc = member.serialization.get("location")
        wire = member.serialization.get("name", name)
        if loc == "uri":
            if wire in uri_params:
                params[name] = _convert_scalar(member, uri_params[wire], wire)
        elif loc == "querystring":
            values = query.get(wire)
            if values:
                if isinstance(member, ListShape):
                    params[name] = [_convert_scalar(member.member, v, wire) for v in values]
                else:
                    params[name] = _convert_scalar(member, values[0], wire)
        elif loc == "header":
            value = headers.get(wire.lower())
            if value is not None:
                params[name] = _convert_scalar(member, value, wire)
        elif name == payload_name:
            if member.type_name == "blob":
                params[name] = body
            elif body:
                params[name] = _read(member, _load_json(body), name)
        elif loc is None:
            body_members[name] = member
    if body_members and body and payload_name is None:
        doc = _load_json(body)
        if not isinstance(doc, dict):
            raise SerializationError("Request body must be a JSON object")
        for name, value in doc.items():
            if name in body_members:
                params[name] = _read(body_members[name], value, name)
    return params


def _load_json(body: bytes) -> Any:
    try:
        return loads(body)
    except ValueError as exc:  # a syntax error, too deep, not text
        raise SerializationError("Could not parse request body into json: " + str(exc)) from exc


def serialize_response(op: OperationModel, output: Mapping[str, Any] | None) -> Response:
    """Turn a handler's output dict into status, headers and body as the model lays them out."""
    status = int(op.http.get("responseCode", 200))
    headers: list[tuple[bytes, bytes]] = []
    shape = op.output_shape
    if shape is None or not output:
        return Response(status, [_JSON_CT] if status != 204 else [], b"" if status == 204 else b"{}")
    payload_name = shape.serialization.get("payload")
    body_doc: dict[str, Any] = {}
    raw_body: bytes | None = None
    for name, member in shape.members.items():
        value = output.get(name)
        if value is None:
            continue
        loc = member.serialization.get("location")
        if loc == "header":
            headers.append((member.serialization.get("name", name).lower().encode(), str(value).encode()))
        elif loc == "statusCode":
            status = int(value)
        elif name == payload_name:
            raw_body = bytes(value) if isinstance(value, (bytes, bytearray)) else dumps(value)
        else:
            body_doc[name] = value
    if raw_body is None and payload_name is not None and shape.members[payload_name].type_name == "blob":
        # A blob payload member is the whole body: absent means an empty body, not "{}".
        raw_body = b""
    if raw_body is not None:
        headers.append(_JSON_CT)
        return Response(status, headers, bytes(raw_body))
    headers.append(_JSON_CT)
    if status == 204 and not body_doc:
        return Response(status, headers, b"")
    return Response(status, headers, dumps(body_doc))
