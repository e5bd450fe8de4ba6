"""The invocation engine (invoke/engine.py) through the app's Invoke handler, in process: versions,
aliases and weighted routing, the Pending refusal, throttling by reserved and account concurrency."""

from __future__ import annotations

import asyncio
import json
import random
from typing import Any

import pytest

from locallambda.errors import ResourceConflictError, ResourceNotFoundError, TooManyRequestsError
from locallambda.invoke.concurrency import ConcurrencyGate
from locallambda.invoke.engine import InvokeEngine
from locallambda.settings import Settings
from locallambda.store.functions import FunctionRecord, VersionRecord
from locallambda.testing import AppHarness, Faults, async_test, hang, running_app

ARN = "arn:aws:lambda:us-east-1:000000000000:function:fn"


def version(number: str) -> VersionRecord:
    return VersionRecord({"Version": number, "FunctionArn": ARN if number == "$LATEST" else f"{ARN}:{number}"})


def record_with_alias(weights: dict[str, float] | None) -> FunctionRecord:
    record = FunctionRecord(name="fn", region="us-east-1", account_id="000000000000", latest=version("$LATEST"))
    record.versions = {"1": version("1"), "2": version("2")}
    alias: dict[str, Any] = {"Name": "live", "FunctionVersion": "1"}
    if weights is not None:
        alias["RoutingConfig"] = {"AdditionalVersionWeights": weights}
    record.aliases["live"] = alias
    return record


# -- resolving qualifiers (store.functions.FunctionRecord.resolve) -----------------------------


def test_qualifiers_resolve_to_latest_a_version_or_an_alias() -> None:
    record = record_with_alias(None)
    assert record.resolve(None) == (record.latest, None)
    assert record.resolve("$LATEST") == (record.latest, None)
    assert record.resolve("2") == (record.versions["2"], None)
    assert record.resolve("live") == (record.versions["1"], "live")
    assert record.resolve("3") is None and record.resolve("dead") is None


@pytest.mark.parametrize(("roll", "chosen"), [(0.0, "2"), (0.249, "2"), (0.25, "1"), (0.999, "1")])
def test_a_weighted_alias_routes_by_the_roll(roll: float, chosen: str) -> None:
    record = record_with_alias({"2": 0.25})
    assert record.resolve("live", roll) == (record.versions[chosen], "live")
    assert record.resolve("live") == (record.versions["1"], "live")  # no roll: the primary version


# -- through the Invoke handler ----------------------------------------------------------------


async def two_versions(h: AppHarness) -> None:
    await h.create_function("fn", Publish=True)
    await h.call("UpdateFunctionConfiguration", FunctionName="fn", Description="second")
    published = await h.call("PublishVersion", FunctionName="fn")
    assert published["Version"] == "2"


@async_test
async def test_invoke_runs_the_version_or_alias_it_names() -> None:
    async with running_app() as h:
        await two_versions(h)
        await h.call("CreateAlias", FunctionName="fn", Name="live", FunctionVersion="1")
        for qualifier, executed in [(None, "$LATEST"), ("$LATEST", "$LATEST"), ("1", "1"), ("2", "2"), ("live", "1")]:
            extra = {"Qualifier": qualifier} if qualifier else {}
            out = await h.invoke("fn", b'{"q":1}', **extra)
            assert (out["StatusCode"], out["ExecutedVersion"], out["Payload"]) == (200, executed, b'{"q":1}')
        # The function sees the ARN it was invoked with (qualified by the alias, not the version).
        arns = [context["invoked_function_arn"] for _, context in h.executor.received]
        assert arns == [ARN, f"{ARN}:$LATEST", f"{ARN}:1", f"{ARN}:2", f"{ARN}:live"]
        assert h.executor.starts == 3  # one environment per version, reused within it


@async_test
async def test_a_weighted_alias_runs_the_version_the_roll_picks(monkeypatch: pytest.MonkeyPatch) -> None:
    async with running_app() as h:
        await two_versions(h)
        await h.call(
            "CreateAlias", FunctionName="fn", Name="live", FunctionVersion="1",
            RoutingConfig={"AdditionalVersionWeights": {"2": 0.3}},
        )  # fmt: skip
        for roll, executed in [(0.1, "2"), (0.5, "1"), (0.29, "2"), (0.3, "1")]:
            monkeypatch.setattr(random, "random", lambda roll=roll: roll)
            assert (await h.invoke("fn", Qualifier="live"))["ExecutedVersion"] == executed


@async_test
async def test_invoking_what_does_not_exist_is_not_found_with_aws_text() -> None:
    async with running_app() as h:
        with pytest.raises(ResourceNotFoundError, match=f"^Function not found: {ARN}:\\$LATEST$"):
            await h.invoke("fn")
        await h.create_function("fn")
        with pytest.raises(ResourceNotFoundError, match=f"^Function not found: {ARN}:nope$"):
            await h.invoke("fn", Qualifier="nope")


def test_ensure_active_refuses_every_state_but_active_with_aws_text() -> None:
    InvokeEngine.ensure_active(VersionRecord({"State": "Active"}))
    for state in ("Pending", "Failed", "Inactive"):
        with pytest.raises(ResourceConflictError) as e:
            InvokeEngine.ensure_active(VersionRecord({"State": state}))
        assert e.value.message == (
            f"The operation cannot be performed at this time. The function is currently in the following state: {state}"
        )


@async_test
async def test_a_pending_function_is_refused_until_its_preparation_ends() -> None:
    settings = Settings(synchronous_create=False)
    async with running_app(settings, faults={"fn": Faults(prepare_seconds=5)}) as h:
        created = await h.create_function("fn")
        assert created["State"] == "Pending"
        for kind in ("RequestResponse", "Event", "DryRun"):
            with pytest.raises(ResourceConflictError, match=r"following state: Pending$"):
                await h.invoke("fn", InvocationType=kind)
        await h.clock.advance(5)
        assert (await h.call("GetFunctionConfiguration", FunctionName="fn"))["State"] == "Active"
        assert (await h.invoke("fn"))["StatusCode"] == 200
        assert h.executor.starts == 1


# -- throttling --------------------------------------------------------------------------------


def reason(exc: pytest.ExceptionInfo[TooManyRequestsError]) -> str:
    assert exc.value.message == "Rate Exceeded."
    return str(exc.value.extra["Reason"])


def test_the_gate_holds_reserved_functions_to_their_reservation() -> None:
    gate = ConcurrencyGate(10)
    with gate.slot("a", 2, 2), gate.slot("a", 2, 2):
        with pytest.raises(TooManyRequestsError) as e, gate.slot("a", 2, 2):
            pass
        assert reason(e) == "ReservedFunctionConcurrentInvocationLimitExceeded"
        with gate.slot("b", None, 2):  # others are not affected
            assert gate.running("a") == 2
    assert gate.running("a") == 0
    with gate.slot("a", 2, 2):  # the slots came back
        pass


def test_unreserved_functions_share_what_the_reservations_leave_of_the_account_limit() -> None:
    gate = ConcurrencyGate(3)
    with gate.slot("a", None, 1), gate.slot("b", None, 1):
        with pytest.raises(TooManyRequestsError) as e, gate.slot("c", None, 1):
            pass
        assert reason(e) == "ConcurrentInvocationLimitExceeded"
        with gate.slot("reserved", 1, 1):  # the reservation itself is still available
            pass
    with gate.slot("c", None, 1):
        pass


@async_test
async def test_a_reservation_of_zero_throttles_every_invocation() -> None:
    async with running_app() as h:
        await h.create_function("fn")
        await h.call("PutFunctionConcurrency", FunctionName="fn", ReservedConcurrentExecutions=0)
        with pytest.raises(TooManyRequestsError) as e:
            await h.invoke("fn")
        assert reason(e) == "ReservedFunctionConcurrentInvocationLimitExceeded"
        assert h.executor.starts == 0


async def blocked(h: AppHarness, release: asyncio.Event) -> None:
    async def wait(event: bytes, context: dict[str, Any]) -> bytes:
        await release.wait()
        return b"done"

    h.executor.handlers["fn"] = wait


@async_test
async def test_invocations_beyond_the_reservation_are_throttled_while_it_is_in_use() -> None:
    release = asyncio.Event()
    async with running_app() as h:
        await blocked(h, release)
        await h.create_function("fn")
        await h.call("PutFunctionConcurrency", FunctionName="fn", ReservedConcurrentExecutions=1)
        first = asyncio.ensure_future(h.invoke("fn"))
        await h.executor.wait_for_invocations(1)
        with pytest.raises(TooManyRequestsError) as e:
            await h.invoke("fn")
        assert reason(e) == "ReservedFunctionConcurrentInvocationLimitExceeded"
        release.set()
        assert (await first)["Payload"] == b"done"
        assert (await h.invoke("fn"))["Payload"] == b"done"  # the slot came back


@async_test
async def test_the_account_limit_throttles_unreserved_functions() -> None:
    release = asyncio.Event()
    settings = Settings(
        synchronous_create=True, limits_concurrent_executions=1, limits_minimum_unreserved_concurrency=0
    )
    async with running_app(settings) as h:
        await blocked(h, release)
        await h.create_function("fn")
        await h.create_function("other")
        first = asyncio.ensure_future(h.invoke("fn"))
        await h.executor.wait_for_invocations(1)
        with pytest.raises(TooManyRequestsError) as e:
            await h.invoke("other")
        assert reason(e) == "ConcurrentInvocationLimitExceeded"
        release.set()
        await first
        assert (await h.invoke("other"))["StatusCode"] == 200


@async_test
async def test_shutdown_stops_every_environment_and_leaves_no_task_behind() -> None:
    async with running_app(handlers={"slow": hang}) as h:
        await h.create_function("fn")
        await h.create_function("slow")
        await h.invoke("fn")
        in_flight = asyncio.ensure_future(h.invoke("slow"))
        await h.executor.wait_for_invocations(2)
    out = await in_flight
    payload = json.loads(out["Payload"])
    assert (out["FunctionError"], payload["errorType"]) == ("Unhandled", "Runtime.ExitError")  # stopped under it
    assert (h.executor.starts, h.executor.kills, h.executor.running) == (2, 2, 0)
    assert asyncio.all_tasks() == {asyncio.current_task()}
