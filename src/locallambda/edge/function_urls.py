"""Serving function URLs: ``http://<url-id>.lambda-url.<region>.localhost.localstack.cloud:4566/``
(or any domain ``LOCALSTACK_HOST`` names, ``localhost`` among them: ``control/urls.py``).

Docs: urls-invocation.html. The edge routes here by the ``Host`` header; the URL id is found in
the control plane's ``UrlIndex``. A request becomes a payload-format 2.0 event and the
function's answer the HTTP response (``url_payloads.py``); a function error or timeout answers
502 ``Internal Server Error``, a throttle 429; the x-amzn-RequestId header names the invocation.
The URL's ``Cors`` configuration answers preflights and adds CORS headers (``url_cors.py``). An
unknown URL id is refused with 403 as AWS refuses it. A ``NONE`` URL needs no resource-based
policy here (LocalStack's behaviour; AWS requires the ``lambda:InvokeFunctionUrl`` grant).

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

import json
import re
import time
import uuid
from collections.abc import Mapping
from typing import Any

from locallambda.control.permissions import policy_statements
from locallambda.control.urls import UrlIndex
from locallambda.edge.errors import UrlAuthError, url_auth_error, url_error
from locallambda.edge.sigv4 import Caller, KeyLookup, SignedRequest, SigningKey, is_signed, verify
from locallambda.edge.streaming import streamed_url_response
from locallambda.edge.url_cors import CorsRules, is_preflight
from locallambda.edge.url_payloads import (
    JSON_TYPE,
    event_body,
    event_cookies,
    event_headers,
    query_parameters,
    response_of,
)
from locallambda.errors import LambdaError
from locallambda.invoke.engine import InvokeEngine
from locallambda.invoke.journal import URL
from locallambda.model.clock import clf_timestamp
from locallambda.model.refs import FunctionRef
from locallambda.protocol.codec import Response
from locallambda.store.functions import FunctionRecord

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

# <url-id>.lambda-url.<region>.<any domain>[:port]: LocalStack's domain, ``localhost`` (no DNS
# needed), or whatever LOCALSTACK_HOST names. Custom ids (the ``_custom_id_`` tag) have hyphens.
_HOST = re.compile(r"(?P<id>[a-z0-9][a-z0-9-]*)\.lambda-url\.(?P<region>[a-z0-9-]+)\.[^:]+(?::\d+)?")
_PORT = re.compile(r":\d+$")


def url_host(host: str | None) -> tuple[str, str] | None:
    """(url id, region) when ``host`` names a function URL (host names are case-insensitive)."""
    host = (host or "").lower()
    if ".lambda-url." not in host:
        return None
    m = _HOST.fullmatch(host)
    return (m.group("id"), m.group("region")) if m else None


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
    def __init__(self, urls: UrlIndex, engine: InvokeEngine, keys: KeyLookup | None = None) -> None:
        """``urls``: the URL ids of the control plane; ``keys``: the access keys whose signatures
        ``AWS_IAM`` URLs accept (none by default)."""
        self._urls = urls
        self._engine = engine
        self._keys = keys or _no_keys

    def _find(self, url_id: str, region: str) -> tuple[FunctionRecord, str | None, dict[str, Any]] | None:
        """The function, qualifier (``None``: unqualified) and configuration of a URL id."""
        target = self._urls.find(url_id, region)
        return None if target is None else (target.record, target.qualifier, target.config)

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
        *,
        request_id: str | None = None,
        source_ip: str = "127.0.0.1",
        protocol: str = "HTTP/1.1",
    ) -> dict[str, Any]:
        """The payload-format 2.0 event AWS sends for one request (``headers``: lower-case names,
        repeated ones joined; ``caller``: who signed it, for an ``AWS_IAM`` URL). The field order
        is the doc's; what each holds, ``url_payloads.py``."""
        now = time.time()
        host = headers.get("host", "")
        domain, _, port = host.rpartition(":") if _PORT.search(host) else (host, "", "80")
        event: dict[str, Any] = {"version": "2.0", "routeKey": "$default", "rawPath": raw_path}
        event["rawQueryString"] = query_string
        cookies = event_cookies(headers)
        if cookies:
            event["cookies"] = cookies
        event["headers"] = event_headers(headers, source_ip, port)
        query = query_parameters(query_string)
        if query:
            event["queryStringParameters"] = query
        event["requestContext"] = {
            "accountId": "anonymous",
            "apiId": url_id,
            "domainName": domain,
            "domainPrefix": url_id,
            "http": {
                "method": method,
                "path": raw_path,
                "protocol": protocol,
                "sourceIp": source_ip,
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": request_id or str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": clf_timestamp(now),
            "timeEpoch": int(now * 1000),
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
        if body:
            event["body"], event["isBase64Encoded"] = event_body(body, headers.get("content-type", ""))
        else:
            event["isBase64Encoded"] = False
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
        *,
        source_ip: str = "127.0.0.1",
        protocol: str = "HTTP/1.1",
    ) -> Response:
        """The answer to one request to a function URL (``headers``: lower-case names, repeated
        ones joined, as ``request_headers`` gives them)."""
        found = self._find(url_id, region)
        if found is None:
            # AWS answers an unknown URL id as a refusal: {"Message":null} (recorded:
            # test_lambda_url_non_existing_url); one whose URL was deleted with the authorization
            # layer's text (recorded: test_lambda_url_persists_after_alias_delete).
            retired = self._urls.existed(url_id)
            return url_auth_error(UrlAuthError("AccessDeniedException", NOT_AUTHORIZED if retired else None, "Message"))
        record, qualifier, cfg = found
        cors = CorsRules.of(cfg)
        if cors is not None and is_preflight(method, headers):
            return cors.preflight(headers)
        ref = FunctionRef(record.name, qualifier, record.region, record.account_id)
        caller = None
        if cfg.get("AuthType") == "AWS_IAM":
            try:
                caller = self._authorize(
                    record, qualifier, region, SignedRequest(method, raw_path, query_string, headers, body)
                )
            except UrlAuthError as exc:
                return _with_cors(url_auth_error(exc), cors, headers)
        request_id = str(uuid.uuid4())
        event = self.event(
            str(cfg.get("_UrlId", url_id)),
            method,
            raw_path,
            query_string,
            headers,
            body,
            caller,
            request_id=request_id,
            source_ip=source_ip,
            protocol=protocol,
        )
        if cfg.get("InvokeMode") == "RESPONSE_STREAM":  # streamed as it comes: edge/streaming.py
            response = await streamed_url_response(self._engine, ref, json.dumps(event).encode(), request_id)
            response.headers.append((b"x-amzn-RequestId", request_id.encode()))
            return _with_cors(response, cors, headers)
        try:
            result = await self._engine.invoke(ref, json.dumps(event).encode(), request_id=request_id, trigger=URL)
        except LambdaError as exc:
            response = url_error(exc.status if exc.status < 500 else 502, exc.message)
        else:
            answer = None if result.function_error else response_of(result.payload)
            # A function error, a timeout included, is AWS's plain "Internal Server Error" with
            # status 502 (recorded: test_lambda_url_invocation_exception).
            response = answer or Response(502, [JSON_TYPE], b"Internal Server Error")
        response.headers.append((b"x-amzn-RequestId", request_id.encode()))
        return _with_cors(response, cors, headers)


def _with_cors(response: Response, cors: CorsRules | None, headers: Mapping[str, str]) -> Response:
    return response if cors is None else cors.apply(response, headers)
