"""The event stream encoder against botocore's own parser (``EventStreamBuffer``) and its
InvokeWithResponseStream output parsing: what boto3 reads from our bytes is what we meant."""

from __future__ import annotations

import asyncio
import io
import json
import zlib
from collections.abc import AsyncIterator
from typing import Any

import botocore.eventstream
import botocore.parsers
import pytest
from botocore.awsrequest import HeadersDict
from hypothesis import given
from hypothesis import strategies as st

from locallambda.protocol.eventstream import (
    CONTENT_TYPE,
    MAX_EVENT_PAYLOAD,
    encode_event,
    encode_message,
    serialize_event_stream,
)
from locallambda.protocol.model import load_service_model

OP = load_service_model().operation_model("InvokeWithResponseStream")
STREAM_SHAPE = OP.output_shape.members["EventStream"]


def parse(data: bytes) -> list[botocore.eventstream.EventStreamMessage]:
    buffer = botocore.eventstream.EventStreamBuffer()
    buffer.add_data(data)
    return list(buffer)


def test_message_layout_and_crcs() -> None:
    raw = encode_message([(":event-type", "PayloadChunk")], b"abc")
    total, headers_len, prelude_crc = (int.from_bytes(raw[i : i + 4], "big") for i in (0, 4, 8))
    assert total == len(raw)
    assert headers_len == 1 + len(":event-type") + 1 + 2 + len("PayloadChunk")
    assert prelude_crc == zlib.crc32(raw[:8])
    assert int.from_bytes(raw[-4:], "big") == zlib.crc32(raw[:-4])
    (message,) = parse(raw)
    assert message.headers == {":event-type": "PayloadChunk"} and message.payload == b"abc"


@given(st.binary(max_size=4096), st.text(min_size=1, max_size=50))
def test_any_payload_and_header_round_trip(payload: bytes, value: str) -> None:
    (message,) = parse(encode_message([("x-name", value), (":message-type", "event")], payload))
    assert message.payload == payload
    assert message.headers == {"x-name": value, ":message-type": "event"}


def test_payload_chunk_event() -> None:
    (message,) = parse(encode_event(STREAM_SHAPE, {"PayloadChunk": {"Payload": b"\x00\xffbin"}}))
    assert message.headers == {
        ":event-type": "PayloadChunk",
        ":content-type": "application/octet-stream",
        ":message-type": "event",
    }
    assert message.payload == b"\x00\xffbin"


def test_invoke_complete_event_is_json_of_its_members() -> None:
    event = {"InvokeComplete": {"ErrorCode": "Sandbox.Timedout", "ErrorDetails": "Task timed out", "LogResult": None}}
    (message,) = parse(encode_event(STREAM_SHAPE, event))
    assert message.headers[":event-type"] == "InvokeComplete"
    assert message.headers[":content-type"] == "application/json"
    assert json.loads(message.payload) == {"ErrorCode": "Sandbox.Timedout", "ErrorDetails": "Task timed out"}
    (empty,) = parse(encode_event(STREAM_SHAPE, {"InvokeComplete": {}}))
    assert json.loads(empty.payload) == {}


def test_payload_over_botocores_message_limit_is_split() -> None:
    data = bytes(range(256)) * (MAX_EVENT_PAYLOAD * 2 // 256) + b"the rest"
    messages = parse(encode_event(STREAM_SHAPE, {"PayloadChunk": {"Payload": data}}))
    assert len(messages) == 3 and b"".join(m.payload for m in messages) == data


class _Raw:
    """A urllib3-like raw body for botocore's EventStream: ``stream()`` yields the bytes."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def stream(self, amt: int = 1024) -> Any:
        while chunk := self._data.read(7):  # odd sizes: messages split across reads
            yield chunk

    def close(self) -> None:
        pass


def test_boto3_reads_the_serialized_response() -> None:
    async def events() -> AsyncIterator[dict[str, Any]]:
        yield {"PayloadChunk": {"Payload": b"hello "}}
        yield {"PayloadChunk": {"Payload": b"world"}}
        yield {"InvokeComplete": {"LogResult": "bG9n"}}

    response = serialize_event_stream(OP, {"StatusCode": 200, "ExecutedVersion": "3", "EventStream": events()})
    assert response.status == 200
    assert (b"content-type", CONTENT_TYPE.encode()) in response.headers
    assert (b"x-amz-executed-version", b"3") in response.headers
    assert response.stream is not None

    async def collect() -> bytes:
        assert response.stream is not None
        return b"".join([part async for part in response.stream])

    body = asyncio.run(collect())
    parser = botocore.parsers.RestJSONParser()
    parsed = parser.parse(
        {
            "status_code": 200,
            "headers": HeadersDict({k.decode(): v.decode() for k, v in response.headers}),
            "body": _Raw(body),
            "context": {"operation_name": "InvokeWithResponseStream"},
        },
        OP.output_shape,
    )
    assert parsed["ExecutedVersion"] == "3"
    assert parsed["ResponseStreamContentType"] == CONTENT_TYPE
    got = list(parsed["EventStream"])
    assert got == [
        {"PayloadChunk": {"Payload": b"hello "}},
        {"PayloadChunk": {"Payload": b"world"}},
        {"InvokeComplete": {"LogResult": "bG9n"}},
    ]


def test_dry_run_has_no_body() -> None:
    response = serialize_event_stream(OP, {"StatusCode": 204})
    assert response.status == 204 and response.body == b"" and response.stream is None


def test_unknown_event_is_refused() -> None:
    with pytest.raises(KeyError):
        encode_event(STREAM_SHAPE, {"Nonsense": {}})
