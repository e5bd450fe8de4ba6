"""The app in process: an ``Application`` with a ``ManualClock`` and a ``FakeExecutor``, its
operation handlers called as the dispatcher would call them; ``async_test`` for ``async def``
tests under ``asyncio.run`` with a real-time deadline."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import io
import uuid
import zipfile
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping
from typing import Any, ParamSpec

from locallambda.app import Application, build_app
from locallambda.model.operations import RequestContext
from locallambda.settings import Settings
from locallambda.testing.clock import ManualClock
from locallambda.testing.executor import FakeExecutor, Faults, Handler

__all__ = ["ROLE", "AppHarness", "async_test", "code_zip", "running_app"]

ROLE = "arn:aws:iam::000000000000:role/lambda-role"

_P = ParamSpec("_P")


def code_zip(files: Mapping[str, str] | None = None) -> bytes:
    """A function's deployment package (by default an ``index.py`` with ``handler``)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in (files or {"index.py": "def handler(event, context):\n    return event\n"}).items():
            zf.writestr(name, text)
    return buf.getvalue()


class AppHarness:
    """An ``Application`` running in this process with a ``ManualClock`` and a ``FakeExecutor``."""

    def __init__(self, app: Application, clock: ManualClock, executor: FakeExecutor) -> None:
        self.app = app
        self.clock = clock
        self.executor = executor

    async def call(self, operation: str, /, **params: Any) -> dict[str, Any]:
        """Run one operation's handler as the dispatcher would after parsing and validation
        (members by their model names, blobs as bytes). Raises what the handler raises."""
        settings = self.app.settings
        ctx = RequestContext(operation, settings.region, settings.account_id, str(uuid.uuid4()), {})
        return dict(await self.app.handlers[operation](ctx, params) or {})

    async def create_function(self, name: str, **params: Any) -> dict[str, Any]:
        """CreateFunction of a python3.12 zip function (``params`` override the defaults)."""
        params = {"Runtime": "python3.12", "Handler": "index.handler", "Role": ROLE, **params}
        params.setdefault("Code", {"ZipFile": code_zip()})
        return await self.call("CreateFunction", FunctionName=name, **params)

    async def invoke(self, name: str, payload: bytes = b"{}", **params: Any) -> dict[str, Any]:
        return await self.call("Invoke", FunctionName=name, Payload=payload, **params)


@contextlib.asynccontextmanager
async def running_app(
    settings: Settings | None = None,
    *,
    handlers: Mapping[str, Handler] | None = None,
    faults: Mapping[str, Faults] | None = None,
    clock: ManualClock | None = None,
    executor: FakeExecutor | None = None,
) -> AsyncIterator[AppHarness]:
    """An app started for the block, shut down after it (``settings`` default to
    ``Settings(synchronous_create=True)``). Without ``executor``, a ``FakeExecutor`` of
    ``handlers`` and ``faults`` on ``clock`` is made; one passed in should share ``clock``."""
    clock = clock or ManualClock()
    executor = executor or FakeExecutor(handlers, faults=faults, clock=clock)
    app = build_app(settings or Settings(synchronous_create=True), clock=clock, executors={"process": executor})
    await app.startup()
    try:
        yield AppHarness(app, clock, executor)
    finally:
        await app.shutdown()


def async_test(fn: Callable[_P, Coroutine[Any, Any, None]], *, deadline: float = 10.0) -> Callable[_P, None]:
    """Run an ``async def`` test under ``asyncio.run``, failing it after ``deadline`` real seconds
    rather than hanging (pytest-asyncio is not needed)."""

    @functools.wraps(fn)
    def run(*args: _P.args, **kwargs: _P.kwargs) -> None:
        async def bounded() -> None:  # one task: the test's own (asyncio.wait_for would add one)
            async with asyncio.timeout(deadline):
                await fn(*args, **kwargs)

        asyncio.run(bounded())

    return run
