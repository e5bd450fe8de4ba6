"""A minimal HTTP/1.1 server for the Runtime API, on asyncio + httptools, and its route table.

The runtime API sits on the invoke hot path (one long-poll ``/next`` and one ``/response`` per
invocation), so it is a bare protocol: no framework, keep-alive, one parser per connection,
responses written straight to the transport. A long-polling request is answered later through
its ``Exchange``. ``Routes`` maps (method, path template) to handlers: fixed paths by one
dictionary lookup, templates with ``{name}`` segments by a regular expression each.
``encode_head`` is the one place an HTTP/1.1 message head is written (the server's responses and
the Telemetry API's deliveries both use it).

A request that carries ``Lambda-Runtime-Function-Response-Mode`` (a streamed function response,
runtimes-custom.html, "Implementing response streaming in a custom runtime") is handed to its
route as soon as its head is read, as a ``StreamedExchange`` without its body, when the route was
added with ``streamed=True``: the route takes the body part by part as it arrives
(``StreamedExchange.stream_to``), then its trailers. Every other request reaches its route once
its body is complete.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import httptools

__all__ = [
    "STREAMED",
    "Exchange",
    "HttpServer",
    "RequestHandler",
    "RouteHandler",
    "Routes",
    "StreamedExchange",
    "encode_head",
]

log = logging.getLogger(__name__)

# The header of a request whose body is handed on as it arrives (lower-case, as headers are kept).
STREAMED = "lambda-runtime-function-response-mode"

_REASONS = {
    200: b"OK",
    202: b"Accepted",
    204: b"No Content",
    400: b"Bad Request",
    403: b"Forbidden",
    404: b"Not Found",
    409: b"Conflict",
    413: b"Payload Too Large",
    500: b"Internal Server Error",
}


def encode_head(start_line: bytes, headers: Iterable[tuple[str, str]], content_length: int) -> bytes:
    """An HTTP/1.1 message head: the start line, the headers, Content-Length, the blank line."""
    parts = [start_line, b"\r\n"]
    for name, value in headers:
        parts.append(name.encode("latin-1") + b": " + value.encode("latin-1") + b"\r\n")
    parts.append(b"Content-Length: %d\r\n\r\n" % content_length)
    return b"".join(parts)


class Exchange:
    """One request and the means to answer it once, now or later."""

    __slots__ = ("_proto", "answered", "body", "headers", "method", "path")

    def __init__(self, proto: _Protocol, method: str, path: str, headers: dict[str, str], body: bytes) -> None:
        self._proto = proto
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body
        self.answered = False

    @property
    def connected(self) -> bool:
        return not self._proto.closed

    def respond(
        self,
        status: int,
        body: bytes = b"",
        headers: Iterable[tuple[str, str]] = (),
        content_type: str = "application/json",
    ) -> None:
        if self.answered:
            return
        self.answered = True
        self._proto.write_response(status, body, headers, content_type)

    def fail(self, status: int, error_type: str, message: str) -> None:
        """Answer with the Runtime API's error document (the one place it is written)."""
        self.respond(status, json.dumps({"errorMessage": message, "errorType": error_type}).encode())


# A streamed request's body: each part as it arrives; then its trailers (None: the connection
# was lost before the body was complete).
BodyPart = Callable[[bytes], None]
BodyEnd = Callable[[Mapping[str, str] | None], None]


class StreamedExchange(Exchange):
    """A request handed to its route when its head is read; its body follows (``stream_to``)."""

    __slots__ = ("_end", "_feed", "deferred")

    def __init__(self, proto: _Protocol, method: str, path: str, headers: dict[str, str]) -> None:
        super().__init__(proto, method, path, headers, b"")
        self.deferred = False  # handed to its route again once the body is complete
        self._feed: BodyPart | None = None
        self._end: BodyEnd | None = None

    def stream_to(self, feed: BodyPart, end: BodyEnd) -> None:
        """Take the body: ``feed`` gets each part as it arrives, ``end`` the trailers once the
        body is complete, or ``None`` when the connection is lost first. A route that takes no
        body has it dropped."""
        self._feed = feed
        self._end = end

    def defer(self) -> None:
        """Hand this request to its route again, whole, once its body is complete."""
        self.deferred = True

    def pause(self) -> None:
        """Read no more of the connection until ``resume``."""
        if self._proto.transport is not None and not self._proto.closed:
            self._proto.transport.pause_reading()

    def resume(self) -> None:
        if self._proto.transport is not None and not self._proto.closed:
            self._proto.transport.resume_reading()

    def _part(self, part: bytes) -> None:
        if self._feed is not None:
            self._feed(part)

    def _finish(self, trailers: Mapping[str, str] | None) -> None:
        end, self._feed, self._end = self._end, None, None
        if end is not None:
            end(trailers)


# Handlers run on the event loop and must not block: an answer that has to wait (a long-polled
# /next) is given later through the Exchange.
RequestHandler = Callable[[Exchange], None]
# A route's handler: the exchange and the values of the template's {name} segments.
RouteHandler = Callable[[Exchange, Mapping[str, str]], None]

_SEGMENT = re.compile(r"\{([a-z_]+)\}")
_NO_PARAMS: Mapping[str, str] = {}


def _compile(template: str) -> re.Pattern[str]:
    parts: list[str] = []
    pos = 0
    for m in _SEGMENT.finditer(template):
        parts.append(re.escape(template[pos : m.start()]))
        parts.append(f"(?P<{m.group(1)}>[^/]+)")
        pos = m.end()
    parts.append(re.escape(template[pos:]))
    return re.compile("".join(parts))


class Routes:
    """A declarative route table: ``routes.add("POST", "/x/{id}/response", handler)``.

    Requests no route matches are answered 404 with the Runtime API's error document. A route
    added with ``streamed=True`` gets streamed requests as soon as their head is read; the
    others get them once complete.
    """

    def __init__(self) -> None:
        self._fixed: dict[tuple[str, str], RouteHandler] = {}
        self._templates: list[tuple[str, re.Pattern[str], RouteHandler]] = []
        self._streamed: set[RouteHandler] = set()

    def add(self, method: str, template: str, handler: RouteHandler, *, streamed: bool = False) -> Routes:
        if _SEGMENT.search(template) is None:
            self._fixed[(method, template)] = handler
        else:
            self._templates.append((method, _compile(template), handler))
        if streamed:
            self._streamed.add(handler)
        return self

    def extend(self, other: Routes) -> Routes:
        self._fixed.update(other._fixed)
        self._templates.extend(other._templates)
        self._streamed.update(other._streamed)
        return self

    def __call__(self, exchange: Exchange) -> None:
        handler = self._fixed.get((exchange.method, exchange.path))
        params = _NO_PARAMS
        if handler is None:
            for method, pattern, template_handler in self._templates:
                m = pattern.fullmatch(exchange.path)
                if m is not None and method == exchange.method:
                    handler, params = template_handler, m.groupdict()
                    break
            else:
                exchange.fail(404, "InvalidRequest", "Not Found")
                return
        if isinstance(exchange, StreamedExchange) and handler not in self._streamed:
            exchange.defer()
        else:
            handler(exchange, params)


class _Protocol(asyncio.Protocol):
    def __init__(self, handler: RequestHandler, connections: set[_Protocol]) -> None:
        self._handler = handler
        self._connections = connections
        self._parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self._url = b""
        self._headers: dict[str, str] = {}
        self._body: list[bytes] = []
        self._streamed: StreamedExchange | None = None  # the request whose body is being handed on
        self._trailers: dict[str, str] = {}
        # Responses written while a read is parsed are held and written together once it is; and
        # held on when that read ended with a request left waiting (a pipelined long poll, /next
        # behind the post of a result), to go out with its answer: one write, one wakeup.
        self._parsing = False
        self._held: list[bytes] = []
        self._waiting: Exchange | None = None

    # asyncio callbacks
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self._connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._connections.discard(self)
        streamed, self._streamed = self._streamed, None
        if streamed is not None:
            self._guarded(streamed._finish, None)

    def data_received(self, data: bytes) -> None:
        self._parsing = True
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self.close()  # (close writes what was held first)
        except httptools.HttpParserError:
            self.write_response(
                400, b'{"errorMessage":"bad request","errorType":"InvalidRequest"}', (), "application/json"
            )
            self.close()
        finally:
            self._parsing = False
        waiting = self._waiting
        if self._held and (waiting is None or waiting.answered):
            self._flush()

    def _flush(self) -> None:
        held, self._held = self._held, []
        if self.transport is not None and not self.closed:
            self.transport.write(held[0] if len(held) == 1 else b"".join(held))

    # httptools callbacks
    def on_message_begin(self) -> None:
        self._url = b""
        self._headers = {}
        self._body = []

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        if self._streamed is None:
            self._headers[name.decode("latin-1").lower()] = value.decode("latin-1")
        else:  # a trailer of the streamed body
            self._trailers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        if STREAMED in self._headers:
            self._trailers = {}
            exchange = StreamedExchange(self, *self._target(), self._headers)
            self._handle(exchange)
            if not exchange.deferred:
                self._streamed = exchange

    def on_body(self, body: bytes) -> None:
        streamed = self._streamed
        if streamed is None:
            self._body.append(body)
        else:
            self._guarded(streamed._part, body)

    def on_message_complete(self) -> None:
        streamed = self._streamed
        if streamed is not None:
            self._streamed = None
            self._guarded(streamed._finish, self._trailers)
            return
        body = self._body[0] if len(self._body) == 1 else b"".join(self._body)
        self._handle(Exchange(self, *self._target(), self._headers, body))

    def _target(self) -> tuple[str, str]:
        """The request's method and path (without its query)."""
        return self._parser.get_method().decode(), self._url.decode("latin-1").split("?", 1)[0]

    def _handle(self, exchange: Exchange) -> None:
        try:
            self._handler(exchange)
        except Exception:
            log.exception("runtime API handler failed for %s %s", exchange.method, exchange.path)
            exchange.fail(500, "ServiceError", "internal error")
        # Only a long poll holds earlier answers: its client sent it and waits for it anyway.
        self._waiting = exchange if exchange.method == "GET" and not exchange.answered else None

    @staticmethod
    def _guarded(call: Callable[[Any], None], arg: Any) -> None:
        # A failing consumer of a streamed body must not break the connection's parser.
        try:
            call(arg)
        except Exception:
            log.exception("runtime API: the consumer of a streamed body failed")

    def write_response(self, status: int, body: bytes, headers: Iterable[tuple[str, str]], content_type: str) -> None:
        if self.closed or self.transport is None:
            return
        # awslambdaric crashes on a response without Content-Type, so there is always one.
        head = encode_head(
            b"HTTP/1.1 %d %s" % (status, _REASONS.get(status, b"Status")),
            (("Content-Type", content_type), *headers),
            len(body),
        )
        if self._parsing:
            self._held += (head, body)
        elif self._held:  # the answer the held responses waited for
            self._held += (head, body)
            self._flush()
        elif len(body) < 65536:
            self.transport.write(head + body)
        else:
            self.transport.write(head)
            self.transport.write(body)

    def close(self) -> None:
        if self._held:
            self._flush()  # what was answered goes out before the connection ends
        if self.transport is not None and not self.closed:
            self.transport.close()
        self.closed = True


class HttpServer:
    """Listens on ``host:0`` (an ephemeral port) and hands every request to ``handler``."""

    def __init__(self, handler: RequestHandler) -> None:
        self._handler = handler
        self._server: asyncio.base_events.Server | None = None
        self._connections: set[_Protocol] = set()
        self.host = "127.0.0.1"
        self.port = 0

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _Protocol(self._handler, self._connections), host, port, reuse_address=True
        )
        sock = self._server.sockets[0]
        self.host, self.port = sock.getsockname()[:2]

    @property
    def address(self) -> str:
        """``host:port`` as AWS_LAMBDA_RUNTIME_API expects it (no scheme, no path)."""
        return f"{self.host}:{self.port}"

    def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for conn in list(self._connections):
            conn.close()
