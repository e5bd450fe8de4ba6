"""Recursion and runtime-management configurations through boto3 and the AWS CLI.

Recursion texts are AWS's, as recorded by LocalStack's parity snapshots (``TestLambdaRecursion``);
runtime-management shapes follow the AWS API reference and CLI guide.
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import ROLE, Server, wait_active

ARN_PREFIX = "arn:aws:lambda:us-east-1:000000000000:function:"
RUNTIME_VERSION_ARN = (
    "arn:aws:lambda:us-east-1::runtime:8eeff65f6809a3ce81507fe733fe09b835899b99481ba22fd75b5a7338290ec1"
)


def _create(client: Any, name: str, code: bytes) -> None:
    client.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Handler="handler.handler",
        Role=ROLE,
        Code={"ZipFile": code},
    )
    wait_active(client, name)


def _error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str, int]:
    resp = exc.value.response
    return resp["Error"]["Code"], resp["Error"]["Message"], resp["ResponseMetadata"]["HTTPStatusCode"]


def _body(resp: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in resp.items() if k != "ResponseMetadata"}


@pytest.fixture()
def raw_client(server: Server) -> Any:
    """A client without boto3's own parameter checks, so the server's validation is exercised."""
    return server.client(parameter_validation=False)


def test_recursion_config(raw_client: Any, fn_name: str, echo_zip: bytes) -> None:
    client = raw_client
    _create(client, fn_name, echo_zip)
    assert _body(client.get_function_recursion_config(FunctionName=fn_name)) == {"RecursiveLoop": "Terminate"}
    put = client.put_function_recursion_config(FunctionName=fn_name, RecursiveLoop="Allow")
    assert put["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert _body(put) == {"RecursiveLoop": "Allow"}
    assert _body(client.get_function_recursion_config(FunctionName=ARN_PREFIX + fn_name)) == {"RecursiveLoop": "Allow"}

    with pytest.raises(ClientError) as exc:
        client.put_function_recursion_config(FunctionName=fn_name, RecursiveLoop="InvalidValue")
    assert _error(exc) == (
        "ValidationException",
        "1 validation error detected: Value 'InvalidValue' at 'recursiveLoop' failed to satisfy constraint: "
        "Member must satisfy enum value set: [Terminate, Allow]",
        400,
    )
    assert client.get_function_recursion_config(FunctionName=fn_name)["RecursiveLoop"] == "Allow"

    for op, kw in (
        (client.get_function_recursion_config, {}),
        (client.put_function_recursion_config, {"RecursiveLoop": "Allow"}),
    ):
        with pytest.raises(ClientError) as exc:
            op(FunctionName=fn_name + "-missing", **kw)
        assert _error(exc) == ("ResourceNotFoundException", f"Function not found: {ARN_PREFIX}{fn_name}-missing", 404)


def test_runtime_management_config(raw_client: Any, fn_name: str, echo_zip: bytes) -> None:
    client = raw_client
    _create(client, fn_name, echo_zip)
    arn = ARN_PREFIX + fn_name
    assert _body(client.get_runtime_management_config(FunctionName=fn_name)) == {
        "UpdateRuntimeOn": "Auto",
        "FunctionArn": arn,
    }

    put = client.put_runtime_management_config(FunctionName=fn_name, UpdateRuntimeOn="FunctionUpdate")
    assert _body(put) == {"UpdateRuntimeOn": "FunctionUpdate", "FunctionArn": arn}
    assert _body(client.get_runtime_management_config(FunctionName=fn_name)) == {
        "UpdateRuntimeOn": "FunctionUpdate",
        "FunctionArn": arn,
    }

    with pytest.raises(ClientError) as exc:
        client.put_runtime_management_config(FunctionName=fn_name, UpdateRuntimeOn="Manual")
    code, _, status = _error(exc)
    assert (code, status) == ("InvalidParameterValueException", 400)

    manual = {"UpdateRuntimeOn": "Manual", "FunctionArn": arn, "RuntimeVersionArn": RUNTIME_VERSION_ARN}
    put = client.put_runtime_management_config(
        FunctionName=fn_name, UpdateRuntimeOn="Manual", RuntimeVersionArn=RUNTIME_VERSION_ARN
    )
    assert _body(put) == manual
    assert _body(client.get_runtime_management_config(FunctionName=fn_name)) == manual
    assert _body(client.get_runtime_management_config(FunctionName=fn_name, Qualifier="$LATEST")) == {
        **manual,
        "FunctionArn": f"{arn}:$LATEST",
    }

    # Back to Auto: the runtime version ARN is no longer reported.
    client.put_runtime_management_config(FunctionName=fn_name, UpdateRuntimeOn="Auto")
    assert _body(client.get_runtime_management_config(FunctionName=fn_name)) == {
        "UpdateRuntimeOn": "Auto",
        "FunctionArn": arn,
    }

    # Each version has its own setting.
    version = client.publish_version(FunctionName=fn_name)["Version"]
    assert client.get_runtime_management_config(FunctionName=fn_name, Qualifier=version)["UpdateRuntimeOn"] == "Auto"
    put = client.put_runtime_management_config(FunctionName=f"{fn_name}:{version}", UpdateRuntimeOn="FunctionUpdate")
    assert _body(put) == {"UpdateRuntimeOn": "FunctionUpdate", "FunctionArn": f"{arn}:{version}"}
    assert client.get_runtime_management_config(FunctionName=fn_name)["UpdateRuntimeOn"] == "Auto"

    with pytest.raises(ClientError) as exc:
        client.get_runtime_management_config(FunctionName=fn_name, Qualifier="42")
    assert _error(exc) == ("ResourceNotFoundException", f"Function not found: {arn}:42", 404)
    with pytest.raises(ClientError) as exc:
        client.put_runtime_management_config(FunctionName=fn_name + "-missing", UpdateRuntimeOn="Auto")
    assert _error(exc) == ("ResourceNotFoundException", f"Function not found: {arn}-missing", 404)
    with pytest.raises(ClientError) as exc:
        client.put_runtime_management_config(FunctionName=fn_name, UpdateRuntimeOn="Sometimes")
    code, message, status = _error(exc)
    assert (code, status) == ("ValidationException", 400)
    prefix = (
        "1 validation error detected: Value 'Sometimes' at 'updateRuntimeOn' failed to satisfy constraint: "
        "Member must satisfy enum value set: ["
    )
    assert message.startswith(prefix)
    assert sorted(message[len(prefix) : -1].split(", ")) == ["Auto", "FunctionUpdate", "Manual"]


def test_cli(server: Server, lambda_client: Any, fn_name: str, echo_zip: bytes) -> None:
    _create(lambda_client, fn_name, echo_zip)
    out = server.cli_json(
        "lambda", "put-function-recursion-config", "--function-name", fn_name, "--recursive-loop", "Allow"
    )
    assert out == {"RecursiveLoop": "Allow"}
    assert server.cli_json("lambda", "get-function-recursion-config", "--function-name", fn_name) == {
        "RecursiveLoop": "Allow"
    }
    out = server.cli_json(
        "lambda",
        "put-runtime-management-config",
        "--function-name",
        fn_name,
        "--update-runtime-on",
        "Manual",
        "--runtime-version-arn",
        RUNTIME_VERSION_ARN,
    )
    assert out == {
        "UpdateRuntimeOn": "Manual",
        "FunctionArn": ARN_PREFIX + fn_name,
        "RuntimeVersionArn": RUNTIME_VERSION_ARN,
    }
