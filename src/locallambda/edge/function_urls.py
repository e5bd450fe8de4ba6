"""Serving function URLs: ``http://<url-id>.lambda-url.<region>.localhost.localstack.cloud:4566/``.

Docs: urls-invocation.html. A request to a function URL becomes a payload-format 2.0 event
(as API Gateway HTTP APIs send it); the function's answer becomes the HTTP response: a result
with ``statusCode`` is taken as the response itself (headers, body, ``isBase64Encoded``,
``cookies``), anything else is returned as JSON with status 200. A function error answers 502.
The edge routes here by the ``Host`` header.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import time
import uuid
from collections.abc import Mapping
from typing import Any

from locallambda.edge.errors import JSON, url_error
from locallambda.errors import LambdaError
from locallambda.invoke.engine import InvokeEngine
from locallambda.model.clock import clf_timestamp
from locallambda.model.refs import LATEST, FunctionRef
from locallambda.protocol.codec import Response
from locallambda.store.functions import FunctionRegistry

__all__ = ["FunctionUrls", "url_host"]

_HOST = re.compile(r"(?P<id>[a-z0-9]+)\.lambda-url\.(?P<region>[a-z0-9-]+)\.[^:]+(?::\d+)?")
_TEXT_TYPES = (
    "text/",
    "application/json",
    "application/xml",
    "application/javascript",
    "application/x-www-form-urlencoded",
)


def url_host(host: str | None) -> tuple[str, str] | None:
    """(url id, region) when ``host`` names a function URL."""
    if not host or ".lambda-url." not in host:
        return None
    m = _HOST.fullmatch(host.lower())
    return (m.group("id"), m.group("region")) if m else None


def _text(headers: Mapping[str, str]) -> bool:
    ctype = headers.get("content-type", "")
    return not ctype or ctype.startswith(_TEXT_TYPES) or ctype.endswith("+json")


class FunctionUrls:
    def __init__(self, functions: FunctionRegistry, engine: InvokeEngine) -> None:
        self._functions = functions
        self._engine = engine

    def _find(self, url_id: str, region: str) -> FunctionRef | None:
        for record in self._functions.in_region(region):
            for qualifier, cfg in record.url_configs.items():
                if cfg.get("_UrlId") == url_id:
                    q = None if qualifier == LATEST else qualifier
                    return FunctionRef(record.name, q, record.region, record.account_id)
        return None

    def event(
        self, url_id: str, method: str, raw_path: str, query_string: str, headers: Mapping[str, str], body: bytes
    ) -> dict[str, Any]:
        """The payload-format 2.0 event AWS sends for one request."""
        query: dict[str, list[str]] = {}
        for pair in filter(None, query_string.split("&")):
            key, _, value = pair.partition("=")
            query.setdefault(key, []).append(value)
        now = dt.datetime.now(dt.UTC)
        text = _text(headers)
        event: dict[str, Any] = {
            "version": "2.0",
            "routeKey": "$default",
            "rawPath": raw_path,
            "rawQueryString": query_string,
            "headers": {k: v for k, v in headers.items() if k != "cookie"},
            "requestContext": {
                "accountId": "anonymous",
                "apiId": url_id,
                "domainName": headers.get("host", "").split(":")[0],
                "domainPrefix": url_id,
                "http": {
                    "method": method,
                    "path": raw_path,
                    "protocol": "HTTP/1.1",
                    "sourceIp": "127.0.0.1",
                    "userAgent": headers.get("user-agent", ""),
                },
                "requestId": str(uuid.uuid4()),
                "routeKey": "$default",
                "stage": "$default",
                "time": clf_timestamp(now),
                "timeEpoch": int(time.time() * 1000),
            },
            "isBase64Encoded": not text,
        }
        if "cookie" in headers:
            event["cookies"] = [c.strip() for c in headers["cookie"].split(";") if c.strip()]
        if query:
            event["queryStringParameters"] = {k: ",".join(v) for k, v in query.items()}
        if body:
            event["body"] = body.decode("utf-8", "replace") if text else base64.b64encode(body).decode()
        return event

    async def handle(
        self,
        url_id: str,
        region: str,
        method: str,
        raw_path: str,
        query_string: str,
        headers: Mapping[str, str],
        body: bytes,
    ) -> Response:
        found = self._find(url_id, region)
        if found is None:
            return url_error(404, "The function URL does not exist.")
        ref = found
        event = self.event(url_id, method, raw_path, query_string, headers, body)
        try:
            result = await self._engine.invoke(ref, json.dumps(event).encode())
        except LambdaError as exc:
            return url_error(exc.status if exc.status < 500 else 502, exc.message)
        if result.function_error:
            return url_error(502, "Internal Server Error")
        return self._response(result.payload)

    @staticmethod
    def _response(payload: bytes) -> Response:
        try:
            out = json.loads(payload) if payload else None
        except ValueError:
            return Response(200, [JSON], payload)
        if not isinstance(out, dict) or "statusCode" not in out:
            # Any other JSON value is the body itself (AWS infers the response format).
            return Response(200, [JSON], payload)
        headers: list[tuple[bytes, bytes]] = [
            (str(k).lower().encode(), str(v).encode()) for k, v in (out.get("headers") or {}).items()
        ]
        for cookie in out.get("cookies") or []:
            headers.append((b"set-cookie", str(cookie).encode()))
        if not any(k == b"content-type" for k, _ in headers):
            headers.append((b"content-type", b"application/json"))
        body = out.get("body")
        if body is None:
            data = b""
        elif out.get("isBase64Encoded"):
            data = base64.b64decode(str(body))
        elif isinstance(body, str):
            data = body.encode()
        else:
            data = json.dumps(body).encode()
        try:
            status = int(out["statusCode"])
        except (TypeError, ValueError):
            return url_error(502, "Internal Server Error")
        return Response(status, headers, data)
