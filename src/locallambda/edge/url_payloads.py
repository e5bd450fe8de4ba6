"""Payload format 2.0 of function URLs: an HTTP request as the event, the function's result as
the HTTP response (urls-invocation.html, "Request and response payloads").

The request side, as AWS fills it (urls-invocation.html, "Request payload format", and the event
AWS sent in LocalStack's AWS-recorded ``TestLambdaURL::test_lambda_url_invocation`` of 2022):

- ``headers``: names lower-cased, repeated ones joined with ``,`` (the doc's ``"value1,value2"``),
  no ``cookie`` (its cookies are in ``cookies``, split on ``"; "``) and no hop-by-hop header
  (``connection``...: AWS's event has none); AWS's front end adds ``x-forwarded-for``,
  ``x-forwarded-proto`` and ``x-forwarded-port`` (recorded). Its ``x-amzn-tls-*`` and
  ``x-amzn-trace-id`` describe its TLS and X-Ray; this plain-HTTP server sends neither.
- ``queryStringParameters``: percent-decoded values, repeated keys joined with ``,`` (recorded in
  2025: ``multiQuery=foo&multiQuery=%2Fbar`` gives ``"foo,/bar"``), absent without a query;
  ``rawQueryString`` and ``rawPath`` as sent.
- ``body``: absent when empty; base64 with ``isBase64Encoded`` true unless the media type is
  text (``text/*``, ``application/json``, ``application/xml``, ``application/javascript``) and
  the bytes are UTF-8. A body without a content type is base64 (recorded in 2022: a POST of
  ``{'key':'value'}`` without one arrived base64), as is ``multipart/form-data`` (recorded in
  2025); the list of text types is what AWS's payload-2.0 front end was observed to treat as text.
- ``requestContext``: ``accountId`` ``"anonymous"`` for an unsigned caller (recorded);
  ``authorizer`` only for ``AWS_IAM`` URLs (the 2022 event of a ``NONE`` URL has none, nor
  ``authentication``, ``pathParameters`` or ``stageVariables``); ``time`` in the Common Log
  Format, ``timeEpoch`` in milliseconds; ``requestId`` is the invocation's request id.

The response side ("Response payload format"): a JSON object with ``statusCode`` is the response
(``headers``, ``cookies`` as ``set-cookie`` headers, ``body``, ``isBase64Encoded``; a string
``statusCode`` such as ``"418"`` counts, as recorded). Anything else is inferred as AWS does:
status 200, ``content-type: application/json``, the result as the body: re-serialized compactly
(recorded in 2025: ``{"hello": "world"}`` came back as the 17 bytes ``{"hello":"world"}``,
``["hello", 3, True]`` as ``["hello",3,true]``), except a JSON string, whose text is the body
(recorded: ``"hello"`` gave ``hello``). A result that is not JSON at all is the body as it is.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import unquote

from locallambda.protocol.codec import Response

__all__ = [
    "JSON_TYPE",
    "event_body",
    "event_cookies",
    "event_headers",
    "is_text",
    "query_parameters",
    "request_headers",
    "response_of",
    "result_response",
]

JSON_TYPE = (b"content-type", b"application/json")
_TEXT_TYPES = frozenset({"application/json", "application/xml", "application/javascript"})
# RFC 9110 section 7.6.1: meaningful for one connection only; AWS's event carries none of them.
_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"}
)


def request_headers(raw: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
    """The request's headers by lower-case name, repeated ones joined with ``,`` (``cookie``
    ones with ``"; "``, the separator of one Cookie header)."""
    out: dict[str, str] = {}
    for name_b, value_b in raw:
        name, value = name_b.decode("latin-1").lower(), value_b.decode("latin-1")
        if name in out:
            out[name] = f"{out[name]}{'; ' if name == 'cookie' else ','}{value}"
        else:
            out[name] = value
    return out


def event_headers(headers: Mapping[str, str], source_ip: str, port: str) -> dict[str, str]:
    """``headers`` as the event shows them: no cookie, no hop-by-hop header, AWS's
    ``x-forwarded-*`` added (an ``x-forwarded-for`` the client sent gets the source appended)."""
    out = {k.lower(): v for k, v in headers.items() if k.lower() != "cookie" and k.lower() not in _HOP_BY_HOP}
    forwarded = out.get("x-forwarded-for")
    out["x-forwarded-for"] = f"{forwarded}, {source_ip}" if forwarded else source_ip
    out["x-forwarded-proto"] = "http"
    out["x-forwarded-port"] = port
    return out


def event_cookies(headers: Mapping[str, str]) -> list[str]:
    """The cookies of the Cookie header, split on ``"; "`` as AWS splits them."""
    return [c for c in headers.get("cookie", "").split("; ") if c]


def query_parameters(query_string: str) -> dict[str, str]:
    """Percent-decoded query parameters, repeated keys' values joined with ``,`` in order."""
    values: dict[str, list[str]] = {}
    for pair in query_string.split("&"):
        if not pair:
            continue
        key, _, value = pair.partition("=")
        values.setdefault(unquote(key), []).append(unquote(value))
    return {k: ",".join(v) for k, v in values.items()}


def is_text(content_type: str) -> bool:
    """Whether AWS passes a body of this media type as text rather than base64."""
    media = content_type.split(";", 1)[0].strip().lower()
    return media.startswith("text/") or media in _TEXT_TYPES


def event_body(body: bytes, content_type: str) -> tuple[str, bool]:
    """The event's ``body`` and ``isBase64Encoded`` for a non-empty request body."""
    if is_text(content_type):
        try:
            return body.decode("utf-8"), False
        except UnicodeDecodeError:
            pass  # text that is not UTF-8 cannot travel in a JSON string as it is
    return base64.b64encode(body).decode("ascii"), True


def _compact(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def result_response(out: Mapping[str, Any]) -> Response | None:
    """The HTTP response a result with ``statusCode`` describes; ``None`` when it cannot be one
    (a status that is not a number, a body that is not base64 although it says so)."""
    try:
        status = int(out["statusCode"])
    except (TypeError, ValueError):
        return None
    headers: list[tuple[bytes, bytes]] = []
    given = out.get("headers")
    if isinstance(given, Mapping):
        headers = [(str(k).lower().encode("latin-1", "replace"), _header_value(v)) for k, v in given.items()]
    cookies = out.get("cookies")
    for cookie in cookies if isinstance(cookies, list) else []:
        headers.append((b"set-cookie", str(cookie).encode("latin-1", "replace")))
    if not any(k == b"content-type" for k, _ in headers):
        headers.append(JSON_TYPE)
    body = out.get("body")
    if body is None:
        data = b""
    elif out.get("isBase64Encoded") is True:
        try:
            data = base64.b64decode(str(body), validate=True)
        except (binascii.Error, ValueError):
            return None
    elif isinstance(body, str):
        data = body.encode()
    else:
        data = _compact(body)
    return Response(status, headers, data)


def _header_value(value: Any) -> bytes:
    if isinstance(value, bool):
        value = "true" if value else "false"
    return str(value).encode("latin-1", "replace")


def response_of(payload: bytes) -> Response | None:
    """The HTTP response for a function's result (``None``: a ``statusCode`` result that cannot
    be a response, answered 502 by the caller)."""
    try:
        out = json.loads(payload) if payload.strip() else None
    except ValueError:
        return Response(200, [JSON_TYPE], payload)
    if out is None and not payload.strip():
        return Response(200, [JSON_TYPE], b"")
    if isinstance(out, dict) and "statusCode" in out:
        return result_response(out)
    if isinstance(out, str):
        return Response(200, [JSON_TYPE], out.encode())
    return Response(200, [JSON_TYPE], _compact(out))
