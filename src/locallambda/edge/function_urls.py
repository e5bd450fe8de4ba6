"""Serving function URLs: ``http://<url-id>.lambda-url.<region>.localhost.localstack.cloud:4566/``.

Docs: urls-invocation.html. A request to a function URL becomes a payload-format 2.0 event
(as API Gateway HTTP APIs send it); the function's answer becomes the HTTP response: a result
with ``statusCode`` is taken as the response itself (headers, body, ``isBase64Encoded``,
``cookies``), anything else is returned as JSON with status 200. A function error answers 502.
The edge routes here by the ``Host`` header.

A URL with AuthType ``AWS_IAM`` lets a request through only when it is signed (SigV4,
``edge/sigv4.py``, with a key the ``KeyLookup`` knows) by a caller allowed to invoke it
(urls-auth.html): a caller of the function's own account is (its identity policies are not
modelled; the account's users and roles are taken as allowed), a caller of another account
needs the resource-based policy of the URL's qualifier to grant it ``lambda:InvokeFunctionUrl``
(for ``lambda:FunctionUrlAuthType`` ``AWS_IAM``) and, since October 2025, ``lambda:InvokeFunction``.
The event then names the caller in ``requestContext.authorizer.iam`` (urls-invocation.html,
"Request payload format"). Refusals are 403: ``{"Message":"Forbidden"}`` for an unsigned request,
the signature's own errors (``sigv4.py``) for a bad signature, and the authorization layer's
``Forbidden. For troubleshooting Function URL authorization issues, ...`` with
``x-amzn-ErrorType: AccessDeniedException`` for a caller not allowed (as AWS answers it,
LocalStack's ``test_lambda.snapshot.json``: ``test_lambda_permission_url_invocation``).
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

from locallambda.control.permissions import policy_statements
from locallambda.edge.errors import JSON, UrlAuthError, url_auth_error, url_error
from locallambda.edge.sigv4 import Caller, KeyLookup, SignedRequest, SigningKey, is_signed, verify
from locallambda.errors import LambdaError
from locallambda.invoke.engine import InvokeEngine
from locallambda.model.clock import clf_timestamp
from locallambda.model.refs import LATEST, FunctionRef
from locallambda.protocol.codec import Response
from locallambda.store.functions import FunctionRecord, FunctionRegistry

__all__ = ["FORBIDDEN", "NOT_AUTHORIZED", "FunctionUrls", "url_host", "url_invoke_allowed"]

# The URL's answer to an unsigned request (urls-invocation.html: AWS_IAM URLs take signed
# requests only). No AWS document or recording words the body; this is the one users of AWS_IAM
# URLs report for unsigned requests (status text "Forbidden" in a capital-M ``Message``).
FORBIDDEN = "Forbidden"
# The authorization layer's answer to a caller without permission (recorded by LocalStack's
# parity tests against AWS: test_lambda_permission_url_invocation).
NOT_AUTHORIZED = (
    "Forbidden. For troubleshooting Function URL authorization issues, see: "
    "https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html"
)

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


def _no_keys(_access_key: str) -> SigningKey | None:
    return None


def _principal_names(caller: Caller) -> set[str]:
    """What a policy's ``Principal`` may name to mean ``caller``: its account, its user or
    session, and for a role's session the role."""
    names = {caller.account_id, f"arn:aws:iam::{caller.account_id}:root", caller.user_arn}
    prefix = f"arn:aws:sts::{caller.account_id}:assumed-role/"
    if caller.user_arn.startswith(prefix):
        role = caller.user_arn.removeprefix(prefix).split("/", 1)[0]
        names.add(f"arn:aws:iam::{caller.account_id}:role/{role}")
    return names


def _grants(statement: Mapping[str, Any], caller: Caller, action: str, condition: tuple[str, str, str]) -> bool:
    """Whether an Allow statement grants ``action`` to ``caller``; its only condition may be
    ``condition`` (operator, key, value): a request to a URL carries no source ARN, source account
    or organization, so statements conditioned on them never match it."""
    if statement.get("Effect") != "Allow" or statement.get("Action") not in (action, "lambda:*", "*"):
        return False
    principal = statement.get("Principal")
    if principal != "*":
        named = principal.get("AWS") if isinstance(principal, Mapping) else None
        listed = named if isinstance(named, list) else [named]
        if not _principal_names(caller) & {str(n) for n in listed if n}:
            return False
    operator, key, value = condition
    for op, clauses in (statement.get("Condition") or {}).items():
        for name, expected in (clauses or {}).items():
            if (op, name) != (operator, key) or str(expected).lower() != value.lower():
                return False
    return True


def url_invoke_allowed(record: FunctionRecord, qualifier: str | None, caller: Caller) -> bool:
    """Whether ``caller`` may invoke the function URL of ``qualifier`` (``None``: unqualified).

    Same-account callers are allowed (their identity policies are not modelled). Another
    account's caller needs the URL's resource-based policy to allow both actions AWS requires
    since October 2025 (urls-auth.html): ``lambda:InvokeFunctionUrl`` for
    ``lambda:FunctionUrlAuthType`` ``AWS_IAM`` and ``lambda:InvokeFunction`` (with
    ``lambda:InvokedViaFunctionUrl``, as the console grants it, or unconditioned).
    """
    if caller.account_id == record.account_id:
        return True
    statements = policy_statements(record, qualifier)
    via_url = ("Bool", "lambda:InvokedViaFunctionUrl", "true")
    url_auth = ("StringEquals", "lambda:FunctionUrlAuthType", "AWS_IAM")
    return any(_grants(s, caller, "lambda:InvokeFunctionUrl", url_auth) for s in statements) and any(
        _grants(s, caller, "lambda:InvokeFunction", via_url) for s in statements
    )


class FunctionUrls:
    def __init__(self, functions: FunctionRegistry, engine: InvokeEngine, keys: KeyLookup | None = None) -> None:
        """``keys``: the access keys whose signatures ``AWS_IAM`` URLs accept (none by default)."""
        self._functions = functions
        self._engine = engine
        self._keys = keys or _no_keys

    def _find(self, url_id: str, region: str) -> tuple[FunctionRecord, str | None, dict[str, Any]] | None:
        """The function, qualifier (``None``: unqualified) and configuration of a URL id."""
        for record in self._functions.in_region(region):
            for qualifier, cfg in record.url_configs.items():
                if cfg.get("_UrlId") == url_id:
                    return record, None if qualifier == LATEST else qualifier, cfg
        return None

    def _authorize(self, record: FunctionRecord, qualifier: str | None, region: str, request: SignedRequest) -> Caller:
        """The verified, allowed caller of an ``AWS_IAM`` URL. Raises ``UrlAuthError``."""
        if not is_signed(request):
            raise UrlAuthError("AccessDeniedException", FORBIDDEN, member="Message")
        caller = verify(request, region=region, keys=self._keys)
        if not url_invoke_allowed(record, qualifier, caller):
            raise UrlAuthError("AccessDeniedException", NOT_AUTHORIZED, member="Message")
        return caller

    def event(
        self,
        url_id: str,
        method: str,
        raw_path: str,
        query_string: str,
        headers: Mapping[str, str],
        body: bytes,
        caller: Caller | None = None,
    ) -> dict[str, Any]:
        """The payload-format 2.0 event AWS sends for one request (``caller``: who signed it,
        for an ``AWS_IAM`` URL)."""
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
        if caller is not None:
            # urls-invocation.html, "Request payload format": the caller's identity, with
            # cognitoIdentity and principalOrgId null (function URLs use neither). accountId is
            # "anonymous" for an unsigned caller, the caller's account (the owner's, for callers
            # of the function's own account, as the doc words it) for a signed one.
            event["requestContext"]["accountId"] = caller.account_id
            event["requestContext"]["authorizer"] = {
                "iam": {
                    "accessKey": caller.access_key,
                    "accountId": caller.account_id,
                    "callerId": caller.caller_id,
                    "cognitoIdentity": None,
                    "principalOrgId": None,
                    "userArn": caller.user_arn,
                    "userId": caller.user_id,
                }
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
        record, qualifier, cfg = found
        ref = FunctionRef(record.name, qualifier, record.region, record.account_id)
        caller = None
        if cfg.get("AuthType") == "AWS_IAM":
            try:
                caller = self._authorize(
                    record, qualifier, region, SignedRequest(method, raw_path, query_string, headers, body)
                )
            except UrlAuthError as exc:
                return url_auth_error(exc)
        event = self.event(url_id, method, raw_path, query_string, headers, body, caller)
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
