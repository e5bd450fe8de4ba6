"""TagResource / UntagResource / ListTags against a real server, checked against AWS's recorded
answers."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import ROLE, Server, wait_active

ACCOUNT = "000000000000"
REGION = "us-east-1"
NOT_ON_QUALIFIED = "Tags on function aliases and versions are not supported. Please specify a function ARN."


def _create(client: Any, name: str, zip_bytes: bytes, **kw: Any) -> str:
    out = client.create_function(
        FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="handler.handler", Code={"ZipFile": zip_bytes}, **kw
    )
    return str(out["FunctionArn"])


def _error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, int, str]:
    r = exc.value.response
    return r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"], r["Error"]["Message"]


def test_tag_lifecycle(lambda_client: Any, fn_name: str, echo_zip: bytes) -> None:
    arn = _create(lambda_client, fn_name, echo_zip, Tags={"key_a": "value_a"})
    assert lambda_client.list_tags(Resource=arn)["Tags"] == {"key_a": "value_a"}
    revision = lambda_client.get_function(FunctionName=fn_name)["Configuration"]["RevisionId"]

    resp = lambda_client.tag_resource(Resource=arn, Tags={"B": "tag-b", "C": "tag-c"})
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 204
    lambda_client.tag_resource(Resource=arn, Tags={"C": "tag-c-newsuffix", "D": "tag-d"})
    assert lambda_client.list_tags(Resource=arn)["Tags"] == {
        "key_a": "value_a",
        "B": "tag-b",
        "C": "tag-c-newsuffix",
        "D": "tag-d",
    }
    got = lambda_client.get_function(FunctionName=fn_name)
    assert got["Tags"] == {"key_a": "value_a", "B": "tag-b", "C": "tag-c-newsuffix", "D": "tag-d"}
    # Tagging changes the function's RevisionId, as on AWS.
    assert got["Configuration"]["RevisionId"] != revision

    resp = lambda_client.untag_resource(Resource=arn, TagKeys=["key_a", "B"])
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert lambda_client.list_tags(Resource=arn)["Tags"] == {"C": "tag-c-newsuffix", "D": "tag-d"}
    lambda_client.untag_resource(Resource=arn, TagKeys=["F"])  # unknown keys are ignored
    lambda_client.untag_resource(Resource=arn, TagKeys=["C", "D", "F"])
    assert lambda_client.list_tags(Resource=arn)["Tags"] == {}
    assert "Tags" not in lambda_client.get_function(FunctionName=fn_name)

    lambda_client.delete_function(FunctionName=fn_name)
    with pytest.raises(ClientError) as e:
        lambda_client.list_tags(Resource=arn)
    assert _error(e) == ("ResourceNotFoundException", 404, f"Function not found: {arn}")


def test_tag_errors(lambda_client: Any, fn_name: str, echo_zip: bytes) -> None:
    arn = _create(lambda_client, fn_name, echo_zip)
    missing = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:doesnotexist"
    with pytest.raises(ClientError) as e:
        lambda_client.tag_resource(Resource="arn:aws:something", Tags={"key_a": "value_a"})
    code, status, message = _error(e)
    assert (code, status) == ("ValidationException", 400)
    assert message.startswith(
        "1 validation error detected: Value 'arn:aws:something' at 'resource' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: arn:(aws[a-zA-Z-]*):lambda:"
    )
    for call in (
        lambda: lambda_client.tag_resource(Resource=missing, Tags={"A": "B"}),
        lambda: lambda_client.untag_resource(Resource=missing, TagKeys=["A"]),
        lambda: lambda_client.list_tags(Resource=missing),
    ):
        with pytest.raises(ClientError) as e:
            call()
        assert _error(e) == ("ResourceNotFoundException", 404, f"Function not found: {missing}")

    # The qualifier is refused before the function's existence is checked.
    for resource in (f"{arn}:v1", f"{arn}:$LATEST", f"{missing}:1"):
        with pytest.raises(ClientError) as e:
            lambda_client.tag_resource(Resource=resource, Tags={"key_a": "value_a"})
        assert _error(e) == ("InvalidParameterValueException", 400, NOT_ON_QUALIFIED)
    with pytest.raises(ClientError) as e:
        lambda_client.list_tags(Resource=f"{arn}:v1")
    assert _error(e) == ("InvalidParameterValueException", 400, NOT_ON_QUALIFIED)

    with pytest.raises(ClientError) as e:
        lambda_client.untag_resource(Resource=arn, TagKeys=[])
    assert _error(e) == (
        "ValidationException",
        400,
        "1 validation error detected: Value null at 'tagKeys' failed to satisfy constraint: Member must not be null",
    )
    with pytest.raises(ClientError) as e:
        lambda_client.tag_resource(Resource=arn, Tags={})
    assert _error(e) == (
        "InvalidParameterValueException",
        400,
        "An error occurred and the request cannot be processed.",
    )
    with pytest.raises(ClientError) as e:
        lambda_client.tag_resource(Resource=arn, Tags={"bad#key": "v"})
    assert _error(e)[:2] == ("ValidationException", 400)
    assert "Map keys must satisfy constraint" in _error(e)[2]
    with pytest.raises(ClientError) as e:
        lambda_client.tag_resource(Resource=arn, Tags={"k": "bad!value"})
    assert "Map value must satisfy constraint" in _error(e)[2]
    # Unicode letters, spaces and the listed punctuation are fine.
    lambda_client.tag_resource(Resource=arn, Tags={"Grüße à tous": "v_1.2:3/4=5+6-7@8"})
    assert lambda_client.list_tags(Resource=arn)["Tags"] == {"Grüße à tous": "v_1.2:3/4=5+6-7@8"}


def test_tag_versions_refused(lambda_client: Any, fn_name: str, echo_zip: bytes) -> None:
    _create(lambda_client, fn_name, echo_zip, Tags={"key_a": "value_a"})
    wait_active(lambda_client, fn_name)
    version_arn = lambda_client.publish_version(FunctionName=fn_name)["FunctionArn"]
    with pytest.raises(ClientError) as e:
        lambda_client.tag_resource(Resource=version_arn, Tags={"key_b": "value_b"})
    assert _error(e) == ("InvalidParameterValueException", 400, NOT_ON_QUALIFIED)


def test_tag_limit(lambda_client: Any, fn_name: str, echo_zip: bytes) -> None:
    arn = _create(lambda_client, fn_name, echo_zip)
    with pytest.raises(ClientError) as e:
        lambda_client.tag_resource(Resource=arn, Tags={f"{k}_key": f"{k}_value" for k in range(51)})
    assert _error(e) == ("InvalidParameterValueException", 400, "Number of tags exceeds resource tag limit.")
    lambda_client.tag_resource(Resource=arn, Tags={f"{k}_key": f"{k}_value" for k in range(50)})
    assert len(lambda_client.list_tags(Resource=arn)["Tags"]) == 50
    with pytest.raises(ClientError) as e:
        lambda_client.tag_resource(Resource=arn, Tags={"a_key": "a_value"})
    assert _error(e) == ("InvalidParameterValueException", 400, "Number of tags exceeds resource tag limit.")
    # Overwriting existing keys stays within the limit.
    lambda_client.tag_resource(Resource=arn, Tags={"0_key": "new"})
    assert lambda_client.list_tags(Resource=arn)["Tags"]["0_key"] == "new"


def test_create_function_with_too_many_tags(lambda_client: Any, fn_name: str, echo_zip: bytes) -> None:
    with pytest.raises(ClientError) as e:
        _create(lambda_client, fn_name, echo_zip, Tags={f"{k}_key": f"{k}_value" for k in range(51)})
    assert _error(e) == ("InvalidParameterValueException", 400, "Number of tags exceeds resource tag limit.")


def test_other_resource_kinds_not_found(lambda_client: Any) -> None:
    esm = f"arn:aws:lambda:{REGION}:{ACCOUNT}:event-source-mapping:0b6b2a49-3a07-4f3b-8e0e-6a1d1b6f5c11"
    with pytest.raises(ClientError) as e:
        lambda_client.list_tags(Resource=esm)
    assert _error(e) == ("ResourceNotFoundException", 404, f"Event source mapping not found: {esm}")
    with pytest.raises(ClientError) as e:
        lambda_client.tag_resource(Resource=esm, Tags={"A": "B"})
    assert _error(e) == ("ResourceNotFoundException", 404, f"Event source mapping not found: {esm}")
    capacity = f"arn:aws:lambda:{REGION}:{ACCOUNT}:capacity-provider:some-provider"
    with pytest.raises(ClientError) as e:
        lambda_client.untag_resource(Resource=capacity, TagKeys=["A"])
    assert _error(e) == ("ResourceNotFoundException", 404, f"Capacity provider not found: {capacity}")
    with pytest.raises(ClientError) as e:
        lambda_client.list_tags(Resource=f"{esm}:alias")
    assert _error(e)[:2] == ("ValidationException", 400)


def test_cli_tags(server: Server, lambda_client: Any, fn_name: str, echo_zip: bytes) -> None:
    arn = _create(lambda_client, fn_name, echo_zip)
    server.cli("lambda", "tag-resource", "--resource", arn, "--tags", "team=core,env=dev")
    assert server.cli_json("lambda", "list-tags", "--resource", arn) == {"Tags": {"team": "core", "env": "dev"}}
    server.cli("lambda", "untag-resource", "--resource", arn, "--tag-keys", "env")
    assert server.cli_json("lambda", "list-tags", "--resource", arn) == {"Tags": {"team": "core"}}


def test_a_non_taggable_arn_is_quoted_as_aws_does(lambda_client: Any) -> None:
    arn = "arn:aws:lambda:us-east-1:000000000000:foo:bar"
    with pytest.raises(ClientError) as e:
        lambda_client.list_tags(Resource=arn)
    # AWS's text (LocalStack's test_tag_exceptions), which knows layers and no network connectors.
    assert e.value.response["Error"]["Message"] == (
        f"1 validation error detected: Value '{arn}' at 'resource' failed to satisfy constraint: Member must satisfy "
        r"regular expression pattern: arn:(aws[a-zA-Z-]*):lambda:(eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-"
        r"\d{1}:\d{12}:(function:[a-zA-Z0-9-_]+(:(\$LATEST|[a-zA-Z0-9-_]+))?|layer:([a-zA-Z0-9-_]+)|"
        r"code-signing-config:csc-[a-z0-9]{17}|event-source-mapping:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
        r"[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|capacity-provider:[a-zA-Z0-9-_]+)"
    )
