"""Function lifecycles: ``model.lifecycle.VersionStatus`` (legal moves, the others refused) and the
control plane's ``Lifecycle.settle`` making a function Active or Failed with the preparer's reason,
through the app's handlers with the fake executor (docs: functions-states.html)."""

from __future__ import annotations

from typing import Any

import pytest

from locallambda.errors import ResourceConflictError
from locallambda.model.lifecycle import (
    CREATING_REASON,
    FunctionState,
    IllegalTransition,
    UpdateStatus,
    VersionStatus,
)
from locallambda.settings import Settings
from locallambda.testing import Faults, async_test, running_app

FAILED_REASON = "Docker not available"


def created() -> dict[str, Any]:
    cfg: dict[str, Any] = {"FunctionName": "fn"}
    VersionStatus(cfg).begin_create()
    return cfg


# -- VersionStatus -----------------------------------------------------------------------------


def test_a_new_version_is_pending_while_it_is_created() -> None:
    cfg = {"State": "Active", "LastUpdateStatus": "Successful", "StateReason": "old"}  # copied from $LATEST
    status = VersionStatus(cfg)
    status.begin_create()
    assert cfg == {"State": "Pending", "StateReason": CREATING_REASON, "StateReasonCode": "Creating"}
    assert status.state is FunctionState.PENDING and status.update is None and status.settling


def test_settling_without_a_failure_makes_it_active_and_successful() -> None:
    cfg = created()
    VersionStatus(cfg).settle(None)
    assert cfg == {"FunctionName": "fn", "State": "Active", "LastUpdateStatus": "Successful"}
    assert not VersionStatus(cfg).settling


def test_settling_with_a_failure_makes_it_failed_with_the_reason() -> None:
    cfg = created()
    VersionStatus(cfg).settle(FAILED_REASON)
    assert cfg == {
        "FunctionName": "fn",
        "State": "Failed",
        "StateReason": FAILED_REASON,
        "StateReasonCode": "InternalError",
        "LastUpdateStatus": "Failed",
        "LastUpdateStatusReason": FAILED_REASON,
        "LastUpdateStatusReasonCode": "InternalError",
    }


def test_an_update_goes_in_progress_then_successful_and_may_repair_a_failed_function() -> None:
    cfg = created()
    status = VersionStatus(cfg)
    status.settle(FAILED_REASON)
    status.begin_update()
    assert status.update is UpdateStatus.IN_PROGRESS and status.settling
    assert cfg["LastUpdateStatusReasonCode"] == "Creating"
    status.settle(None)
    assert (status.state, status.update) == (FunctionState.ACTIVE, UpdateStatus.SUCCESSFUL)
    assert "StateReason" not in cfg and "LastUpdateStatusReason" not in cfg


@pytest.mark.parametrize(
    ("cfg", "move"),
    [
        ({"State": "Active", "LastUpdateStatus": "Successful"}, lambda s: s.settle(None)),  # nothing to settle
        ({"State": "Active", "LastUpdateStatus": "InProgress"}, lambda s: s.begin_update()),  # one at a time
        ({"State": "Inactive", "LastUpdateStatus": "InProgress"}, lambda s: s.settle("x")),  # Inactive → Failed
        ({"State": "Failed", "LastUpdateStatus": "InProgress"}, lambda s: s.settle(None) or s.settle(None)),
    ],
    ids=["settle-twice", "update-during-update", "inactive-to-failed", "settled-then-settle"],
)
def test_moves_the_tables_do_not_list_are_refused(cfg: dict[str, Any], move: Any) -> None:
    with pytest.raises(IllegalTransition):
        move(VersionStatus(cfg))


# -- Lifecycle.settle through CreateFunction ---------------------------------------------------


@async_test
async def test_a_synchronous_create_answers_active() -> None:
    async with running_app(Settings(synchronous_create=True)) as h:
        cfg = await h.create_function("fn")
        assert (cfg["State"], cfg["LastUpdateStatus"]) == ("Active", "Successful")
        assert "StateReason" not in cfg
        assert (await h.invoke("fn"))["StatusCode"] == 200


@async_test
async def test_a_preparer_that_refuses_makes_the_function_failed_with_its_reason() -> None:
    async with running_app(Settings(synchronous_create=True), faults={"fn": Faults(prepare_error=FAILED_REASON)}) as h:
        cfg = await h.create_function("fn")
        assert (cfg["State"], cfg["StateReason"], cfg["StateReasonCode"]) == ("Failed", FAILED_REASON, "InternalError")
        read = await h.call("GetFunctionConfiguration", FunctionName="fn")
        assert (read["State"], read["LastUpdateStatus"], read["LastUpdateStatusReason"]) == (
            "Failed",
            "Failed",
            FAILED_REASON,
        )
        with pytest.raises(ResourceConflictError, match="following state: Failed"):
            await h.invoke("fn")
        assert h.executor.starts == 0


@async_test
async def test_an_update_that_prepares_repairs_a_failed_function() -> None:
    async with running_app(Settings(synchronous_create=True), faults={"fn": Faults(prepare_error=FAILED_REASON)}) as h:
        await h.create_function("fn")
        h.executor.faults.clear()
        await h.call("UpdateFunctionConfiguration", FunctionName="fn", Description="fixed")
        read = await h.call("GetFunctionConfiguration", FunctionName="fn")
        assert (read["State"], read["LastUpdateStatus"]) == ("Active", "Successful")
        assert (await h.invoke("fn", b'"ok"'))["Payload"] == b'"ok"'


@async_test
async def test_an_asynchronous_create_is_pending_until_the_preparer_answers() -> None:
    faults = {"fn": Faults(prepare_seconds=3), "bad": Faults(prepare_seconds=3, prepare_error=FAILED_REASON)}
    async with running_app(Settings(synchronous_create=False), faults=faults) as h:
        for name in ("fn", "bad"):
            cfg = await h.create_function(name)
            assert (cfg["State"], cfg["StateReasonCode"]) == ("Pending", "Creating")
        await h.clock.advance(2.5)
        assert (await h.call("GetFunctionConfiguration", FunctionName="fn"))["State"] == "Pending"
        await h.clock.advance(0.5)
        good = await h.call("GetFunctionConfiguration", FunctionName="fn")
        bad = await h.call("GetFunctionConfiguration", FunctionName="bad")
        assert (good["State"], bad["State"], bad["StateReason"]) == ("Active", "Failed", FAILED_REASON)


@async_test
async def test_an_update_is_in_progress_until_the_preparer_answers() -> None:
    async with running_app(Settings(synchronous_create=False)) as h:
        await h.create_function("fn")
        await h.clock.advance(0)
        h.executor.faults["fn"] = Faults(prepare_seconds=2)
        out = await h.call("UpdateFunctionConfiguration", FunctionName="fn", Description="v2")
        assert (out["State"], out["LastUpdateStatus"]) == ("Active", "InProgress")
        with pytest.raises(ResourceConflictError, match="An update is in progress"):
            await h.call("UpdateFunctionConfiguration", FunctionName="fn", Description="v3")
        await h.clock.advance(2)
        read = await h.call("GetFunctionConfiguration", FunctionName="fn")
        assert (read["LastUpdateStatus"], read["Description"]) == ("Successful", "v2")
