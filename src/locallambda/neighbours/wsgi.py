"""Calling a WSGI application (moto's server) from the event loop, without a second server.

A request already read by the edge becomes a WSGI environ as werkzeug's own server would build
it (percent-decoded ``PATH_INFO`` in latin-1, repeated headers joined with commas, the
de-chunked body with its real ``CONTENT_LENGTH``); the application runs in a worker thread of a
bounded pool, so a slow call never blocks the loop and the invoke path; its answer comes back
whole as ``(status, headers, body)``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
import sys
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar
from urllib.parse import unquote_to_bytes

__all__ = ["WsgiAnswer", "WsgiCaller", "build_environ"]

T = TypeVar("T")
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
# Hop-by-hop headers of the client's connection: the edge has already dealt with them.
_HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "te", "upgrade", "content-length"})


@dataclasses.dataclass(frozen=True, slots=True)
class WsgiAnswer:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes


def build_environ(
    method: str,
    raw_path: str,
    query_string: str,
    headers: Sequence[tuple[str, str]],
    body: bytes,
    server: tuple[str, int],
    client: tuple[str, int] | None,
) -> dict[str, Any]:
    """The WSGI environ of one request (``headers`` as sent, names lower-case)."""
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": unquote_to_bytes(raw_path).decode("latin-1"),
        "QUERY_STRING": query_string,
        "RAW_URI": raw_path + (f"?{query_string}" if query_string else ""),
        "REQUEST_URI": raw_path + (f"?{query_string}" if query_string else ""),
        "SERVER_NAME": server[0],
        "SERVER_PORT": str(server[1]),
        "SERVER_PROTOCOL": "HTTP/1.1",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    if client is not None:
        environ["REMOTE_ADDR"], environ["REMOTE_PORT"] = client[0], str(client[1])
    for name, value in headers:
        if name in _HOP_BY_HOP:
            continue
        if name == "content-type":
            environ["CONTENT_TYPE"] = value
            continue
        key = "HTTP_" + name.upper().replace("-", "_")
        environ[key] = f"{environ[key]},{value}" if key in environ else value
    return environ


class WsgiCaller:
    """Runs one WSGI application in a bounded pool of worker threads."""

    def __init__(self, app: WsgiApp, workers: int = 8) -> None:
        self._app = app
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="neighbours")

    async def call(
        self,
        environ: dict[str, Any],
        after: Callable[[WsgiAnswer], None] | None = None,
        before: Callable[[], None] | None = None,
    ) -> WsgiAnswer:
        """The application's answer; ``before`` runs before the application and ``after`` with
        its answer, in the same worker thread (one thread hop per request, whatever they do)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._run, environ, after, before)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run other blocking work on the application's state in the same pool."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, fn, *args)

    def _run(
        self,
        environ: dict[str, Any],
        after: Callable[[WsgiAnswer], None] | None = None,
        before: Callable[[], None] | None = None,
    ) -> WsgiAnswer:
        if before is not None:
            before()
        started: list[Any] = []

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Callable[[bytes], None]:
            started[:] = [status, headers]
            return chunks.append

        chunks: list[bytes] = []
        result = self._app(environ, start_response)
        try:
            chunks.extend(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        status, headers = started
        # The body's length is the edge's to write, except for HEAD, whose Content-Length is
        # that of the body a GET would give (S3's HeadObject reports the object's size by it).
        keep_length = environ["REQUEST_METHOD"] == "HEAD"
        answer = WsgiAnswer(
            int(status.split(" ", 1)[0]),
            [
                (k.lower().encode("latin-1"), str(v).encode("latin-1"))
                for k, v in headers
                if keep_length or k.lower() != "content-length"
            ],
            b"".join(chunks),
        )
        if after is not None:
            after(answer)
        return answer

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
