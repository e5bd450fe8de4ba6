"""Internal endpoints: health, the runtime catalogue, code downloads for Code.Location, function logs.

``GET /_aws/lambda/logs/<region>/<name>?since=<epoch s>&limit=<n>`` answers the function's last
``n`` kept lines written after ``since`` (default 1000, at most ``MAX_LOG_LINES``, as
CloudWatch's GetLogEvents caps its ``limit`` at 10,000); a ``limit`` below 1 or either value not
a number is answered 400 with a JSON message.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Mapping
from typing import Any

from locallambda import __version__
from locallambda.edge.app import InternalRoute, json_response
from locallambda.invoke.logs import LogStore
from locallambda.protocol.codec import Response
from locallambda.runtimes import catalogue
from locallambda.store.code import CodeStore

__all__ = ["MAX_LOG_LINES", "internal_routes"]

MAX_LOG_LINES = 10_000


def internal_routes(code: CodeStore, health: Callable[[], dict[str, Any]], logs: LogStore) -> list[InternalRoute]:
    async def runtimes(
        m: re.Match[str], query: Mapping[str, list[str]], headers: Mapping[str, str], body: bytes
    ) -> Response:
        return json_response(200, {"Runtimes": catalogue.runtimes_for_filter(list(query.get("filter", [])))})

    async def health_view(
        m: re.Match[str], query: Mapping[str, list[str]], headers: Mapping[str, str], body: bytes
    ) -> Response:
        return json_response(200, {"version": __version__, **health()})

    async def code_zip(
        m: re.Match[str], query: Mapping[str, list[str]], headers: Mapping[str, str], body: bytes
    ) -> Response:
        data = await _read(code, m.group(1))
        if data is None:
            return json_response(404, {"message": "No such code archive"})
        return Response(200, [(b"content-type", b"application/zip")], data)

    async def function_logs(
        m: re.Match[str], query: Mapping[str, list[str]], headers: Mapping[str, str], body: bytes
    ) -> Response:
        # Recent log lines of one function, for `locallambda logs` (which polls with ?since=).
        region, name = m.group(1), m.group(2)
        try:
            since = float(query.get("since", ["0"])[0])
            limit = int(query.get("limit", ["1000"])[0])
        except ValueError:
            return json_response(400, {"message": "since and limit must be numbers"})
        if limit < 1:
            return json_response(
                400, {"message": f"limit must be at least 1 (at most {MAX_LOG_LINES} lines are answered)"}
            )
        lines = logs.recent(f"{region}/{name}", min(limit, MAX_LOG_LINES), since)
        return json_response(200, {"lines": [{"time": t, "line": text} for t, text in lines]})

    return [
        InternalRoute("GET", r"/_aws/lambda/logs/([a-z0-9-]+)/([A-Za-z0-9_.-]+)", function_logs),
        InternalRoute("GET", r"/_aws/lambda/runtimes/?", runtimes),
        InternalRoute("GET", r"/_localstack/health/?", health_view),
        InternalRoute("GET", r"/_aws/lambda/health/?", health_view),
        InternalRoute("GET", r"/health/?", health_view),
        InternalRoute("GET", r"/_aws/lambda/code/([0-9a-f]{64})\.zip", code_zip),
    ]


async def _read(code: CodeStore, sha_hex: str) -> bytes | None:
    return await asyncio.to_thread(code.read_zip, sha_hex)
