"""The outcomes the event queue (invoke/async_queue.py) hands to the destinations, by the manual
clock: AWS's conditions and approximate invoke counts, the look-ahead on MaximumEventAgeInSeconds
(recorded in LocalStack's test_maxeventage), throttles that outlive the event's age, and reserved
concurrency 0 (docs: invocation-async-error-handling.html, invocation-async-retain-records.html)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from locallambda.errors import TooManyRequestsError
from locallambda.invoke.async_queue import Condition, EventQueue, Outcome
from locallambda.invoke.journal import Trigger
from locallambda.model.refs import FunctionRef
from locallambda.model.spec import InvocationResult
from locallambda.model.tasks import TaskScope
from locallambda.testing import ManualClock, async_test

REF = FunctionRef(name="fn", qualifier=None, region="us-east-1", account_id="000000000000")
THROTTLED = TooManyRequestsError("Rate Exceeded.", Reason="ReservedFunctionConcurrentInvocationLimitExceeded")


@contextlib.asynccontextmanager
async def queue(
    answer: str | Exception, config: dict[str, Any], *, blocked: bool = False
) -> AsyncIterator[tuple[EventQueue, list[Outcome], list[float], ManualClock]]:
    clock = ManualClock()
    start = clock.monotonic()
    outcomes: list[Outcome] = []
    runs: list[float] = []

    async def run(ref: FunctionRef, payload: bytes, request_id: str, trigger: Trigger) -> InvocationResult:
        runs.append(clock.monotonic() - start)
        if isinstance(answer, Exception):
            raise answer
        return InvocationResult(
            request_id, b'{"r":1}', "$LATEST", function_error="Unhandled" if answer == "error" else None
        )

    async def deliver(outcome: Outcome) -> None:
        outcomes.append(outcome)

    events = EventQueue(
        run, lambda _ref: dict(config), TaskScope("events"), clock, deliver=deliver, blocked=lambda _ref: blocked
    )
    events.start()
    try:
        yield events, outcomes, runs, clock
    finally:
        await events.close()


@async_test
async def test_a_success_is_delivered_with_one_invoke() -> None:
    async with queue("ok", {}) as (events, outcomes, _runs, clock):
        events.submit(REF, b"{}", "rid")
        await clock.advance(1)
        [outcome] = outcomes
        assert (outcome.condition, outcome.invoke_count) == (Condition.SUCCESS, 1)
        assert outcome.response is not None and outcome.response.payload == b'{"r":1}'


@async_test
async def test_retries_exhausted_after_three_invokes() -> None:
    async with queue("error", {}) as (events, outcomes, runs, clock):
        events.submit(REF, b"{}", "rid")
        await clock.advance(3600)
        assert runs == [0.0, 60.0, 180.0]
        [outcome] = outcomes
        assert (outcome.condition, outcome.invoke_count) == (Condition.RETRIES_EXHAUSTED, 3)


@async_test
async def test_an_age_of_90_s_allows_one_retry_then_gives_up_at_once() -> None:
    # recorded: "single_retry_failure_message", approximateInvokeCount 2, condition EventAgeExceeded
    async with queue("error", {"MaximumEventAgeInSeconds": 90}) as (events, outcomes, runs, clock):
        events.submit(REF, b"{}", "rid")
        await clock.advance(60)
        assert runs == [0.0, 60.0]
        [outcome] = outcomes  # delivered after the second run, not when the age ran out
        assert (outcome.condition, outcome.invoke_count) == (Condition.EVENT_AGE_EXCEEDED, 2)
        assert outcome.response is not None and outcome.response.function_error == "Unhandled"


@async_test
async def test_throttled_until_the_age_runs_out() -> None:
    async with queue(THROTTLED, {"MaximumEventAgeInSeconds": 60}) as (events, outcomes, runs, clock):
        events.submit(REF, b"{}", "rid")
        await clock.advance(3600)
        assert runs == [0.0, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0]  # the next (64 s) would be too old
        [outcome] = outcomes
        assert (outcome.condition, outcome.invoke_count, outcome.response) == (Condition.EVENT_AGE_EXCEEDED, 0, None)


@async_test
async def test_zero_reserved_concurrency_fails_without_waiting() -> None:
    async with queue(THROTTLED, {}, blocked=True) as (events, outcomes, runs, clock):
        events.submit(REF, b"{}", "rid")
        await clock.advance(0)
        [outcome] = outcomes
        assert (outcome.condition, outcome.invoke_count) == (Condition.ZERO_RESERVED_CONCURRENCY, 0)
        assert runs == [0.0]
