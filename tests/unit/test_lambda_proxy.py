"""The REST API side without HTTP: which API a request is for (neighbours/execute_api.py), which
resource a path matches, and the Lambda proxy event and response mapping (neighbours/lambda_proxy.py),
with the values AWS recorded (LocalStack's test_apigateway_lambda.snapshot.json)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from locallambda.neighbours.execute_api import Target, function_of, match_resource, target_of
from locallambda.neighbours.lambda_proxy import MalformedAnswer, ProxyRequest, Route, proxy_answer, proxy_event

ROUTE = Route(
    account_id="000000000000",
    region="us-east-1",
    api_id="abc123",
    stage="stage",
    deployment_id="dep1",
    stage_variables={},
    resource_id="res1",
    resource_path="/{proxy+}",
    path_parameters={"proxy": "proxy-value"},
    integration_type="AWS_PROXY",
    integration_uri="arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
    "arn:aws:lambda:us-east-1:000000000000:function:${stageVariables.fn}:live/invocations",
)


def test_targets() -> None:
    host = "abc123.execute-api.localhost.localstack.cloud:4566"
    assert target_of(host, "/stage/proxy-value/") == Target("abc123", "stage", "/proxy-value/")
    assert target_of(host, "//stage/proxy-value") == Target("abc123", "stage", "/proxy-value")
    assert target_of(host, "/stage//proxy-value") == Target("abc123", "stage", "//proxy-value")
    assert target_of(host, "/stage") == Target("abc123", "stage", "")
    assert target_of(host, "/") == Target("abc123", None, "")
    assert target_of("ABC123.execute-api.localhost:4566", "/Prod/hello/") == Target("abc123", "Prod", "/hello/")
    assert target_of("127.0.0.1:4566", "/restapis/abc123/Prod/_user_request_/hello") == Target(
        "abc123", "Prod", "/hello"
    )
    assert target_of("127.0.0.1:4566", "/restapis/abc123/Prod/_user_request_") == Target("abc123", "Prod", "")
    assert target_of("127.0.0.1:4566", "/_aws/execute-api/abc123/Prod/a/b") == Target("abc123", "Prod", "/a/b")
    # the control plane's own paths and other hosts are not requests for an API
    assert target_of("127.0.0.1:4566", "/restapis/abc123/stages/Prod") is None
    assert target_of("sqs.us-east-1.localhost.localstack.cloud:4566", "/stage/x") is None
    assert target_of(None, "/2015-03-31/functions") is None


def test_resource_matching() -> None:
    assert match_resource("/", "") == ((), {})
    assert match_resource("/", "/") == ((), {})
    assert match_resource("/{proxy+}", "/") is None  # a greedy parameter never takes the root
    assert match_resource("/{proxy+}", "/proxy-value//double-slash") == ((2,), {"proxy": "proxy-value//double-slash"})
    assert match_resource("/{proxy+}", "/proxy-value/") == ((2,), {"proxy": "proxy-value"})
    assert match_resource("/items/{id}", "/items/a%2Bb") == ((0, 1), {"id": "a%2Bb"})
    assert match_resource("/items/{id}", "/items/a/b") is None
    assert match_resource("/items/{id}", "/items//") is None
    assert match_resource("/hardcoded", "//hardcoded") == ((0,), {})
    # a literal before a parameter before a greedy one
    ranks = [match_resource(t, "/items/special") for t in ("/items/special", "/items/{id}", "/{proxy+}")]
    assert [r[0] for r in ranks if r] == sorted(r[0] for r in ranks if r)


segment = st.text(alphabet="abcxyz019-_.%@+", min_size=1, max_size=8)


@given(st.lists(segment, min_size=1, max_size=5), st.booleans())
def test_literal_and_greedy_templates_match_their_paths(parts: list[str], trailing: bool) -> None:
    path = "/" + "/".join(parts) + ("/" if trailing else "")
    assert match_resource("/" + "/".join(parts), path) == ((0,) * len(parts), {})
    assert match_resource("/{proxy+}", path) == ((2,), {"proxy": "/".join(parts)})
    params = {f"p{i}": p for i, p in enumerate(parts)}
    template = "/" + "/".join(f"{{p{i}}}" for i in range(len(parts)))
    assert match_resource(template, path) == ((1,) * len(parts), params)


def test_function_of_a_lambda_uri_fills_stage_variables() -> None:
    route = Route(**{**_fields(ROUTE), "stage_variables": {"fn": "worker"}})
    assert function_of(route) == "arn:aws:lambda:us-east-1:000000000000:function:worker:live"


def _fields(route: Route) -> dict[str, Any]:
    return {f: getattr(route, f) for f in route.__slots__}


def _request(
    path: str, query: str = "", body: bytes = b"", headers: list[tuple[str, str]] | None = None
) -> ProxyRequest:
    base = [("host", "abc123.execute-api.localhost.localstack.cloud:4566"), ("user-agent", "python-requests/testing")]
    return ProxyRequest("GET", path, query, [*base, *(headers or [])], body, "10.0.0.7", 4566)


def test_event_paths_and_query() -> None:
    event = proxy_event(
        _request("//proxy-value/", "a=1&a=2&plus=test+alias@x&email=test%2Balias@x&blank"), ROUTE, "rid", 1.5
    )
    assert event["path"] == "/proxy-value/"
    assert event["requestContext"]["path"] == "/stage//proxy-value/"
    assert event["queryStringParameters"] == {"a": "2", "plus": "test alias@x", "email": "test+alias@x", "blank": ""}
    assert event["multiValueQueryStringParameters"]["a"] == ["1", "2"]
    assert event["requestContext"]["requestTimeEpoch"] == 1500
    assert event["requestContext"]["requestTime"] == "01/Jan/1970:00:00:01 +0000"
    assert event["requestContext"]["identity"]["sourceIp"] == "10.0.0.7"
    assert event["headers"]["User-Agent"] == "python-requests/testing"
    assert event["stageVariables"] is None and event["body"] is None


def test_event_headers_repeated_and_dropped() -> None:
    headers = [("x-thing", "1"), ("x-thing", "2"), ("connection", "keep-alive"), ("x-forwarded-for", "1.2.3.4")]
    event = proxy_event(_request("/a", headers=headers), ROUTE, "rid")
    assert event["headers"]["X-Thing"] == "2"
    assert event["multiValueHeaders"]["X-Thing"] == ["1", "2"]
    assert "Connection" not in event["headers"]
    assert event["headers"]["X-Forwarded-For"] == "1.2.3.4, 10.0.0.7"


def test_event_bodies() -> None:
    binary_route = Route(**{**_fields(ROUTE), "binary_media_types": ("image/*",)})
    png = proxy_event(_request("/a", body=b"\x89PNG", headers=[("content-type", "image/png")]), binary_route, "r")
    assert (png["body"], png["isBase64Encoded"]) == (base64.b64encode(b"\x89PNG").decode(), True)
    text = proxy_event(
        _request("/a", body="héllo".encode(), headers=[("content-type", "text/plain")]), binary_route, "r"
    )
    assert (text["body"], text["isBase64Encoded"]) == ("héllo", False)
    raw = proxy_event(_request("/a", body=b"\xff\xfe"), ROUTE, "r")  # not UTF-8
    assert raw["isBase64Encoded"] is True


def _answer(doc: Any, accept: str | None = None, binary: tuple[str, ...] = ()) -> Any:
    return proxy_answer(json.dumps(doc).encode(), accept, binary)


def test_answers() -> None:
    empty = _answer({"statusCode": 200})
    assert (empty.status, empty.headers, empty.body) == (200, [("Content-Type", "application/json")], b"")
    assert _answer({"statusCode": "201"}).status == 201
    assert _answer({"headers": {"test-header": "value"}}).status == 200
    flags = _answer({"statusCode": 200, "headers": {"header-bool": True, "n": 5}})
    assert ("header-bool", "true") in flags.headers and ("n", "5") in flags.headers
    merged = _answer({"multiValueHeaders": {"tesT-Multi": ["value-multi"]}, "headers": {"test-multi": "value-solo"}})
    assert [h for h in merged.headers if h[0].lower() == "test-multi"] == [
        ("tesT-Multi", "value-multi"),
        ("tesT-Multi", "value-solo"),
    ]
    same = _answer({"multiValueHeaders": {"a": ["1"]}, "headers": {"a": "1"}})
    assert [h for h in same.headers if h[0] == "a"] == [("a", "1")]  # the same pair once
    framed = _answer({"headers": {"Content-Length": "999", "X-Bad Name": "x", "X-Split": "a\r\nb"}})
    assert [h[0] for h in framed.headers] == ["Content-Type", "X-Split"] and framed.headers[1][1] == "ab"


def test_base64_answers() -> None:
    doc = {"statusCode": 200, "body": base64.b64encode(b"test-data").decode(), "isBase64Encoded": True}
    assert _answer(doc).body == b"dGVzdC1kYXRh"  # no binary media types: the text, as AWS answers
    assert _answer(doc, "image/png, */*", ("image/png",)).body == b"test-data"
    assert _answer(doc, "text/html", ("image/png",)).body == b"dGVzdC1kYXRh"
    assert _answer(doc, "text/html", ("*/*",)).body == b"test-data"
    with pytest.raises(MalformedAnswer):
        _answer({**doc, "body": "not base64!"}, "image/png", ("image/png",))


@pytest.mark.parametrize(
    "doc",
    [
        {"statusCode": 200, "wrongValue": "value"},
        "justAString",
        ["a", "list"],
        {"statusCode": 200, "multiValueHeaders": {"test-multi-invalid": "value1"}},
        {"statusCode": "test"},
        {"statusCode": True},
        {"statusCode": 99},
        {"headers": ["a"]},
        {"headers": {"a": {"b": 1}}},
        {"body": {"a": 1}},
    ],
)
def test_malformed_answers(doc: Any) -> None:
    with pytest.raises(MalformedAnswer):
        _answer(doc)
    with pytest.raises(MalformedAnswer):
        proxy_answer(b"{not json", None, ())
