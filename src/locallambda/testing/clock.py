"""A manual clock: a ``model.clock.Clock`` whose time moves only by ``await clock.advance(s)``.

``advance`` fires due timers in time order (also those scheduled by fired callbacks) and gives the
loop a few turns after each. Progress that needs real I/O (a runtime on loopback) is awaited, not
advanced.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable
from typing import Any

__all__ = ["EPOCH", "ManualClock", "ManualTimer"]

EPOCH = 1_700_000_000.0  # 2023-11-14T22:13:20Z: where every manual clock starts
_MONOTONIC_BASE = 10_000.0  # not 0, so that no code can mistake "the start" for "unset"


class ManualTimer:
    """A timer of a ``ManualClock``; ``cancel`` before it is due and it never fires."""

    __slots__ = ("_args", "_callback", "cancelled", "when")

    def __init__(self, when: float, callback: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self.when = when
        self._callback = callback
        self._args = args
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True

    def fire(self) -> None:
        self.cancel()  # spent
        self._callback(*self._args)


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class ManualClock:
    """A ``Clock`` whose time moves only by ``advance``; starts at ``EPOCH``.

    ``yields`` is how many turns the event loop gets after each fired timer (and before and after
    an ``advance``): enough for a chain of woken tasks that do no I/O.
    """

    def __init__(self, start: float = EPOCH, *, yields: int = 20) -> None:
        self._start = start
        self._elapsed = 0.0
        self._heap: list[tuple[float, int, ManualTimer]] = []
        self._order = itertools.count()
        self._yields = yields

    def time(self) -> float:
        return self._start + self._elapsed

    def monotonic(self) -> float:
        return _MONOTONIC_BASE + self._elapsed

    def call_later(self, delay: float, callback: Callable[..., Any], *args: Any) -> ManualTimer:
        timer = ManualTimer(self._elapsed + max(0.0, delay), callback, args)
        heapq.heappush(self._heap, (timer.when, next(self._order), timer))
        return timer

    async def sleep(self, delay: float) -> None:
        if delay <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        timer = self.call_later(delay, _wake, future)
        try:
            await future
        finally:
            timer.cancel()

    @property
    def pending(self) -> int:
        """Timers scheduled and neither fired nor cancelled."""
        return sum(1 for _, _, timer in self._heap if not timer.cancelled)

    async def settle(self) -> None:
        """Give the event loop ``yields`` turns (tasks woken without I/O run to their next wait)."""
        for _ in range(self._yields):
            await asyncio.sleep(0)

    async def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``, firing every timer due on the way in time order.

        A callback's exception propagates to the caller (it is a bug the test should see).
        Raises ``ValueError`` for a negative amount: time never goes back.
        """
        if seconds < 0:
            raise ValueError("time never goes back")
        target = self._elapsed + seconds
        await self.settle()
        while self._heap and self._heap[0][0] <= target:
            when, _, timer = heapq.heappop(self._heap)
            if timer.cancelled:
                continue
            self._elapsed = max(self._elapsed, when)
            timer.fire()
            await self.settle()
        self._elapsed = target
        await self.settle()
