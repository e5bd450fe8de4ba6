"""The ``application/vnd.amazon.eventstream`` encoding of an operation's event stream, driven by the model.

Docs: API_InvokeWithResponseStream.html (its ``EventStream``: ``PayloadChunk`` events with the
bytes, one ``InvokeComplete`` at the end); the wire format is the one botocore's
``EventStreamBuffer`` reads (botocore/eventstream.py) and AWS's SDKs share. Each message is:

    total length (uint32) | headers length (uint32) | CRC32 of those 8 bytes
    headers | payload | CRC32 of everything before it

all big-endian; a header is its name's length (uint8), the name, its type (7: string), the
value's length (uint16) and the value. An event message has the headers ``:event-type`` (the
event's member name in the stream's union), ``:content-type`` and ``:message-type: event``. An
event whose member is marked ``eventpayload`` and is a blob is sent as those bytes
(``application/octet-stream``); any other event is the JSON of its members (``application/json``).

``serialize_event_stream`` renders an output whose payload member is an event stream: the other
members as the model places them (status, headers), ``Content-Type:
application/vnd.amazon.eventstream``, and as the body the events the handler yields, each
encoded as it comes (``Response.stream``).
"""

from __future__ import annotations

import binascii
import struct
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from botocore.model import OperationModel, Shape, StructureShape

from locallambda.protocol.codec import Response, dumps, serialize_response

__all__ = ["CONTENT_TYPE", "encode_event", "encode_message", "serialize_event_stream"]

CONTENT_TYPE = "application/vnd.amazon.eventstream"
_STRING = 7
# botocore refuses a message payload over 24 MiB (eventstream._MAX_PAYLOAD_LENGTH): larger blobs
# go in several events of at most this many bytes.
MAX_EVENT_PAYLOAD = 16 * 1024 * 1024


def _crc(data: bytes, crc: int = 0) -> int:
    return binascii.crc32(data, crc) & 0xFFFFFFFF


def encode_message(headers: Sequence[tuple[str, str]], payload: bytes) -> bytes:
    """One event stream message of string ``headers`` and ``payload``."""
    parts = []
    for name, value in headers:
        raw_name, raw_value = name.encode(), value.encode()
        parts.append(
            struct.pack("!B", len(raw_name)) + raw_name + struct.pack("!BH", _STRING, len(raw_value)) + raw_value
        )
    raw_headers = b"".join(parts)
    total = 12 + len(raw_headers) + len(payload) + 4
    prelude = struct.pack("!II", total, len(raw_headers))
    message = prelude + struct.pack("!I", _crc(prelude)) + raw_headers + payload
    return message + struct.pack("!I", _crc(message))


def _event_headers(name: str, content_type: str) -> list[tuple[str, str]]:
    return [(":event-type", name), (":content-type", content_type), (":message-type", "event")]


def encode_event(stream_shape: StructureShape, event: Mapping[str, Any]) -> bytes:
    """The messages of one event: ``{"<member>": {...}}``, a member of ``stream_shape`` (the
    union the model marks ``eventstream``). Raises ``KeyError`` for a member it does not have."""
    ((name, value),) = event.items()
    shape = stream_shape.members[name]
    assert isinstance(shape, StructureShape)
    value = value or {}
    for member, member_shape in shape.members.items():
        if member_shape.serialization.get("eventpayload") and member_shape.type_name == "blob":
            data = bytes(value.get(member) or b"")
            headers = _event_headers(name, "application/octet-stream")
            if len(data) <= MAX_EVENT_PAYLOAD:
                return encode_message(headers, data)
            return b"".join(
                encode_message(headers, data[i : i + MAX_EVENT_PAYLOAD]) for i in range(0, len(data), MAX_EVENT_PAYLOAD)
            )
    doc = {k: v for k, v in value.items() if k in shape.members and v is not None}
    return encode_message(_event_headers(name, "application/json"), dumps(doc))


def _event_stream_member(op: OperationModel) -> tuple[str, Shape] | None:
    shape = op.output_shape
    if shape is None:
        return None
    payload = shape.serialization.get("payload")
    if payload is None or not shape.members[payload].serialization.get("eventstream"):
        return None
    return payload, shape.members[payload]


def serialize_event_stream(op: OperationModel, output: Mapping[str, Any]) -> Response:
    """The response of an operation whose output is an event stream; the handler gives that
    member as an async iterator of events (absent: no body, as for a DryRun)."""
    found = _event_stream_member(op)
    assert found is not None, f"{op.name} has no event stream output"
    name, stream_shape = found
    assert isinstance(stream_shape, StructureShape)
    events: AsyncIterator[Mapping[str, Any]] | None = output.get(name)
    response = serialize_response(op, {k: v for k, v in output.items() if k != name})
    if events is None:
        return response
    response.headers = [(k, v) for k, v in response.headers if k != b"content-type"]
    response.headers.append((b"content-type", CONTENT_TYPE.encode()))
    response.body = b""
    response.stream = _encoded(stream_shape, events)
    return response


async def _encoded(stream_shape: StructureShape, events: AsyncIterator[Mapping[str, Any]]) -> AsyncIterator[bytes]:
    try:
        async for event in events:
            yield encode_event(stream_shape, event)
    finally:
        aclose = getattr(events, "aclose", None)
        if aclose is not None:
            await aclose()
