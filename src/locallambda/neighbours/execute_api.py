"""Requests to a deployed REST API (``execute-api``), answered by the API's Lambda proxy
integrations with this server's functions.

Where a request for an API arrives (LocalStack's forms, its API Gateway guide,
docs.localstack.cloud/aws/services/apigateway):
- ``http://<api id>.execute-api.localhost.localstack.cloud:4566/<stage>/<path>`` and any other
  host of the form ``<api id>.execute-api.<domain>`` (``<api id>.execute-api.localhost:4566``,
  which browsers and curl resolve to loopback without DNS);
- ``/restapis/<api id>/<stage>/_user_request_/<path>`` and ``/_aws/execute-api/<api id>/<stage>/<path>``
  on any host.

The API, its stage, resources, methods and integrations are moto's (read in a worker thread).
The resource is chosen as API Gateway chooses it: the most specific match first, a greedy
``{proxy+}`` last (http-api-develop-routes.html, "Routing API requests"; REST APIs do the same,
as AWS's answers recorded by LocalStack's test_lambda_aws_proxy_integration show, ``/hardcoded``
before ``/{proxy+}``): a literal path part before a ``{parameter}``, a parameter before a greedy
one (which takes one or more parts, never the root); the request's method before ``ANY``, which
"matches all methods that you haven't defined for a resource"; a trailing slash is ignored.

The integration must be ``AWS_PROXY`` with a Lambda ``uri``
(``arn:aws:apigateway:<region>:lambda:path/2015-03-31/functions/<function arn>/invocations``,
``${stageVariables.<name>}`` filled in): the function is invoked synchronously through the
``invoke`` seam with the event of ``lambda_proxy.py``, and its answer mapped there.

API Gateway's own answers (its default gateway responses, as AWS words them in LocalStack's
recordings): a path or method the API lacks is 403 ``{"message":"Missing Authentication
Token"}``; a function error, a Lambda API error or a malformed answer is 502
``{"message":"Internal server error"}``; an integration that cannot run here is 500 with the
same message. An API ID or stage nobody deployed is LocalStack's 404 (no AWS host would resolve).

Not modelled: authorizers, API keys and usage plans, request validation, the resource policy and
the function's permission for ``apigateway.amazonaws.com``, integrations other than Lambda
proxy, the 29-second integration timeout, and deployments as snapshots (a stage serves the
API's current resources).
"""

from __future__ import annotations

import base64
import dataclasses
import json
import logging
import os
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from locallambda.errors import LambdaError
from locallambda.model.spec import InvocationResult
from locallambda.neighbours.embedded import unserved
from locallambda.neighbours.lambda_proxy import (
    MalformedAnswer,
    ProxyRequest,
    Route,
    proxy_answer,
    proxy_event,
    trace_id,
)
from locallambda.neighbours.wsgi import WsgiAnswer

if TYPE_CHECKING:
    from locallambda.neighbours.embedded import Neighbours

__all__ = ["ExecuteApi", "GatewayError", "Target", "find_route", "function_of", "match_resource", "target_of"]

log = logging.getLogger(__name__)

# (function ARN, payload) → the synchronous invocation's result; raises LambdaError
Invoke = Callable[[str, bytes], Awaitable[InvocationResult]]

_HOST = re.compile(r"(?P<api>[a-z0-9]+)\.execute-api\.[a-z0-9.-]+(?::\d+)?")
_PATH = re.compile(
    r"/(?:restapis/(?P<api>[A-Za-z0-9]+)/(?P<stage>[^/]+)/_user_request_"
    r"|_aws/execute-api/(?P<api2>[A-Za-z0-9]+)/(?P<stage2>[^/]+))(?P<rest>/.*)?"
)
_LAMBDA_URI = re.compile(r"arn:[^:]+:apigateway:[^:]+:lambda:path/2015-03-31/functions/(?P<fn>.+)/invocations")
_STAGE_VARIABLE = re.compile(r"\$\{stageVariables\.([A-Za-z0-9_]+)\}")
_INTERNAL = "Internal server error"


@dataclasses.dataclass(frozen=True, slots=True)
class Target:
    """The API a request is for, its stage (``None``: the path names none) and the path after
    the stage, as sent (``""`` for none)."""

    api_id: str
    stage: str | None
    path: str


def target_of(host: str | None, path: str) -> Target | None:
    """The API a request is for, by its host or path; ``None`` when it is for no API."""
    if host and ".execute-api." in host:
        m = _HOST.fullmatch(host.lower())
        if m is not None:
            # leading slashes before the stage are dropped (AWS's recorded ``//<stage>/<path>``)
            stage, slash, rest = path.lstrip("/").partition("/")
            return Target(m.group("api"), stage or None, slash + rest)
    if path.startswith(("/restapis/", "/_aws/execute-api/")) and (m := _PATH.fullmatch(path)) is not None:
        api = m.group("api") or m.group("api2")
        return Target(api.lower(), m.group("stage") or m.group("stage2"), m.group("rest") or "")
    return None


class GatewayError(Exception):
    """An answer of API Gateway itself: its status, ``x-amzn-ErrorType`` and message."""

    def __init__(self, status: int, error_type: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message


def _missing_token() -> GatewayError:
    return GatewayError(403, "MissingAuthenticationTokenException", "Missing Authentication Token")


def _not_deployed(api_id: str) -> GatewayError:
    return GatewayError(
        404, "NotFoundException", f"The API id '{api_id}' does not correspond to a deployed API Gateway API"
    )


def _segments(path: str) -> list[str]:
    trimmed = path.strip("/")
    return trimmed.split("/") if trimmed else []


def match_resource(template: str, path: str) -> tuple[tuple[int, ...], dict[str, str]] | None:
    """How well a resource path (``/items/{id}``, ``/{proxy+}``) matches a request path: the
    rank of each part (0 literal, 1 parameter, 2 greedy; lower wins) and the path parameters;
    ``None`` when it does not match."""
    wanted = _segments(template)
    parts = _segments("/" + path.lstrip("/"))
    ranks: list[int] = []
    params: dict[str, str] = {}
    for i, part in enumerate(wanted):
        if part.startswith("{") and part.endswith("+}") and i == len(wanted) - 1:
            rest = "/".join(parts[i:])
            if not rest:
                return None
            params[part[1:-2]] = rest
            ranks.append(2)
            return tuple(ranks), params
        if i >= len(parts) or not parts[i]:
            return None
        if part.startswith("{") and part.endswith("}"):
            params[part[1:-1]] = parts[i]
            ranks.append(1)
        elif part == parts[i]:
            ranks.append(0)
        else:
            return None
    if len(parts) != len(wanted):
        return None
    return tuple(ranks), params


def find_route(account_id: str, target: Target, method: str) -> Route:
    """The route of a request in moto's API Gateway. Raises ``GatewayError``. (Call in a
    worker thread: it reads moto's backends.)"""
    from moto.apigateway.models import apigateway_backends

    found = [
        (region, backend.apis[target.api_id])
        for region, backend in list(apigateway_backends[account_id].items())
        if target.api_id in backend.apis
    ]
    if not found:
        raise _not_deployed(target.api_id)
    region, api = found[0]
    stage = api.stages.get(target.stage) if target.stage else None
    if stage is None:
        raise _not_deployed(target.api_id)
    best: tuple[tuple[int, ...], dict[str, str], Any, Any] | None = None
    for resource in list(api.resources.values()):
        chosen = resource.resource_methods.get(method) or resource.resource_methods.get("ANY")
        if chosen is None:
            continue
        matched = match_resource(resource.get_path(), target.path)
        if matched is not None and (best is None or matched[0] < best[0]):
            best = (matched[0], matched[1], resource, chosen)
    if best is None:
        raise _missing_token()
    _, params, resource, chosen = best
    integration = chosen.method_integration
    if integration is None:
        log.warning("API %s: %s %s has no integration", api.id, method, resource.get_path())
        raise GatewayError(500, "InternalServerErrorException", _INTERNAL)
    return Route(
        account_id=account_id,
        region=region,
        api_id=api.id,
        stage=str(stage.name),
        deployment_id=str(stage.deployment_id or ""),
        stage_variables={str(k): str(v) for k, v in (stage.variables or {}).items()},
        resource_id=resource.id,
        resource_path=resource.get_path(),
        path_parameters=params,
        integration_type=str(integration.integration_type or "").upper(),
        integration_uri=str(integration.uri or ""),
        binary_media_types=tuple(str(t) for t in api.binaryMediaTypes or ()),
    )


def function_of(route: Route) -> str:
    """The function ARN of a Lambda proxy integration. Raises ``GatewayError``."""
    m = _LAMBDA_URI.fullmatch(route.integration_uri)
    if route.integration_type != "AWS_PROXY" or m is None:
        log.warning(
            "API %s: integration %s %s is not a Lambda proxy integration (not served here)",
            route.api_id,
            route.integration_type,
            route.integration_uri,
        )
        raise GatewayError(500, "InternalServerErrorException", _INTERNAL)
    return _STAGE_VARIABLE.sub(lambda v: route.stage_variables.get(v.group(1), ""), m.group("fn"))


class ExecuteApi:
    """Serves requests to deployed REST APIs. ``neighbours`` holds moto; ``invoke`` runs a
    function synchronously (the app fills it with the engine's invoke)."""

    def __init__(self, neighbours: Neighbours, invoke: Invoke, account_id: str, port: int) -> None:
        self._neighbours = neighbours
        self._invoke = invoke
        self._account_id = account_id
        self._port = port

    async def handle(
        self,
        target: Target,
        method: str,
        query_string: str,
        headers: Sequence[tuple[str, str]],
        body: bytes,
        client: tuple[str, int] | None,
    ) -> WsgiAnswer:
        """The API's answer to one request (``headers`` as sent, names lower-case)."""
        if not self._neighbours.serves("apigateway"):
            return unserved("apigateway", headers)
        request_id = str(uuid.uuid4())
        now = time.time()
        try:
            route = await self._neighbours.run(find_route, self._account_id, target, method)
            function_arn = function_of(route)
            request = ProxyRequest(
                method, target.path, query_string, headers, body, client[0] if client else "127.0.0.1", self._port
            )
            event = proxy_event(request, route, request_id, now)
            answer = await self._call(route, function_arn, json.dumps(event).encode(), request.header("accept"))
        except GatewayError as err:
            return _error(err, request_id)
        extra = [
            ("x-amzn-RequestId", request_id),
            ("x-amz-apigw-id", base64.b64encode(os.urandom(11)).decode()),
            ("X-Amzn-Trace-Id", trace_id(now)),
        ]
        return WsgiAnswer(
            answer.status,
            [(k.encode("latin-1", "replace"), v.encode("utf-8")) for k, v in (*answer.headers, *extra)],
            answer.body,
        )

    async def _call(self, route: Route, function_arn: str, payload: bytes, accept: str | None) -> Any:
        try:
            result = await self._invoke(function_arn, payload)
        except LambdaError as exc:
            log.warning("API %s: invoking %s failed: %s", route.api_id, function_arn, exc)
            raise GatewayError(502, "InternalServerErrorException", _INTERNAL) from None
        if result.function_error:
            # "Lambda execution failed with status 200 due to customer function error"
            log.info("API %s: %s answered a function error", route.api_id, function_arn)
            raise GatewayError(502, "InternalServerErrorException", _INTERNAL)
        try:
            return proxy_answer(result.payload, accept, route.binary_media_types)
        except MalformedAnswer as exc:
            log.warning("API %s: malformed Lambda proxy response from %s: %s", route.api_id, function_arn, exc)
            raise GatewayError(502, "InternalServerErrorException", _INTERNAL) from None


def _error(err: GatewayError, request_id: str) -> WsgiAnswer:
    headers: Iterable[tuple[str, str]] = (
        ("Content-Type", "application/json"),
        ("x-amzn-RequestId", request_id),
        ("x-amzn-ErrorType", err.error_type),
    )
    return WsgiAnswer(
        err.status,
        [(k.encode(), v.encode()) for k, v in headers],
        json.dumps({"message": err.message}).encode(),
    )
