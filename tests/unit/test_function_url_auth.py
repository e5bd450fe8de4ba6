"""The parts of AWS_IAM function URLs that need no server: SigV4 verification against requests
signed by botocore (the SDKs' own signer), and who may invoke a URL (urls-auth.html)."""

from __future__ import annotations

import datetime as dt
from typing import Any
from unittest import mock
from urllib.parse import urlsplit

import pytest
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from locallambda.edge.credentials import role_session
from locallambda.edge.errors import UrlAuthError
from locallambda.edge.function_urls import url_invoke_allowed
from locallambda.edge.sigv4 import Caller, SignedRequest, SigningKey, is_signed, verify
from locallambda.store.functions import FunctionRecord, VersionRecord

URL = "http://abcdef.lambda-url.us-east-1.localhost.localstack.cloud:4566"
ROOT = Caller("test", "000000000000", "000000000000", "arn:aws:iam::000000000000:root", "000000000000")
SESSION = role_session("LLFNKEY", "arn:aws:iam::000000000000:role/service-role/r1", "fn", "000000000000")
OTHER = role_session("AKIAOTHER", "arn:aws:iam::111111111111:role/caller", "sess", "111111111111")


def keys(access_key: str) -> SigningKey | None:
    return {
        "test": SigningKey("test", ROOT),
        "LLFNKEY": SigningKey("s3cr3t", SESSION, session_token="tok"),
    }.get(access_key)


def received(request: AWSRequest) -> SignedRequest:
    prepared = request.prepare()
    parts = urlsplit(prepared.url)
    headers = {k.lower(): v for k, v in prepared.headers.items()}
    headers["host"] = parts.netloc
    body = prepared.body or b""
    return SignedRequest(
        prepared.method, parts.path, parts.query, headers, body.encode() if isinstance(body, str) else body
    )


def header_signed(target: str, method: str = "GET", body: bytes = b"", creds: Any = None, **kw: Any) -> SignedRequest:
    request = AWSRequest(method=method, url=URL + target, data=body, **kw)
    SigV4Auth(creds or Credentials("test", "test"), "lambda", "us-east-1").add_auth(request)
    return received(request)


def refused(request: SignedRequest, **kw: Any) -> tuple[str, str]:
    with pytest.raises(UrlAuthError) as exc:
        verify(request, region="us-east-1", keys=keys, **kw)
    return exc.value.code, exc.value.message


@pytest.mark.parametrize(
    "target", ["/", "/a/b", "/a%20b/c%2Fd", "/x/./y/../z", "/q?b=2&a=1&a=0&c=%2F&e=", "/~user/file.txt?x=a%20b"]
)
def test_botocore_signatures_verify(target: str) -> None:
    assert verify(header_signed(target), region="us-east-1", keys=keys) == ROOT
    post = header_signed(target, "POST", b'{"a": 1}', headers={"Content-Type": "application/json"})
    assert verify(post, region="us-east-1", keys=keys) == ROOT


def test_session_credentials_need_their_token() -> None:
    good = header_signed("/", creds=Credentials("LLFNKEY", "s3cr3t", "tok"))
    assert verify(good, region="us-east-1", keys=keys) == SESSION
    wrong = header_signed("/", creds=Credentials("LLFNKEY", "s3cr3t", "other"))
    assert refused(wrong) == ("UnrecognizedClientException", "The security token included in the request is invalid.")
    # A long-term key takes any token (clients of a local server often carry one).
    assert verify(header_signed("/", creds=Credentials("test", "test", "x")), region="us-east-1", keys=keys) == ROOT


def test_dates_out_of_the_five_minutes_are_refused() -> None:
    request = header_signed("/")
    signed_at = dt.datetime.strptime(request.headers["x-amz-date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
    assert verify(request, region="us-east-1", keys=keys, now=signed_at + dt.timedelta(minutes=4)) == ROOT
    code, message = refused(request, now=signed_at + dt.timedelta(minutes=6))
    late = signed_at + dt.timedelta(minutes=6)
    assert code == "InvalidSignatureException"
    assert message == (
        f"Signature expired: {request.headers['x-amz-date']} is now earlier than "
        f"{(late - dt.timedelta(minutes=5)).strftime('%Y%m%dT%H%M%SZ')} ({late.strftime('%Y%m%dT%H%M%SZ')} - 5 min.)"
    )
    code, message = refused(request, now=signed_at - dt.timedelta(minutes=6))
    assert code == "InvalidSignatureException" and message.startswith("Signature not yet current: ")


def test_presigned_requests_live_for_their_expiry() -> None:
    then = dt.datetime(2026, 1, 2, 3, 4, 5)
    request = AWSRequest(method="GET", url=URL + "/p?x=1")
    with mock.patch("botocore.auth.get_current_datetime", return_value=then):
        SigV4QueryAuth(Credentials("test", "test"), "lambda", "us-east-1", expires=900).add_auth(request)
    signed = received(request)
    assert is_signed(signed)
    at = then.replace(tzinfo=dt.UTC)
    assert verify(signed, region="us-east-1", keys=keys, now=at + dt.timedelta(minutes=14)) == ROOT
    code, message = refused(signed, now=at + dt.timedelta(minutes=16))
    assert code == "InvalidSignatureException" and message.startswith("Signature expired: 20260102T030405Z")


def test_scope_and_malformed_headers_are_refused() -> None:
    request = AWSRequest(method="GET", url=URL + "/")
    SigV4Auth(Credentials("test", "test"), "s3", "us-east-1").add_auth(request)
    assert refused(received(request)) == (
        "InvalidSignatureException",
        "Credential should be scoped to correct service: 'lambda'. ",
    )
    # A bearer token, as API Gateway's IAM authorization words it.
    bearer = SignedRequest("GET", "/", "", {"host": "h", "authorization": "Bearer abc"}, b"")
    code, message = refused(bearer)
    assert code == "IncompleteSignatureException"
    assert message.startswith("Invalid key=value pair (missing equal-sign) in Authorization header")
    partial = "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/lambda/aws4_request"
    code, message = refused(SignedRequest("GET", "/", "", {"host": "h", "authorization": partial}, b""))
    assert code == "IncompleteSignatureException"
    assert message == (
        "Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' "
        "parameter. Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. "
        f"Authorization={partial}"
    )
    unsigned = SignedRequest("GET", "/", "a=1", {"host": "h"}, b"")
    assert not is_signed(unsigned)


def _record(statements: list[dict[str, Any]]) -> FunctionRecord:
    record = FunctionRecord(name="f", region="us-east-1", account_id="000000000000", latest=VersionRecord(config={}))
    record.policy_statements.extend({**s, "_qualifier": None} for s in statements)
    return record


def _statement(action: str, principal: Any, condition: dict[str, Any] | None = None) -> dict[str, Any]:
    s: dict[str, Any] = {"Sid": action, "Effect": "Allow", "Principal": principal, "Action": action, "Resource": "x"}
    if condition:
        s["Condition"] = condition
    return s


URL_GRANT = _statement(
    "lambda:InvokeFunctionUrl",
    {"AWS": "arn:aws:iam::111111111111:root"},
    {"StringEquals": {"lambda:FunctionUrlAuthType": "AWS_IAM"}},
)
INVOKE_GRANT = _statement(
    "lambda:InvokeFunction",
    {"AWS": "arn:aws:iam::111111111111:role/caller"},
    {"Bool": {"lambda:InvokedViaFunctionUrl": "true"}},
)


def test_same_account_callers_are_allowed_without_a_policy() -> None:
    assert url_invoke_allowed(_record([]), None, ROOT)
    assert url_invoke_allowed(_record([]), None, SESSION)


def test_other_accounts_need_both_grants_of_the_urls_policy() -> None:
    assert not url_invoke_allowed(_record([]), None, OTHER)
    assert not url_invoke_allowed(_record([URL_GRANT]), None, OTHER)
    assert not url_invoke_allowed(_record([INVOKE_GRANT]), None, OTHER)
    assert url_invoke_allowed(_record([URL_GRANT, INVOKE_GRANT]), None, OTHER)
    # For another auth type, another principal, or another qualifier's policy: not granted.
    none_url = {**URL_GRANT, "Condition": {"StringEquals": {"lambda:FunctionUrlAuthType": "NONE"}}}
    assert not url_invoke_allowed(_record([none_url, INVOKE_GRANT]), None, OTHER)
    elsewhere = {**URL_GRANT, "Principal": {"AWS": "arn:aws:iam::222222222222:root"}}
    assert not url_invoke_allowed(_record([elsewhere, INVOKE_GRANT]), None, OTHER)
    assert not url_invoke_allowed(_record([URL_GRANT, INVOKE_GRANT]), "live", OTHER)
    public = [_statement("lambda:InvokeFunctionUrl", "*"), _statement("lambda:InvokeFunction", "*")]
    assert url_invoke_allowed(_record(public), None, OTHER)
