"""Function URL configurations through boto3 and the AWS CLI (the config API only).

Expected texts are AWS's, as recorded by LocalStack's parity snapshots (``TestLambdaUrl`` in
test_lambda_api.snapshot.json, ``TestLambdaURL`` in test_lambda.snapshot.json).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import ROLE, Server, wait_active

ARN_PREFIX = "arn:aws:lambda:us-east-1:000000000000:function:"
TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")
QUALIFIER_PATTERN = r"((?!^\d+$)^[0-9a-zA-Z-_]+$)"


def _url_pattern(server: Server) -> re.Pattern[str]:
    return re.compile(rf"http://[a-z0-9]{{32}}\.lambda-url\.us-east-1\.localhost\.localstack\.cloud:{server.port}/")


def _create(client: Any, name: str, code: bytes, alias: str | None = None, **kw: Any) -> None:
    client.create_function(
        FunctionName=name, Runtime="python3.12", Handler="handler.handler", Role=ROLE, Code={"ZipFile": code}, **kw
    )
    if alias:
        wait_active(client, name)
        version = client.publish_version(FunctionName=name)["Version"]
        client.create_alias(FunctionName=name, Name=alias, FunctionVersion=version)


def _error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str, int]:
    resp = exc.value.response
    return resp["Error"]["Code"], resp["Error"]["Message"], resp["ResponseMetadata"]["HTTPStatusCode"]


def test_url_config_lifecycle(server: Server, lambda_client: Any, fn_name: str, echo_zip: bytes) -> None:
    _create(lambda_client, fn_name, echo_zip)
    arn = ARN_PREFIX + fn_name

    created = lambda_client.create_function_url_config(FunctionName=fn_name, AuthType="NONE")
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    created.pop("ResponseMetadata")
    # No LastModifiedTime, and no InvokeMode unless the request set one.
    assert set(created) == {"FunctionUrl", "FunctionArn", "AuthType", "CreationTime"}
    assert _url_pattern(server).fullmatch(created["FunctionUrl"])
    assert created["FunctionArn"] == arn
    assert created["AuthType"] == "NONE"
    assert TIME.fullmatch(created["CreationTime"])

    with pytest.raises(ClientError) as exc:
        lambda_client.create_function_url_config(FunctionName=fn_name, AuthType="NONE")
    assert _error(exc) == (
        "ResourceConflictException",
        f"Failed to create function url config for [functionArn = {arn}]. Error message:  "
        "FunctionUrlConfig exists for this Lambda function",
        409,
    )

    got = lambda_client.get_function_url_config(FunctionName=fn_name)
    got.pop("ResponseMetadata")
    assert got == {**created, "InvokeMode": "BUFFERED", "LastModifiedTime": got["LastModifiedTime"]}
    assert TIME.fullmatch(got["LastModifiedTime"])

    updated = lambda_client.update_function_url_config(FunctionName=fn_name, AuthType="AWS_IAM")
    assert updated["AuthType"] == "AWS_IAM"
    assert "InvokeMode" not in updated
    assert updated["FunctionUrl"] == created["FunctionUrl"]
    assert updated["CreationTime"] == created["CreationTime"]
    assert updated["LastModifiedTime"] >= got["LastModifiedTime"]

    streamed = lambda_client.update_function_url_config(FunctionName=fn_name, InvokeMode="RESPONSE_STREAM")
    assert streamed["InvokeMode"] == "RESPONSE_STREAM"
    assert streamed["AuthType"] == "AWS_IAM"
    # An update without InvokeMode keeps the one set before.
    kept = lambda_client.update_function_url_config(FunctionName=fn_name)
    assert kept["InvokeMode"] == "RESPONSE_STREAM"
    assert lambda_client.get_function_url_config(FunctionName=fn_name)["InvokeMode"] == "RESPONSE_STREAM"

    deleted = lambda_client.delete_function_url_config(FunctionName=fn_name)
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as exc:
        lambda_client.get_function_url_config(FunctionName=fn_name)
    assert _error(exc) == ("ResourceNotFoundException", "The resource you requested does not exist.", 404)

    # The URL of a function and qualifier never changes, even when recreated.
    again = lambda_client.create_function_url_config(FunctionName=fn_name, AuthType="NONE", InvokeMode="BUFFERED")
    assert again["FunctionUrl"] == created["FunctionUrl"]
    assert again["InvokeMode"] == "BUFFERED"


def test_cors_is_stored_and_replaced(lambda_client: Any, fn_name: str, echo_zip: bytes) -> None:
    _create(lambda_client, fn_name, echo_zip)
    cors = {
        "AllowOrigins": ["https://example.com"],
        "AllowMethods": ["GET", "POST"],
        "AllowCredentials": True,
        "MaxAge": 60,
    }
    created = lambda_client.create_function_url_config(FunctionName=fn_name, AuthType="NONE", Cors=cors)
    assert created["Cors"] == cors
    assert lambda_client.get_function_url_config(FunctionName=fn_name)["Cors"] == cors
    replaced = lambda_client.update_function_url_config(FunctionName=fn_name, Cors={"AllowOrigins": ["*"]})
    assert replaced["Cors"] == {"AllowOrigins": ["*"]}
    assert replaced["AuthType"] == "NONE"


def test_url_config_exceptions(raw_client: Any, fn_name: str, echo_zip: bytes) -> None:
    _create(raw_client, fn_name, echo_zip, alias="urlalias")
    missing_arn = ARN_PREFIX + "doesnotexist"

    def qualifier_invalid(value: str) -> tuple[str, str, int]:
        return (
            "ValidationException",
            f"1 validation error detected: Value '{value}' at 'qualifier' failed to satisfy constraint: "
            f"Member must satisfy regular expression pattern: {QUALIFIER_PATTERN}",
            400,
        )

    mismatch = (
        "InvalidParameterValueException",
        "The derived qualifier from the function name does not match the specified qualifier.",
        400,
    )
    cases: list[tuple[dict[str, str], str]] = [
        ({"FunctionName": "doesnotexist"}, "fn_missing"),
        ({"FunctionName": missing_arn}, "fn_missing"),
        ({"FunctionName": "doesnotexist", "Qualifier": "1"}, "qualifier:1"),
        ({"FunctionName": fn_name, "Qualifier": "1"}, "qualifier:1"),
        ({"FunctionName": fn_name, "Qualifier": "2"}, "qualifier:2"),
        ({"FunctionName": fn_name, "Qualifier": "$LATEST"}, "qualifier:$LATEST"),
        ({"FunctionName": fn_name, "Qualifier": "v1"}, "alias_missing"),
        ({"FunctionName": f"{fn_name}:urlalias-doesnotmatch", "Qualifier": "urlalias"}, "mismatch"),
    ]
    # AWS words "not found" per operation: Create/Update say the function does not exist,
    # Get/Delete that the resource does not exist.
    operations = {
        "create": (raw_client.create_function_url_config, {"AuthType": "NONE"}, "Function does not exist"),
        "get": (raw_client.get_function_url_config, {}, "The resource you requested does not exist."),
        "update": (raw_client.update_function_url_config, {"AuthType": "AWS_IAM"}, "Function does not exist"),
        "delete": (raw_client.delete_function_url_config, {}, "The resource you requested does not exist."),
    }
    for op, (method, extra, not_found) in operations.items():
        for args, kind in cases:
            if op == "delete" and kind == "mismatch":
                continue  # AWS answers this one with an internal failure
            with pytest.raises(ClientError) as exc:
                method(**args, **extra)
            if kind.startswith("qualifier:"):
                expected = qualifier_invalid(kind.split(":", 1)[1])
            elif kind == "mismatch":
                expected = mismatch
            elif kind == "alias_missing" and op in ("get", "delete"):
                expected = ("ResourceNotFoundException", "The resource you requested does not exist.", 404)
            else:
                expected = ("ResourceNotFoundException", not_found, 404)
            assert _error(exc) == expected, (op, args)
        if op != "create":  # the function exists but has no URL
            with pytest.raises(ClientError) as exc:
                method(FunctionName=fn_name, **extra)
            assert _error(exc) == ("ResourceNotFoundException", "The resource you requested does not exist.", 404)


def test_list_and_qualifiers(server: Server, lambda_client: Any, fn_name: str, echo_zip: bytes) -> None:
    _create(lambda_client, fn_name, echo_zip, alias="urlalias")
    arn = ARN_PREFIX + fn_name

    with pytest.raises(ClientError) as exc:
        lambda_client.list_function_url_configs(FunctionName=f"{fn_name}-missing")
    assert _error(exc) == ("ResourceNotFoundException", "Function does not exist", 404)
    empty = lambda_client.list_function_url_configs(FunctionName=fn_name)
    assert empty["FunctionUrlConfigs"] == []
    assert "NextMarker" not in empty

    plain = lambda_client.create_function_url_config(FunctionName=fn_name, AuthType="NONE")
    aliased = lambda_client.create_function_url_config(
        FunctionName=f"{fn_name}:urlalias", Qualifier="urlalias", AuthType="AWS_IAM"
    )
    assert aliased["FunctionArn"] == f"{arn}:urlalias"
    assert aliased["FunctionUrl"] != plain["FunctionUrl"]
    assert _url_pattern(server).fullmatch(aliased["FunctionUrl"])
    by_qualifier = lambda_client.get_function_url_config(FunctionName=fn_name, Qualifier="urlalias")
    assert by_qualifier["FunctionUrl"] == aliased["FunctionUrl"]
    assert by_qualifier["AuthType"] == "AWS_IAM"

    listed = lambda_client.list_function_url_configs(FunctionName=fn_name)["FunctionUrlConfigs"]
    assert [c["FunctionArn"] for c in listed] == [arn, f"{arn}:urlalias"]
    assert all(c["InvokeMode"] == "BUFFERED" and "LastModifiedTime" in c for c in listed)

    first = lambda_client.list_function_url_configs(FunctionName=fn_name, MaxItems=1)
    assert len(first["FunctionUrlConfigs"]) == 1
    second = lambda_client.list_function_url_configs(FunctionName=fn_name, MaxItems=1, Marker=first["NextMarker"])
    assert len(second["FunctionUrlConfigs"]) == 1
    assert "NextMarker" not in second
    assert first["FunctionUrlConfigs"][0]["FunctionUrl"] != second["FunctionUrlConfigs"][0]["FunctionUrl"]

    # Deleting without a qualifier removes the unqualified URL only.
    lambda_client.delete_function_url_config(FunctionName=fn_name)
    with pytest.raises(ClientError) as exc:
        lambda_client.get_function_url_config(FunctionName=fn_name)
    assert _error(exc)[0] == "ResourceNotFoundException"
    assert (
        lambda_client.get_function_url_config(FunctionName=fn_name, Qualifier="urlalias")["FunctionArn"]
        == f"{arn}:urlalias"
    )

    # Deleting the alias takes its URL with it.
    lambda_client.delete_alias(FunctionName=fn_name, Name="urlalias")
    assert lambda_client.list_function_url_configs(FunctionName=fn_name)["FunctionUrlConfigs"] == []


def test_custom_id_tag(server: Server, lambda_client: Any, fn_name: str, echo_zip: bytes) -> None:
    # LocalStack's documented `_custom_id_` tag chooses the URL's subdomain.
    _create(lambda_client, fn_name, echo_zip, alias="live", Tags={"_custom_id_": "my-api"})
    plain = lambda_client.create_function_url_config(FunctionName=fn_name, AuthType="NONE")
    assert plain["FunctionUrl"] == f"http://my-api.lambda-url.us-east-1.localhost.localstack.cloud:{server.port}/"
    aliased = lambda_client.create_function_url_config(FunctionName=fn_name, Qualifier="live", AuthType="NONE")
    assert aliased["FunctionUrl"].startswith("http://my-api-live.lambda-url.")


def test_cli_function_url_config(server: Server, lambda_client: Any, fn_name: str, echo_zip: bytes) -> None:
    _create(lambda_client, fn_name, echo_zip)
    created = server.cli_json("lambda", "create-function-url-config", "--function-name", fn_name, "--auth-type", "NONE")
    assert _url_pattern(server).fullmatch(created["FunctionUrl"])
    got = server.cli_json("lambda", "get-function-url-config", "--function-name", fn_name)
    assert got["FunctionUrl"] == created["FunctionUrl"]
    assert got["InvokeMode"] == "BUFFERED"
    server.cli("lambda", "delete-function-url-config", "--function-name", fn_name)
    failed = server.cli("lambda", "get-function-url-config", "--function-name", fn_name, check=False)
    assert failed.returncode != 0
    assert "ResourceNotFoundException" in failed.stderr


@pytest.fixture()
def raw_client(server: Server) -> Any:
    """A client without boto3's own parameter checks, so the server's validation is exercised."""
    return server.client(parameter_validation=False)
