"""The control plane's shared services, built once by the app factory.

Resource modules (functions, aliases, permissions, ...) receive a ``ControlPlane`` and return
their operation handlers. The invoke engine plugs in through two seams: ``preparer`` (what
"becoming Active" means: checking an executor can run the function) and ``listeners``
(told when a function's code or configuration changes, or when it is deleted).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from locallambda.control.arns import FunctionRef, parse_function_name
from locallambda.control.state import FunctionRecord, FunctionRegistry, Registry
from locallambda.errors import ResourceNotFoundError
from locallambda.settings import Settings
from locallambda.store.code import CodeStore
from locallambda.store.documents import DocumentStore

__all__ = ["ControlPlane", "Preparer", "Provisioner", "ChangeListener", "aws_timestamp"]

log = logging.getLogger("locallambda.control")

T = TypeVar("T")

# Returns None when the function can run, or the reason it cannot (the StateReason of Failed).
Preparer = Callable[[FunctionRecord], Awaitable[str | None]]
# (record, event) with event in {"updated", "deleted"}.
ChangeListener = Callable[[FunctionRecord, str], None]
# Pre-start ``count`` environments for (function, qualifier); 0 releases them.
Provisioner = Callable[[FunctionRecord, str, int], Awaitable[None]]


def aws_timestamp(when: dt.datetime | None = None) -> str:
    """LastModified as AWS writes it: ``2024-01-01T12:00:00.000+0000``."""
    when = when or dt.datetime.now(dt.timezone.utc)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}+0000"


async def _always_ready(record: FunctionRecord) -> str | None:
    return None


async def _provision_nothing(record: FunctionRecord, qualifier: str, count: int) -> None:
    return None


class ControlPlane:
    def __init__(self, settings: Settings, store: DocumentStore, code: CodeStore) -> None:
        self.settings = settings
        self.store = store
        self.code = code
        self.functions = FunctionRegistry(store)
        self.preparer: Preparer = _always_ready
        self.provisioner: Provisioner = _provision_nothing
        self.listeners: list[ChangeListener] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._registries: dict[str, Registry] = {}

    # -- shared helpers -------------------------------------------------------------------

    def registry(self, kind: str) -> Registry:
        """A write-through document map for resources that live outside functions."""
        if kind not in self._registries:
            self._registries[kind] = Registry(self.store, kind)
        return self._registries[kind]

    def ref(self, region: str, account_id: str, function_name: str, qualifier: str | None = None) -> FunctionRef:
        return parse_function_name(function_name, region, account_id, qualifier)

    def get_function(self, ref: FunctionRef) -> FunctionRecord:
        """The function a reference names. Raises ``ResourceNotFoundError`` with AWS's text."""
        record = self.functions.get(ref.region, ref.name)
        if record is None:
            raise ResourceNotFoundError(f"Function not found: {ref.unqualified_arn}")
        return record

    def notify(self, record: FunctionRecord, event: str) -> None:
        for listener in self.listeners:
            try:
                listener(record, event)
            except Exception:  # a listener's bug must not fail the API call
                log.exception("change listener failed")

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run a background step (a state transition); cancelled at shutdown."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def run_blocking(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.to_thread(fn, *args)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=5)
