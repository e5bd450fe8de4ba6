"""Event invocations (invoke/async_queue.py) by the manual clock: retries after AWS's delays, events
past MaximumEventAgeInSeconds dropped, throttles requeued without using up attempts
(docs: invocation-async.html)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from locallambda.errors import ResourceNotFoundError, TooManyRequestsError
from locallambda.invoke.async_queue import EventQueue
from locallambda.invoke.journal import Trigger
from locallambda.model.refs import FunctionRef
from locallambda.model.spec import InvocationResult
from locallambda.model.tasks import TaskScope
from locallambda.testing import ManualClock, async_test

REF = FunctionRef(name="fn", qualifier=None, region="us-east-1", account_id="000000000000")


class Function:
    """A stand-in for the engine: records when each attempt ran and answers as scripted."""

    def __init__(self, clock: ManualClock, answers: list[str | Exception]) -> None:
        self.clock = clock
        self.answers = answers  # "ok", "error", or an exception; the last one repeats
        self.attempts: list[tuple[float, bytes, str]] = []

    async def run(self, ref: FunctionRef, payload: bytes, request_id: str, trigger: Trigger) -> InvocationResult:
        self.attempts.append((self.clock.monotonic() - START, payload, request_id))
        answer = self.answers[min(len(self.attempts), len(self.answers)) - 1]
        if isinstance(answer, Exception):
            raise answer
        return InvocationResult(request_id, b"{}", "$LATEST", function_error="Unhandled" if answer == "error" else None)

    @property
    def times(self) -> list[float]:
        return [t for t, _, _ in self.attempts]


START = ManualClock().monotonic()


@contextlib.asynccontextmanager
async def queue(
    answers: list[str | Exception], config: dict[str, Any] | None = None
) -> AsyncIterator[tuple[EventQueue, Function, ManualClock]]:
    clock = ManualClock()
    fn = Function(clock, answers)
    events = EventQueue(fn.run, lambda _ref: dict(config or {}), TaskScope("events"), clock, workers=2)
    events.start()
    try:
        yield events, fn, clock
    finally:
        await events.close()
        assert clock.pending == 0  # no retry left scheduled
        assert asyncio.all_tasks() == {asyncio.current_task()}


@async_test
async def test_a_success_runs_once() -> None:
    async with queue(["ok"]) as (events, fn, clock):
        events.submit(REF, b'{"a":1}', "rid-1")
        await clock.advance(3600)
        assert fn.attempts == [(0.0, b'{"a":1}', "rid-1")]


@async_test
async def test_a_function_error_is_retried_twice_after_one_and_two_minutes() -> None:
    async with queue(["error"]) as (events, fn, clock):
        events.submit(REF, b"{}", "rid-1")
        await clock.advance(59)
        assert fn.times == [0.0]
        await clock.advance(1)
        assert fn.times == [0.0, 60.0]
        await clock.advance(119)
        assert fn.times == [0.0, 60.0]
        await clock.advance(1)
        assert fn.times == [0.0, 60.0, 180.0]
        await clock.advance(3600)
        assert len(fn.attempts) == 3  # MaximumRetryAttempts defaults to 2
        assert {rid for _, _, rid in fn.attempts} == {"rid-1"}  # the same request id throughout


@async_test
async def test_a_retry_that_succeeds_ends_the_retries() -> None:
    async with queue(["error", "ok"]) as (events, fn, clock):
        events.submit(REF, b"{}", "rid-1")
        await clock.advance(3600)
        assert fn.times == [0.0, 60.0]


@async_test
async def test_maximum_retry_attempts_from_the_event_invoke_config() -> None:
    async with queue(["error"], {"MaximumRetryAttempts": 0}) as (events, fn, clock):
        events.submit(REF, b"{}", "rid-1")
        await clock.advance(3600)
        assert fn.times == [0.0]
    async with queue(["error"], {"MaximumRetryAttempts": 1}) as (events, fn, clock):
        events.submit(REF, b"{}", "rid-1")
        await clock.advance(3600)
        assert fn.times == [0.0, 60.0]


@async_test
async def test_an_event_older_than_its_maximum_age_is_dropped_not_retried() -> None:
    async with queue(["error"], {"MaximumEventAgeInSeconds": 100}) as (events, fn, clock):
        events.submit(REF, b"{}", "rid-1")
        await clock.advance(3600)
        # The first retry (at 60 s) is within the age; the second (at 180 s) is not.
        assert fn.times == [0.0, 60.0]


@async_test
async def test_an_event_of_exactly_the_maximum_age_still_runs() -> None:
    async with queue(["error"], {"MaximumEventAgeInSeconds": 60}) as (events, fn, clock):
        events.submit(REF, b"{}", "rid-1")
        await clock.advance(3600)
        assert fn.times == [0.0, 60.0]


@async_test
async def test_throttles_are_requeued_with_backoff_and_use_up_no_attempt() -> None:
    throttled = TooManyRequestsError("Rate Exceeded.", Reason="ReservedFunctionConcurrentInvocationLimitExceeded")
    async with queue([throttled, throttled, throttled, "error"], {"MaximumRetryAttempts": 1}) as (events, fn, clock):
        events.submit(REF, b"{}", "rid-1")
        await clock.advance(3600)
        # Backoff by the event's age (at least 1 s): 0 → 1 → 2 → 4, then the function ran, failed,
        # and had its one retry a minute later.
        assert fn.times == [0.0, 1.0, 2.0, 4.0, 64.0]


@async_test
async def test_an_api_error_ends_the_event() -> None:
    async with queue([ResourceNotFoundError("Function not found")]) as (events, fn, clock):
        events.submit(REF, b"{}", "rid-1")
        await clock.advance(3600)
        assert fn.times == [0.0]


@async_test
async def test_events_run_independently() -> None:
    async with queue(["error", "ok"]) as (events, fn, clock):
        events.submit(REF, b"1", "a")
        await clock.advance(30)
        events.submit(REF, b"2", "b")
        await clock.advance(3600)
        assert [(t, rid) for t, _, rid in fn.attempts] == [(0.0, "a"), (30.0, "b"), (60.0, "a")]


@async_test
async def test_closing_the_queue_cancels_scheduled_retries() -> None:
    clock = ManualClock()
    fn = Function(clock, ["error"])
    events = EventQueue(fn.run, lambda _ref: {}, TaskScope("events"), clock, workers=1)
    events.start()
    events.submit(REF, b"{}", "rid-1")
    await clock.advance(1)
    assert clock.pending == 1  # the retry
    await events.close()
    assert clock.pending == 0
    await clock.advance(3600)
    assert fn.times == [0.0]
