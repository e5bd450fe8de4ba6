"""AddPermission / RemovePermission / GetPolicy against a real server, checked against AWS's
recorded answers (policy JSON, error codes, statuses and messages)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import ROLE, Server, wait_active

ACCOUNT = "000000000000"
REGION = "us-east-1"
BUCKET_ARN = "arn:aws:s3:::test-bucket"


def _create(client: Any, name: str, zip_bytes: bytes) -> str:
    out = client.create_function(
        FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="handler.handler", Code={"ZipFile": zip_bytes}
    )
    return str(out["FunctionArn"])


def _compact(doc: Any) -> str:
    return json.dumps(doc, separators=(",", ":"))


def _error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, int, str]:
    r = exc.value.response
    return r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"], r["Error"]["Message"]


def test_service_principal_with_source_arn_exact_policy(lambda_client: Any, fn_name: str, echo_zip: bytes) -> None:
    arn = _create(lambda_client, fn_name, echo_zip)
    resp = lambda_client.add_permission(
        FunctionName=fn_name,
        Action="lambda:InvokeFunction",
        StatementId="s3",
        Principal="s3.amazonaws.com",
        SourceArn=BUCKET_ARN,
    )
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 201
    statement = {
        "Sid": "s3",
        "Effect": "Allow",
        "Principal": {"Service": "s3.amazonaws.com"},
        "Action": "lambda:InvokeFunction",
        "Resource": arn,
        "Condition": {"ArnLike": {"AWS:SourceArn": BUCKET_ARN}},
    }
    assert resp["Statement"] == _compact(statement)

    policy = lambda_client.get_policy(FunctionName=fn_name)
    assert policy["Policy"] == _compact({"Version": "2012-10-17", "Id": "default", "Statement": [statement]})
    assert policy["RevisionId"]
    # The policy has its own revision, not the function's.
    assert policy["RevisionId"] != lambda_client.get_function_configuration(FunctionName=fn_name)["RevisionId"]


def test_principal_kinds_and_conditions(lambda_client: Any, fn_name: str, echo_zip: bytes) -> None:
    arn = _create(lambda_client, fn_name, echo_zip)
    add = lambda **kw: json.loads(lambda_client.add_permission(FunctionName=fn_name, **kw)["Statement"])  # noqa: E731

    account = add(Action="lambda:InvokeFunction", StatementId="account-id", Principal="111111111111")
    assert account == {
        "Sid": "account-id",
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::111111111111:root"},
        "Action": "lambda:InvokeFunction",
        "Resource": arn,
    }
    wildcard = add(Action="lambda:InvokeFunction", StatementId="wildcard", Principal="*", SourceAccount=ACCOUNT)
    assert wildcard["Principal"] == "*"
    assert wildcard["Condition"] == {"StringEquals": {"AWS:SourceAccount": ACCOUNT}}

    user_arn = f"arn:aws:iam::{ACCOUNT}:user/someone"
    user = add(Action="lambda:InvokeFunction", StatementId="user-arn", Principal=user_arn, SourceAccount=ACCOUNT)
    assert user["Principal"] == {"AWS": user_arn}

    url = add(
        StatementId="urlPermission",
        Action="lambda:InvokeFunctionUrl",
        Principal="*",
        SourceArn=BUCKET_ARN,
        SourceAccount=ACCOUNT,
        PrincipalOrgID="o-1234567890",
        FunctionUrlAuthType="NONE",
    )
    # Key order as AWS writes it.
    assert _compact(url["Condition"]) == _compact(
        {
            "StringEquals": {
                "AWS:SourceAccount": ACCOUNT,
                "lambda:FunctionUrlAuthType": "NONE",
                "aws:PrincipalOrgID": "o-1234567890",
            },
            "ArnLike": {"AWS:SourceArn": BUCKET_ARN},
        }
    )
    alexa = add(
        StatementId="alexaSkill",
        Action="lambda:InvokeFunction",
        Principal="*",
        EventSourceToken="amzn1.ask.skill.xxxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx",
    )
    assert alexa["Condition"] == {
        "StringEquals": {"lambda:EventSourceToken": "amzn1.ask.skill.xxxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"}
    }
    via_url = add(StatementId="viaUrl", Action="lambda:InvokeFunction", Principal="*", InvokedViaFunctionUrl=True)
    assert via_url["Condition"] == {"Bool": {"lambda:InvokedViaFunctionUrl": "true"}}
    everything = add(StatementId="all", Action="lambda:*", Principal="events.amazonaws.com")
    assert everything["Action"] == "lambda:*"

    sids = [s["Sid"] for s in json.loads(lambda_client.get_policy(FunctionName=fn_name)["Policy"])["Statement"]]
    assert sids == ["account-id", "wildcard", "user-arn", "urlPermission", "alexaSkill", "viaUrl", "all"]

    with pytest.raises(ClientError) as e:
        add(Action="lambda:InvokeFunction", StatementId="lambda", Principal="invalid.nonaws.com", SourceAccount=ACCOUNT)
    assert _error(e) == (
        "InvalidParameterValueException",
        400,
        "The provided principal was invalid. Please check the principal and try again.",
    )


def test_invalid_statement_id_and_action(lambda_client: Any, fn_name: str, echo_zip: bytes) -> None:
    _create(lambda_client, fn_name, echo_zip)
    with pytest.raises(ClientError) as e:
        lambda_client.add_permission(
            FunctionName=fn_name,
            Action="lambda:InvokeFunction",
            StatementId="example.com",
            Principal="s3.amazonaws.com",
        )
    assert _error(e) == (
        "ValidationException",
        400,
        "1 validation error detected: Value 'example.com' at 'statementId' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: ([a-zA-Z0-9-_]+)",
    )
    with pytest.raises(ClientError) as e:
        lambda_client.add_permission(
            FunctionName=fn_name, Action="s3:GetObject", StatementId="s3", Principal="s3.amazonaws.com"
        )
    assert _error(e)[:2] == ("ValidationException", 400)


def test_duplicate_sid_and_remove(lambda_client: Any, fn_name: str, echo_zip: bytes) -> None:
    arn = _create(lambda_client, fn_name, echo_zip)
    lambda_client.add_permission(
        FunctionName=fn_name, Action="lambda:InvokeFunction", StatementId="s3", Principal="s3.amazonaws.com"
    )
    with pytest.raises(ClientError) as e:
        lambda_client.add_permission(
            FunctionName=fn_name,
            Action="lambda:InvokeFunction",
            StatementId="s3",
            Principal="s3.amazonaws.com",
            SourceArn=BUCKET_ARN,
        )
    assert _error(e) == (
        "ResourceConflictException",
        409,
        "The statement id (s3) provided already exists. Please provide a new statement id, or remove the existing statement.",
    )
    lambda_client.add_permission(
        FunctionName=fn_name,
        Action="lambda:InvokeFunction",
        StatementId="sqs",
        Principal="sqs.amazonaws.com",
        SourceArn=BUCKET_ARN,
    )
    with pytest.raises(ClientError) as e:
        lambda_client.remove_permission(FunctionName=fn_name, StatementId="non-existent")
    assert _error(e) == ("ResourceNotFoundException", 404, "Statement non-existent is not found in resource policy.")

    before = lambda_client.get_policy(FunctionName=fn_name)
    resp = lambda_client.remove_permission(FunctionName=fn_name, StatementId="sqs")
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 204
    after = lambda_client.get_policy(FunctionName=fn_name)
    assert after["RevisionId"] != before["RevisionId"]
    assert after["Policy"] == _compact(
        {
            "Version": "2012-10-17",
            "Id": "default",
            "Statement": [
                {
                    "Sid": "s3",
                    "Effect": "Allow",
                    "Principal": {"Service": "s3.amazonaws.com"},
                    "Action": "lambda:InvokeFunction",
                    "Resource": arn,
                }
            ],
        }
    )
    # Reading does not change the revision.
    assert lambda_client.get_policy(FunctionName=fn_name)["RevisionId"] == after["RevisionId"]

    lambda_client.remove_permission(FunctionName=fn_name, StatementId="s3", RevisionId=after["RevisionId"])
    with pytest.raises(ClientError) as e:
        lambda_client.get_policy(FunctionName=fn_name)
    assert _error(e) == ("ResourceNotFoundException", 404, "The resource you requested does not exist.")
    with pytest.raises(ClientError) as e:
        lambda_client.remove_permission(FunctionName=fn_name, StatementId="s3")
    assert _error(e) == ("ResourceNotFoundException", 404, "No policy is associated with the given resource.")


def test_revision_id_conflicts(lambda_client: Any, fn_name: str, echo_zip: bytes) -> None:
    _create(lambda_client, fn_name, echo_zip)
    stale = "The Revision Id provided does not match the latest Revision Id. Call the GetPolicy API to retrieve the latest Revision Id"
    with pytest.raises(ClientError) as e:
        lambda_client.add_permission(
            FunctionName=fn_name,
            Action="lambda:InvokeFunction",
            StatementId="s3",
            Principal="s3.amazonaws.com",
            RevisionId="wrong",
        )
    assert _error(e) == ("PreconditionFailedException", 412, stale)
    # Before the policy exists, the function's own RevisionId is accepted.
    fn_revision = lambda_client.get_function_configuration(FunctionName=fn_name)["RevisionId"]
    lambda_client.add_permission(
        FunctionName=fn_name,
        Action="lambda:InvokeFunction",
        StatementId="s3",
        Principal="s3.amazonaws.com",
        RevisionId=fn_revision,
    )
    policy_revision = lambda_client.get_policy(FunctionName=fn_name)["RevisionId"]
    with pytest.raises(ClientError) as e:
        lambda_client.add_permission(
            FunctionName=fn_name,
            Action="lambda:InvokeFunction",
            StatementId="s3_2",
            Principal="s3.amazonaws.com",
            RevisionId=fn_revision,
        )
    assert _error(e) == ("PreconditionFailedException", 412, stale)
    lambda_client.add_permission(
        FunctionName=fn_name,
        Action="lambda:InvokeFunction",
        StatementId="s3_2",
        Principal="s3.amazonaws.com",
        RevisionId=policy_revision,
    )
    with pytest.raises(ClientError) as e:
        lambda_client.remove_permission(FunctionName=fn_name, StatementId="s3", RevisionId=policy_revision)
    assert _error(e) == ("PreconditionFailedException", 412, stale)
    lambda_client.remove_permission(
        FunctionName=fn_name, StatementId="s3", RevisionId=lambda_client.get_policy(FunctionName=fn_name)["RevisionId"]
    )


def test_missing_function_and_qualifier_errors(lambda_client: Any, fn_name: str, echo_zip: bytes) -> None:
    _create(lambda_client, fn_name, echo_zip)
    base = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function"
    perm = {
        "Action": "lambda:InvokeFunction",
        "StatementId": "s3",
        "Principal": "s3.amazonaws.com",
        "SourceArn": BUCKET_ARN,
    }
    cases: list[tuple[dict[str, Any], tuple[str, int, str]]] = [
        (
            {"FunctionName": f"{fn_name}:alias-not-42", "Qualifier": "42"},
            (
                "InvalidParameterValueException",
                400,
                "The derived qualifier from the function name does not match the specified qualifier.",
            ),
        ),
        (
            {"FunctionName": f"{fn_name}:$LATEST", "Qualifier": "$LATEST"},
            ("InvalidParameterValueException", 400, "We currently do not support adding policies for $LATEST."),
        ),
        (
            {"FunctionName": "doesnotexist"},
            ("ResourceNotFoundException", 404, f"Function not found: {base}:doesnotexist"),
        ),
        (
            {"FunctionName": f"{fn_name}:alias-doesnotexist"},
            ("ResourceNotFoundException", 404, f"Cannot find alias arn: {base}:{fn_name}:alias-doesnotexist"),
        ),
        (
            {"FunctionName": fn_name, "Qualifier": "42"},
            ("ResourceNotFoundException", 404, f"Function not found: {base}:{fn_name}:42"),
        ),
        (
            {"FunctionName": fn_name, "Qualifier": "valid-with-$-but-doesnotexist"},
            ("ResourceNotFoundException", 404, f"Function not found: {base}:{fn_name}:valid-with-$-but-doesnotexist"),
        ),
    ]
    for kwargs, expected in cases:
        with pytest.raises(ClientError) as e:
            lambda_client.add_permission(**perm, **kwargs)
        assert _error(e) == expected, kwargs

    with pytest.raises(ClientError) as e:
        lambda_client.add_permission(**perm, FunctionName=fn_name, Qualifier="invalid-qualifier-with-?-char")
    assert _error(e) == (
        "ValidationException",
        400,
        "1 validation error detected: Value 'invalid-qualifier-with-?-char' at 'qualifier' failed to satisfy "
        "constraint: Member must satisfy regular expression pattern: \\$(LATEST(\\.PUBLISHED)?)|[a-zA-Z0-9-_$]+",
    )
    for kwargs in (
        {"FunctionName": "doesnotexist"},
        {"FunctionName": fn_name, "Qualifier": "77"},
        {"FunctionName": fn_name},
    ):
        with pytest.raises(ClientError) as e:
            lambda_client.get_policy(**kwargs)
        assert _error(e) == ("ResourceNotFoundException", 404, "The resource you requested does not exist.")
    with pytest.raises(ClientError) as e:
        lambda_client.remove_permission(FunctionName="doesnotexist", StatementId="s3")
    assert _error(e) == ("ResourceNotFoundException", 404, f"No policy found for: {base}:doesnotexist")
    with pytest.raises(ClientError) as e:
        lambda_client.remove_permission(FunctionName=fn_name, StatementId="s3", Qualifier="alias-doesnotexist")
    assert _error(e) == (
        "ResourceNotFoundException",
        404,
        f"Cannot find alias arn: {base}:{fn_name}:alias-doesnotexist",
    )


def test_policies_per_version_and_alias(lambda_client: Any, fn_name: str, echo_zip: bytes) -> None:
    arn = _create(lambda_client, fn_name, echo_zip)
    perm = {
        "Action": "lambda:InvokeFunction",
        "StatementId": "s3",
        "Principal": "s3.amazonaws.com",
        "SourceArn": BUCKET_ARN,
    }
    lambda_client.add_permission(FunctionName=fn_name, **perm)
    unqualified = lambda_client.get_policy(FunctionName=fn_name)
    wait_active(lambda_client, fn_name)
    version = lambda_client.publish_version(FunctionName=fn_name)["Version"]

    # Publishing copies nothing: the version starts without a policy; $LATEST keeps its own.
    assert lambda_client.get_policy(FunctionName=fn_name)["RevisionId"] == unqualified["RevisionId"]
    assert lambda_client.get_policy(FunctionName=fn_name, Qualifier="$LATEST")["Policy"] == unqualified["Policy"]
    with pytest.raises(ClientError) as e:
        lambda_client.get_policy(FunctionName=fn_name, Qualifier=version)
    assert _error(e) == ("ResourceNotFoundException", 404, "The resource you requested does not exist.")

    # The same Sid on the version is fine: Sids are unique per policy.
    lambda_client.add_permission(FunctionName=f"{fn_name}:{version}", Qualifier=version, **perm)
    on_version = json.loads(lambda_client.get_policy(FunctionName=fn_name, Qualifier=version)["Policy"])
    assert [s["Resource"] for s in on_version["Statement"]] == [f"{arn}:{version}"]

    alias = lambda_client.create_alias(FunctionName=fn_name, Name="permission-alias", FunctionVersion=version)
    with pytest.raises(ClientError) as e:
        lambda_client.add_permission(FunctionName=fn_name, Qualifier="permission-alias", RevisionId="wrong", **perm)
    assert _error(e)[:2] == ("PreconditionFailedException", 412)
    # A policy that does not exist yet accepts the alias's RevisionId (recorded on AWS).
    lambda_client.add_permission(
        FunctionName=f"{fn_name}:permission-alias", Qualifier="permission-alias", RevisionId=alias["RevisionId"], **perm
    )
    on_alias = json.loads(lambda_client.get_policy(FunctionName=fn_name, Qualifier="permission-alias")["Policy"])
    assert [s["Resource"] for s in on_alias["Statement"]] == [f"{arn}:permission-alias"]
    assert lambda_client.get_policy(FunctionName=fn_name)["Policy"] == unqualified["Policy"]

    lambda_client.remove_permission(FunctionName=fn_name, Qualifier=version, StatementId="s3")
    with pytest.raises(ClientError):
        lambda_client.get_policy(FunctionName=fn_name, Qualifier=version)
    assert lambda_client.get_policy(FunctionName=fn_name)["Policy"] == unqualified["Policy"]


def test_deleted_alias_takes_its_policy(lambda_client: Any, fn_name: str, echo_zip: bytes) -> None:
    _create(lambda_client, fn_name, echo_zip)
    wait_active(lambda_client, fn_name)
    version = lambda_client.publish_version(FunctionName=fn_name)["Version"]
    lambda_client.create_alias(FunctionName=fn_name, Name="live", FunctionVersion=version)
    lambda_client.add_permission(
        FunctionName=fn_name,
        Qualifier="live",
        Action="lambda:InvokeFunction",
        StatementId="s3",
        Principal="s3.amazonaws.com",
    )
    lambda_client.delete_alias(FunctionName=fn_name, Name="live")
    lambda_client.create_alias(FunctionName=fn_name, Name="live", FunctionVersion=version)
    with pytest.raises(ClientError) as e:
        lambda_client.get_policy(FunctionName=fn_name, Qualifier="live")
    assert _error(e) == ("ResourceNotFoundException", 404, "The resource you requested does not exist.")


def test_policy_length_exceeded(lambda_client: Any, fn_name: str, echo_zip: bytes) -> None:
    _create(lambda_client, fn_name, echo_zip)
    long_arn = "arn:aws:s3:::" + "b" * 900
    with pytest.raises(ClientError) as e:
        for n in range(40):
            lambda_client.add_permission(
                FunctionName=fn_name,
                Action="lambda:InvokeFunction",
                StatementId=f"s{n}",
                Principal="s3.amazonaws.com",
                SourceArn=long_arn,
            )
    code, status, message = _error(e)
    assert (code, status) == ("PolicyLengthExceededException", 400)
    assert message.startswith("The final policy size (") and message.endswith(") is bigger than the limit (20480).")
    assert len(lambda_client.get_policy(FunctionName=fn_name)["Policy"]) <= 20480


def test_cli_add_permission_and_get_policy(server: Server, lambda_client: Any, fn_name: str, echo_zip: bytes) -> None:
    arn = _create(lambda_client, fn_name, echo_zip)
    out = server.cli_json(
        "lambda",
        "add-permission",
        "--function-name",
        fn_name,
        "--statement-id",
        "cli",
        "--action",
        "lambda:InvokeFunction",
        "--principal",
        "sns.amazonaws.com",
    )
    assert json.loads(out["Statement"]) == {
        "Sid": "cli",
        "Effect": "Allow",
        "Principal": {"Service": "sns.amazonaws.com"},
        "Action": "lambda:InvokeFunction",
        "Resource": arn,
    }
    policy = server.cli_json("lambda", "get-policy", "--function-name", fn_name)
    assert json.loads(policy["Policy"])["Statement"][0]["Sid"] == "cli"
    server.cli("lambda", "remove-permission", "--function-name", fn_name, "--statement-id", "cli")
    missing = server.cli("lambda", "get-policy", "--function-name", fn_name, check=False)
    assert missing.returncode != 0 and "ResourceNotFoundException" in missing.stderr
