"""Aliases through boto3 and the AWS CLI: lifecycle, listing, weighted routing rules, RevisionId.

Expected texts are AWS's, as recorded by LocalStack's parity snapshots
(``TestLambdaAlias`` and ``TestLambdaRevisions`` in test_lambda_api.snapshot.json).
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import ROLE, Server, wait_active, wait_updated

ARN_PREFIX = "arn:aws:lambda:us-east-1:000000000000:function:"


def _create_with_versions(client: Any, name: str, code: bytes, versions: int = 2) -> None:
    """A function with ``versions`` published versions, each with a different environment."""
    client.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Handler="handler.handler",
        Role=ROLE,
        Code={"ZipFile": code},
        Environment={"Variables": {"stage": "v1"}},
    )
    wait_active(client, name)
    for n in range(1, versions + 1):
        if n > 1:
            client.update_function_configuration(FunctionName=name, Environment={"Variables": {"stage": f"v{n}"}})
            wait_updated(client, name)
        assert client.publish_version(FunctionName=name)["Version"] == str(n)


def _error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str, int]:
    resp = exc.value.response
    return resp["Error"]["Code"], resp["Error"]["Message"], resp["ResponseMetadata"]["HTTPStatusCode"]


@pytest.fixture()
def raw_client(server: Server) -> Any:
    """A client without boto3's own parameter checks, so the server's validation is exercised."""
    return server.client(parameter_validation=False)


def test_alias_lifecycle(lambda_client: Any, fn_name: str, echo_zip: bytes) -> None:
    _create_with_versions(lambda_client, fn_name, echo_zip)
    arn = ARN_PREFIX + fn_name

    created = lambda_client.create_alias(
        FunctionName=fn_name,
        Name="weighted",
        FunctionVersion="1",
        Description="custom-alias",
        RoutingConfig={"AdditionalVersionWeights": {"2": 0.2}},
    )
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    created.pop("ResponseMetadata")
    assert created == {
        "AliasArn": f"{arn}:weighted",
        "Name": "weighted",
        "FunctionVersion": "1",
        "Description": "custom-alias",
        "RevisionId": created["RevisionId"],
        "RoutingConfig": {"AdditionalVersionWeights": {"2": 0.2}},
    }
    got = lambda_client.get_alias(FunctionName=fn_name, Name="weighted")
    got.pop("ResponseMetadata")
    assert got == created

    # The alias resolves as a qualifier, by name and by its ARN.
    by_qualifier = lambda_client.get_function(FunctionName=fn_name, Qualifier="weighted")["Configuration"]
    assert by_qualifier["FunctionArn"] == f"{arn}:weighted"
    assert by_qualifier["Version"] == "1"
    assert by_qualifier["Environment"] == {"Variables": {"stage": "v1"}}
    by_arn = lambda_client.get_function(FunctionName=created["AliasArn"])["Configuration"]
    assert by_arn["FunctionArn"] == f"{arn}:weighted"

    plain = lambda_client.create_alias(FunctionName=fn_name, Name="plain", FunctionVersion="1")
    assert plain["Description"] == ""
    assert "RoutingConfig" not in plain
    lambda_client.create_alias(FunctionName=fn_name, Name="second", FunctionVersion="2", Description="d")
    lambda_client.create_alias(FunctionName=fn_name, Name="latest", FunctionVersion="$LATEST")

    pages = lambda_client.get_paginator("list_aliases").paginate(FunctionName=fn_name, PaginationConfig={"PageSize": 1})
    listed = pages.build_full_result()["Aliases"]
    assert [a["Name"] for a in listed] == ["latest", "plain", "second", "weighted"]
    assert listed[3]["RoutingConfig"] == {"AdditionalVersionWeights": {"2": 0.2}}

    # Empty weights remove the routing configuration; every update gets a new RevisionId.
    updated = lambda_client.update_alias(
        FunctionName=fn_name, Name="weighted", RoutingConfig={"AdditionalVersionWeights": {}}
    )
    assert updated["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert "RoutingConfig" not in updated
    assert updated["Description"] == "custom-alias"
    assert updated["RevisionId"] != created["RevisionId"]
    unchanged = lambda_client.update_alias(FunctionName=fn_name, Name="plain")
    assert unchanged["RevisionId"] != plain["RevisionId"]
    assert unchanged["FunctionVersion"] == "1"

    by_version = lambda_client.list_aliases(FunctionName=fn_name, FunctionVersion="1")["Aliases"]
    assert [a["Name"] for a in by_version] == ["plain", "weighted"]
    by_latest = lambda_client.list_aliases(FunctionName=fn_name, FunctionVersion="$LATEST")["Aliases"]
    assert [a["Name"] for a in by_latest] == ["latest"]

    deleted = lambda_client.delete_alias(FunctionName=fn_name, Name="weighted")
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert [a["Name"] for a in lambda_client.list_aliases(FunctionName=fn_name)["Aliases"]] == [
        "latest",
        "plain",
        "second",
    ]
    # Deleting an alias that does not exist succeeds, as on AWS.
    again = lambda_client.delete_alias(FunctionName=fn_name, Name="weighted")
    assert again["ResponseMetadata"]["HTTPStatusCode"] == 204

    with pytest.raises(ClientError) as exc:
        lambda_client.get_alias(FunctionName=fn_name, Name="weighted")
    assert _error(exc) == ("ResourceNotFoundException", f"Cannot find alias arn: {arn}:weighted", 404)
    with pytest.raises(ClientError) as exc:
        lambda_client.update_alias(FunctionName=fn_name, Name="weighted")
    assert _error(exc) == ("ResourceNotFoundException", f"Alias not found: {arn}:weighted", 404)
    with pytest.raises(ClientError) as exc:
        lambda_client.get_function(FunctionName=fn_name, Qualifier="weighted")
    assert _error(exc) == ("ResourceNotFoundException", f"Function not found: {arn}:weighted", 404)


def test_routing_config_validation(raw_client: Any, fn_name: str, echo_zip: bytes) -> None:
    _create_with_versions(raw_client, fn_name, echo_zip)
    arn = ARN_PREFIX + fn_name

    def refused(**kw: Any) -> tuple[str, str, int]:
        with pytest.raises(ClientError) as exc:
            raw_client.create_alias(FunctionName=fn_name, Name="custom", **kw)
        return _error(exc)

    assert refused(FunctionVersion="1", RoutingConfig={"AdditionalVersionWeights": {"1": 0.8, "2": 0.2}}) == (
        "InvalidParameterValueException",
        "Number of items in AdditionalVersionWeights cannot be greater than 1",
        400,
    )
    code, message, status = refused(FunctionVersion="1", RoutingConfig={"AdditionalVersionWeights": {"2": 2.0}})
    assert (code, status) == ("ValidationException", 400)
    assert message == (
        "1 validation error detected: Value '{2=2.0}' at 'routingConfig.additionalVersionWeights' failed to "
        "satisfy constraint: Map value must satisfy constraint: [Member must have value less than or equal to 1.0, "
        "Member must have value greater than or equal to 0.0, Member must not be null]"
    )
    code, message, _ = refused(FunctionVersion="1", RoutingConfig={"AdditionalVersionWeights": {"2": -1.0}})
    assert code == "ValidationException"
    assert message.startswith(
        "1 validation error detected: Value '{2=-1.0}' at 'routingConfig.additionalVersionWeights'"
    )
    assert refused(FunctionVersion="1", RoutingConfig={"AdditionalVersionWeights": {"1": 0.5}}) == (
        "InvalidParameterValueException",
        "Invalid function version 1. Function version 1 is already included in routing configuration.",
        400,
    )
    assert refused(FunctionVersion="10", RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}}) == (
        "ResourceNotFoundException",
        f"Function not found: {arn}:10",
        404,
    )
    assert refused(FunctionVersion="1", RoutingConfig={"AdditionalVersionWeights": {"10": 0.5}}) == (
        "ResourceNotFoundException",
        f"Function not found: {arn}:10",
        404,
    )
    assert refused(FunctionVersion="$LATEST", RoutingConfig={"AdditionalVersionWeights": {"1": 0.5}}) == (
        "InvalidParameterValueException",
        "$LATEST is not supported for an alias pointing to more than 1 version",
        400,
    )
    assert refused(FunctionVersion="1", RoutingConfig={"AdditionalVersionWeights": {"$LATEST": 0.5}}) == (
        "ValidationException",
        "1 validation error detected: Value '{$LATEST=0.5}' at 'routingConfig.additionalVersionWeights' failed to "
        "satisfy constraint: Map keys must satisfy constraint: [Member must have length less than or equal to 1024, "
        "Member must have length greater than or equal to 1, Member must satisfy regular expression pattern: [0-9]+]",
        400,
    )
    with pytest.raises(ClientError) as exc:
        raw_client.create_alias(FunctionName=f"{fn_name}-unknown", Name="custom", FunctionVersion="1")
    assert _error(exc) == ("ResourceNotFoundException", f"Function not found: {arn}-unknown:1", 404)

    empty = raw_client.create_alias(
        FunctionName=fn_name, Name="empty-routing", FunctionVersion="1", RoutingConfig={"AdditionalVersionWeights": {}}
    )
    assert "RoutingConfig" not in empty
    ok = raw_client.create_alias(
        FunctionName=fn_name, Name="custom", FunctionVersion="1", RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}}
    )
    assert ok["RoutingConfig"] == {"AdditionalVersionWeights": {"2": 0.5}}
    assert refused(FunctionVersion="1", RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}}) == (
        "ResourceConflictException",
        f"Alias already exists: {arn}:custom",
        409,
    )

    # UpdateAlias applies the same rules to the resulting alias.
    def update_refused(**kw: Any) -> tuple[str, str, int]:
        with pytest.raises(ClientError) as exc:
            raw_client.update_alias(FunctionName=fn_name, Name="custom", **kw)
        return _error(exc)

    assert update_refused(FunctionVersion="10")[:2] == ("ResourceNotFoundException", f"Function not found: {arn}:10")
    assert update_refused(FunctionVersion="2")[0] == "InvalidParameterValueException"  # primary == additional
    assert update_refused(RoutingConfig={"AdditionalVersionWeights": {"7": 0.1}})[1] == f"Function not found: {arn}:7"
    moved = raw_client.update_alias(
        FunctionName=fn_name,
        Name="custom",
        FunctionVersion="2",
        RoutingConfig={"AdditionalVersionWeights": {"1": 0.25}},
    )
    assert (moved["FunctionVersion"], moved["RoutingConfig"]) == ("2", {"AdditionalVersionWeights": {"1": 0.25}})
    assert raw_client.get_alias(FunctionName=fn_name, Name="custom")["RevisionId"] == moved["RevisionId"]


def test_integer_weight_printed_as_double(raw_client: Any, fn_name: str, echo_zip: bytes) -> None:
    _create_with_versions(raw_client, fn_name, echo_zip, versions=1)
    with pytest.raises(ClientError) as exc:
        raw_client.create_alias(
            FunctionName=fn_name,
            Name="custom",
            FunctionVersion="1",
            RoutingConfig={"AdditionalVersionWeights": {"2": 2}},
        )
    assert "Value '{2=2.0}'" in _error(exc)[1]


def test_alias_naming(raw_client: Any, fn_name: str, echo_zip: bytes) -> None:
    _create_with_versions(raw_client, fn_name, echo_zip, versions=1)
    # Digits may start an alias name, but a name of digits only would read as a version.
    assert raw_client.create_alias(FunctionName=fn_name, Name="2024-01-02", FunctionVersion="1")["Name"] == "2024-01-02"
    with pytest.raises(ClientError) as exc:
        raw_client.create_alias(FunctionName=fn_name, Name="2024", FunctionVersion="1")
    assert _error(exc) == (
        "ValidationException",
        "1 validation error detected: Value '2024' at 'name' failed to satisfy constraint: Member must satisfy "
        "regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)",
        400,
    )


def test_revision_id_precondition(lambda_client: Any, fn_name: str, echo_zip: bytes) -> None:
    _create_with_versions(lambda_client, fn_name, echo_zip, versions=1)
    latest_before = lambda_client.get_function(FunctionName=fn_name)["Configuration"]["RevisionId"]
    v1_before = lambda_client.get_function(FunctionName=fn_name, Qualifier="1")["Configuration"]["RevisionId"]

    created = lambda_client.create_alias(FunctionName=fn_name, Name="rev", FunctionVersion="1")
    # Creating an alias changes neither $LATEST's nor the version's RevisionId.
    assert lambda_client.get_function(FunctionName=fn_name)["Configuration"]["RevisionId"] == latest_before
    assert lambda_client.get_function(FunctionName=fn_name, Qualifier="1")["Configuration"]["RevisionId"] == v1_before

    with pytest.raises(ClientError) as exc:
        lambda_client.update_alias(FunctionName=fn_name, Name="rev", RevisionId="wrong")
    assert _error(exc) == (
        "PreconditionFailedException",
        "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to "
        "retrieve the latest Revision Id",
        412,
    )
    updated = lambda_client.update_alias(
        FunctionName=fn_name, Name="rev", Description="something changed", RevisionId=created["RevisionId"]
    )
    assert updated["Description"] == "something changed"
    assert updated["RevisionId"] != created["RevisionId"]
    with pytest.raises(ClientError) as exc:  # the old RevisionId is stale now
        lambda_client.update_alias(FunctionName=fn_name, Name="rev", RevisionId=created["RevisionId"])
    assert _error(exc)[0] == "PreconditionFailedException"


def test_list_aliases_pagination(lambda_client: Any, fn_name: str, echo_zip: bytes) -> None:
    _create_with_versions(lambda_client, fn_name, echo_zip, versions=1)
    names = [f"a{n}" for n in range(7)]
    for name in names:
        lambda_client.create_alias(FunctionName=fn_name, Name=name, FunctionVersion="1")

    seen: list[str] = []
    kw: dict[str, Any] = {"FunctionName": fn_name, "MaxItems": 3}
    while True:
        page = lambda_client.list_aliases(**kw)
        assert len(page["Aliases"]) <= 3
        seen += [a["Name"] for a in page["Aliases"]]
        if "NextMarker" not in page:
            break
        kw["Marker"] = page["NextMarker"]
    assert seen == names
    everything = lambda_client.list_aliases(FunctionName=fn_name)
    assert "NextMarker" not in everything
    assert len(everything["Aliases"]) == 7
    assert lambda_client.list_aliases(FunctionName=fn_name, FunctionVersion="2")["Aliases"] == []

    with pytest.raises(ClientError) as exc:
        lambda_client.list_aliases(FunctionName=f"{fn_name}-missing")
    assert _error(exc) == ("ResourceNotFoundException", f"Function not found: {ARN_PREFIX}{fn_name}-missing", 404)


def test_version_in_use_by_alias_cannot_be_deleted(lambda_client: Any, fn_name: str, echo_zip: bytes) -> None:
    _create_with_versions(lambda_client, fn_name, echo_zip)
    lambda_client.create_alias(
        FunctionName=fn_name, Name="live", FunctionVersion="1", RoutingConfig={"AdditionalVersionWeights": {"2": 0.1}}
    )
    for version in ("1", "2"):
        with pytest.raises(ClientError) as exc:
            lambda_client.delete_function(FunctionName=fn_name, Qualifier=version)
        assert _error(exc) == (
            "ResourceConflictException",
            "Unable to delete version because the following aliases reference it: [live]",
            409,
        )
    lambda_client.delete_alias(FunctionName=fn_name, Name="live")
    lambda_client.delete_function(FunctionName=fn_name, Qualifier="2")


def test_cli_create_alias(server: Server, lambda_client: Any, fn_name: str, echo_zip: bytes) -> None:
    _create_with_versions(lambda_client, fn_name, echo_zip, versions=1)
    created = server.cli_json(
        "lambda",
        "create-alias",
        "--function-name",
        fn_name,
        "--name",
        "cli",
        "--function-version",
        "1",
        "--description",
        "from the cli",
    )
    assert created["AliasArn"] == f"{ARN_PREFIX}{fn_name}:cli"
    assert created["Description"] == "from the cli"
    listed = server.cli_json("lambda", "list-aliases", "--function-name", fn_name)
    assert [a["Name"] for a in listed["Aliases"]] == ["cli"]
    failed = server.cli(
        "lambda", "create-alias", "--function-name", fn_name, "--name", "cli", "--function-version", "1", check=False
    )
    assert failed.returncode != 0
    assert "ResourceConflictException" in failed.stderr
