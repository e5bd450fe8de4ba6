"""One supervisor for every background task: spawned in a scope, cancelled with it, never lost.

The event loop keeps only weak references to tasks, so every task must be held somewhere; and
shutdown must cancel whatever is still running and wait for it, with a deadline. A
``TaskScope`` does both. The app factory makes the root scope; a component that needs its own
lifetime (the environment pool, the event queue) takes a child scope and closes it when it
closes. Closing a scope closes its children first.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["TaskScope"]

log = logging.getLogger(__name__)

T = TypeVar("T")


class TaskScope:
    def __init__(self, name: str = "root") -> None:
        self.name = name
        self._tasks: set[asyncio.Task[Any]] = set()
        self._children: list[TaskScope] = []
        self._closed = False

    def child(self, name: str) -> TaskScope:
        """A scope of its own, closed with this one at the latest."""
        scope = TaskScope(f"{self.name}/{name}")
        self._children.append(scope)
        return scope

    def spawn(self, coro: Coroutine[Any, Any, T], *, name: str | None = None) -> asyncio.Task[T]:
        """Run ``coro`` in the background. An exception it ends with is logged, not lost.

        Raises ``RuntimeError`` once the scope is closed (the coroutine is closed, not run).
        """
        if self._closed:
            coro.close()
            raise RuntimeError(f"task scope {self.name} is closed")
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task %s of %s failed", task.get_name(), self.name, exc_info=task.exception())

    @property
    def running(self) -> int:
        return len(self._tasks) + sum(child.running for child in self._children)

    async def close(self, timeout: float = 5.0) -> None:
        """Cancel every task of this scope and its children; wait at most ``timeout`` seconds."""
        self._closed = True
        for child in self._children:
            await child.close(timeout)
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=timeout)
            if pending:
                log.warning("%d task(s) of %s did not end within %.0fs", len(pending), self.name, timeout)
