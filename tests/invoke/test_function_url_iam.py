"""Function URLs with AuthType AWS_IAM take only SigV4-signed requests (urls-invocation.html):
unsigned, badly signed, expired or unknown-key requests are refused with 403 before the function
runs; a signed one reaches it with the caller in ``requestContext.authorizer.iam``. Signed here
by botocore's own signers, as the SDKs sign; sent with ``http.client`` to the server's port with
the URL's Host."""

from __future__ import annotations

import datetime as dt
import http.client
import json
import urllib.error
import urllib.request
from typing import Any
from unittest import mock
from urllib.parse import urlsplit

from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.invoke.conftest import Functions

ECHO = """\
import json
def handler(event, context):
    return {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": json.dumps(event)}
"""

# Calls the function URL given in the event, signed with this environment's own credentials.
CALLER = """\
import http.client, os
from urllib.parse import urlsplit
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

def handler(event, context):
    creds = Credentials(os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"], os.environ["AWS_SESSION_TOKEN"])
    url = event["url"] + "from-function?who=caller"
    request = AWSRequest(method="POST", url=url, data=b'{"hi": 1}', headers={"content-type": "application/json"})
    SigV4Auth(creds, "lambda", os.environ["AWS_REGION"]).add_auth(request)
    endpoint = urlsplit(os.environ["AWS_ENDPOINT_URL"])
    conn = http.client.HTTPConnection(endpoint.hostname, endpoint.port, timeout=30)
    conn.request("POST", "/from-function?who=caller", body=request.body,
                 headers={**dict(request.headers), "Host": urlsplit(url).netloc})
    resp = conn.getresponse()
    return {"status": resp.status, "body": resp.read().decode(), "key": os.environ["AWS_ACCESS_KEY_ID"]}
"""

MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your AWS "
    "Secret Access Key and signing method. Consult the service documentation for details."
)
ROOT = {
    "accessKey": "test",
    "accountId": "000000000000",
    "callerId": "000000000000",
    "cognitoIdentity": None,
    "principalOrgId": None,
    "userArn": "arn:aws:iam::000000000000:root",
    "userId": "000000000000",
}


def send(url: str, method: str, target: str, body: bytes = b"", headers: dict[str, str] | None = None) -> Any:
    """``target`` (path and query) of the URL, sent to 127.0.0.1 with the URL's Host."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection("127.0.0.1", parts.port, timeout=60)
    conn.request(method, target, body=body or None, headers={"Host": parts.netloc, **(headers or {})})
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp, data


def signed(
    url: str,
    method: str,
    target: str,
    body: bytes = b"",
    *,
    key: str = "test",
    secret: str = "test",
    region: str = "us-east-1",
    headers: dict[str, str] | None = None,
) -> dict[str, str]:
    """The headers botocore's SigV4Auth adds to sign the request (plus ``headers``)."""
    request = AWSRequest(method=method, url=url.rstrip("/") + target, data=body, headers=headers or {})
    SigV4Auth(Credentials(key, secret), "lambda", region).add_auth(request)
    return dict(request.headers)


def iam_url(functions: Functions, name: str) -> str:
    url: str = functions.client.create_function_url_config(FunctionName=name, AuthType="AWS_IAM")["FunctionUrl"]
    return url


def refusal(resp: Any, data: bytes) -> tuple[int, str | None, dict[str, Any]]:
    return resp.status, resp.getheader("x-amzn-ErrorType"), json.loads(data)


def test_unsigned_request_is_forbidden(functions: Functions) -> None:
    url = iam_url(functions, functions.python(ECHO))
    resp, data = send(url, "GET", "/")
    assert refusal(resp, data) == (403, "AccessDeniedException", {"Message": "Forbidden"})
    # urllib, as a plain client sends it
    request = urllib.request.Request(f"http://127.0.0.1:{urlsplit(url).port}/", headers={"Host": urlsplit(url).netloc})
    try:
        urllib.request.urlopen(request, timeout=60)
        raise AssertionError("an unsigned request reached the function")
    except urllib.error.HTTPError as exc:
        assert exc.code == 403
        assert json.loads(exc.read()) == {"Message": "Forbidden"}


def test_signed_request_reaches_the_function_with_the_callers_identity(functions: Functions) -> None:
    url = iam_url(functions, functions.python(ECHO))
    body = b'{"hello": "iam"}'
    target = "/some/path?b=2&a=1&a=0"
    headers = signed(url, "POST", target, body, headers={"Content-Type": "application/json"})
    resp, data = send(url, "POST", target, body, headers)
    assert resp.status == 200, data
    event = json.loads(data)
    assert event["requestContext"]["authorizer"] == {"iam": ROOT}
    assert event["requestContext"]["accountId"] == "000000000000"
    assert event["rawPath"] == "/some/path" and event["rawQueryString"] == "b=2&a=1&a=0"
    assert event["body"] == '{"hello": "iam"}'


def test_none_urls_take_unsigned_requests_and_name_no_authorizer(functions: Functions) -> None:
    name = functions.python(ECHO)
    url = functions.client.create_function_url_config(FunctionName=name, AuthType="NONE")["FunctionUrl"]
    resp, data = send(url, "GET", "/")
    assert resp.status == 200
    event = json.loads(data)
    assert "authorizer" not in event["requestContext"]
    assert event["requestContext"]["accountId"] == "anonymous"


def test_tampered_signature_is_refused(functions: Functions) -> None:
    url = iam_url(functions, functions.python(ECHO))
    headers = signed(url, "GET", "/")
    auth = headers["Authorization"]
    last = auth[-1]
    headers["Authorization"] = auth[:-1] + ("0" if last != "0" else "1")
    resp, data = send(url, "GET", "/", headers=headers)
    assert refusal(resp, data) == (403, "InvalidSignatureException", {"message": MISMATCH})


def test_wrong_secret_is_refused(functions: Functions) -> None:
    url = iam_url(functions, functions.python(ECHO))
    resp, data = send(url, "GET", "/", headers=signed(url, "GET", "/", secret="not-test"))
    assert refusal(resp, data) == (403, "InvalidSignatureException", {"message": MISMATCH})


def test_body_not_the_signed_one_is_refused(functions: Functions) -> None:
    url = iam_url(functions, functions.python(ECHO))
    headers = signed(url, "POST", "/", b'{"amount": 1}')
    resp, data = send(url, "POST", "/", b'{"amount": 9}', headers)
    assert refusal(resp, data) == (403, "InvalidSignatureException", {"message": MISMATCH})
    # A payload hash that is not the body's (or none: Lambda takes no unsigned payloads).
    for claimed in ("0" * 64, "UNSIGNED-PAYLOAD"):
        headers = signed(url, "POST", "/", b'{"amount": 1}', headers={"X-Amz-Content-SHA256": claimed})
        resp, data = send(url, "POST", "/", b'{"amount": 1}', headers)
        assert refusal(resp, data) == (403, "InvalidSignatureException", {"message": MISMATCH}), claimed


def test_expired_date_is_refused(functions: Functions) -> None:
    url = iam_url(functions, functions.python(ECHO))
    then = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(minutes=10)
    with mock.patch("botocore.auth.get_current_datetime", return_value=then):
        headers = signed(url, "GET", "/")
    resp, data = send(url, "GET", "/", headers=headers)
    status, code, body = refusal(resp, data)
    assert (status, code) == (403, "InvalidSignatureException")
    assert body["message"].startswith(f"Signature expired: {then.strftime('%Y%m%dT%H%M%SZ')} is now earlier than ")
    assert body["message"].endswith(" - 5 min.)")


def test_unknown_key_and_wrong_scope_are_refused(functions: Functions) -> None:
    url = iam_url(functions, functions.python(ECHO))
    resp, data = send(url, "GET", "/", headers=signed(url, "GET", "/", key="AKIAUNKNOWN000000000"))
    assert refusal(resp, data) == (
        403,
        "UnrecognizedClientException",
        {"message": "The security token included in the request is invalid."},
    )
    resp, data = send(url, "GET", "/", headers=signed(url, "GET", "/", region="eu-west-1"))
    assert refusal(resp, data) == (
        403,
        "InvalidSignatureException",
        {"message": "Credential should be scoped to a valid region. "},
    )


def test_presigned_url_is_accepted(functions: Functions) -> None:
    url = iam_url(functions, functions.python(ECHO))
    request = AWSRequest(method="GET", url=url + "presigned?x=1")
    SigV4QueryAuth(Credentials("test", "test"), "lambda", "us-east-1", expires=300).add_auth(request)
    parts = urlsplit(request.url)
    resp, data = send(url, "GET", f"{parts.path}?{parts.query}")
    assert resp.status == 200, data
    event = json.loads(data)
    assert event["requestContext"]["authorizer"] == {"iam": ROOT}
    assert event["rawPath"] == "/presigned"
    # The same URL with its signature changed is refused.
    forged = parts.query[:-1] + ("0" if parts.query[-1] != "0" else "1")
    resp, data = send(url, "GET", f"{parts.path}?{forged}")
    assert refusal(resp, data) == (403, "InvalidSignatureException", {"message": MISMATCH})


def test_a_function_calls_another_functions_iam_url_with_its_own_credentials(functions: Functions) -> None:
    callee_url = iam_url(functions, functions.python(ECHO))
    caller = functions.python(CALLER, timeout=60)
    out = functions.invoke_json(caller, {"url": callee_url})
    assert out["status"] == 200, out
    event = json.loads(out["body"])
    iam = event["requestContext"]["authorizer"]["iam"]
    assert iam["accessKey"] == out["key"] and out["key"].startswith("LLFN")
    assert iam["accountId"] == "000000000000"
    assert iam["userArn"] == f"arn:aws:sts::000000000000:assumed-role/lambda-role/{caller}"
    assert iam["callerId"] == iam["userId"]
    assert iam["userId"].startswith("AROA") and iam["userId"].endswith(f":{caller}")
    assert iam["cognitoIdentity"] is None and iam["principalOrgId"] is None
    assert event["rawQueryString"] == "who=caller" and event["body"] == '{"hi": 1}'


def test_keys_issued_by_the_embedded_iam_and_sts_sign_too(functions: Functions) -> None:
    """An IAM user's access key (iam create-access-key) and an assumed role's temporary key
    (sts assume-role) are verified with their secrets and name their owners; a deleted or
    inactive key, or a temporary key without its session token, is refused."""
    url = iam_url(functions, functions.python(ECHO))
    iam, sts = functions.server.client("iam"), functions.server.client("sts")
    user = iam.create_user(UserName="url-caller")["User"]
    key = iam.create_access_key(UserName="url-caller")["AccessKey"]
    headers = signed(url, "GET", "/", key=key["AccessKeyId"], secret=key["SecretAccessKey"])
    resp, data = send(url, "GET", "/", headers=headers)
    assert resp.status == 200, data
    caller = json.loads(data)["requestContext"]["authorizer"]["iam"]
    assert (caller["accessKey"], caller["userArn"], caller["userId"]) == (
        key["AccessKeyId"],
        user["Arn"],
        user["UserId"],
    )
    wrong = signed(url, "GET", "/", key=key["AccessKeyId"], secret="not-its-secret")
    assert send(url, "GET", "/", headers=wrong)[0].status == 403
    iam.update_access_key(UserName="url-caller", AccessKeyId=key["AccessKeyId"], Status="Inactive")
    assert (
        send(url, "GET", "/", headers=signed(url, "GET", "/", key=key["AccessKeyId"], secret=key["SecretAccessKey"]))[
            0
        ].status
        == 403
    )

    role = iam.create_role(
        RoleName="url-role", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []})
    )["Role"]
    creds = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="tester")["Credentials"]
    request = AWSRequest(method="GET", url=url.rstrip("/") + "/", data=b"")
    SigV4Auth(
        Credentials(creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"]), "lambda", "us-east-1"
    ).add_auth(request)
    resp, data = send(url, "GET", "/", headers=dict(request.headers))
    assert resp.status == 200, data
    caller = json.loads(data)["requestContext"]["authorizer"]["iam"]
    assert caller["userArn"] == "arn:aws:sts::000000000000:assumed-role/url-role/tester"
    assert caller["userId"].endswith(":tester")
    no_token = signed(url, "GET", "/", key=creds["AccessKeyId"], secret=creds["SecretAccessKey"])
    assert send(url, "GET", "/", headers=no_token)[0].status == 403


def test_another_accounts_caller_needs_a_resource_policy_for_the_url(functions: Functions) -> None:
    """A caller of another account (an assumed role there: the embedded STS issues its keys in the
    role's account) is refused until the function's policy grants that account
    lambda:InvokeFunctionUrl with lambda:FunctionUrlAuthType AWS_IAM and lambda:InvokeFunction
    (urls-auth.html); a grant for NONE URLs does not do."""
    name = functions.python(ECHO)
    url = iam_url(functions, name)
    creds = functions.server.client("sts").assume_role(
        RoleArn="arn:aws:iam::111111111111:role/url-caller", RoleSessionName="outsider"
    )["Credentials"]

    def call() -> tuple[int, bytes]:
        request = AWSRequest(method="GET", url=url.rstrip("/") + "/", data=b"")
        credentials = Credentials(creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
        SigV4Auth(credentials, "lambda", "us-east-1").add_auth(request)
        resp, data = send(url, "GET", "/", headers=dict(request.headers))
        return resp.status, data

    assert call()[0] == 403
    lam = functions.client
    lam.add_permission(
        FunctionName=name,
        StatementId="none-only",
        Action="lambda:InvokeFunctionUrl",
        Principal="111111111111",
        FunctionUrlAuthType="NONE",
    )
    assert call()[0] == 403
    lam.add_permission(
        FunctionName=name,
        StatementId="iam",
        Action="lambda:InvokeFunctionUrl",
        Principal="111111111111",
        FunctionUrlAuthType="AWS_IAM",
    )
    assert call()[0] == 403  # AWS (since October 2025) also wants lambda:InvokeFunction granted
    lam.add_permission(
        FunctionName=name, StatementId="invoke", Action="lambda:InvokeFunction", Principal="111111111111"
    )
    status, data = call()
    assert status == 200, data
    caller = json.loads(data)["requestContext"]["authorizer"]["iam"]
    assert caller["accountId"] == "111111111111"
    assert caller["userArn"] == "arn:aws:sts::111111111111:assumed-role/url-caller/outsider"
