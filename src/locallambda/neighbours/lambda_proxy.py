"""A REST API's Lambda proxy integration (``AWS_PROXY``): the event a function gets for one
request, payload format 1.0, and the HTTP response made of what it returns.

The shapes are AWS's (set-up-lambda-proxy-integrations.html, "Input format of a Lambda
function for proxy integration" and "Output format ..."), with what AWS does where the doc is
silent taken from AWS's answers as LocalStack recorded them (tests/aws/services/apigateway/
test_apigateway_lambda.snapshot.json: test_lambda_aws_proxy_integration,
test_aws_proxy_response_payload_format_validation):

The event
- ``path`` is the path after the stage as sent (not percent-decoded, a trailing slash kept),
  leading slashes made one; ``requestContext.path`` is ``/<stage>`` and the path as sent;
  ``pathParameters`` are not decoded either, a greedy ``{name+}`` takes the rest of the path
  without its trailing slash; an absent collection (no query, no path parameters, no stage
  variables, no body) is ``null``.
- Query strings are form-decoded (``+`` is a space); a name given more than once keeps its last
  value in ``queryStringParameters`` and all of them in ``multiValueQueryStringParameters``.
- Headers are those of the request, the last value of a repeated one in ``headers``, all in
  ``multiValueHeaders``, without hop-by-hop ones (``Connection``, ``Content-Length``, ...),
  with ``X-Forwarded-For``/``-Port``/``-Proto`` and ``X-Amzn-Trace-Id`` as API Gateway adds
  them. AWS passes names with the client's casing; this server's HTTP layer lower-cases them,
  so each word is capitalized (``Content-Type``, ``X-Custom-Header``), as most clients send them.
- A body whose ``Content-Type`` is one of the API's binary media types (or that is not UTF-8)
  is base64 with ``isBase64Encoded`` true (api-gateway-payload-encodings.html).

The response
- A JSON object with at most ``statusCode`` (a number, or a string of one; 200 when absent),
  ``headers`` (scalar values: ``true`` becomes ``"true"``), ``multiValueHeaders`` (lists),
  ``body`` (a string) and ``isBase64Encoded``. Anything else (another key, a string, a
  ``multiValueHeaders`` value that is not a list, a status that is not a number) is a malformed
  proxy response: 502 ``{"message": "Internal server error"}``.
- ``headers`` and ``multiValueHeaders`` are merged, the multi-value name's casing and values
  first ("If you specify values for both headers and multiValueHeaders, API Gateway merges them
  into a single list"), each value a header line of its own; ``Content-Type`` is
  ``application/json`` unless given. (This server's HTTP layer writes names lower-cased.)
- A base64 body is decoded only when the request's first ``Accept`` type is one of the API's
  binary media types (api-gateway-payload-encodings.html: "API Gateway uses the first Accept
  header from clients to determine if a response should return binary media"); otherwise the
  base64 text is the body, as AWS answers.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import fnmatch
import json
import os
import re
import time
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import parse_qsl

from locallambda.model.clock import clf_timestamp

__all__ = [
    "MalformedAnswer",
    "ProxyAnswer",
    "ProxyRequest",
    "Route",
    "header_name",
    "is_binary",
    "proxy_answer",
    "proxy_event",
    "trace_id",
]

# Headers that never reach an integration (api-gateway-known-issues.html, "Headers dropped").
_DROPPED = frozenset(
    {
        "connection",
        "content-length",
        "content-md5",
        "expect",
        "max-forwards",
        "proxy-authenticate",
        "server",
        "te",
        "transfer-encoding",
        "trailer",
        "upgrade",
        "www-authenticate",
    }
)
# What a function's answer may not set: the server frames the response itself.
_FRAMING = frozenset({"content-length", "transfer-encoding", "connection"})
# An HTTP field name (RFC 9110 token): anything else the function names is not sent.
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_ANSWER_KEYS = frozenset({"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded"})


@dataclasses.dataclass(frozen=True, slots=True)
class Route:
    """What API Gateway resolved a request to: the API, its stage, the resource and method."""

    account_id: str
    region: str
    api_id: str
    stage: str
    deployment_id: str
    stage_variables: Mapping[str, str]
    resource_id: str
    resource_path: str
    path_parameters: Mapping[str, str]
    integration_type: str
    integration_uri: str
    binary_media_types: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True)
class ProxyRequest:
    """One request to an API: ``path`` is what follows the stage, as sent (``""`` for none);
    ``headers`` as sent, names lower-case."""

    method: str
    path: str
    query_string: str
    headers: Sequence[tuple[str, str]]
    body: bytes
    source_ip: str
    server_port: int

    def header(self, name: str) -> str | None:
        found = None
        for key, value in self.headers:
            if key == name:
                found = value
        return found


@dataclasses.dataclass(frozen=True, slots=True)
class ProxyAnswer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


class MalformedAnswer(Exception):
    """The function's answer is not a proxy response API Gateway can map."""


def header_name(name: str) -> str:
    """``x-custom-header`` → ``X-Custom-Header``."""
    return "-".join(part[:1].upper() + part[1:] for part in name.split("-"))


def trace_id(now: float) -> str:
    """An X-Ray trace ID (``Root=1-<8 hex seconds>-<24 hex>``)."""
    return f"Root=1-{int(now):08x}-{os.urandom(12).hex()}"


def _media_type(value: str | None) -> str:
    return (value or "").split(",", 1)[0].split(";", 1)[0].strip().lower()


def is_binary(media_type: str | None, binary_media_types: Sequence[str]) -> bool:
    """Whether a media type is one of the API's binary media types (wildcards allowed)."""
    wanted = _media_type(media_type)
    return bool(wanted) and any(fnmatch.fnmatchcase(wanted, t.lower()) for t in binary_media_types)


def proxy_event(request: ProxyRequest, route: Route, request_id: str, now: float | None = None) -> dict[str, Any]:
    """The payload-format 1.0 event of ``request`` (field order the doc's)."""
    now = time.time() if now is None else now
    headers, multi = _event_headers(request, now)
    query: dict[str, str] = {}
    multi_query: dict[str, list[str]] = {}
    for name, value in parse_qsl(request.query_string, keep_blank_values=True):
        query[name] = value
        multi_query.setdefault(name, []).append(value)
    host = request.header("host") or ""
    domain = host.rsplit(":", 1)[0] if host.rsplit(":", 1)[-1].isdigit() else host
    body, encoded = _event_body(request, route)
    user_agent = request.header("user-agent")
    return {
        "resource": route.resource_path,
        "path": "/" + request.path.lstrip("/"),
        "httpMethod": request.method,
        "headers": headers,
        "multiValueHeaders": multi,
        "queryStringParameters": query or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": dict(route.path_parameters) or None,
        "stageVariables": dict(route.stage_variables) or None,
        "requestContext": {
            "accountId": route.account_id,
            "apiId": route.api_id,
            "deploymentId": route.deployment_id,
            "domainName": domain,
            "domainPrefix": domain.split(".", 1)[0],
            "extendedRequestId": base64.b64encode(os.urandom(11)).decode(),
            "httpMethod": request.method,
            "identity": {
                "accessKey": None,
                "accountId": None,
                "caller": None,
                "cognitoAuthenticationProvider": None,
                "cognitoAuthenticationType": None,
                "cognitoIdentityId": None,
                "cognitoIdentityPoolId": None,
                "principalOrgId": None,
                "sourceIp": request.source_ip,
                "user": None,
                "userAgent": user_agent,
                "userArn": None,
            },
            "path": f"/{route.stage}{request.path}",
            "protocol": "HTTP/1.1",
            "requestId": request_id,
            "requestTime": clf_timestamp(now),
            "requestTimeEpoch": int(now * 1000),
            "resourceId": route.resource_id,
            "resourcePath": route.resource_path,
            "stage": route.stage,
        },
        "body": body,
        "isBase64Encoded": encoded,
    }


def _event_headers(request: ProxyRequest, now: float) -> tuple[dict[str, str], dict[str, list[str]]]:
    headers: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for name, value in request.headers:
        if name in _DROPPED:
            continue
        key = header_name(name)
        headers[key] = value
        multi.setdefault(key, []).append(value)
    forwarded = headers.get("X-Forwarded-For")
    added = {
        "X-Forwarded-For": f"{forwarded}, {request.source_ip}" if forwarded else request.source_ip,
        "X-Forwarded-Port": str(request.server_port),
        "X-Forwarded-Proto": "http",
    }
    if "X-Amzn-Trace-Id" not in headers:
        added["X-Amzn-Trace-Id"] = trace_id(now)
    for key, value in added.items():
        headers[key] = value
        multi[key] = [value]
    return headers, multi


def _event_body(request: ProxyRequest, route: Route) -> tuple[str | None, bool]:
    if not request.body:
        return None, False
    if not is_binary(request.header("content-type"), route.binary_media_types):
        try:
            return request.body.decode("utf-8"), False
        except UnicodeDecodeError:
            pass
    return base64.b64encode(request.body).decode("ascii"), True


def proxy_answer(payload: bytes, accept: str | None, binary_media_types: Sequence[str]) -> ProxyAnswer:
    """The HTTP response a function's answer stands for. Raises ``MalformedAnswer``."""
    try:
        answer = json.loads(payload)
    except ValueError:
        raise MalformedAnswer("the answer is not JSON") from None
    if not isinstance(answer, dict) or not answer.keys() <= _ANSWER_KEYS:
        raise MalformedAnswer("the answer is not a proxy response object")
    status = _status(answer.get("statusCode"))
    headers = _answer_headers(answer.get("headers"), answer.get("multiValueHeaders"))
    body = answer.get("body")
    if body is None:
        data = b""
    elif isinstance(body, str):
        data = body.encode("utf-8")
    elif isinstance(body, (int, float)) and not isinstance(body, bool):
        data = json.dumps(body).encode()
    else:
        raise MalformedAnswer("body is not a string")
    if answer.get("isBase64Encoded") is True and data and is_binary(accept, binary_media_types):
        try:
            data = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise MalformedAnswer("body is not base64") from None
    if not any(name.lower() == "content-type" for name, _ in headers):
        headers.insert(0, ("Content-Type", "application/json"))
    return ProxyAnswer(status, headers, data)


def _status(value: Any) -> int:
    if value is None:
        return 200
    if isinstance(value, bool):
        raise MalformedAnswer("statusCode is not a number")
    try:
        status = int(value)
    except (TypeError, ValueError):
        raise MalformedAnswer("statusCode is not a number") from None
    if not 100 <= status <= 599:
        raise MalformedAnswer("statusCode is not an HTTP status")
    return status


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return json.dumps(value)
    raise MalformedAnswer("a header value is not a string")


def _answer_headers(single: Any, multi: Any) -> list[tuple[str, str]]:
    if single is not None and not isinstance(single, dict):
        raise MalformedAnswer("headers is not an object")
    if multi is not None and not isinstance(multi, dict):
        raise MalformedAnswer("multiValueHeaders is not an object")
    merged: dict[str, tuple[str, list[str]]] = {}  # lower-case name → (name as given, values)
    for name, values in (multi or {}).items():
        if not isinstance(values, list):
            raise MalformedAnswer("a multiValueHeaders value is not a list")
        merged.setdefault(name.lower(), (name, []))[1].extend(_scalar(v) for v in values if v is not None)
    for name, value in (single or {}).items():
        if value is None:
            continue
        text = _scalar(value)
        _, values = merged.setdefault(name.lower(), (name, []))
        if text not in values:
            values.append(text)
    return [
        (name, value.replace("\r", "").replace("\n", ""))
        for key, (name, values) in merged.items()
        if key not in _FRAMING and _TOKEN.fullmatch(name)
        for value in values
    ]
