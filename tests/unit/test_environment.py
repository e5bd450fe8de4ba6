"""One execution environment (invoke/environment.py) in process: its state machine, an invocation's
result and log lines, the faults AWS reports as results (timeout, runtime exit, init error, the
init phase going on within the invocation) and the reset that follows a failed invocation,
driven by the manual clock and the fake executor."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from locallambda.errors import ExecutorError, RuntimeExit, RuntimeOutOfMemory, SandboxTimeout
from locallambda.invoke.environment import INIT_PHASE_S, ExecutionEnvironment
from locallambda.model.clock import iso_millis
from locallambda.model.lifecycle import EnvState, IllegalTransition
from locallambda.model.spec import Invocation, InvocationResult
from locallambda.model.tasks import TaskScope
from locallambda.testing import (
    EPOCH,
    ExitRuntime,
    FakeExecutor,
    Faults,
    ManualClock,
    async_test,
    exits,
    function_spec,
    hang,
)

_ids = itertools.count(1)


def invocation(payload: bytes = b'{"n":1}') -> Invocation:
    return Invocation(request_id=f"req-{next(_ids)}", payload=payload, invoked_arn=function_spec().arn)


class Rig:
    """An environment of function ``fn`` on a fake executor and a manual clock."""

    def __init__(self, executor: FakeExecutor, clock: ManualClock, env: ExecutionEnvironment, lines: list[str]):
        self.executor = executor
        self.clock = clock
        self.env = env
        self.lines = lines


@contextlib.asynccontextmanager
async def rig(
    handler: Any = None, faults: Faults | None = None, *, in_place: bool = True, **spec: Any
) -> AsyncIterator[Rig]:
    clock = ManualClock()
    executor = FakeExecutor(
        {"fn": handler} if handler else None,
        faults={"fn": faults or Faults()},
        clock=clock,
        restarts_in_place=in_place,
    )
    lines: list[str] = []
    tasks = TaskScope("test")
    env = ExecutionEnvironment(
        function_spec("fn", **spec),
        executor,
        endpoint_url=None,
        log_line=lambda _key, line, *_: lines.append(line),
        tasks=tasks,
        clock=clock,
    )
    try:
        yield Rig(executor, clock, env, lines)
    finally:
        env.stop()
        await env.wait_stopped()
        await executor.close()
        await tasks.close()
        # Nothing outlives the environment: no runtime, no watcher, no timer.
        assert executor.running == 0
        assert asyncio.all_tasks() == {asyncio.current_task()}
        assert clock.pending == 0


def fault(payload: bytes) -> dict[str, Any]:
    doc = json.loads(payload)
    assert isinstance(doc, dict)
    return doc


# -- the state machine ------------------------------------------------------------------------


def test_env_state_moves_are_those_of_the_table_and_nothing_leaves_stopped() -> None:
    legal = {
        (EnvState.STARTING, EnvState.IDLE), (EnvState.STARTING, EnvState.BUSY), (EnvState.STARTING, EnvState.STOPPED),
        (EnvState.IDLE, EnvState.BUSY), (EnvState.IDLE, EnvState.STOPPED),
        (EnvState.BUSY, EnvState.IDLE), (EnvState.BUSY, EnvState.RESET), (EnvState.BUSY, EnvState.STOPPED),
        (EnvState.RESET, EnvState.BUSY), (EnvState.RESET, EnvState.STOPPED),
    }  # fmt: skip
    for old, new in itertools.product(EnvState, EnvState):
        assert old.can_become(new) == ((old, new) in legal), (old, new)


@async_test
async def test_environment_goes_starting_busy_idle_busy_idle_stopped() -> None:
    async with rig() as r:
        seen = [r.env.state]
        await r.env.start()
        await r.env.wait_initialized()
        seen.append(r.env.state)
        for _ in range(2):
            task = asyncio.ensure_future(r.env.invoke(invocation()))
            await asyncio.sleep(0)
            seen.append(r.env.state)
            await task
            seen.append(r.env.state)
        r.env.stop()
        seen.append(r.env.state)
        assert seen == [EnvState.STARTING, EnvState.STARTING, EnvState.BUSY, EnvState.IDLE,
                        EnvState.BUSY, EnvState.IDLE, EnvState.STOPPED]  # fmt: skip
        assert await r.executor.runtimes[0].wait() == -9
        assert (r.executor.starts, r.executor.kills, r.env.invocations) == (1, 1, 2)


@async_test
async def test_a_stopped_environment_refuses_to_become_busy_again() -> None:
    async with rig() as r:
        await r.env.start()
        r.env.stop()
        r.env.stop()  # idempotent
        with pytest.raises(IllegalTransition):
            await r.env.invoke(invocation())
        assert r.env.state is EnvState.STOPPED


# -- results and log lines ---------------------------------------------------------------------


@async_test
async def test_an_invocation_returns_the_answer_and_start_end_report_lines() -> None:
    def handler(event: bytes, context: dict[str, Any]) -> bytes:
        context["log"](f"got {event.decode()}")
        return b'{"ok":true}'

    async with rig(handler, memory_mb=256) as r:
        await r.env.start()
        inv = invocation()
        first = await r.env.invoke(inv)
        second = await r.env.invoke(invocation())
    rid = inv.request_id
    assert (first.payload, first.function_error, first.executed_version) == (b'{"ok":true}', None, "$LATEST")
    # The manual clock did not move: every duration is 0, billed as 1 ms.
    assert first.log.splitlines() == [
        f"START RequestId: {rid} Version: $LATEST",
        'got {"n":1}',
        f"END RequestId: {rid}",
        f"REPORT RequestId: {rid}\tDuration: 0.00 ms\tBilled Duration: 1 ms\tMemory Size: 256 MB\t"
        "Max Memory Used: 0 MB\tInit Duration: 0.00 ms\t",
    ]
    assert first.init_duration_ms == 0.0
    assert second.init_duration_ms is None and "Init Duration" not in second.log  # a warm start
    assert r.lines[: len(first.log.splitlines())] == first.log.splitlines()  # the server's log too


@async_test
async def test_the_runtime_sees_the_deadline_arn_and_variables_as_aws_sets_them() -> None:
    async with rig(timeout_s=7, environment={"STAGE": "test"}) as r:
        await r.env.start()
        inv = invocation()
        await r.env.invoke(inv)
    _, context = r.executor.received[0]
    assert context["aws_request_id"] == inv.request_id
    assert context["deadline_ms"] == int((EPOCH + 7) * 1000)
    assert context["invoked_function_arn"] == inv.invoked_arn
    env = context["environment"]
    assert env["STAGE"] == "test" and env["AWS_LAMBDA_FUNCTION_TIMEOUT"] == "7"
    assert env["AWS_LAMBDA_RUNTIME_API"].startswith("127.0.0.1:")


@async_test
async def test_a_raised_exception_is_an_unhandled_function_error() -> None:
    def handler(event: bytes, context: dict[str, Any]) -> bytes:
        raise ValueError("boom")

    async with rig(handler) as r:
        await r.env.start()
        result = await r.env.invoke(invocation())
        assert r.env.state is EnvState.IDLE  # a function error does not end the environment
    assert result.function_error == "Unhandled"
    doc = fault(result.payload)
    assert (doc["errorType"], doc["errorMessage"]) == ("ValueError", "boom")
    assert "[ERROR] ValueError: boom" in result.log.splitlines()


# -- faults ------------------------------------------------------------------------------------


@async_test
async def test_a_timeout_is_sandbox_timedout_by_the_manual_clock() -> None:
    async with rig(hang, timeout_s=3) as r:
        await r.env.start()
        inv = invocation()
        task = asyncio.ensure_future(r.env.invoke(inv))
        await r.executor.wait_for_invocations(1)
        await r.clock.advance(2.9)
        assert not task.done()
        await r.clock.advance(0.1)
        result = await task
        # AWS resets the environment: the runtime is killed, the environment kept.
        assert r.env.state is EnvState.RESET and (r.executor.kills, r.executor.resets) == (0, 1)
    rid = inv.request_id
    assert result.function_error == "Unhandled"
    assert result.payload == SandboxTimeout(rid, 3).payload()
    assert fault(result.payload) == {
        "errorType": "Sandbox.Timedout",
        "errorMessage": f"RequestId: {rid} Error: Task timed out after 3.00 seconds",
    }
    assert f"{iso_millis(EPOCH + 3)} {rid} Task timed out after 3.00 seconds" in result.log.splitlines()
    assert f"REPORT RequestId: {rid}\tDuration: 3000.00 ms" in result.log


@pytest.mark.parametrize(
    ("handler", "error_type", "message"),
    [
        (exits(2), "Runtime.ExitError", "Runtime exited with error: exit status 2"),
        (exits(0), "Runtime.ExitError", "Runtime exited without providing a reason"),
        (exits(out_of_memory=True), "Runtime.OutOfMemory", "Runtime exited with error: signal: killed"),
    ],
    ids=["status", "clean-exit", "out-of-memory"],
)
@async_test
async def test_a_runtime_exit_mid_invocation_is_reported_as_aws_words_it(
    handler: Any, error_type: str, message: str
) -> None:
    async with rig(handler) as r:
        await r.env.start()
        inv = invocation()
        result = await r.env.invoke(inv)
        assert r.env.state is EnvState.RESET  # a crash during an invocation resets the environment
    assert result.function_error == "Unhandled"
    assert fault(result.payload) == {
        "errorType": error_type,
        "errorMessage": f"RequestId: {inv.request_id} Error: {message}",
    }
    expected = RuntimeOutOfMemory if error_type == "Runtime.OutOfMemory" else RuntimeExit
    assert expected.error_type == error_type


@async_test
async def test_an_init_error_document_is_passed_through_untouched() -> None:
    faults = Faults(init_error=("Runtime.ImportModuleError", "Unable to import module 'index': No module named 'x'"))
    async with rig(faults=faults) as r:
        await r.env.start()
        result = await r.env.invoke(invocation())
        assert r.env.state is EnvState.STOPPED  # AWS starts a new environment for the next one
    assert result.function_error == "Unhandled"
    assert fault(result.payload) == {
        "errorMessage": "Unable to import module 'index': No module named 'x'",
        "errorType": "Runtime.ImportModuleError",
        "requestId": "",
        "stackTrace": [],
    }


@async_test
async def test_a_runtime_that_exits_during_init_fails_the_invocation_with_its_status() -> None:
    async with rig(faults=Faults(init_exit=127)) as r:
        await r.env.start()
        inv = invocation()
        result = await r.env.invoke(inv)
    assert fault(result.payload) == {
        "errorType": "Runtime.ExitError",
        "errorMessage": f"RequestId: {inv.request_id} Error: Runtime exited with error: exit status 127",
    }


@async_test
async def test_a_slow_init_goes_on_within_the_invocation_under_its_timeout() -> None:
    # AWS: the init phase has 10 s; an init still running then continues within the first
    # invocation, which has the function's timeout on top (lambda-runtime-environment.html).
    async with rig(faults=Faults(init_seconds=INIT_PHASE_S + 2), timeout_s=3) as r:
        await r.env.start()
        task = asyncio.ensure_future(r.env.invoke(invocation(b'"late"')))
        await r.clock.advance(INIT_PHASE_S + 2)
        result = await task
    assert (result.payload, result.function_error) == (b'"late"', None)
    assert result.init_duration_ms == 12_000.0
    assert "Init Duration: 12000.00 ms" in result.log


@async_test
async def test_an_init_longer_than_the_init_phase_plus_the_timeout_times_out() -> None:
    async with rig(faults=Faults(init_seconds=60), timeout_s=3) as r:
        await r.env.start()
        inv = invocation()
        task = asyncio.ensure_future(r.env.invoke(inv))
        await r.clock.advance(INIT_PHASE_S + 3 - 0.5)
        assert not task.done()
        await r.clock.advance(0.5)
        result = await task
        assert r.env.state is EnvState.STOPPED
    assert result.payload == SandboxTimeout(inv.request_id, 3).payload()
    assert r.executor.received == []  # the function never got the event


@async_test
async def test_waiting_for_a_pre_started_init_has_a_deadline_on_the_clock() -> None:
    async with rig(faults=Faults(init_seconds=60)) as r:
        await r.env.start()
        waiting = asyncio.ensure_future(r.env.wait_initialized(timeout=5))
        await r.clock.advance(5)
        with pytest.raises(ExecutorError, match="did not initialize within 5s"):
            await waiting


@async_test
async def test_an_executor_that_cannot_start_raises_and_the_environment_is_stopped() -> None:
    async with rig(faults=Faults(start_error="no room")) as r:
        with pytest.raises(ExecutorError, match="no room"):
            await r.env.start()
        assert r.env.state is EnvState.STOPPED and r.executor.starts == 0


@async_test
async def test_an_invalid_entrypoint_is_the_invocations_result() -> None:
    reason = "Couldn't find valid bootstrap(s): [/var/task/bootstrap /opt/bootstrap]"
    async with rig(faults=Faults(invalid_entrypoint=reason)) as r:
        await r.env.start()
        inv = invocation()
        result = await r.env.invoke(inv)
    assert fault(result.payload) == {
        "errorType": "Runtime.InvalidEntrypoint",
        "errorMessage": f"RequestId: {inv.request_id} Error: {reason}",
    }


# -- the reset after a failed invocation -------------------------------------------------------


async def remembers(event: bytes, context: dict[str, Any]) -> bytes:
    """Appends to the environment's ``tmp`` on every invocation; then hangs, exits or answers."""
    tmp = context["tmp"]
    tmp["marker"] = tmp.get("marker", "") + event.decode()
    if event == b"h":
        await asyncio.get_running_loop().create_future()
    if event == b"x":
        raise ExitRuntime(1)
    if event == b"m":
        raise ExitRuntime(out_of_memory=True)
    return json.dumps({"marker": tmp["marker"], "start": context["start"]}).encode()


async def fail_then_invoke(r: Rig, how: bytes) -> InvocationResult:
    """Invoke once (initialized), fail the second invocation by ``how``, return the third's result."""
    await r.env.start()
    assert fault((await r.env.invoke(invocation(b"a"))).payload) == {"marker": "a", "start": 1}
    failing = asyncio.ensure_future(r.env.invoke(invocation(how)))
    await r.executor.wait_for_invocations(2)
    await r.clock.advance(3)  # past the timeout when the function hangs
    assert (await failing).function_error == "Unhandled"
    assert r.env.state is EnvState.RESET
    return await r.env.invoke(invocation(b"b"))


@pytest.mark.parametrize("how", [b"h", b"x", b"m"], ids=["timeout", "exit", "out-of-memory"])
@async_test
async def test_after_a_failed_invocation_the_runtime_starts_again_in_the_kept_environment(how: bytes) -> None:
    async with rig(remembers, timeout_s=3) as r:
        result = await fail_then_invoke(r, how)
        assert r.env.state is EnvState.IDLE
        assert (r.executor.starts, r.executor.kills, r.executor.resets) == (1, 0, 1)
    # What was written before the failure is still there; the runtime is a new start.
    assert fault(result.payload) == {"marker": "a" + how.decode() + "b", "start": 2}
    assert result.function_error is None


@async_test
async def test_the_init_after_a_reset_is_suppressed_its_time_counted_in_the_duration() -> None:
    # AWS: a suppressed init is not reported apart; the REPORT's Duration includes it
    # (lambda-runtime-environment.html, "Failures during the invoke phase").
    async with rig(remembers, Faults(init_seconds=0.25), timeout_s=3) as r:
        await r.env.start()
        first = asyncio.ensure_future(r.env.invoke(invocation(b"a")))
        await r.clock.advance(0.25)
        assert "\tInit Duration: 250.00 ms" in (await first).log
        failing = asyncio.ensure_future(r.env.invoke(invocation(b"x")))
        await r.executor.wait_for_invocations(2)
        await failing
        third = asyncio.ensure_future(r.env.invoke(invocation(b"b")))
        await r.clock.advance(0.25)  # the runtime's init, again
        result = await third
    assert result.init_duration_ms is None and "Init Duration" not in result.log
    assert "\tDuration: 250.00 ms\t" in result.log


@async_test
async def test_where_the_environment_is_only_its_processes_the_executor_starts_the_runtime_anew() -> None:
    async with rig(remembers, timeout_s=3, in_place=False) as r:
        result = await fail_then_invoke(r, b"x")
        assert (r.executor.starts, r.executor.kills) == (2, 1)
        assert r.env.state is EnvState.IDLE
    assert fault(result.payload) == {"marker": "b", "start": 1}  # the fake's tmp went with it
    assert "Init Duration" not in result.log


@async_test
async def test_an_init_that_fails_after_a_reset_ends_the_environment() -> None:
    async with rig(remembers, Faults(reinit_exit=3), timeout_s=3) as r:
        result = await fail_then_invoke(r, b"x")
        assert r.env.state is EnvState.STOPPED
    assert fault(result.payload)["errorMessage"].endswith("Runtime exited with error: exit status 3")


@async_test
async def test_a_reset_environment_stopped_before_its_next_invocation_leaves_nothing() -> None:
    async with rig(hang, timeout_s=1) as r:
        await r.env.start()
        task = asyncio.ensure_future(r.env.invoke(invocation()))
        await r.executor.wait_for_invocations(1)
        await r.clock.advance(1)
        await task
        r.env.stop()
        await r.env.wait_stopped()
        assert r.env.state is EnvState.STOPPED and r.executor.kills == 1
