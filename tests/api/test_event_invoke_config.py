"""Event-invoke configurations through boto3 and the AWS CLI.

Expected texts and shapes are AWS's, as recorded by LocalStack's parity snapshots
(``TestLambdaEventInvokeConfig`` and ``test_ops_on_nonexisting_*`` in test_lambda_api.snapshot.json).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import ROLE, Server, wait_active

ACCOUNT = "000000000000"
ARN_PREFIX = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:"
EMPTY_DESTINATIONS = {"OnSuccess": {}, "OnFailure": {}}


def _create(client: Any, name: str, code: bytes) -> str:
    client.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Handler="handler.handler",
        Role=ROLE,
        Code={"ZipFile": code},
    )
    return str(wait_active(client, name)["FunctionArn"])


def _error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str, int]:
    resp = exc.value.response
    return resp["Error"]["Code"], resp["Error"]["Message"], resp["ResponseMetadata"]["HTTPStatusCode"]


def _body(resp: dict[str, Any]) -> dict[str, Any]:
    out = dict(resp)
    out.pop("ResponseMetadata", None)
    assert isinstance(out.pop("LastModified", None), dt.datetime)
    return out


@pytest.fixture()
def raw_client(server: Server) -> Any:
    """A client without boto3's own parameter checks, so the server's validation is exercised."""
    return server.client(parameter_validation=False)


def test_lifecycle(lambda_client: Any, fn_name: str, echo_zip: bytes) -> None:
    _create(lambda_client, fn_name, echo_zip)
    latest_arn = f"{ARN_PREFIX}{fn_name}:$LATEST"

    put = lambda_client.put_function_event_invoke_config(FunctionName=fn_name, MaximumRetryAttempts=0)
    assert put["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert _body(put) == {"FunctionArn": latest_arn, "MaximumRetryAttempts": 0, "DestinationConfig": EMPTY_DESTINATIONS}

    # Put replaces: the retry setting given before is gone.
    put = lambda_client.put_function_event_invoke_config(FunctionName=fn_name, MaximumEventAgeInSeconds=60)
    assert _body(put) == {
        "FunctionArn": latest_arn,
        "MaximumEventAgeInSeconds": 60,
        "DestinationConfig": EMPTY_DESTINATIONS,
    }

    # Update merges.
    updated = lambda_client.update_function_event_invoke_config(FunctionName=fn_name, MaximumRetryAttempts=1)
    expected = {
        "FunctionArn": latest_arn,
        "MaximumEventAgeInSeconds": 60,
        "MaximumRetryAttempts": 1,
        "DestinationConfig": EMPTY_DESTINATIONS,
    }
    assert _body(updated) == expected
    assert _body(lambda_client.get_function_event_invoke_config(FunctionName=fn_name)) == expected
    assert _body(lambda_client.get_function_event_invoke_config(FunctionName=fn_name, Qualifier="$LATEST")) == expected
    listed = lambda_client.list_function_event_invoke_configs(FunctionName=fn_name)
    assert [_body(c) for c in listed["FunctionEventInvokeConfigs"]] == [expected]
    assert "NextMarker" not in listed

    # A published version starts without a configuration of its own.
    version = lambda_client.publish_version(FunctionName=fn_name)["Version"]
    with pytest.raises(ClientError) as exc:
        lambda_client.get_function_event_invoke_config(FunctionName=fn_name, Qualifier=version)
    assert _error(exc) == (
        "ResourceNotFoundException",
        f"The function {ARN_PREFIX}{fn_name}:{version} doesn't have an EventInvokeConfig",
        404,
    )
    put = lambda_client.put_function_event_invoke_config(
        FunctionName=fn_name, Qualifier=version, MaximumEventAgeInSeconds=120
    )
    version_config = {
        "FunctionArn": f"{ARN_PREFIX}{fn_name}:{version}",
        "MaximumEventAgeInSeconds": 120,
        "DestinationConfig": EMPTY_DESTINATIONS,
    }
    assert _body(put) == version_config
    assert (
        _body(lambda_client.get_function_event_invoke_config(FunctionName=fn_name, Qualifier=version)) == version_config
    )

    # Paging.
    first = lambda_client.list_function_event_invoke_configs(FunctionName=fn_name, MaxItems=1)
    assert len(first["FunctionEventInvokeConfigs"]) == 1 and first["NextMarker"]
    rest = lambda_client.list_function_event_invoke_configs(
        FunctionName=fn_name, MaxItems=1, Marker=first["NextMarker"]
    )
    assert len(rest["FunctionEventInvokeConfigs"]) == 1 and "NextMarker" not in rest
    assert {
        first["FunctionEventInvokeConfigs"][0]["FunctionArn"],
        rest["FunctionEventInvokeConfigs"][0]["FunctionArn"],
    } == {latest_arn, version_config["FunctionArn"]}

    deleted = lambda_client.delete_function_event_invoke_config(FunctionName=fn_name)
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    listed = lambda_client.list_function_event_invoke_configs(FunctionName=fn_name)
    assert [_body(c) for c in listed["FunctionEventInvokeConfigs"]] == [version_config]
    with pytest.raises(ClientError) as exc:
        lambda_client.delete_function_event_invoke_config(FunctionName=fn_name)
    assert _error(exc) == (
        "ResourceNotFoundException",
        f"The function {latest_arn} doesn't have an EventInvokeConfig",
        404,
    )


def test_qualifiers_and_aliases(raw_client: Any, fn_name: str, echo_zip: bytes) -> None:
    client = raw_client
    _create(client, fn_name, echo_zip)
    version = client.publish_version(FunctionName=fn_name)["Version"]
    alias_arn = client.create_alias(FunctionName=fn_name, Name="live", FunctionVersion=version)["AliasArn"]

    def put(**kw: Any) -> str:
        return str(client.put_function_event_invoke_config(MaximumRetryAttempts=1, **kw)["FunctionArn"])

    assert put(FunctionName=fn_name, Qualifier="live") == alias_arn
    assert put(FunctionName=alias_arn) == alias_arn
    assert put(FunctionName=alias_arn, Qualifier="live") == alias_arn
    assert put(FunctionName=f"{fn_name}:live") == alias_arn
    assert put(FunctionName=f"{fn_name}:{version}") == f"{ARN_PREFIX}{fn_name}:{version}"
    assert put(FunctionName=f"{fn_name}:$LATEST", Qualifier="$LATEST") == f"{ARN_PREFIX}{fn_name}:$LATEST"

    mismatch = "The derived qualifier from the function name does not match the specified qualifier."
    for name, qualifier in (
        (alias_arn, "livex"),
        (f"{fn_name}:live", "livex"),
        (f"{fn_name}:{version}", "$LATEST"),
        (f"{fn_name}:$LATEST", version),
        (f"{fn_name}:{version}", "live"),
    ):
        with pytest.raises(ClientError) as exc:
            put(FunctionName=name, Qualifier=qualifier)
        assert _error(exc) == ("InvalidParameterValueException", mismatch, 400)

    with pytest.raises(ClientError) as exc:
        put(FunctionName=fn_name, Qualifier="livedoesnotexist")
    assert _error(exc) == ("ResourceNotFoundException", "The function doesn't exist.", 404)

    listed = client.list_function_event_invoke_configs(FunctionName=fn_name)["FunctionEventInvokeConfigs"]
    assert sorted(c["FunctionArn"] for c in listed) == sorted(
        [f"{ARN_PREFIX}{fn_name}:$LATEST", f"{ARN_PREFIX}{fn_name}:{version}", alias_arn]
    )
    for qualifier in ("$LATEST", version, "live"):
        client.delete_function_event_invoke_config(FunctionName=fn_name, Qualifier=qualifier)
    assert client.list_function_event_invoke_configs(FunctionName=fn_name)["FunctionEventInvokeConfigs"] == []

    # The alias exists but has no configuration any more.
    with pytest.raises(ClientError) as exc:
        client.get_function_event_invoke_config(FunctionName=alias_arn)
    assert _error(exc) == (
        "ResourceNotFoundException",
        f"The function {alias_arn} doesn't have an EventInvokeConfig",
        404,
    )
    with pytest.raises(ClientError) as exc:
        client.update_function_event_invoke_config(FunctionName=alias_arn, MaximumRetryAttempts=0)
    assert _error(exc) == (
        "ResourceNotFoundException",
        f"The function {alias_arn} doesn't have an EventInvokeConfig",
        404,
    )
    with pytest.raises(ClientError) as exc:
        client.update_function_event_invoke_config(FunctionName=ARN_PREFIX + fn_name, MaximumRetryAttempts=0)
    assert _error(exc) == (
        "ResourceNotFoundException",
        f"The function {ARN_PREFIX}{fn_name}:$LATEST doesn't have an EventInvokeConfig",
        404,
    )


def test_missing_function_and_arguments(raw_client: Any, fn_name: str, echo_zip: bytes) -> None:
    client = raw_client
    fake_arn = ARN_PREFIX + "doesnotexist"
    for name in ("doesnotexist", fake_arn):
        with pytest.raises(ClientError) as exc:
            client.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=1)
        assert _error(exc) == ("ResourceNotFoundException", "The function doesn't exist.", 404)

    nothing = "You must specify at least one of error handling or destination setting."
    with pytest.raises(ClientError) as exc:  # checked before the function is looked up
        client.put_function_event_invoke_config(FunctionName="doesnotexist")
    assert _error(exc) == ("InvalidParameterValueException", nothing, 400)

    with pytest.raises(ClientError) as exc:
        client.update_function_event_invoke_config(FunctionName="doesnotexist", MaximumRetryAttempts=0)
    assert _error(exc) == ("ResourceNotFoundException", "The function doesn't exist.", 404)
    with pytest.raises(ClientError) as exc:
        client.list_function_event_invoke_configs(FunctionName="doesnotexist")
    assert _error(exc) == ("ResourceNotFoundException", "The function doesn't exist.", 404)

    missing = f"The function {fake_arn}:$LATEST doesn't have an EventInvokeConfig"
    for op in (client.get_function_event_invoke_config, client.delete_function_event_invoke_config):
        with pytest.raises(ClientError) as exc:
            op(FunctionName="doesnotexist")
        assert _error(exc) == ("ResourceNotFoundException", missing, 404)

    _create(client, fn_name, echo_zip)
    with pytest.raises(ClientError) as exc:
        client.update_function_event_invoke_config(FunctionName=fn_name)
    assert _error(exc) == ("InvalidParameterValueException", nothing, 400)
    with pytest.raises(ClientError) as exc:
        client.get_function_event_invoke_config(FunctionName=fn_name, Qualifier="1221")
    assert _error(exc) == (
        "ResourceNotFoundException",
        f"The function {ARN_PREFIX}{fn_name}:1221 doesn't have an EventInvokeConfig",
        404,
    )
    with pytest.raises(ClientError) as exc:
        client.put_function_event_invoke_config(FunctionName=fn_name, MaximumRetryAttempts=3)
    assert _error(exc) == (
        "ValidationException",
        "1 validation error detected: Value '3' at 'maximumRetryAttempts' failed to satisfy constraint: "
        "Member must have value less than or equal to 2",
        400,
    )


def test_destinations(raw_client: Any, fn_name: str, echo_zip: bytes) -> None:
    client = raw_client
    fn_arn = _create(client, fn_name, echo_zip)
    other_arn = _create(client, fn_name + "-dest", echo_zip)
    fake_arn = ARN_PREFIX + "doesnotexist"

    with pytest.raises(ClientError) as exc:
        client.put_function_event_invoke_config(
            FunctionName=fn_name, DestinationConfig={"OnSuccess": {"Destination": fake_arn}}
        )
    assert _error(exc) == ("InvalidParameterValueException", f"The destination ARN {fake_arn} is invalid.", 400)

    with pytest.raises(ClientError) as exc:
        client.put_function_event_invoke_config(
            FunctionName=fn_name, DestinationConfig={"OnSuccess": {"Destination": fn_arn}}
        )
    assert _error(exc) == (
        "InvalidParameterValueException",
        "You can't specify the function as a destination for itself.",
        400,
    )

    iam_arn = fn_arn.replace(":lambda:", ":iam:")
    with pytest.raises(ClientError) as exc:
        client.put_function_event_invoke_config(
            FunctionName=fn_name, DestinationConfig={"OnSuccess": {"Destination": iam_arn}}
        )
    assert _error(exc) == (
        "InvalidParameterValueException",
        f"The provided destination config DestinationConfig(onSuccess=OnSuccess(destination={iam_arn}), "
        "onFailure=null) is invalid.",
        400,
    )

    bad_pattern = fn_arn.replace(":lambda:", ":_-/!lambda:")
    with pytest.raises(ClientError) as exc:
        client.put_function_event_invoke_config(
            FunctionName=fn_name, DestinationConfig={"OnFailure": {"Destination": bad_pattern}}
        )
    code, message, status = _error(exc)
    assert (code, status) == ("ValidationException", 400)
    assert message.startswith(
        f"1 validation error detected: Value '{bad_pattern}' at 'destinationConfig.onFailure.destination' failed "
        "to satisfy constraint: Member must satisfy regular expression pattern: $|kafka://"
    )

    resp = client.put_function_event_invoke_config(
        FunctionName=fn_name, DestinationConfig={"OnSuccess": {"Destination": other_arn}}
    )
    assert resp["DestinationConfig"] == {"OnSuccess": {"Destination": other_arn}, "OnFailure": {}}
    for config in ({"OnSuccess": {}}, {"OnFailure": {}}):
        resp = client.put_function_event_invoke_config(FunctionName=fn_name, DestinationConfig=config)
        assert resp["DestinationConfig"] == EMPTY_DESTINATIONS

    queue = f"arn:aws:sqs:us-east-1:{ACCOUNT}:failures"
    topic = f"arn:aws:sns:us-east-1:{ACCOUNT}:successes"
    resp = client.put_function_event_invoke_config(
        FunctionName=fn_name,
        MaximumRetryAttempts=2,
        MaximumEventAgeInSeconds=21600,
        DestinationConfig={"OnSuccess": {"Destination": topic}, "OnFailure": {"Destination": queue}},
    )
    assert resp["DestinationConfig"] == {"OnSuccess": {"Destination": topic}, "OnFailure": {"Destination": queue}}

    # Update replaces the destination configuration it is given and keeps the rest.
    bus = f"arn:aws:events:us-east-1:{ACCOUNT}:event-bus/default"
    resp = client.update_function_event_invoke_config(
        FunctionName=fn_name, DestinationConfig={"OnFailure": {"Destination": bus}}
    )
    assert resp["DestinationConfig"] == {"OnSuccess": {}, "OnFailure": {"Destination": bus}}
    assert (resp["MaximumRetryAttempts"], resp["MaximumEventAgeInSeconds"]) == (2, 21600)

    # S3 buckets are on-failure destinations only.
    bucket = "arn:aws:s3:::failed-events"
    resp = client.put_function_event_invoke_config(
        FunctionName=fn_name, DestinationConfig={"OnFailure": {"Destination": bucket}}
    )
    assert resp["DestinationConfig"]["OnFailure"] == {"Destination": bucket}
    with pytest.raises(ClientError) as exc:
        client.put_function_event_invoke_config(
            FunctionName=fn_name, DestinationConfig={"OnSuccess": {"Destination": bucket}}
        )
    assert _error(exc)[0] == "InvalidParameterValueException"


def test_cli(server: Server, lambda_client: Any, fn_name: str, echo_zip: bytes) -> None:
    _create(lambda_client, fn_name, echo_zip)
    out = server.cli_json(
        "lambda",
        "put-function-event-invoke-config",
        "--function-name",
        fn_name,
        "--maximum-event-age-in-seconds",
        "3600",
        "--maximum-retry-attempts",
        "0",
    )
    assert out["FunctionArn"] == f"{ARN_PREFIX}{fn_name}:$LATEST"
    assert (out["MaximumRetryAttempts"], out["MaximumEventAgeInSeconds"]) == (0, 3600)
    assert out["DestinationConfig"] == EMPTY_DESTINATIONS
    assert isinstance(out["LastModified"], float)  # epoch seconds, as in the CLI guide's example
    listed = server.cli_json("lambda", "list-function-event-invoke-configs", "--function-name", fn_name)
    assert [c["FunctionArn"] for c in listed["FunctionEventInvokeConfigs"]] == [out["FunctionArn"]]
    proc = server.cli(
        "lambda", "get-function-event-invoke-config", "--function-name", fn_name, "--qualifier", "7", check=False
    )
    assert proc.returncode != 0 and "ResourceNotFoundException" in proc.stderr
