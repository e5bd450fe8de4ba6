"""The streamed-response hand-over (``model.streams``) and the Runtime API's streamed
``POST /response`` (``runtime_api``), in process: parts handed on before the body is complete,
trailers, AWS's limit (413 to the runtime), modes and request ids refused as RAPID refuses them."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Mapping
from typing import Any

from locallambda.model.streams import ResponseStream
from locallambda.runtime_api.http import Exchange, HttpServer
from locallambda.runtime_api.runtime import ResponseSink, runtime_routes


class FakeFlow:
    def __init__(self) -> None:
        self.paused = 0
        self.resumed = 0

    def pause(self) -> None:
        self.paused += 1

    def resume(self) -> None:
        self.resumed += 1


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_stream_hands_on_parts_until_its_end() -> None:
    async def main() -> list[bytes]:
        stream = ResponseStream()
        stream.begin("text/plain", FakeFlow())
        assert stream.started.done() and stream.content_type == "text/plain"
        got: list[bytes] = []

        async def read() -> None:
            async for chunk in stream.chunks():
                got.append(chunk)

        reader = asyncio.create_task(read())
        stream.write(b"a")
        await asyncio.sleep(0)
        assert got == [b"a"]  # before the end: handed on at once
        stream.write(b"b")
        stream.end()
        stream.write(b"after the end")
        await reader
        return got

    assert run(main()) == [b"a", b"b"]


def test_stream_drops_what_is_over_its_limit() -> None:
    async def main() -> tuple[bool, bool, bytes]:
        stream = ResponseStream(limit=5)
        first = stream.write(b"abc")
        second = stream.write(b"defg")
        stream.end()
        return first, second, b"".join([c async for c in stream.chunks()])

    assert run(main()) == (True, False, b"abcde")


def test_slow_caller_pauses_the_runtime_and_a_gone_one_resumes_it() -> None:
    async def main() -> None:
        flow = FakeFlow()
        stream = ResponseStream(high_water=10)
        stream.begin(None, flow)
        stream.write(b"x" * 8)
        assert flow.paused == 0
        stream.write(b"x" * 8)
        assert flow.paused == 1
        chunks = stream.chunks()
        assert await anext(chunks) == b"x" * 8  # queued bytes under the low water mark
        assert flow.resumed == 1
        stream.write(b"y" * 20)
        assert flow.paused == 2
        stream.close()  # nobody reads any more: the runtime goes on, its bytes dropped
        assert flow.resumed == 2
        stream.write(b"z")
        assert [c async for c in chunks] == []

    run(main())


class Sink:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.parts: list[bytes] = []
        self.closed: tuple[str | None, bytes] | None = None
        self.arrived = asyncio.Event()
        self.done = asyncio.Event()

    def write(self, chunk: bytes) -> bool:
        self.parts.append(chunk)
        self.arrived.set()
        return sum(map(len, self.parts)) <= self.limit

    def close(self, error_type: str | None, error_body: bytes) -> None:
        self.closed = (error_type, error_body)
        self.done.set()


class Host:
    def __init__(self, sink: Sink) -> None:
        self.sink = sink
        self.results: list[tuple[str, bytes, str | None, bool]] = []

    def next_invocation(self, exchange: Exchange) -> None:
        pass

    def invocation_result(self, request_id: str, body: bytes, error_type: str | None, failed: bool) -> bool:
        self.results.append((request_id, body, error_type, failed))
        return request_id == "rid"

    def invocation_stream(self, request_id: str, exchange: Exchange) -> ResponseSink | None:
        return self.sink if request_id == "rid" else None

    def init_error(self, body: bytes, error_type: str | None) -> None:
        pass


HEAD = (
    "POST /2018-06-01/runtime/invocation/{rid}/response HTTP/1.1\r\nHost: x\r\n"
    "Lambda-Runtime-Function-Response-Mode: {mode}\r\nTransfer-Encoding: chunked\r\n"
    "Content-Type: text/plain\r\n\r\n"
)


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


async def answer(reader: asyncio.StreamReader) -> tuple[int, Any]:
    status_line = await reader.readline()
    length = 0
    while (line := await reader.readline()) != b"\r\n":
        name, _, value = line.decode().partition(":")
        if name.lower() == "content-length":
            length = int(value)
    return int(status_line.split()[1]), json.loads(await reader.readexactly(length))


async def with_server(sink: Sink, talk: Any) -> tuple[Host, Any]:
    host = Host(sink)
    server = HttpServer(runtime_routes(host))
    await server.start()
    reader, writer = await asyncio.open_connection(server.host, server.port)
    try:
        return host, await talk(reader, writer)
    finally:
        writer.close()
        server.close()


def test_streamed_response_parts_and_trailers() -> None:
    sink = Sink(limit=1000)

    async def talk(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> Any:
        writer.write(HEAD.format(rid="rid", mode="streaming").encode() + chunk(b"first"))
        await asyncio.wait_for(sink.arrived.wait(), 5)
        assert sink.parts == [b"first"] and sink.closed is None  # the body is not complete yet
        doc = base64.b64encode(b'{"errorType":"E","errorMessage":"m"}')
        writer.write(chunk(b"second") + b"0\r\nLambda-Runtime-Function-Error-Type: E\r\n")
        writer.write(b"Lambda-Runtime-Function-Error-Body: " + doc + b"\r\n\r\n")
        return await answer(reader)

    _, got = run(with_server(sink, talk))
    assert got == (202, {"status": "OK"})
    assert sink.parts == [b"first", b"second"]
    assert sink.closed == ("E", b'{"errorType":"E","errorMessage":"m"}')


def test_streamed_response_over_the_limit_is_413() -> None:
    sink = Sink(limit=4)

    async def talk(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> Any:
        writer.write(HEAD.format(rid="rid", mode="streaming").encode() + chunk(b"abc") + chunk(b"defg"))
        writer.write(chunk(b"never handed on") + b"0\r\n\r\n")
        return await answer(reader)

    _, got = run(with_server(sink, talk))
    assert got == (
        413,
        {"errorMessage": "Exceeded maximum allowed payload size (4 bytes).", "errorType": "RequestEntityTooLarge"},
    )
    assert sink.parts == [b"abc", b"defg"] and sink.closed is None


def test_streamed_response_refusals() -> None:
    async def talk(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> Any:
        answers = []
        for rid, mode in (("other", "streaming"), ("rid", "buffered")):
            writer.write(HEAD.format(rid=rid, mode=mode).encode() + chunk(b"dropped") + b"0\r\n\r\n")
            answers.append(await answer(reader))
        # a route that does not stream gets such a request whole (here /error)
        body = b'{"errorType":"X"}'
        writer.write(
            b"POST /2018-06-01/runtime/invocation/rid/error HTTP/1.1\r\nHost: x\r\n"
            b"Lambda-Runtime-Function-Response-Mode: streaming\r\nTransfer-Encoding: chunked\r\n\r\n"
            + chunk(body)
            + b"0\r\n\r\n"
        )
        answers.append(await answer(reader))
        return answers

    host, got = run(with_server(Sink(10), talk))
    assert got == [
        (400, {"errorMessage": "Invalid request ID", "errorType": "InvalidRequestID"}),
        (400, {"errorMessage": "Invalid function response mode", "errorType": "InvalidFunctionResponseMode"}),
        (202, {"status": "OK"}),
    ]
    assert host.results == [
        ("rid", b"", "Runtime.InvalidResponseModeHeader", True),
        ("rid", b'{"errorType":"X"}', None, True),
    ]


def test_cut_off_streamed_response_is_truncated() -> None:
    sink = Sink(limit=1000)

    async def talk(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> Mapping[str, Any]:
        writer.write(HEAD.format(rid="rid", mode="streaming").encode() + chunk(b"part"))
        await asyncio.wait_for(sink.arrived.wait(), 5)
        writer.close()
        await asyncio.wait_for(sink.done.wait(), 5)
        return {}

    run(with_server(sink, talk))
    assert sink.closed == ("Runtime.TruncatedResponse", b"")
