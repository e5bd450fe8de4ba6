"""The Runtime API's HTTP server with a pipelining client: a result posted with the next
``GET /next`` behind it in one write gets its 202 together with the next event (one write, one
wakeup of the runtime); a post sent alone gets its 202 at once; answers keep the requests' order.
Real sockets on loopback against ``runtime_api.http.HttpServer``."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from locallambda.runtime_api.http import Exchange, HttpServer, Routes

NEXT = b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n"


def post(rid: str, body: bytes = b'{"ok":1}') -> bytes:
    return (
        f"POST /2018-06-01/runtime/invocation/{rid}/response HTTP/1.1\r\nHost: x\r\n"
        f"content-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n"
    ).encode() + body


class Host:
    def __init__(self) -> None:
        self.parked: Exchange | None = None
        self.server: HttpServer | None = None
        self.results: list[tuple[str, bytes]] = []

    def routes(self) -> Routes:
        def next_event(ex: Exchange, _: Mapping[str, str]) -> None:
            self.parked = ex

        def response(ex: Exchange, params: Mapping[str, str]) -> None:
            self.results.append((params["request_id"], ex.body))
            ex.respond(202, b'{"status":"OK"}')

        return (
            Routes()
            .add("GET", "/2018-06-01/runtime/invocation/next", next_event)
            .add("POST", "/2018-06-01/runtime/invocation/{request_id}/response", response)
        )

    def deliver(self, rid: str, event: bytes) -> None:
        assert self.parked is not None
        parked, self.parked = self.parked, None
        parked.respond(200, event, (("Lambda-Runtime-Aws-Request-Id", rid),))


async def read_answers(reader: asyncio.StreamReader, count: int) -> list[tuple[int, bytes]]:
    out = []
    for _ in range(count):
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        out.append((status, await reader.readexactly(length)))
    return out


async def nothing_arrives(reader: asyncio.StreamReader, seconds: float = 0.2) -> bool:
    try:
        await asyncio.wait_for(reader.read(1), seconds)
    except TimeoutError:
        return True
    return False


async def first_invocation(host: Host, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(NEXT)
    await asyncio.sleep(0.05)
    host.deliver("r1", b"{}")
    await read_answers(reader, 1)


def run(talk: Any) -> Any:
    async def main() -> Any:
        host = Host()
        server = HttpServer(host.routes())
        await server.start()
        host.server = server
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        try:
            return await talk(host, reader, writer)
        finally:
            writer.close()
            server.close()

    return asyncio.run(main())


def test_a_pipelined_post_gets_its_202_with_the_next_event() -> None:
    async def talk(host: Host, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(NEXT)
        await asyncio.sleep(0.05)
        host.deliver("r1", b'{"n":1}')
        assert await read_answers(reader, 1) == [(200, b'{"n":1}')]
        writer.write(post("r1") + NEXT)  # the result and the next long poll, one write
        assert await nothing_arrives(reader), "the 202 went out before the next event"
        assert host.results == [("r1", b'{"ok":1}')]  # the result itself was taken at once
        host.deliver("r2", b'{"n":2}')
        data = await asyncio.wait_for(reader.read(65536), 5)  # both answers, in one write
        assert data.count(b"HTTP/1.1 ") == 2, data
        assert data.index(b"202 Accepted") < data.index(b"200 OK")
        assert data.endswith(b'{"n":2}')

    run(talk)


def test_a_post_alone_is_answered_at_once() -> None:
    async def talk(host: Host, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await first_invocation(host, reader, writer)
        writer.write(post("r1"))
        assert await asyncio.wait_for(read_answers(reader, 1), 5) == [(202, b'{"status":"OK"}')]
        writer.write(NEXT)
        assert await nothing_arrives(reader)
        host.deliver("r2", b'{"n":2}')
        assert await asyncio.wait_for(read_answers(reader, 1), 5) == [(200, b'{"n":2}')]

    run(talk)


def test_held_answers_go_out_when_the_connection_is_closed() -> None:
    async def talk(host: Host, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bytes:
        await first_invocation(host, reader, writer)
        writer.write(post("r1") + NEXT)
        assert await nothing_arrives(reader)
        assert host.parked is not None and host.server is not None
        host.server.close()  # the environment is stopped while the runtime waits
        return await asyncio.wait_for(reader.read(), 5)

    assert run(talk).startswith(b"HTTP/1.1 202 Accepted")


def test_a_malformed_request_after_a_held_answer_gets_both_answers_then_the_close() -> None:
    async def talk(host: Host, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bytes:
        await first_invocation(host, reader, writer)
        writer.write(post("r1") + b"GARBAGE \x00\x01\r\n\r\n")
        return await asyncio.wait_for(reader.read(), 5)

    data = run(talk)
    assert data.startswith(b"HTTP/1.1 202 Accepted")
    assert b"HTTP/1.1 400 Bad Request" in data and data.endswith(b'"errorType":"InvalidRequest"}')
