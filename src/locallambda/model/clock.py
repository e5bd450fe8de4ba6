"""Time, injectable: what the core asks of the clock, the real one, and AWS's timestamp formats.

Every component that waits or measures takes a ``Clock`` so that tests can drive time by hand
(``locallambda.testing.ManualClock``) instead of sleeping real seconds.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

__all__ = ["Clock", "SystemClock", "Timer", "aws_timestamp", "clf_timestamp", "iso_micros", "iso_millis", "within"]

T = TypeVar("T")


class Timer(Protocol):
    def cancel(self) -> None: ...


class Clock(Protocol):
    """Wall time, a monotonic time, timers and sleeps."""

    def time(self) -> float:
        """Seconds since the epoch (for deadlines the runtime sees and for timestamps)."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (for durations and ages)."""
        ...

    def call_later(self, delay: float, callback: Callable[..., Any], *args: Any) -> Timer:
        """Call ``callback(*args)`` on the event loop after ``delay`` seconds."""
        ...

    async def sleep(self, delay: float) -> None: ...


class SystemClock:
    """The real clock: ``time.time``, ``time.perf_counter`` and the running loop's timers."""

    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.perf_counter()

    def call_later(self, delay: float, callback: Callable[..., Any], *args: Any) -> Timer:
        return asyncio.get_running_loop().call_later(delay, callback, *args)

    async def sleep(self, delay: float) -> None:
        await asyncio.sleep(delay)


async def within(clock: Clock, future: asyncio.Future[T], timeout: float) -> T:
    """The result of ``future`` once it is done, waiting at most ``timeout`` seconds of ``clock``.

    ``future`` itself is never cancelled (other waiters may share it). Raises
    ``asyncio.TimeoutError`` when the time runs out, and whatever ``future`` raises.
    """
    if not future.done():
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def wake(_: object = None) -> None:
            if not waiter.done():
                waiter.set_result(None)

        def expire() -> None:
            if not waiter.done():
                waiter.set_exception(TimeoutError())

        future.add_done_callback(wake)
        timer = clock.call_later(timeout, expire)
        try:
            await waiter
        finally:
            timer.cancel()
            future.remove_done_callback(wake)
    return future.result()


def _utc(when: float | dt.datetime | None) -> dt.datetime:
    if when is None:
        return dt.datetime.now(dt.UTC)
    if isinstance(when, dt.datetime):
        return when.astimezone(dt.UTC)
    return dt.datetime.fromtimestamp(when, dt.UTC)


def aws_timestamp(when: float | dt.datetime | None = None) -> str:
    """LastModified as the Lambda API writes it: ``2024-01-01T12:00:00.000+0000``."""
    t = _utc(when)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}+0000"


def iso_millis(when: float | dt.datetime | None = None) -> str:
    """ISO 8601 in UTC with milliseconds and ``Z``, as log lines and the Telemetry API write it."""
    t = _utc(when)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def iso_micros(when: float | dt.datetime | None = None) -> str:
    """ISO 8601 in UTC with microseconds and ``Z``, as function URL configurations carry it
    (AWS answers e.g. ``2022-07-07T15:19:41.225854Z``)."""
    return _utc(when).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def clf_timestamp(when: float | dt.datetime | None = None) -> str:
    """The Common Log Format time of API Gateway payload 2.0 events: ``07/Jul/2022:15:19:41 +0000``."""
    return _utc(when).strftime("%d/%b/%Y:%H:%M:%S +0000")
