"""Members of the wrong type, lone surrogates and deep JSON: refused before any handler runs,
answered as AWS answers, nothing stored, the server healthy afterwards.

Sent through raw HTTP: boto3 refuses to send a wrong type. AWS Lambda's front end is Coral; the
one recorded answer of a Coral rest-json service to a wrong member type (API Gateway, LocalStack's
``test_apigateway_api.snapshot.json``: ``put-integration-request-param-wrong-type``,
``test_integration_response_invalid_responsetemplates``) is a 400 ``SerializationException``
``class java.lang.Boolean can not be converted to an String``; these tests expect that shape for
every type. Deep JSON follows Jackson's ``StreamReadConstraints`` (maximum nesting depth 1000).
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from tests.abuse.wire import Answer, assert_aws_error, send
from tests.conftest import ROLE, Server, make_zip

ZIP = base64.b64encode(make_zip({"handler.py": "def handler(event, context):\n    return event\n"})).decode()
NUMBER = "com.amazon.coral.value.json.numbers.TruncatingBigNumber"
DEPTH_ERROR = (
    "Document nesting depth (1001) exceeds the maximum allowed (1000, from StreamReadConstraints.getMaxNestingDepth())"
)


def create_body(name: str, **members: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "FunctionName": name,
        "Runtime": "python3.12",
        "Role": ROLE,
        "Handler": "handler.handler",
        "Code": {"ZipFile": ZIP},
    }
    body.update(members)
    return body


def post_json(srv: Server, path: str, doc: Any) -> Answer:
    return send(srv.port, "POST", path, json.dumps(doc).encode())


def function_names(srv: Server) -> list[str]:
    answer = send(srv.port, "GET", "/2015-03-31/functions/")
    assert answer.status == 200, answer.body
    return sorted(f["FunctionName"] for f in answer.json()["Functions"])


def assert_refused(answer: Answer, code: str, message: str) -> None:
    assert answer.status == 400, (answer.status, answer.body[:400])
    assert_aws_error(answer)
    assert answer.error_type == code
    assert answer.message == message


# (member, value, the Java class AWS names for the value, the type it names for the member)
CREATE_CASES = {
    "memory-size-string": ("MemorySize", "abc", "java.lang.String", "Integer"),
    "timeout-list": ("Timeout", [1], "java.util.ArrayList", "Integer"),
    "ephemeral-size-string": ("EphemeralStorage", {"Size": "x"}, "java.lang.String", "Integer"),
    "code-string": ("Code", "str", "java.lang.String", "FunctionCode"),
    "description-number": ("Description", 5, NUMBER, "String"),
    "publish-string": ("Publish", "yes", "java.lang.String", "Boolean"),
    "tags-list": ("Tags", [], "java.util.ArrayList", "Map"),
    "environment-variables-string": ("Environment", {"Variables": "x"}, "java.lang.String", "Map"),
    "environment-value-number": ("Environment", {"Variables": {"KEY": 1}}, NUMBER, "String"),
    "layers-object": ("Layers", {"a": 1}, "java.util.LinkedHashMap", "List"),
    "architectures-number": ("Architectures", [1], NUMBER, "String"),
    "memory-size-bool": ("MemorySize", True, "java.lang.Boolean", "Integer"),
    "memory-size-too-big-for-an-int": ("MemorySize", 2**40, NUMBER, "Integer"),
    "vpc-config-number": ("VpcConfig", 7, NUMBER, "VpcConfig"),
}


@pytest.mark.parametrize("case", list(CREATE_CASES))
def test_create_function_with_a_member_of_the_wrong_type_is_refused_and_stores_nothing(
    server: Server, fn_name: str, case: str
) -> None:
    member, value, java_class, target = CREATE_CASES[case]
    before = function_names(server)
    answer = post_json(server, "/2015-03-31/functions", create_body(fn_name, **{member: value}))
    assert_refused(answer, "SerializationException", f"class {java_class} can not be converted to an {target}")
    assert send(server.port, "GET", f"/2015-03-31/functions/{fn_name}").status == 404
    assert function_names(server) == before


def test_update_function_configuration_with_a_wrong_type_changes_nothing(server: Server, fn_name: str) -> None:
    created = post_json(server, "/2015-03-31/functions", create_body(fn_name, MemorySize=256))
    assert created.status == 201, created.body
    answer = send(
        server.port,
        "PUT",
        f"/2015-03-31/functions/{fn_name}/configuration",
        json.dumps({"MemorySize": "abc", "Timeout": [1]}).encode(),
    )
    assert_refused(answer, "SerializationException", "class java.lang.String can not be converted to an Integer")
    config = send(server.port, "GET", f"/2015-03-31/functions/{fn_name}/configuration").json()
    assert (config["MemorySize"], config["Timeout"]) == (256, 3)


def test_a_uri_member_of_the_wrong_type_is_refused(server: Server) -> None:
    # VersionNumber is a long in the path of GetLayerVersion.
    answer = send(server.port, "GET", "/2018-10-31/layers/some-layer/versions/abc")
    assert answer.status == 400, answer.body
    assert_aws_error(answer)
    assert answer.error_type == "SerializationException"


def test_a_querystring_member_of_the_wrong_type_is_refused(server: Server) -> None:
    answer = send(server.port, "GET", "/2015-03-31/functions/?MaxItems=1_0")
    assert answer.status == 400, answer.body
    assert_aws_error(answer)
    assert answer.error_type == "SerializationException"


# -- lone surrogates and invalid UTF-8 ----------------------------------------------------------

SURROGATE = "Could not parse request body into json: Unmatched first part of surrogate pair (0xd800)"


def test_a_lone_surrogate_in_a_function_name_is_refused(server: Server) -> None:
    before = function_names(server)
    body = json.dumps(create_body("a\ud800")).encode()  # the JSON escape \ud800
    assert b"\\ud800" in body
    assert_refused(send(server.port, "POST", "/2015-03-31/functions", body), "SerializationException", SURROGATE)
    assert function_names(server) == before


def test_a_lone_surrogate_in_any_string_member_is_refused(server: Server, fn_name: str) -> None:
    for members in (
        {"Description": "x\ud800"},
        {"Environment": {"Variables": {"KEY": "\ud800"}}},
        {"Tags": {"\ud800": "v"}},
    ):
        answer = post_json(server, "/2015-03-31/functions", create_body(fn_name, **members))
        assert_refused(answer, "SerializationException", SURROGATE)
    assert send(server.port, "GET", f"/2015-03-31/functions/{fn_name}").status == 404


def test_invalid_utf8_in_a_body_or_a_path_is_a_client_error(server: Server) -> None:
    answer = send(server.port, "POST", "/2015-03-31/functions", b'{"FunctionName": "\xed\xa0\x80", "Role": "\xff"}')
    assert answer.status == 400, answer.body
    assert_aws_error(answer)
    assert answer.error_type == "SerializationException"
    # The UTF-8 encoding of a surrogate, percent-encoded in the path: not a name AWS's pattern allows.
    answer = send(server.port, "GET", "/2015-03-31/functions/a%ED%A0%80b")
    assert answer.status == 400, answer.body
    assert_aws_error(answer)
    assert answer.error_type == "ValidationException"


def test_a_function_invoked_with_a_lone_surrogate_in_its_payload_is_not_a_server_error(
    server: Server, fn_name: str
) -> None:
    assert post_json(server, "/2015-03-31/functions", create_body(fn_name)).status == 201
    answer = send(
        server.port,
        "POST",
        f"/2015-03-31/functions/{fn_name}/invocations",
        b'{"a": "\\ud800"}',
        headers={"x-amz-invocation-type": "DryRun"},
    )
    # Jackson reads the escape as a (lone) UTF-16 unit: the payload is JSON.
    assert answer.status in (204, 409), answer.body  # 409 while the function is still Pending


# -- deep JSON ------------------------------------------------------------------------------------


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def test_a_create_function_body_nested_deeper_than_jackson_reads_is_refused(server: Server) -> None:
    before = function_names(server)
    body = b'{"FunctionName": "deep", "Junk": ' + nested(1000) + b"}"  # the object is level 1
    answer = send(server.port, "POST", "/2015-03-31/functions", body)
    assert_refused(answer, "SerializationException", f"Could not parse request body into json: {DEPTH_ERROR}")
    for depth in (5000, 100_000):
        answer = send(server.port, "POST", "/2015-03-31/functions", nested(depth))
        assert_refused(answer, "SerializationException", f"Could not parse request body into json: {DEPTH_ERROR}")
    assert function_names(server) == before
    assert send(server.port, "GET", "/_localstack/health").status == 200


def test_a_body_nested_as_deep_as_jackson_reads_is_parsed(server: Server, fn_name: str) -> None:
    # 1000 levels, unknown members aside: the request is read (and the function created).
    body = json.dumps(create_body(fn_name)).encode()[:-1] + b', "Junk": ' + nested(999) + b"}"
    answer = send(server.port, "POST", "/2015-03-31/functions", body)
    assert answer.status == 201, answer.body[:400]


def test_an_invoke_payload_nested_deeper_than_jackson_reads_is_refused(server: Server, fn_name: str) -> None:
    assert post_json(server, "/2015-03-31/functions", create_body(fn_name)).status == 201
    path = f"/2015-03-31/functions/{fn_name}/invocations"
    dry = {"x-amz-invocation-type": "DryRun"}
    for depth in (1001, 200_000):
        answer = send(server.port, "POST", path, nested(depth), headers=dry)
        assert answer.status == 400, answer.body[:400]
        assert_aws_error(answer)
        assert answer.error_type == "InvalidRequestContentException"
        assert answer.message == (
            f"Could not parse request body into json: Could not parse payload into json: {DEPTH_ERROR}"
        )
    # As deep as Jackson reads: the payload is JSON (DryRun answers 204, or 409 while Pending).
    assert send(server.port, "POST", path, nested(1000), headers=dry).status in (204, 409)
    assert send(server.port, "GET", "/_localstack/health").status == 200
