"""rest-json request parsing and response serialization, driven by the service model.

Input members are taken from where the model says they travel (uri, querystring, header,
payload or JSON body); output members are written the same way. Handlers see and return plain
dicts keyed by the model's member names.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

from botocore.model import OperationModel, Shape, StructureShape

from locallambda.errors import SerializationError

__all__ = ["Response", "dumps", "parse_request", "serialize_response"]


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, default=_default).encode()


def _default(obj: Any) -> Any:
    if isinstance(obj, dt.datetime):
        return obj.timestamp()
    if isinstance(obj, (bytes, bytearray)):
        return base64.b64encode(obj).decode()
    raise TypeError(f"cannot serialize {type(obj).__name__}")


@dataclasses.dataclass(slots=True)
class Response:
    """What the edge writes back: status, headers (lower-case names) and body bytes."""

    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes


_JSON_CT = (b"content-type", b"application/json")


def _convert_scalar(shape: Shape, raw: str, where: str) -> Any:
    t = shape.type_name
    try:
        if t in ("integer", "long"):
            return int(raw)
        if t in ("float", "double"):
            return float(raw)
    except ValueError as exc:
        raise SerializationError(f"Cannot parse {where} value '{raw}' as {t}") from exc
    if t == "boolean":
        return raw.lower() == "true"
    return raw


def _decode_body_blobs(shape: StructureShape, body: dict[str, Any]) -> None:
    """Blobs inside a JSON body arrive base64-encoded; structures nest."""
    for name, member in shape.members.items():
        value = body.get(name)
        if value is None:
            continue
        if member.type_name == "blob" and isinstance(value, str):
            try:
                body[name] = base64.b64decode(value, validate=False)
            except (binascii.Error, ValueError) as exc:
                raise SerializationError(f"Invalid base64 for {name}") from exc
        elif isinstance(member, StructureShape) and isinstance(value, dict):
            _decode_body_blobs(member, value)


def parse_request(
    op: OperationModel,
    uri_params: Mapping[str, str],
    query: Mapping[str, list[str]],
    headers: Mapping[str, str],
    body: bytes,
) -> dict[str, Any]:
    """Turn an HTTP request into the operation's input dict.

    Raises ``SerializationError`` when the body is not the JSON object the model expects.
    """
    shape = op.input_shape
    params: dict[str, Any] = {}
    if shape is None:
        return params
    payload_name = shape.serialization.get("payload")
    body_members = False
    for name, member in shape.members.items():
        loc = member.serialization.get("location")
        wire = member.serialization.get("name", name)
        if loc == "uri":
            if wire in uri_params:
                params[name] = uri_params[wire]
        elif loc == "querystring":
            values = query.get(wire)
            if values:
                if member.type_name == "list":
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
                params[name] = _load_json(body)
        else:
            body_members = True
    if body_members and body and payload_name is None:
        doc = _load_json(body)
        if not isinstance(doc, dict):
            raise SerializationError("Request body must be a JSON object")
        for name in shape.members:
            if name in doc and name not in params:
                params[name] = doc[name]
        _decode_body_blobs(shape, params)
    return params


def _load_json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
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
