"""Requests to a function URL reach the function as payload-format 2.0 events, and its answer
becomes the HTTP response (routing by the Host header, as on LocalStack)."""

from __future__ import annotations

import http.client
import json
from typing import Any
from urllib.parse import urlsplit

from tests.invoke.conftest import Functions

ECHO_EVENT = """\
import json
def handler(event, context):
    if event.get("rawPath") == "/raw":
        return {"just": "json"}
    if event.get("rawPath") == "/boom":
        raise RuntimeError("boom")
    return {"statusCode": 201, "headers": {"x-echo": "yes", "content-type": "application/json"},
            "cookies": ["a=1"], "body": json.dumps(event)}
"""


def request(url: str, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None) -> Any:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection("127.0.0.1", parts.port, timeout=30)
    conn.request(method, path, body=body, headers={"Host": parts.netloc, **(headers or {})})
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp, data


def test_function_url_invokes_the_function(functions: Functions) -> None:
    name = functions.python(ECHO_EVENT)
    url = functions.client.create_function_url_config(FunctionName=name, AuthType="NONE")["FunctionUrl"]
    resp, data = request(
        url,
        "POST",
        "/some/path?x=1&x=2&y=3",
        b'{"hello": "url"}',
        {"Content-Type": "application/json", "Cookie": "c1=v1; c2=v2"},
    )
    assert resp.status == 201
    assert resp.getheader("x-echo") == "yes"
    assert resp.getheader("set-cookie") == "a=1"
    event = json.loads(data)
    assert event["version"] == "2.0" and event["routeKey"] == "$default"
    assert event["rawPath"] == "/some/path" and event["rawQueryString"] == "x=1&x=2&y=3"
    assert event["queryStringParameters"] == {"x": "1,2", "y": "3"}
    assert event["requestContext"]["http"]["method"] == "POST"
    assert event["body"] == '{"hello": "url"}' and event["isBase64Encoded"] is False
    assert event["cookies"] == ["c1=v1", "c2=v2"]


def test_plain_json_result_and_function_error(functions: Functions) -> None:
    name = functions.python(ECHO_EVENT)
    url = functions.client.create_function_url_config(FunctionName=name, AuthType="NONE")["FunctionUrl"]
    resp, data = request(url, "GET", "/raw")
    assert resp.status == 200 and json.loads(data) == {"just": "json"}
    resp, data = request(url, "GET", "/boom")
    assert resp.status == 502


def test_unknown_url_id(functions: Functions) -> None:
    port = urlsplit(functions.server.url).port
    resp, _ = request(
        f"http://abcdefabcdefabcdefabcdefabcdef12.lambda-url.us-east-1.localhost.localstack.cloud:{port}/", "GET", "/"
    )
    assert resp.status == 404
