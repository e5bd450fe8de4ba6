"""Function URLs speak payload format 2.0 as AWS does (urls-invocation.html): every field of the
request event, and every way a function's result becomes the HTTP response, compared with what
AWS answered in LocalStack's AWS-recorded ``TestLambdaURL`` tests (test_lambda.snapshot.json).

Requests go through ``http.client`` to the server's port with the URL's Host (repeated headers
written one by one), so what reaches the server is exactly what the test wrote.
"""

from __future__ import annotations

import base64
import http.client
import json
import re
import time
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.invoke.conftest import Functions

# /echo...: the event as the body; /return: the JSON value of the request body is the result;
# /raise: an unhandled error; /sleep: longer than the timeout; /png: a binary response.
HANDLER = """\
import base64, json, time
def handler(event, context):
    path = event.get("rawPath")
    if path.startswith("/echo"):
        return {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": json.dumps(event)}
    if path == "/return":
        body = event["body"]
        return json.loads(base64.b64decode(body) if event["isBase64Encoded"] else body)
    if path == "/raise":
        raise RuntimeError("boom")
    if path == "/sleep":
        time.sleep(10)
    if path == "/png":
        return {"statusCode": 200, "headers": {"Content-Type": "image/png"},
                "body": base64.b64encode(bytes(range(256))).decode(), "isBase64Encoded": True}
    return {"request_id": context.aws_request_id}
"""

# A custom runtime whose answer is not JSON at all.
NOT_JSON_BOOTSTRAP = """\
#!/bin/sh
set -eu
while true; do
  HEADERS="$(mktemp)"
  curl -sS -LD "$HEADERS" -o /dev/null "http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation/next"
  ID=$(grep -Fi Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)
  curl -sS -o /dev/null "http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation/$ID/response" \\
    --data-binary 'plain text, not JSON'
done
"""

CLF_TIME = re.compile(r"\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d \+0000")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def send(
    url: str, method: str, target: str, body: bytes = b"", headers: list[tuple[str, str]] | None = None
) -> tuple[http.client.HTTPResponse, bytes]:
    """``target`` of the URL sent to 127.0.0.1 with the URL's Host; ``headers`` in order, repeats kept."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection("127.0.0.1", parts.port, timeout=60)
    conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
    conn.putheader("Host", parts.netloc)
    for name, value in headers or []:
        conn.putheader(name, value)
    if body or method in ("POST", "PUT"):
        conn.putheader("Content-Length", str(len(body)))
    conn.endheaders(body or None)
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp, data


@pytest.fixture()
def url(functions: Functions) -> str:
    name = functions.python(HANDLER, timeout=2)
    created: str = functions.client.create_function_url_config(FunctionName=name, AuthType="NONE")["FunctionUrl"]
    return created


def echo(url: str, target: str = "/echo", body: bytes = b"", headers: list[tuple[str, str]] | None = None) -> Any:
    resp, data = send(url, "POST" if body else "GET", target, body, headers)
    assert resp.status == 200, data
    return json.loads(data)


def test_request_event_fields(url: str) -> None:
    parts = urlsplit(url)
    url_id = parts.hostname.split(".")[0] if parts.hostname else ""
    before = int(time.time() * 1000)
    event = echo(
        url,
        "/echo?q=query&multiQuery=foo&multiQuery=%2Fbar&flag",
        b'{"foo": "bar"}',
        [("Content-Type", "application/json"), ("ExTrA-HeadErs", "With WeiRd CapS"), ("User-Agent", "test/echo")],
    )
    after = int(time.time() * 1000)
    assert list(event)[:4] == ["version", "routeKey", "rawPath", "rawQueryString"]
    assert event["version"] == "2.0" and event["routeKey"] == "$default"
    assert event["rawPath"] == "/echo"
    assert event["rawQueryString"] == "q=query&multiQuery=foo&multiQuery=%2Fbar&flag"
    # Values decoded, repeated keys joined (AWS recorded "foo,/bar").
    assert event["queryStringParameters"] == {"q": "query", "multiQuery": "foo,/bar", "flag": ""}
    assert event["body"] == '{"foo": "bar"}' and event["isBase64Encoded"] is False
    assert "cookies" not in event
    for absent in ("pathParameters", "stageVariables"):
        assert absent not in event
    headers = event["headers"]
    assert headers["extra-headers"] == "With WeiRd CapS"  # name lower-cased, value as sent
    assert headers["content-type"] == "application/json" and headers["content-length"] == "14"
    assert headers["host"] == parts.netloc and headers["user-agent"] == "test/echo"
    assert headers["x-forwarded-for"] == "127.0.0.1"
    assert headers["x-forwarded-proto"] == "http" and headers["x-forwarded-port"] == str(parts.port)
    assert all(name == name.lower() for name in headers)
    context = event["requestContext"]
    assert set(context) == {
        "accountId",
        "apiId",
        "domainName",
        "domainPrefix",
        "http",
        "requestId",
        "routeKey",
        "stage",
        "time",
        "timeEpoch",
    }
    assert context["accountId"] == "anonymous"
    assert context["apiId"] == context["domainPrefix"] == url_id
    assert context["domainName"] == parts.hostname
    assert context["http"] == {
        "method": "POST",
        "path": "/echo",
        "protocol": "HTTP/1.1",
        "sourceIp": "127.0.0.1",
        "userAgent": "test/echo",
    }
    assert context["routeKey"] == "$default" and context["stage"] == "$default"
    assert UUID.fullmatch(context["requestId"])
    assert CLF_TIME.fullmatch(context["time"]), context["time"]
    assert before <= context["timeEpoch"] <= after


def test_the_source_ip_is_the_connections_not_a_forwarded_header(url: str) -> None:
    # The server is nobody's proxy: what a client claims in X-Forwarded-* changes neither the
    # source address nor the scheme the function is told of (uvicorn's proxy headers are off).
    event = echo(url, headers=[("X-Forwarded-For", "203.0.113.9"), ("X-Forwarded-Proto", "https")])
    assert event["requestContext"]["http"]["sourceIp"] == "127.0.0.1"
    assert event["headers"]["x-forwarded-proto"] == "http"


def test_repeated_headers_are_joined_and_hop_by_hop_ones_dropped(url: str) -> None:
    event = echo(url, headers=[("X-Multi", "one"), ("X-Multi", "two"), ("Connection", "keep-alive")])
    assert event["headers"]["x-multi"] == "one,two"
    assert "connection" not in event["headers"]
    assert "queryStringParameters" not in event and event["rawQueryString"] == ""
    # No body: no "body" member, and not base64 (AWS recorded a bodiless POST so).
    assert "body" not in event and event["isBase64Encoded"] is False


def test_path_is_kept_as_sent(url: str) -> None:
    # As sent, percent-encoding (even a broken one) included (AWS recorded "/pa2%Fth/1").
    event = echo(url, "/echo/pa2%Fth/1")
    assert event["rawPath"] == event["requestContext"]["http"]["path"] == "/echo/pa2%Fth/1"


def test_cookies_come_as_a_list_and_leave_the_headers(url: str) -> None:
    event = echo(url, headers=[("Cookie", "c1=v1; c2=v2"), ("Cookie", "c3=v3")])
    assert event["cookies"] == ["c1=v1", "c2=v2", "c3=v3"]
    assert "cookie" not in event["headers"]
    # listed after rawQueryString, before headers, as in the doc's example
    assert list(event).index("cookies") == list(event).index("rawQueryString") + 1


@pytest.mark.parametrize(
    ("content_type", "encoded"),
    [
        ("text/plain", False),
        ("text/html; charset=utf-8", False),
        ("application/json", False),
        ("application/xml", False),
        ("application/javascript", False),
        ("application/octet-stream", True),
        ("multipart/form-data; boundary=4efd159eae0c4f4e125a5a509e073d85", True),
        ("application/x-www-form-urlencoded", True),
        ("image/png", True),
        (None, True),
    ],
)
def test_which_bodies_are_base64(url: str, content_type: str | None, encoded: bool) -> None:
    body = b"{'key':'value'}"
    headers = [("Content-Type", content_type)] if content_type else []
    event = echo(url, body=body, headers=headers)
    assert event["isBase64Encoded"] is encoded
    assert (base64.b64decode(event["body"]) if encoded else event["body"].encode()) == body


def test_binary_bodies_in_and_out(url: str) -> None:
    raw = bytes(range(256))
    event = echo(url, body=raw, headers=[("Content-Type", "application/octet-stream")])
    assert event["isBase64Encoded"] is True and base64.b64decode(event["body"]) == raw
    # Text that is not UTF-8 cannot travel as text: base64 too.
    event = echo(url, body=b"caf\xe9", headers=[("Content-Type", "text/plain; charset=latin-1")])
    assert event["isBase64Encoded"] is True and base64.b64decode(event["body"]) == b"caf\xe9"
    resp, data = send(url, "GET", "/png")
    assert resp.status == 200 and resp.getheader("content-type") == "image/png"
    assert data == raw


@pytest.mark.parametrize(
    ("result", "body"),
    [
        # AWS's answers recorded by TestLambdaURL::test_lambda_url_invocation[...] in 2025.
        ('{"hello": "world"}', b'{"hello":"world"}'),  # dict
        ('{"statusCode": 200, "body": "body123"}', b"body123"),  # http-response
        ('{"statusCode": 200, "body": "{\\"hello\\": \\"world\\"}"}', b'{"hello": "world"}'),  # http-response-json
        ('["hello", 3, true]', b'["hello",3,true]'),  # list-mixed
        ('"hello"', b"hello"),  # string
        ("3", b"3"),  # integer
        ("3.1", b"3.1"),  # float
        ("true", b"true"),  # boolean
        # A JSON object with "body" but no statusCode is a plain result (the doc's inference rule).
        ('{"body": "x", "headers": {"a": "b"}}', b'{"body":"x","headers":{"a":"b"}}'),
        ("null", b"null"),
    ],
)
def test_results_are_inferred_as_aws_does(url: str, result: str, body: bytes) -> None:
    resp, data = send(url, "POST", "/return", result.encode(), [("Content-Type", "application/json")])
    assert resp.status == 200
    assert data == body
    assert resp.getheader("content-type") == "application/json"
    assert resp.getheader("content-length") == str(len(body))


def test_a_status_code_result_is_the_response(url: str) -> None:
    result = {
        "statusCode": 201,
        "headers": {"Content-Type": "text/plain", "My-Custom-Header": "Custom Value"},
        "cookies": ["Cookie_1=Value1; Expires=21 Oct 2021 07:48 GMT", "Cookie_2=Value2; Max-Age=78000"],
        "body": "created",
        "isBase64Encoded": False,
    }
    resp, data = send(url, "POST", "/return", json.dumps(result).encode(), [("Content-Type", "application/json")])
    assert resp.status == 201 and data == b"created"
    assert resp.getheader("my-custom-header") == "Custom Value"
    assert resp.getheader("content-type") == "text/plain"
    assert [v for k, v in resp.getheaders() if k.lower() == "set-cookie"] == result["cookies"]
    # A string status code counts (recorded: test_lambda_url_headers_and_status).
    teapot = {"statusCode": "418", "body": "i'm a teapot"}
    resp, data = send(url, "POST", "/return", json.dumps(teapot).encode(), [("Content-Type", "application/json")])
    assert (resp.status, data) == (418, b"i'm a teapot")
    # No body: an empty one; a JSON body that is not a string: serialized.
    resp, data = send(url, "POST", "/return", b'{"statusCode": 204}', [("Content-Type", "application/json")])
    assert (resp.status, data) == (204, b"")
    resp, data = send(
        url, "POST", "/return", b'{"statusCode": 200, "body": {"a": [1]}}', [("Content-Type", "application/json")]
    )
    assert (resp.status, data) == (200, b'{"a":[1]}')


def test_request_id_header_names_the_invocation(url: str) -> None:
    resp, data = send(url, "GET", "/")
    assert resp.status == 200
    assert resp.getheader("x-amzn-RequestId") == json.loads(data)["request_id"]
    event = echo(url)
    assert UUID.fullmatch(event["requestContext"]["requestId"])


def test_function_errors_and_timeouts_are_502(url: str) -> None:
    # AWS's answer (recorded: test_lambda_url_invocation_exception): 502, "Internal Server Error".
    for target in ("/raise", "/sleep"):
        resp, data = send(url, "GET", target)
        assert (resp.status, data) == (502, b"Internal Server Error"), target
        assert resp.getheader("x-amzn-RequestId")
    # A statusCode that is no number cannot be a response.
    resp, data = send(url, "POST", "/return", b'{"statusCode": "teapot"}', [("Content-Type", "application/json")])
    assert (resp.status, data) == (502, b"Internal Server Error")


def test_a_throttled_url_answers_429(functions: Functions) -> None:
    name = functions.python(HANDLER)
    created = functions.client.create_function_url_config(FunctionName=name, AuthType="NONE")
    functions.client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    resp, data = send(created["FunctionUrl"], "GET", "/")
    assert resp.status == 429
    assert json.loads(data) == {"Message": "Rate Exceeded."}


def test_a_result_that_is_not_json_is_the_body(functions: Functions) -> None:
    name = functions.create(
        {"bootstrap": NOT_JSON_BOOTSTRAP}, runtime="provided.al2023", handler="none", modes={"bootstrap": 0o755}
    )
    created = functions.client.create_function_url_config(FunctionName=name, AuthType="NONE")
    resp, data = send(created["FunctionUrl"], "GET", "/")
    assert (resp.status, data) == (200, b"plain text, not JSON")
