"""Asynchronous (Event) invocations: accepted at once, run in the background, retried as AWS does.

Docs: invocation-async.html. A function error is retried ``MaximumRetryAttempts`` times (default
2), about one minute before the first retry and two before the second; events older than
``MaximumEventAgeInSeconds`` (default 6 h) are dropped; throttles are requeued with backoff.
The delays are settable for tests through the constructor.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from locallambda.errors import LambdaError, TooManyRequestsError
from locallambda.model.clock import Clock, Timer
from locallambda.model.refs import FunctionRef
from locallambda.model.spec import InvocationResult
from locallambda.model.tasks import TaskScope

__all__ = ["EventQueue"]

log = logging.getLogger(__name__)

Runner = Callable[[FunctionRef, bytes, str], Awaitable[InvocationResult]]
ConfigLookup = Callable[[FunctionRef], dict[str, Any]]
_Event = tuple[FunctionRef, bytes, str, float, int]  # ref, payload, request id, enqueued at, attempt


class EventQueue:
    def __init__(
        self,
        run: Runner,
        config_for: ConfigLookup,
        tasks: TaskScope,
        clock: Clock,
        *,
        retry_delays: tuple[float, float] = (60.0, 120.0),
        workers: int = 32,
    ) -> None:
        self._run = run
        self._config_for = config_for
        self._tasks = tasks
        self._clock = clock
        self._retry_delays = retry_delays
        self._queue: asyncio.Queue[_Event] = asyncio.Queue()
        self._timers: set[Timer] = set()
        self._n = workers

    def start(self) -> None:
        for i in range(self._n):
            self._tasks.spawn(self._work(), name=f"event worker {i}")

    def submit(self, ref: FunctionRef, payload: bytes, request_id: str) -> None:
        self._queue.put_nowait((ref, payload, request_id, self._clock.time(), 0))

    async def _work(self) -> None:
        while True:
            ref, payload, rid, enqueued, attempt = await self._queue.get()
            try:
                await self._one(ref, payload, rid, enqueued, attempt)
            except Exception:
                log.exception("event invocation %s failed", rid)

    async def _one(self, ref: FunctionRef, payload: bytes, rid: str, enqueued: float, attempt: int) -> None:
        config = self._config_for(ref) or {}
        max_age = float(config.get("MaximumEventAgeInSeconds", 21600))
        max_retries = int(config.get("MaximumRetryAttempts", 2))
        if self._clock.time() - enqueued > max_age:
            log.info("event %s for %s dropped: older than %.0fs", rid, ref.name, max_age)
            return
        try:
            result = await self._run(ref, payload, rid)
        except TooManyRequestsError:
            # Throttles do not use up retry attempts; the backoff grows with the event's age
            # (1 s, 2 s, 4 s ... up to 5 min), so a throttled event is not retried every second
            # for six hours.
            age = self._clock.time() - enqueued
            self._later(min(300.0, max(1.0, age)), (ref, payload, rid, enqueued, attempt))
            return
        except LambdaError as exc:
            log.info("event %s for %s not run: %s", rid, ref.name, exc.message)
            return
        if result.function_error and attempt < max_retries:
            delay = self._retry_delays[min(attempt, len(self._retry_delays) - 1)]
            self._later(delay, (ref, payload, rid, enqueued, attempt + 1))
            return

    def _later(self, delay: float, item: _Event) -> None:
        def fire() -> None:
            self._timers.discard(timer)
            self._queue.put_nowait(item)

        timer = self._clock.call_later(delay, fire)
        self._timers.add(timer)

    async def close(self) -> None:
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        await self._tasks.close()
