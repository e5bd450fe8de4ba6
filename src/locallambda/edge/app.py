"""The ASGI application: routes by path to internal endpoints or the Lambda API dispatcher.

Plain ASGI, no framework: the invoke hot path is one dictionary lookup and one regex away from
its handler. Internal endpoints live under ``/_aws/lambda/`` and ``/_localstack/`` as LocalStack
documents them.

A request body is read with a deadline on each part: a client that stops sending before its
Content-Length is reached (a broken or hostile one) is answered 408 ``RequestTimeoutException``
after ``body_idle_timeout_s`` without progress, and its connection closed, instead of holding a
connection and a task forever. A body over ``MAX_BODY`` is answered 413, and closed too (the
rest of it is not read).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import parse_qs

from locallambda.edge.errors import JSON, api_error, internal_error
from locallambda.edge.function_urls import FunctionUrls, url_host
from locallambda.edge.streaming import send_stream
from locallambda.edge.url_payloads import request_headers
from locallambda.errors import LambdaError, RequestTimeoutError
from locallambda.neighbours.catalogue import service_of
from locallambda.neighbours.embedded import Neighbours
from locallambda.neighbours.execute_api import ExecuteApi, target_of
from locallambda.protocol.codec import Response, dumps
from locallambda.protocol.dispatch import Dispatcher

__all__ = ["EdgeApp", "InternalRoute"]

log = logging.getLogger(__name__)

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

# (method, path regex, handler(match, query, headers, body) -> Response)
InternalHandler = Callable[[re.Match[str], Mapping[str, list[str]], Mapping[str, str], bytes], Awaitable[Response]]

MAX_BODY = 128 * 1024 * 1024
# Seconds a request body may make no progress (no part arriving) before it is given up.
BODY_IDLE_TIMEOUT_S = 10.0
_CLOSE = (b"connection", b"close")


class InternalRoute:
    """``peer=True``: the handler also gets the client's address (``peer=(host, port)``), for
    routes that judge who is calling (``edge/callers.py``)."""

    __slots__ = ("handler", "method", "pattern", "peer")

    def __init__(self, method: str, pattern: str, handler: InternalHandler, *, peer: bool = False) -> None:
        self.method = method
        self.pattern = re.compile(pattern)
        self.handler = handler
        self.peer = peer


def json_response(status: int, doc: Any) -> Response:
    return Response(status, [JSON], dumps(doc))


class EdgeApp:
    """ASGI callable. ``startup``/``shutdown`` run from the lifespan protocol."""

    def __init__(
        self,
        dispatcher: Dispatcher,
        internal: list[InternalRoute],
        startup: Callable[[], Awaitable[None]],
        shutdown: Callable[[], Awaitable[None]],
        function_urls: FunctionUrls | None = None,
        body_idle_timeout_s: float = BODY_IDLE_TIMEOUT_S,
        neighbours: Neighbours | None = None,
        execute_api: ExecuteApi | None = None,
    ) -> None:
        self._dispatcher = dispatcher
        self._neighbours = neighbours
        self._execute_api = execute_api
        self._body_idle_timeout_s = body_idle_timeout_s
        self._function_urls = function_urls
        self._internal = internal
        self._startup = startup
        self._shutdown = shutdown

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self._startup()
                except Exception as exc:
                    log.exception("startup failed")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                try:
                    await self._shutdown()
                finally:
                    await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        body = b""
        if scope["method"] not in ("GET", "HEAD") or headers.get("content-length") not in (None, "0"):
            read = await self._read_body(receive)
            if read is None:
                return  # the client went away: nobody to answer
            if isinstance(read, Response):
                await _write(send, read)
                return
            body = read
        method = scope["method"]
        raw_path = scope.get("raw_path")
        path = raw_path.decode("latin-1") if raw_path else scope["path"]
        query_string = scope.get("query_string", b"").decode("latin-1")
        try:
            target = url_host(headers.get("host")) if self._function_urls is not None else None
            if target is not None and self._function_urls is not None:
                client = scope.get("client")
                served = await self._function_urls.handle(
                    *target,
                    method,
                    path.split("?", 1)[0],
                    query_string,
                    request_headers(scope["headers"]),
                    body,
                    source_ip=client[0] if client else "127.0.0.1",
                    protocol=f"HTTP/{scope.get('http_version', '1.1')}",
                )
                await _write(send, served)
                return
            client = scope.get("client")
            peer = tuple(client) if client else None
            # A request for a deployed REST API (its execute-api host or path) goes to the API.
            api = target_of(headers.get("host"), path.split("?", 1)[0]) if self._execute_api is not None else None
            if api is not None and self._execute_api is not None:
                raw_headers = [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in scope["headers"]]
                answer = await self._execute_api.handle(api, method, query_string, raw_headers, body, peer)
                await _write(send, Response(answer.status, answer.headers, answer.body))
                return
            # A request signed for (or addressed to) another service goes to the neighbours
            # without trying the Lambda routes: a bucket may be named like a Lambda path.
            service = service_of(headers, query_string) if self._neighbours is not None else None
            response = None
            if service is None or service == "lambda":
                response = await self._dispatcher.dispatch(method, path, query_string, headers, body, peer)
                if response is None:
                    response = await self._internal_route(method, scope["path"], query_string, headers, body, peer)
            if response is None:
                if self._neighbours is None:
                    response = json_response(
                        404, {"Type": "User", "message": f"No route for {method} {path} on this server"}
                    )
                else:
                    answer = await self._neighbours.handle(
                        service,
                        method,
                        path.split("?", 1)[0],
                        query_string,
                        [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in scope["headers"]],
                        body,
                        peer,
                    )
                    response = Response(answer.status, answer.headers, answer.body)
        except LambdaError as err:
            response = api_error(err)
        except Exception as exc:  # never a stack trace on the wire
            response = internal_error(f"{method} {path}", exc)
        await _write(send, response)

    async def _read_body(self, receive: Receive) -> bytes | Response | None:
        """The request's body; a closing error answer when it stalls or is too large; ``None``
        when the client disconnected."""
        chunks: list[bytes] = []
        size = 0
        while True:
            try:
                async with asyncio.timeout(self._body_idle_timeout_s):
                    message = await receive()
            except TimeoutError:
                log.warning("a request body stalled for %.0fs; the connection is closed", self._body_idle_timeout_s)
                answer = api_error(
                    RequestTimeoutError(
                        "Your socket connection to the server was not read from or written to within the "
                        "timeout period. Idle connections will be closed."
                    )
                )
                answer.headers.append(_CLOSE)
                return answer
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY:
                return Response(413, [JSON, _CLOSE], dumps({"message": "Request entity too large"}))
            chunks.append(chunk)
            if not message.get("more_body", False):
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    async def _internal_route(
        self,
        method: str,
        path: str,
        query_string: str,
        headers: Mapping[str, str],
        body: bytes,
        peer: tuple[Any, ...] | None = None,
    ) -> Response | None:
        """The internal endpoint's answer; ``None`` when no internal route matches."""
        for route in self._internal:
            if route.method != method and not (route.method == "GET" and method == "HEAD"):
                continue
            m = route.pattern.fullmatch(path)
            if m is not None:
                if route.peer:
                    return await route.handler(m, parse_qs(query_string), headers, body, peer=peer)  # type: ignore[call-arg]
                return await route.handler(m, parse_qs(query_string), headers, body)
        return None


async def _write(send: Send, response: Response) -> None:
    if response.stream is not None:  # a body written as it comes (edge/streaming.py)
        await send_stream(send, response)
        return
    headers = response.headers
    if not any(name == b"content-length" for name, _ in headers):  # a HEAD answer may carry its own
        headers.append((b"content-length", str(len(response.body)).encode()))
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": response.body})
