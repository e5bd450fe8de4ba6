"""GetAccountSettings against a real server: limits from settings, usage from stored functions."""

from __future__ import annotations

from typing import Any

from tests.conftest import ROLE, Server, make_zip, wait_active


def _create(client: Any, name: str, zip_bytes: bytes) -> dict[str, Any]:
    out: dict[str, Any] = client.create_function(
        FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="handler.handler", Code={"ZipFile": zip_bytes}
    )
    return out


def test_account_settings_shape_and_limits(lambda_client: Any) -> None:
    settings = lambda_client.get_account_settings()
    assert settings["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert sorted(settings["AccountLimit"]) == [
        "CodeSizeUnzipped",
        "CodeSizeZipped",
        "ConcurrentExecutions",
        "TotalCodeSize",
        "UnreservedConcurrentExecutions",
    ]
    assert sorted(settings["AccountUsage"]) == ["FunctionCount", "TotalCodeSize"]
    limit = settings["AccountLimit"]
    assert limit["TotalCodeSize"] == 80_530_636_800
    assert limit["CodeSizeUnzipped"] == 262_144_000
    assert limit["CodeSizeZipped"] == 52_428_800
    assert limit["ConcurrentExecutions"] == 1000
    assert limit["UnreservedConcurrentExecutions"] <= 1000


def test_usage_counts_every_version(lambda_client: Any, fn_name: str, echo_zip: bytes) -> None:
    before = lambda_client.get_account_settings()["AccountUsage"]
    size = _create(lambda_client, fn_name, echo_zip)["CodeSize"]
    assert size > 0
    after_create = lambda_client.get_account_settings()["AccountUsage"]
    assert after_create["FunctionCount"] == before["FunctionCount"] + 1
    assert after_create["TotalCodeSize"] == before["TotalCodeSize"] + size

    # A configuration change stores no code; publishing stores the version's (same) code again.
    wait_active(lambda_client, fn_name)
    lambda_client.update_function_configuration(FunctionName=fn_name, Description="changed")
    lambda_client.get_waiter("function_updated_v2").wait(FunctionName=fn_name, WaiterConfig={"Delay": 0.2})
    assert lambda_client.get_account_settings()["AccountUsage"]["TotalCodeSize"] == after_create["TotalCodeSize"]
    lambda_client.publish_version(FunctionName=fn_name)
    assert lambda_client.get_account_settings()["AccountUsage"]["TotalCodeSize"] == after_create["TotalCodeSize"] + size

    bigger = make_zip({"handler.py": "def handler(event, context):\n    return event\n", "data.txt": "x" * 5000})
    new_size = lambda_client.update_function_code(FunctionName=fn_name, ZipFile=bigger)["CodeSize"]
    assert lambda_client.get_account_settings()["AccountUsage"]["TotalCodeSize"] == (
        after_create["TotalCodeSize"] + size + new_size - size
    )
    lambda_client.delete_function(FunctionName=fn_name)
    final = lambda_client.get_account_settings()["AccountUsage"]
    assert final == {"TotalCodeSize": before["TotalCodeSize"], "FunctionCount": before["FunctionCount"]}


def test_unreserved_follows_reservations(lambda_client: Any, fn_name: str, echo_zip: bytes) -> None:
    _create(lambda_client, fn_name, echo_zip)
    before = lambda_client.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"]
    lambda_client.put_function_concurrency(FunctionName=fn_name, ReservedConcurrentExecutions=7)
    try:
        assert lambda_client.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"] == before - 7
    finally:
        lambda_client.delete_function_concurrency(FunctionName=fn_name)
    assert lambda_client.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"] == before


def test_other_region_is_separate(server: Server, fn_name: str, echo_zip: bytes) -> None:
    east = server.client(region="us-east-1")
    west = server.client(region="eu-west-1")
    west_before = west.get_account_settings()["AccountUsage"]["FunctionCount"]
    _create(east, fn_name, echo_zip)
    assert west.get_account_settings()["AccountUsage"]["FunctionCount"] == west_before


def test_cli_get_account_settings(server: Server) -> None:
    out = server.cli_json("lambda", "get-account-settings")
    assert out["AccountLimit"]["ConcurrentExecutions"] == 1000
    assert set(out["AccountUsage"]) == {"TotalCodeSize", "FunctionCount"}
