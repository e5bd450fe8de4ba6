"""Code signing configurations through boto3 and the AWS CLI.

Expected texts and shapes are AWS's, as recorded by LocalStack's parity snapshots
(``TestCodeSigningConfig`` and ``test_ops_on_nonexisting_fn`` in test_lambda_api.snapshot.json).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import ROLE, Server, wait_active

ACCOUNT = "000000000000"
ARN_PREFIX = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:"
PROFILE = f"arn:aws:signer:us-east-1:{ACCOUNT}:/signing-profiles/test"
CSC_ARN = re.compile(rf"arn:aws:lambda:us-east-1:{ACCOUNT}:code-signing-config:(csc-[a-z0-9]{{17}})")
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000")


def _create_function(client: Any, name: str, code: bytes) -> None:
    client.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Handler="handler.handler",
        Role=ROLE,
        Code={"ZipFile": code},
    )
    wait_active(client, name)


def _create_config(client: Any, policy: str | None = "Enforce", **kw: Any) -> dict[str, Any]:
    if policy is not None:
        kw["CodeSigningPolicies"] = {"UntrustedArtifactOnDeployment": policy}
    resp = client.create_code_signing_config(AllowedPublishers={"SigningProfileVersionArns": [PROFILE]}, **kw)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 201
    return dict(resp["CodeSigningConfig"])


def _error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str, int]:
    resp = exc.value.response
    return resp["Error"]["Code"], resp["Error"]["Message"], resp["ResponseMetadata"]["HTTPStatusCode"]


def _body(resp: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in resp.items() if k != "ResponseMetadata"}


def test_lifecycle(lambda_client: Any, fn_name: str, echo_zip: bytes) -> None:
    client = lambda_client
    _create_function(client, fn_name, echo_zip)
    created = _create_config(client, Description="Testing CodeSigning Config")
    arn = created["CodeSigningConfigArn"]
    m = CSC_ARN.fullmatch(arn)
    assert m is not None
    assert TIMESTAMP.fullmatch(created.pop("LastModified"))
    assert created == {
        "CodeSigningConfigId": m.group(1),
        "CodeSigningConfigArn": arn,
        "Description": "Testing CodeSigning Config",
        "AllowedPublishers": {"SigningProfileVersionArns": [PROFILE]},
        "CodeSigningPolicies": {"UntrustedArtifactOnDeployment": "Enforce"},
    }

    updated = client.update_code_signing_config(
        CodeSigningConfigArn=arn, CodeSigningPolicies={"UntrustedArtifactOnDeployment": "Warn"}
    )["CodeSigningConfig"]
    updated.pop("LastModified")
    assert updated == {**created, "CodeSigningPolicies": {"UntrustedArtifactOnDeployment": "Warn"}}
    got = client.get_code_signing_config(CodeSigningConfigArn=arn)["CodeSigningConfig"]
    got.pop("LastModified")
    assert got == updated

    put = client.put_function_code_signing_config(CodeSigningConfigArn=arn, FunctionName=fn_name)
    assert _body(put) == {"CodeSigningConfigArn": arn, "FunctionName": fn_name}
    assert _body(client.get_function_code_signing_config(FunctionName=ARN_PREFIX + fn_name)) == {
        "CodeSigningConfigArn": arn,
        "FunctionName": fn_name,
    }
    listed = client.get_paginator("list_code_signing_configs").paginate().build_full_result()["CodeSigningConfigs"]
    assert arn in [c["CodeSigningConfigArn"] for c in listed]
    assert _body(client.list_functions_by_code_signing_config(CodeSigningConfigArn=arn)) == {
        "FunctionArns": [ARN_PREFIX + fn_name]
    }

    # In use: AWS refuses to delete it.
    with pytest.raises(ClientError) as exc:
        client.delete_code_signing_config(CodeSigningConfigArn=arn)
    code, message, status = _error(exc)
    assert (code, status) == ("ResourceConflictException", 409) and arn in message

    deleted = client.delete_function_code_signing_config(FunctionName=fn_name)
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert _body(client.get_function_code_signing_config(FunctionName=fn_name)) == {}
    assert client.list_functions_by_code_signing_config(CodeSigningConfigArn=arn)["FunctionArns"] == []
    deleted = client.delete_code_signing_config(CodeSigningConfigArn=arn)
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as exc:
        client.get_code_signing_config(CodeSigningConfigArn=arn)
    assert _error(exc)[0] == "ResourceNotFoundException"


def test_not_found(lambda_client: Any, fn_name: str, echo_zip: bytes) -> None:
    client = lambda_client
    _create_function(client, fn_name, echo_zip)
    arn = _create_config(client, Description="Testing CodeSigning Config")["CodeSigningConfigArn"]
    invalid = arn[:-1] + ("x" if arn[-1] != "x" else "y")
    missing_fn = "csc-test-doesnotexist"
    csc_missing = (
        "ResourceNotFoundException",
        f"The Lambda code signing configuration {invalid} can not be found.",
        404,
    )
    fn_missing = ("ResourceNotFoundException", f"Function not found: {ARN_PREFIX}{missing_fn}", 404)

    with pytest.raises(ClientError) as exc:
        client.delete_code_signing_config(CodeSigningConfigArn=invalid)
    assert _error(exc) == csc_missing
    # Nothing attached: deleting the attachment still succeeds.
    assert client.delete_function_code_signing_config(FunctionName=fn_name)["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as exc:
        client.delete_function_code_signing_config(FunctionName=missing_fn)
    assert _error(exc) == fn_missing

    with pytest.raises(ClientError) as exc:
        client.put_function_code_signing_config(FunctionName=missing_fn, CodeSigningConfigArn=arn)
    assert _error(exc) == fn_missing
    csc_gone = (
        "CodeSigningConfigNotFoundException",
        f"The code signing configuration cannot be found. Check that the provided configuration is not deleted: {invalid}.",
        404,
    )
    for name in (fn_name, missing_fn):  # the configuration is checked first
        with pytest.raises(client.exceptions.CodeSigningConfigNotFoundException) as exc:
            client.put_function_code_signing_config(FunctionName=name, CodeSigningConfigArn=invalid)
        assert _error(exc) == csc_gone

    with pytest.raises(ClientError) as exc:
        client.update_code_signing_config(CodeSigningConfigArn=invalid, Description="new-description")
    assert _error(exc) == csc_missing
    with pytest.raises(ClientError) as exc:
        client.update_code_signing_config(CodeSigningConfigArn=invalid)
    assert _error(exc) == csc_missing
    unchanged = client.update_code_signing_config(CodeSigningConfigArn=arn)["CodeSigningConfig"]
    assert unchanged["CodeSigningPolicies"] == {"UntrustedArtifactOnDeployment": "Enforce"}
    assert unchanged["Description"] == "Testing CodeSigning Config"

    with pytest.raises(ClientError) as exc:
        client.get_code_signing_config(CodeSigningConfigArn=invalid)
    assert _error(exc) == csc_missing
    assert _body(client.get_function_code_signing_config(FunctionName=fn_name)) == {}
    with pytest.raises(ClientError) as exc:
        client.get_function_code_signing_config(FunctionName=missing_fn)
    assert _error(exc) == fn_missing

    assert client.list_functions_by_code_signing_config(CodeSigningConfigArn=arn)["FunctionArns"] == []
    with pytest.raises(ClientError) as exc:
        client.list_functions_by_code_signing_config(CodeSigningConfigArn=invalid)
    assert _error(exc) == csc_missing
    client.delete_code_signing_config(CodeSigningConfigArn=arn)


def test_defaults_regions_and_paging(server: Server, lambda_client: Any, fn_name: str, echo_zip: bytes) -> None:
    client = lambda_client
    config = _create_config(client, policy=None)
    assert config["CodeSigningPolicies"] == {"UntrustedArtifactOnDeployment": "Warn"}
    arns = [config["CodeSigningConfigArn"]] + [_create_config(client)["CodeSigningConfigArn"] for _ in range(2)]

    # Configurations are regional.
    other = server.client(region="eu-west-1")
    with pytest.raises(ClientError) as exc:
        other.get_code_signing_config(CodeSigningConfigArn=arns[0])
    assert _error(exc)[0] == "ResourceNotFoundException"
    assert arns[0] not in [c["CodeSigningConfigArn"] for c in other.list_code_signing_configs()["CodeSigningConfigs"]]

    seen: list[str] = []
    kw: dict[str, Any] = {"MaxItems": 1}
    while True:
        page = client.list_code_signing_configs(**kw)
        assert len(page["CodeSigningConfigs"]) <= 1
        seen += [c["CodeSigningConfigArn"] for c in page["CodeSigningConfigs"]]
        if "NextMarker" not in page:
            break
        kw["Marker"] = page["NextMarker"]
    assert set(arns) <= set(seen) and len(seen) == len(set(seen))

    names = [f"{fn_name}-{n}" for n in range(3)]
    for name in names:
        _create_function(client, name, echo_zip)
        client.put_function_code_signing_config(FunctionName=name, CodeSigningConfigArn=arns[1])
    first = client.list_functions_by_code_signing_config(CodeSigningConfigArn=arns[1], MaxItems=2)
    assert len(first["FunctionArns"]) == 2 and first["NextMarker"]
    rest = client.list_functions_by_code_signing_config(CodeSigningConfigArn=arns[1], Marker=first["NextMarker"])
    assert first["FunctionArns"] + rest["FunctionArns"] == [ARN_PREFIX + n for n in names]

    # A deleted function no longer holds its configuration.
    for name in names:
        client.delete_function(FunctionName=name)
    for arn in arns:
        client.delete_code_signing_config(CodeSigningConfigArn=arn)


def test_cli(server: Server, lambda_client: Any, fn_name: str, echo_zip: bytes) -> None:
    out = server.cli_json(
        "lambda",
        "create-code-signing-config",
        "--description",
        "from the cli",
        "--allowed-publishers",
        f"SigningProfileVersionArns={PROFILE}",
    )
    config = out["CodeSigningConfig"]
    assert CSC_ARN.fullmatch(config["CodeSigningConfigArn"])
    assert config["CodeSigningPolicies"] == {"UntrustedArtifactOnDeployment": "Warn"}
    assert config["Description"] == "from the cli"
    _create_function(lambda_client, fn_name, echo_zip)
    out = server.cli_json(
        "lambda",
        "put-function-code-signing-config",
        "--function-name",
        fn_name,
        "--code-signing-config-arn",
        config["CodeSigningConfigArn"],
    )
    assert out == {"CodeSigningConfigArn": config["CodeSigningConfigArn"], "FunctionName": fn_name}
    server.cli("lambda", "delete-function-code-signing-config", "--function-name", fn_name)
    server.cli("lambda", "delete-code-signing-config", "--code-signing-config-arn", config["CodeSigningConfigArn"])
