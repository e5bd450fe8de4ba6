"""Reserved and provisioned concurrency against a real server, checked against AWS's recorded
answers; plus the provisioner seam, exercised in-process."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import PY_ECHO, ROLE, Server, make_zip, wait_active

ACCOUNT = "000000000000"
REGION = "us-east-1"
BASE = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function"


def _create(client: Any, name: str, zip_bytes: bytes) -> str:
    out = client.create_function(
        FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="handler.handler", Code={"ZipFile": zip_bytes}
    )
    return str(out["FunctionArn"])


def _publish(client: Any, name: str) -> str:
    wait_active(client, name)
    return str(client.publish_version(FunctionName=name)["Version"])


def _error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, int, str]:
    r = exc.value.response
    return r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"], r["Error"]["Message"]


def _unreserved(client: Any) -> int:
    return int(client.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"])


def _wait_status(client: Any, name: str, qualifier: str, status: str = "READY") -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while True:
        got: dict[str, Any] = client.get_provisioned_concurrency_config(FunctionName=name, Qualifier=qualifier)
        if got["Status"] == status or time.monotonic() > deadline:
            return got
        time.sleep(0.05)


# -- reserved concurrency ------------------------------------------------------------------


def test_reserved_concurrency_lifecycle(lambda_client: Any, fn_name: str, echo_zip: bytes) -> None:
    _create(lambda_client, fn_name, echo_zip)
    before = _unreserved(lambda_client)
    put0 = lambda_client.put_function_concurrency(FunctionName=fn_name, ReservedConcurrentExecutions=0)
    assert put0["ReservedConcurrentExecutions"] == 0
    assert put0["ResponseMetadata"]["HTTPStatusCode"] == 200
    put1 = lambda_client.put_function_concurrency(FunctionName=fn_name, ReservedConcurrentExecutions=1)
    assert put1["ReservedConcurrentExecutions"] == 1
    assert lambda_client.get_function_concurrency(FunctionName=fn_name)["ReservedConcurrentExecutions"] == 1
    assert lambda_client.get_function(FunctionName=fn_name)["Concurrency"] == {"ReservedConcurrentExecutions": 1}
    assert _unreserved(lambda_client) == before - 1

    deleted = lambda_client.delete_function_concurrency(FunctionName=fn_name)
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    after = lambda_client.get_function_concurrency(FunctionName=fn_name)
    assert "ReservedConcurrentExecutions" not in after
    assert _unreserved(lambda_client) == before


def test_reserved_concurrency_errors(lambda_client: Any, fn_name: str, echo_zip: bytes) -> None:
    for value in (1, 0):
        with pytest.raises(ClientError) as e:
            lambda_client.put_function_concurrency(FunctionName="doesnotexist", ReservedConcurrentExecutions=value)
        assert _error(e) == ("ResourceNotFoundException", 404, f"Function not found: {BASE}:doesnotexist:$LATEST")
    with pytest.raises(ClientError) as e:
        lambda_client.get_function_concurrency(FunctionName="doesnotexist")
    assert _error(e) == ("ResourceNotFoundException", 404, f"Function not found: {BASE}:doesnotexist")
    arn = _create(lambda_client, fn_name, echo_zip)
    with pytest.raises(ClientError) as e:
        lambda_client.put_function_concurrency(FunctionName=f"{arn}:$LATEST", ReservedConcurrentExecutions=0)
    assert _error(e) == (
        "InvalidParameterValueException",
        400,
        "This operation is permitted on Lambda functions only. Aliases and versions do not support this operation. "
        "Please specify either a function name or an unqualified function ARN.",
    )


def test_reserved_concurrency_unreserved_minimum(lambda_client: Any, fn_name: str, echo_zip: bytes) -> None:
    _create(lambda_client, fn_name, echo_zip)
    limit = lambda_client.get_account_settings()["AccountLimit"]["ConcurrentExecutions"]
    too_low = (
        "Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution "
        "below its minimum value of [100]."
    )
    for value in (limit + 1, limit):
        with pytest.raises(ClientError) as e:
            lambda_client.put_function_concurrency(FunctionName=fn_name, ReservedConcurrentExecutions=value)
        assert _error(e) == ("InvalidParameterValueException", 400, too_low)
    most = _unreserved(lambda_client) - 100
    try:
        with pytest.raises(ClientError) as e:
            lambda_client.put_function_concurrency(FunctionName=fn_name, ReservedConcurrentExecutions=most + 1)
        assert _error(e) == ("InvalidParameterValueException", 400, too_low)
        assert (
            lambda_client.put_function_concurrency(FunctionName=fn_name, ReservedConcurrentExecutions=most)[
                "ReservedConcurrentExecutions"
            ]
            == most
        )
        assert _unreserved(lambda_client) == 100
        # The function's own reservation is replaced, not added to: re-putting it is fine.
        lambda_client.put_function_concurrency(FunctionName=fn_name, ReservedConcurrentExecutions=most)
    finally:
        lambda_client.delete_function_concurrency(FunctionName=fn_name)


# -- provisioned concurrency ---------------------------------------------------------------


def test_provisioned_concurrency_errors(lambda_client: Any, fn_name: str, echo_zip: bytes) -> None:
    _create(lambda_client, fn_name, echo_zip)
    version = _publish(lambda_client, fn_name)
    with pytest.raises(ClientError) as e:
        lambda_client.get_provisioned_concurrency_config(FunctionName=fn_name, Qualifier=version)
    assert _error(e) == (
        "ProvisionedConcurrencyConfigNotFoundException",
        404,
        "No Provisioned Concurrency Config found for this function",
    )
    latest_text = "The function resource provided must be an alias or a published version."
    cases: list[tuple[str, dict[str, Any], tuple[str, int, str]]] = [
        (
            "get",
            {"FunctionName": "doesnotexist", "Qualifier": "noalias"},
            ("ResourceNotFoundException", 404, f"Cannot find alias arn: {BASE}:doesnotexist:noalias"),
        ),
        (
            "get",
            {"FunctionName": fn_name, "Qualifier": "noalias"},
            ("ResourceNotFoundException", 404, f"Cannot find alias arn: {BASE}:{fn_name}:noalias"),
        ),
        (
            "get",
            {"FunctionName": fn_name, "Qualifier": "10"},
            ("ResourceNotFoundException", 404, f"Function not found: {BASE}:{fn_name}:10"),
        ),
        (
            "get",
            {"FunctionName": fn_name, "Qualifier": "$LATEST"},
            ("InvalidParameterValueException", 400, latest_text),
        ),
        (
            "delete",
            {"FunctionName": "doesnotexist", "Qualifier": version},
            ("ResourceNotFoundException", 404, f"Function not found: {BASE}:doesnotexist:{version}"),
        ),
        (
            "delete",
            {"FunctionName": fn_name, "Qualifier": "noalias"},
            ("ResourceNotFoundException", 404, f"Cannot find alias arn: {BASE}:{fn_name}:noalias"),
        ),
        (
            "delete",
            {"FunctionName": fn_name, "Qualifier": "10"},
            ("ResourceNotFoundException", 404, f"Function not found: {BASE}:{fn_name}:10"),
        ),
        (
            "delete",
            {"FunctionName": fn_name, "Qualifier": "$LATEST"},
            ("InvalidParameterValueException", 400, latest_text),
        ),
        (
            "put",
            {"FunctionName": "doesnotexist", "Qualifier": "noalias"},
            ("ResourceNotFoundException", 404, f"Cannot find alias arn: {BASE}:doesnotexist:noalias"),
        ),
        (
            "put",
            {"FunctionName": "doesnotexist", "Qualifier": "1"},
            ("ResourceNotFoundException", 404, f"Function not found: {BASE}:doesnotexist:1"),
        ),
        (
            "put",
            {"FunctionName": fn_name, "Qualifier": "doesnotexist"},
            ("ResourceNotFoundException", 404, f"Cannot find alias arn: {BASE}:{fn_name}:doesnotexist"),
        ),
        (
            "put",
            {"FunctionName": fn_name, "Qualifier": "10"},
            ("ResourceNotFoundException", 404, f"Function not found: {BASE}:{fn_name}:10"),
        ),
        (
            "put",
            {"FunctionName": fn_name, "Qualifier": "$LATEST"},
            (
                "InvalidParameterValueException",
                400,
                "Provisioned Concurrency Configs cannot be applied to unpublished function versions.",
            ),
        ),
    ]
    calls = {
        "get": lambda_client.get_provisioned_concurrency_config,
        "delete": lambda_client.delete_provisioned_concurrency_config,
        "put": lambda **kw: lambda_client.put_provisioned_concurrency_config(ProvisionedConcurrentExecutions=1, **kw),
    }
    for op, kwargs, expected in cases:
        with pytest.raises(ClientError) as e:
            calls[op](**kwargs)
        assert _error(e) == expected, (op, kwargs)

    assert (
        lambda_client.list_provisioned_concurrency_configs(FunctionName=fn_name)["ProvisionedConcurrencyConfigs"] == []
    )
    with pytest.raises(ClientError) as e:
        lambda_client.list_provisioned_concurrency_configs(FunctionName="doesnotexist")
    assert _error(e) == ("ResourceNotFoundException", 404, f"Function not found: {BASE}:doesnotexist")
    gone = lambda_client.delete_provisioned_concurrency_config(FunctionName=fn_name, Qualifier=version)
    assert gone["ResponseMetadata"]["HTTPStatusCode"] == 204


def test_out_of_range_values_are_invalid(server: Server, fn_name: str, echo_zip: bytes) -> None:
    client = server.client(parameter_validation=False)
    _create(client, fn_name, echo_zip)
    with pytest.raises(ClientError) as e:
        client.put_function_concurrency(FunctionName=fn_name, ReservedConcurrentExecutions=-1)
    assert _error(e) == (
        "ValidationException",
        400,
        "1 validation error detected: Value '-1' at 'reservedConcurrentExecutions' failed to satisfy constraint: "
        "Member must have value greater than or equal to 0",
    )
    version = _publish(client, fn_name)
    with pytest.raises(ClientError) as e:
        client.put_provisioned_concurrency_config(
            FunctionName=fn_name, Qualifier=version, ProvisionedConcurrentExecutions=0
        )
    assert _error(e) == (
        "ValidationException",
        400,
        "1 validation error detected: Value '0' at 'provisionedConcurrentExecutions' failed to satisfy constraint: "
        "Member must have value greater than or equal to 1",
    )


def test_provisioned_concurrency_lifecycle(lambda_client: Any, fn_name: str, echo_zip: bytes) -> None:
    arn = _create(lambda_client, fn_name, echo_zip)
    version = _publish(lambda_client, fn_name)
    lambda_client.create_alias(FunctionName=fn_name, Name="live", FunctionVersion=version)
    before = _unreserved(lambda_client)

    put = lambda_client.put_provisioned_concurrency_config(
        FunctionName=fn_name, Qualifier=version, ProvisionedConcurrentExecutions=2
    )
    assert put["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert {k: v for k, v in put.items() if k not in ("ResponseMetadata", "LastModified")} == {
        "RequestedProvisionedConcurrentExecutions": 2,
        "AvailableProvisionedConcurrentExecutions": 0,
        "AllocatedProvisionedConcurrentExecutions": 0,
        "Status": "IN_PROGRESS",
    }
    assert put["LastModified"]
    assert _unreserved(lambda_client) == before - 2
    with pytest.raises(ClientError) as e:
        lambda_client.put_provisioned_concurrency_config(
            FunctionName=fn_name, Qualifier="live", ProvisionedConcurrentExecutions=1
        )
    assert _error(e) == (
        "ResourceConflictException",
        409,
        "Alias can't be used for Provisioned Concurrency configuration on an already Provisioned version",
    )
    ready = _wait_status(lambda_client, fn_name, version)
    assert ready["Status"] == "READY"
    assert ready["AvailableProvisionedConcurrentExecutions"] == 2
    assert ready["AllocatedProvisionedConcurrentExecutions"] == 2
    listed = lambda_client.list_provisioned_concurrency_configs(FunctionName=fn_name)["ProvisionedConcurrencyConfigs"]
    assert [(c["FunctionArn"], c["RequestedProvisionedConcurrentExecutions"], c["Status"]) for c in listed] == [
        (f"{arn}:{version}", 2, "READY")
    ]

    deleted = lambda_client.delete_provisioned_concurrency_config(FunctionName=fn_name, Qualifier=version)
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as e:
        lambda_client.get_provisioned_concurrency_config(FunctionName=fn_name, Qualifier=version)
    assert _error(e)[:2] == ("ProvisionedConcurrencyConfigNotFoundException", 404)
    assert _unreserved(lambda_client) == before

    on_alias = lambda_client.put_provisioned_concurrency_config(
        FunctionName=fn_name, Qualifier="live", ProvisionedConcurrentExecutions=1
    )
    assert on_alias["Status"] == "IN_PROGRESS"
    with pytest.raises(ClientError) as e:
        lambda_client.put_provisioned_concurrency_config(
            FunctionName=fn_name, Qualifier=version, ProvisionedConcurrentExecutions=1
        )
    assert _error(e) == ("ResourceConflictException", 409, "Version is pointed by a Provisioned Concurrency alias")
    assert _wait_status(lambda_client, fn_name, "live")["Status"] == "READY"
    listed = lambda_client.list_provisioned_concurrency_configs(FunctionName=fn_name)["ProvisionedConcurrencyConfigs"]
    assert [c["FunctionArn"] for c in listed] == [f"{arn}:live"]

    # Deleting the alias deletes its configuration.
    lambda_client.delete_alias(FunctionName=fn_name, Name="live")
    with pytest.raises(ClientError) as e:
        lambda_client.get_provisioned_concurrency_config(FunctionName=fn_name, Qualifier="live")
    assert _error(e) == ("ResourceNotFoundException", 404, f"Cannot find alias arn: {arn}:live")
    assert (
        lambda_client.list_provisioned_concurrency_configs(FunctionName=fn_name)["ProvisionedConcurrencyConfigs"] == []
    )
    assert _unreserved(lambda_client) == before


def test_provisioned_within_reserved(lambda_client: Any, fn_name: str, echo_zip: bytes) -> None:
    _create(lambda_client, fn_name, echo_zip)
    v1 = _publish(lambda_client, fn_name)
    lambda_client.update_function_configuration(FunctionName=fn_name, Description="second")
    lambda_client.get_waiter("function_updated_v2").wait(FunctionName=fn_name, WaiterConfig={"Delay": 0.2})
    v2 = lambda_client.publish_version(FunctionName=fn_name)["Version"]
    lambda_client.put_function_concurrency(FunctionName=fn_name, ReservedConcurrentExecutions=3)
    try:
        before = _unreserved(lambda_client)
        lambda_client.put_provisioned_concurrency_config(
            FunctionName=fn_name, Qualifier=v1, ProvisionedConcurrentExecutions=2
        )
        # Carved out of the reservation: the account's unreserved pool does not move.
        assert _unreserved(lambda_client) == before
        with pytest.raises(ClientError) as e:
            lambda_client.put_provisioned_concurrency_config(
                FunctionName=fn_name, Qualifier=v2, ProvisionedConcurrentExecutions=2
            )
        assert _error(e)[:2] == ("InvalidParameterValueException", 400)
        lambda_client.put_provisioned_concurrency_config(
            FunctionName=fn_name, Qualifier=v2, ProvisionedConcurrentExecutions=1
        )
        # Updating an existing configuration replaces its count.
        lambda_client.put_provisioned_concurrency_config(
            FunctionName=fn_name, Qualifier=v1, ProvisionedConcurrentExecutions=1
        )
        with pytest.raises(ClientError) as e:
            lambda_client.put_function_concurrency(FunctionName=fn_name, ReservedConcurrentExecutions=1)
        assert _error(e)[:2] == ("InvalidParameterValueException", 400)
        listed = lambda_client.list_provisioned_concurrency_configs(FunctionName=fn_name, MaxItems=1)
        assert len(listed["ProvisionedConcurrencyConfigs"]) == 1 and listed["NextMarker"]
        rest = lambda_client.list_provisioned_concurrency_configs(FunctionName=fn_name, Marker=listed["NextMarker"])
        assert [
            c["FunctionArn"].rsplit(":", 1)[1]
            for c in listed["ProvisionedConcurrencyConfigs"] + rest["ProvisionedConcurrencyConfigs"]
        ] == [v1, v2]
    finally:
        for q in (v1, v2):
            lambda_client.delete_provisioned_concurrency_config(FunctionName=fn_name, Qualifier=q)
        lambda_client.delete_function_concurrency(FunctionName=fn_name)


@pytest.fixture(scope="module")
def small_account() -> Iterator[Server]:
    """A private server whose account allows 20 concurrent executions, 5 of them never reservable."""
    srv = Server(env={"LAMBDA_LIMITS_CONCURRENT_EXECUTIONS": "20", "LAMBDA_LIMITS_MINIMUM_UNRESERVED_CONCURRENCY": "5"})
    srv.start()
    yield srv
    srv.stop()


def test_account_limits_from_settings(small_account: Server, echo_zip: bytes) -> None:
    client = small_account.client()
    _create(client, "reserver", echo_zip)
    _create(client, "provisioned", echo_zip)
    version = _publish(client, "provisioned")
    limit = client.get_account_settings()["AccountLimit"]
    assert (limit["ConcurrentExecutions"], limit["UnreservedConcurrentExecutions"]) == (20, 20)

    with pytest.raises(ClientError) as e:
        client.put_function_concurrency(FunctionName="reserver", ReservedConcurrentExecutions=16)
    assert _error(e) == (
        "InvalidParameterValueException",
        400,
        "Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution "
        "below its minimum value of [5].",
    )
    client.put_function_concurrency(FunctionName="reserver", ReservedConcurrentExecutions=10)
    assert _unreserved(client) == 10

    with pytest.raises(ClientError) as e:
        client.put_provisioned_concurrency_config(
            FunctionName="provisioned", Qualifier=version, ProvisionedConcurrentExecutions=11
        )
    assert _error(e) == (
        "InvalidParameterValueException",
        400,
        "Specified ConcurrentExecutions for function is greater than account's unreserved concurrency [10].",
    )
    with pytest.raises(ClientError) as e:
        client.put_provisioned_concurrency_config(
            FunctionName="provisioned", Qualifier=version, ProvisionedConcurrentExecutions=6
        )
    assert _error(e) == (
        "InvalidParameterValueException",
        400,
        "Specified ConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its "
        "minimum value of [5].",
    )
    client.put_provisioned_concurrency_config(
        FunctionName="provisioned", Qualifier=version, ProvisionedConcurrentExecutions=5
    )
    assert _unreserved(client) == 5
    # Provisioned concurrency of a function without a reservation counts against the others too.
    with pytest.raises(ClientError) as e:
        client.put_function_concurrency(FunctionName="reserver", ReservedConcurrentExecutions=11)
    assert _error(e)[:2] == ("InvalidParameterValueException", 400)
    # Deleting the function gives its concurrency back.
    client.delete_function(FunctionName="provisioned")
    assert _unreserved(client) == 10


def test_cli_function_concurrency(server: Server, lambda_client: Any, fn_name: str, echo_zip: bytes) -> None:
    _create(lambda_client, fn_name, echo_zip)
    out = server.cli_json(
        "lambda", "put-function-concurrency", "--function-name", fn_name, "--reserved-concurrent-executions", "2"
    )
    assert out == {"ReservedConcurrentExecutions": 2}
    assert server.cli_json("lambda", "get-function-concurrency", "--function-name", fn_name) == {
        "ReservedConcurrentExecutions": 2
    }
    server.cli("lambda", "delete-function-concurrency", "--function-name", fn_name)
    assert server.cli_json("lambda", "get-function-concurrency", "--function-name", fn_name) in (None, {})


# -- the provisioner seam, in-process --------------------------------------------------------


def test_provisioner_seam_marks_ready_or_failed(tmp_path: Any) -> None:
    from locallambda.app import build_app
    from locallambda.model.operations import RequestContext
    from locallambda.settings import Settings
    from locallambda.store.functions import FunctionRecord

    async def scenario() -> None:
        app = build_app(Settings(synchronous_create=True))
        calls: list[tuple[str, str, int]] = []
        release = asyncio.Event()

        async def provisioner(record: FunctionRecord, qualifier: str, count: int) -> None:
            calls.append((record.name, qualifier, count))
            if count == 0:
                return
            await release.wait()
            if record.name == "broken":
                raise RuntimeError("no environment could start")

        app.plane.provisioner = provisioner
        handlers = app.handlers

        def ctx(op: str) -> RequestContext:
            return RequestContext(op, REGION, ACCOUNT, "req", {})

        zip_bytes = make_zip({"handler.py": PY_ECHO})
        for name in ("working", "broken"):
            await handlers["CreateFunction"](
                ctx("CreateFunction"),
                {
                    "FunctionName": name,
                    "Runtime": "python3.12",
                    "Role": ROLE,
                    "Handler": "handler.handler",
                    "Code": {"ZipFile": zip_bytes},
                    "Publish": True,
                },
            )
            out = await handlers["PutProvisionedConcurrencyConfig"](
                ctx("PutProvisionedConcurrencyConfig"),
                {"FunctionName": name, "Qualifier": "1", "ProvisionedConcurrentExecutions": 3},
            )
            assert out["Status"] == "IN_PROGRESS"
        await asyncio.sleep(0.01)
        get = handlers["GetProvisionedConcurrencyConfig"]
        assert (await get(ctx("Get"), {"FunctionName": "working", "Qualifier": "1"}))["Status"] == "IN_PROGRESS"
        release.set()
        for _ in range(100):
            await asyncio.sleep(0.01)
            working = await get(ctx("Get"), {"FunctionName": "working", "Qualifier": "1"})
            broken = await get(ctx("Get"), {"FunctionName": "broken", "Qualifier": "1"})
            if working["Status"] != "IN_PROGRESS" and broken["Status"] != "IN_PROGRESS":
                break
        assert working["Status"] == "READY" and working["AvailableProvisionedConcurrentExecutions"] == 3
        assert broken["Status"] == "FAILED" and broken["StatusReason"] == "no environment could start"
        assert calls == [("working", "1", 3), ("broken", "1", 3)]
        await handlers["DeleteProvisionedConcurrencyConfig"](
            ctx("Delete"), {"FunctionName": "working", "Qualifier": "1"}
        )
        await asyncio.sleep(0.01)
        assert calls[-1] == ("working", "1", 0)
        # Deleting a function releases the environments of its configurations.
        await handlers["DeleteFunction"](ctx("DeleteFunction"), {"FunctionName": "broken"})
        await asyncio.sleep(0.01)
        assert calls[-1] == ("broken", "1", 0)
        await app.shutdown()

    asyncio.run(scenario())


def test_provisioned_configs_survive_a_restart(tmp_path: Any, echo_zip: bytes) -> None:
    env = {"PERSISTENCE": "1", "LOCALLAMBDA_DATA_DIR": str(tmp_path)}
    with Server(env=env) as srv:
        client = srv.client()
        _create(client, "kept", echo_zip)
        version = _publish(client, "kept")
        client.put_function_concurrency(FunctionName="kept", ReservedConcurrentExecutions=4)
        client.put_provisioned_concurrency_config(
            FunctionName="kept", Qualifier=version, ProvisionedConcurrentExecutions=2
        )
        assert _wait_status(client, "kept", version)["Status"] == "READY"
        client.add_permission(FunctionName="kept", Action="lambda:InvokeFunction", StatementId="s", Principal="*")
        client.tag_resource(
            Resource=client.get_function(FunctionName="kept")["Configuration"]["FunctionArn"], Tags={"a": "b"}
        )
        policy = client.get_policy(FunctionName="kept")
    with Server(env=env, port=srv.port) as srv:
        client = srv.client()
        assert client.get_function_concurrency(FunctionName="kept")["ReservedConcurrentExecutions"] == 4
        got = _wait_status(client, "kept", version)
        assert (got["Status"], got["RequestedProvisionedConcurrentExecutions"]) == ("READY", 2)
        assert client.get_policy(FunctionName="kept") | {"ResponseMetadata": None} == policy | {
            "ResponseMetadata": None
        }
        assert client.list_tags(Resource=f"{BASE}:kept")["Tags"] == {"a": "b"}
