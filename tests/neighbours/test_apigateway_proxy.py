"""REST APIs made with boto3 (CreateRestApi, PutMethod, PutIntegration ``AWS_PROXY``,
CreateDeployment; ImportRestApi of a Swagger 2.0 definition) answer requests through this
server's functions, as API Gateway's Lambda proxy integration does.

The function gets the payload-format 1.0 event (set-up-lambda-proxy-integrations.html, "Input
format"; the values AWS sends, as LocalStack's test_lambda_aws_proxy_integration recorded them);
its answer becomes the response ("Output format"; malformed answers as AWS recorded them in
test_aws_proxy_response_payload_format_validation). Requests are made with the Host header of
LocalStack's forms (``<api>.execute-api.localhost.localstack.cloud:<port>``,
``<api>.execute-api.localhost:<port>``) and its path forms.
"""

from __future__ import annotations

import base64
import dataclasses
import http.client
import json
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import Server
from tests.invoke.conftest import Functions, unique

ECHO = """
import json

def handler(event, context):
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": json.dumps(event)}
"""

# Answers with whatever the request's body asks for (LocalStack's LAMBDA_RESPONSE_FROM_BODY).
RESPONDER = """
import json

def handler(event, context):
    if event["body"] == "raise":
        raise RuntimeError("asked to fail")
    return json.loads(event["body"])
"""

INTERNAL = {"message": "Internal server error"}
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe"


@dataclasses.dataclass
class Api:
    id: str
    port: int
    deployment_id: str
    resources: dict[str, str]  # path → resource id

    @property
    def host(self) -> str:
        return f"{self.id}.execute-api.localhost.localstack.cloud:{self.port}"


@dataclasses.dataclass
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        found = [v for k, v in self.headers if k.lower() == name.lower()]
        return found[-1] if found else None

    def json(self) -> Any:
        return json.loads(self.body)


def call(
    port: int, host: str, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> Answer:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request(method, path, body=body, headers={"Host": host, **(headers or {})})
        resp = conn.getresponse()
        return Answer(resp.status, resp.getheaders(), resp.read())
    finally:
        conn.close()


def event_of(api: Api, method: str, path: str, **kw: Any) -> Any:
    answer = call(api.port, api.host, method, path, **kw)
    assert answer.status == 200, (answer.status, answer.body)
    return answer.json()


def _integrate(apigw: Any, api_id: str, resource_id: str, method: str, function_arn: str) -> None:
    apigw.put_method(restApiId=api_id, resourceId=resource_id, httpMethod=method, authorizationType="NONE")
    apigw.put_integration(
        restApiId=api_id,
        resourceId=resource_id,
        httpMethod=method,
        type="AWS_PROXY",
        integrationHttpMethod="POST",
        uri=f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{function_arn}/invocations",
    )


@pytest.fixture(scope="module")
def api(srv: Server) -> Iterator[Api]:
    """An API of stage ``test`` (variable color=blue, binary media type image/png): ``GET /``,
    ``GET /items/{itemId}``, ``GET /items/special``, ``ANY /files/{proxy+}`` answered by an echo
    of the event, ``POST /respond`` by the answer the body asks for."""
    fns = Functions(srv)
    lam = srv.client()
    echo = lam.get_function(FunctionName=fns.python(ECHO))["Configuration"]["FunctionArn"]
    responder = lam.get_function(FunctionName=fns.python(RESPONDER))["Configuration"]["FunctionArn"]
    apigw = srv.client("apigateway")
    api_id = apigw.create_rest_api(name=unique("api"))["id"]
    root = apigw.get_resources(restApiId=api_id)["items"][0]["id"]
    resources = {"/": root}

    def child(parent: str, part: str) -> str:
        made = apigw.create_resource(restApiId=api_id, parentId=resources[parent], pathPart=part)
        resources[made["path"]] = made["id"]
        return str(made["path"])

    child("/", "items")
    child("/items", "{itemId}")
    child("/items", "special")
    child("/", "files")
    child("/files", "{proxy+}")
    child("/", "respond")
    for path, method, fn in (
        ("/", "GET", echo),
        ("/items/{itemId}", "GET", echo),
        ("/items/special", "GET", echo),
        ("/files/{proxy+}", "ANY", echo),
        ("/respond", "POST", responder),
    ):
        _integrate(apigw, api_id, resources[path], method, fn)
    apigw.update_rest_api(restApiId=api_id, patchOperations=[{"op": "add", "path": "/binaryMediaTypes/image~1png"}])
    deployment = apigw.create_deployment(restApiId=api_id, stageName="test", variables={"color": "blue"})
    yield Api(api_id, srv.port, deployment["id"], resources)
    apigw.delete_rest_api(restApiId=api_id)
    fns.cleanup()


def test_event_of_a_get(api: Api) -> None:
    before = time.time()
    event = event_of(
        api,
        "GET",
        "/test/items/abc%2Bdef?color=red&color=green&plain=a+b%2Bc&empty",
        headers={"X-Custom-Header": "one", "User-Agent": "tester/1.0", "Accept": "application/json"},
    )
    assert event["resource"] == "/items/{itemId}"
    assert event["path"] == "/items/abc%2Bdef"  # as sent, not decoded
    assert event["httpMethod"] == "GET"
    assert event["pathParameters"] == {"itemId": "abc%2Bdef"}
    assert event["queryStringParameters"] == {"color": "green", "plain": "a b+c", "empty": ""}
    assert event["multiValueQueryStringParameters"] == {"color": ["red", "green"], "plain": ["a b+c"], "empty": [""]}
    assert event["stageVariables"] == {"color": "blue"}
    assert event["body"] is None and event["isBase64Encoded"] is False
    headers = event["headers"]
    assert headers["Host"] == api.host
    assert headers["X-Custom-Header"] == "one"
    assert headers["User-Agent"] == "tester/1.0"
    assert headers["X-Forwarded-For"] == "127.0.0.1"
    assert headers["X-Forwarded-Port"] == str(api.port)
    assert headers["X-Forwarded-Proto"] == "http"
    assert re.fullmatch(r"Root=1-[0-9a-f]{8}-[0-9a-f]{24}", headers["X-Amzn-Trace-Id"])
    assert "Content-Length" not in headers and "Connection" not in headers
    assert event["multiValueHeaders"] == {k: [v] for k, v in headers.items()}
    context = event["requestContext"]
    assert context["accountId"] == "000000000000"
    assert context["apiId"] == api.id
    assert context["deploymentId"] == api.deployment_id
    assert context["domainName"] == f"{api.id}.execute-api.localhost.localstack.cloud"
    assert context["domainPrefix"] == api.id
    assert context["httpMethod"] == "GET"
    assert context["path"] == "/test/items/abc%2Bdef"
    assert context["protocol"] == "HTTP/1.1"
    assert context["resourceId"] == api.resources["/items/{itemId}"]
    assert context["resourcePath"] == "/items/{itemId}"
    assert context["stage"] == "test"
    assert re.fullmatch(r"[0-9a-f-]{36}", context["requestId"])
    assert re.fullmatch(r"\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d \+0000", context["requestTime"])
    assert before * 1000 - 1000 <= context["requestTimeEpoch"] <= time.time() * 1000 + 1000
    identity = context["identity"]
    assert identity["sourceIp"] == "127.0.0.1" and identity["userAgent"] == "tester/1.0"
    assert identity["accessKey"] is None and identity["cognitoIdentityId"] is None and identity["userArn"] is None


def test_resource_choice(api: Api) -> None:
    # a literal path part before a parameter
    special = event_of(api, "GET", "/test/items/special")
    assert special["resource"] == "/items/special" and special["pathParameters"] is None
    # a trailing slash is ignored for the match and kept in the path
    item = event_of(api, "GET", "/test/items/42/")
    assert (item["resource"], item["path"], item["pathParameters"]) == (
        "/items/{itemId}",
        "/items/42/",
        {"itemId": "42"},
    )
    # ANY takes every method; a greedy parameter the rest of the path, inner double slashes kept
    deleted = event_of(api, "DELETE", "/test/files/a/b//c.txt/")
    assert deleted["resource"] == "/files/{proxy+}" and deleted["httpMethod"] == "DELETE"
    assert deleted["path"] == "/files/a/b//c.txt/"
    assert deleted["pathParameters"] == {"proxy": "a/b//c.txt"}
    # the root, and leading slashes made one (requestContext.path keeps them)
    root = event_of(api, "GET", "/test/")
    assert (root["resource"], root["path"]) == ("/", "/")
    doubled = event_of(api, "GET", "/test//items/7")
    assert (doubled["resource"], doubled["path"]) == ("/items/{itemId}", "/items/7")
    assert doubled["requestContext"]["path"] == "/test//items/7"


def test_request_bodies(api: Api) -> None:
    text = event_of(api, "PUT", "/test/files/notes.txt", body=b'{"a": 1}', headers={"Content-Type": "application/json"})
    assert text["body"] == '{"a": 1}' and text["isBase64Encoded"] is False
    assert text["headers"]["Content-Type"] == "application/json"
    binary = event_of(api, "POST", "/test/files/image.png", body=PNG, headers={"Content-Type": "image/png"})
    assert binary["isBase64Encoded"] is True
    assert base64.b64decode(binary["body"]) == PNG


def respond(api: Api, answer: Any, accept: str | None = None) -> Answer:
    headers = {"Content-Type": "application/json"}
    if accept:
        headers["Accept"] = accept
    body = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
    return call(api.port, api.host, "POST", "/test/respond", body=body, headers=headers)


def test_response_status_headers_and_body(api: Api) -> None:
    created = respond(api, {"statusCode": 201, "headers": {"X-One": "1", "X-Flag": True}, "body": "created"})
    assert created.status == 201 and created.body == b"created"
    assert created.header("X-One") == "1" and created.header("X-Flag") == "true"
    assert created.header("Content-Type") == "application/json"  # API Gateway's default
    assert re.fullmatch(r"[0-9a-f-]{36}", created.header("x-amzn-RequestId") or "")

    accepted = respond(api, {"statusCode": "202"})  # a status given as a string
    assert (accepted.status, accepted.body) == (202, b"")
    plain = respond(api, {"headers": {"Content-Type": "text/plain"}, "body": "hi"})  # 200 when absent
    assert (plain.status, plain.header("Content-Type"), plain.body) == (200, "text/plain", b"hi")


def test_multi_value_headers_are_merged(api: Api) -> None:
    answer = respond(
        api, {"statusCode": 200, "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"]}, "headers": {"set-cookie": "c=3"}}
    )
    assert answer.status == 200
    assert [v for k, v in answer.headers if k.lower() == "set-cookie"] == ["a=1", "b=2", "c=3"]


def test_base64_bodies(api: Api) -> None:
    encoded = base64.b64encode(PNG).decode()
    answer = {"statusCode": 200, "headers": {"Content-Type": "image/png"}, "body": encoded, "isBase64Encoded": True}
    # decoded when the client's first Accept type is one of the API's binary media types
    binary = respond(api, answer, accept="image/png")
    assert (binary.status, binary.body) == (200, PNG)
    # otherwise the base64 text is the body, as AWS answers
    text = respond(api, answer, accept="application/json")
    assert (text.status, text.body) == (200, encoded.encode())


@pytest.mark.parametrize(
    "answer",
    [
        {"statusCode": 200, "wrongValue": "value"},
        "justAString",
        {"statusCode": 200, "multiValueHeaders": {"test-multi-invalid": "value1"}},
        {"statusCode": "test"},
        {"statusCode": 200, "body": {"not": "a string"}},
    ],
    ids=["extra-key", "string", "multi-value-not-list", "bad-status", "body-not-string"],
)
def test_malformed_answers_are_502(api: Api, answer: Any) -> None:
    got = respond(api, answer)
    assert got.status == 502, got.body
    assert got.json() == INTERNAL
    assert got.header("x-amzn-ErrorType") == "InternalServerErrorException"


def test_function_error_is_502(api: Api) -> None:
    got = respond(api, b"raise")
    assert (got.status, got.json()) == (502, INTERNAL)


def test_gateway_answers(api: Api) -> None:
    for method, path in (("GET", "/test/nothing/here"), ("POST", "/test/items/abc")):
        got = call(api.port, api.host, method, path)
        assert (got.status, got.json()) == (403, {"message": "Missing Authentication Token"}), (method, path)
        assert got.header("x-amzn-ErrorType") == "MissingAuthenticationTokenException"
    unknown_stage = call(api.port, api.host, "GET", "/nostage/items/abc")
    assert unknown_stage.status == 404
    assert unknown_stage.json() == {
        "message": f"The API id '{api.id}' does not correspond to a deployed API Gateway API"
    }
    unknown_api = call(api.port, f"nosuchapi1.execute-api.localhost.localstack.cloud:{api.port}", "GET", "/test/")
    assert unknown_api.status == 404


def test_request_forms(api: Api) -> None:
    loopback = f"127.0.0.1:{api.port}"
    for host, path in (
        (f"{api.id}.execute-api.localhost:{api.port}", "/test/items/abc"),
        (loopback, f"/restapis/{api.id}/test/_user_request_/items/abc"),
        (loopback, f"/_aws/execute-api/{api.id}/test/items/abc"),
    ):
        answer = call(api.port, host, "GET", path)
        assert answer.status == 200, (host, path, answer.body)
        event = answer.json()
        assert (event["resource"], event["path"], event["pathParameters"]) == (
            "/items/{itemId}",
            "/items/abc",
            {"itemId": "abc"},
        ), (host, path)
        assert event["requestContext"]["path"] == "/test/items/abc"


def test_imported_swagger_with_any_method_and_stage_variables(srv: Server, functions: Functions) -> None:
    name = functions.python(ECHO)
    uri = (
        "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
        "arn:aws:lambda:us-east-1:000000000000:function:${stageVariables.fn}/invocations"
    )
    integration = {"type": "aws_proxy", "httpMethod": "POST", "uri": uri}
    definition = {
        "swagger": "2.0",
        "info": {"title": unique("imported"), "version": "1.0"},
        "x-amazon-apigateway-binary-media-types": ["application/octet-stream"],
        "paths": {
            "/": {"get": {"x-amazon-apigateway-integration": integration, "responses": {}}},
            "/{proxy+}": {
                "parameters": [{"name": "proxy", "in": "path", "required": True, "type": "string"}],
                "x-amazon-apigateway-any-method": {"x-amazon-apigateway-integration": integration, "responses": {}},
            },
        },
    }
    apigw = srv.client("apigateway")
    api_id = apigw.import_rest_api(body=json.dumps(definition).encode())["id"]
    try:
        assert apigw.get_rest_api(restApiId=api_id)["binaryMediaTypes"] == ["application/octet-stream"]
        methods = {
            r["path"]: sorted(r.get("resourceMethods", {})) for r in apigw.get_resources(restApiId=api_id)["items"]
        }
        assert methods == {"/": ["GET"], "/{proxy+}": ["ANY"]}
        proxy = next(r["id"] for r in apigw.get_resources(restApiId=api_id)["items"] if r["path"] == "/{proxy+}")
        assert apigw.get_integration(restApiId=api_id, resourceId=proxy, httpMethod="ANY")["type"] == "AWS_PROXY"
        apigw.create_deployment(restApiId=api_id, stageName="prod", variables={"fn": name})
        imported = Api(api_id, srv.port, "", {})
        patched = event_of(imported, "PATCH", "/prod/x/y")
        assert (patched["resource"], patched["pathParameters"], patched["httpMethod"]) == (
            "/{proxy+}",
            {"proxy": "x/y"},
            "PATCH",
        )
        assert event_of(imported, "GET", "/prod")["resource"] == "/"
    finally:
        apigw.delete_rest_api(restApiId=api_id)
