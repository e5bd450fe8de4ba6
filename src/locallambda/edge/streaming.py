"""Function URLs in ``RESPONSE_STREAM`` mode, and the writer of every streamed response body.

Docs: config-rs-invoke-furls.html, config-rs-write-functions.html. A URL whose InvokeMode is
``RESPONSE_STREAM`` invokes its function as InvokeWithResponseStream does and writes the
function's bytes to the client as they arrive (HTTP/1.1 chunked), so the first bytes reach the
client while the function is still writing:

- a function that wrote through ``awslambda.HttpResponseStream.from`` (its content type
  ``application/vnd.awslambda.http-integration-response``) begins with a JSON prelude
  (``statusCode``, ``headers``, ``cookies``) and eight NUL bytes; the prelude becomes the status
  and headers (each cookie a ``Set-Cookie``), what follows it the body;
- any other streamed answer is the body, status 200, of the content type the function set
  (``responseStream.setContentType``), ``application/octet-stream`` when it set none (the Node.js
  runtime's default, aws-lambda-nodejs-runtime-interface-client ``ResponseStream.js``);
- a function that does not stream (a Python one) answers whole, and that answer is the body as
  it is, status 200: AWS does not read a ``statusCode`` out of it in this mode (LocalStack's
  ``test_lambda_url_echo_invoke[RESPONSE_STREAM]``, recorded against AWS: the body is the
  function's JSON result, ``statusCode`` and all).

A function that fails before its first bytes (before the end of its prelude) is answered as in
``BUFFERED`` mode: 502 ``Internal Server Error``. Once the head is sent the status cannot change:
a failure then (an error in the trailers, a timeout, a crash) ends the response without the end
of its chunked body, the one way HTTP/1.1 has to tell the client the body is incomplete.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from locallambda.edge.errors import url_error
from locallambda.errors import LambdaError
from locallambda.invoke.engine import InvokeEngine
from locallambda.invoke.journal import URL
from locallambda.invoke.streaming import StreamedInvocation
from locallambda.model.refs import FunctionRef
from locallambda.protocol.codec import Response

__all__ = ["PRELUDE_TYPE", "StreamAborted", "send_stream", "streamed_url_response"]

log = logging.getLogger(__name__)

PRELUDE_TYPE = "application/vnd.awslambda.http-integration-response"
DELIMITER = b"\x00" * 8
DEFAULT_TYPE = b"application/octet-stream"

Send = Callable[[dict[str, Any]], Awaitable[None]]


class StreamAborted(Exception):
    """A streamed body that broke off after its head was sent: the client must see it cut."""


def _failed() -> Response:
    # A function error is AWS's plain "Internal Server Error" with status 502, as in BUFFERED mode.
    return Response(502, [(b"content-type", b"application/json")], b"Internal Server Error")


async def streamed_url_response(engine: InvokeEngine, ref: FunctionRef, event: bytes, request_id: str) -> Response:
    """The response of a ``RESPONSE_STREAM`` URL to one request (its ``event``): the head once
    the function's first bytes (its prelude) are in, the rest in ``Response.stream``."""
    try:
        streamed = await engine.invoke_streaming(ref, event, request_id=request_id, trigger=URL)
    except LambdaError as exc:
        return url_error(exc.status if exc.status < 500 else 502, exc.message)
    body: AsyncIterator[bytes] | None = None
    try:
        if not streamed.streamed:
            result = await streamed.result()
            if result.function_error:
                return _failed()
            return Response(200, [(b"content-type", b"application/json")], result.payload)
        chunks = streamed.chunks()
        with_prelude = streamed.content_type == PRELUDE_TYPE
        head = bytearray()
        async for chunk in chunks:  # until the first bytes, or the end of the prelude
            head += chunk
            if not with_prelude or DELIMITER in head:
                break
        else:  # the answer is over before its head is
            result = await streamed.result()
            if result.function_error or (with_prelude and head):  # failed, or a prelude cut short
                return _failed()
            return Response(200, [(b"content-type", DEFAULT_TYPE)], b"")
        if with_prelude:
            prelude, _, rest = bytes(head).partition(DELIMITER)
            parsed = _prelude(prelude)
            if parsed is None:
                return _failed()
            status, headers = parsed
        else:
            rest, status, headers = bytes(head), 200, [(b"content-type", (streamed.content_type or "").encode())]
        if not any(name == b"content-type" and value for name, value in headers):
            headers = [(n, v) for n, v in headers if n != b"content-type"] + [(b"content-type", DEFAULT_TYPE)]
        body = _body(rest, chunks, streamed)
        return Response(status, headers, b"", stream=body)
    finally:
        if body is None:  # answered without the rest of the stream: it is dropped
            streamed.close()


def _prelude(raw: bytes) -> tuple[int, list[tuple[bytes, bytes]]] | None:
    """Status and headers of an HTTP integration prelude; None when it is not one."""
    try:
        doc = json.loads(raw) if raw.strip() else {}
    except ValueError:
        return None
    if not isinstance(doc, dict):
        return None
    try:
        status = int(doc.get("statusCode", 200))
    except (TypeError, ValueError):
        return None
    if not 100 <= status <= 599:
        return None
    headers: list[tuple[bytes, bytes]] = []
    raw_headers = doc.get("headers")
    for name, value in raw_headers.items() if isinstance(raw_headers, dict) else ():
        headers.append((str(name).lower().encode("latin-1", "replace"), str(value).encode("latin-1", "replace")))
    cookies = doc.get("cookies")
    for cookie in cookies if isinstance(cookies, list) else ():
        headers.append((b"set-cookie", str(cookie).encode("latin-1", "replace")))
    return status, [(n, v) for n, v in headers if b"\r" not in v and b"\n" not in v]


async def _body(first: bytes, chunks: AsyncIterator[bytes], streamed: StreamedInvocation) -> AsyncIterator[bytes]:
    try:
        if first:
            yield first
        async for chunk in chunks:
            yield chunk
        result = await streamed.result()
        if result.function_error:
            raise StreamAborted(f"the function failed after its first bytes ({result.payload[:200]!r})")
    finally:
        streamed.close()


async def send_stream(send: Send, response: Response) -> None:
    """Write a response whose body is ``response.stream``: the head, then each part as it
    comes, chunked. A ``StreamAborted`` body ends without the end of the chunked body (the
    server then closes the connection)."""
    assert response.stream is not None
    await send({"type": "http.response.start", "status": response.status, "headers": response.headers})
    parts = response.stream
    try:
        async for part in parts:
            if part:
                await send({"type": "http.response.body", "body": part, "more_body": True})
    except StreamAborted as exc:
        log.warning("a streamed response broke off: %s; its connection is closed", exc)
        return
    finally:
        aclose = getattr(parts, "aclose", None)
        if aclose is not None:
            await aclose()
    await send({"type": "http.response.body", "body": b"", "more_body": False})
