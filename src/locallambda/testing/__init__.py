"""Test helpers shipped with the package: a manual clock, a fake executor, an in-process app.

- ``ManualClock`` (``clock.py``): a ``model.clock.Clock`` whose time moves only by
  ``await clock.advance(s)``, which fires due timers in time order (also those scheduled by fired
  callbacks) and gives the loop a few turns after each. Progress that needs real I/O (a runtime
  on loopback) is awaited (``FakeExecutor.wait_for_invocations``, the invocation's task), not
  advanced.
- ``FakeExecutor`` (``executor.py``): environments whose runtime is a task of this process
  speaking the real Runtime API over HTTP to the environment's own address, running a Python
  callable per function name, ``handler(event: bytes, context: dict) -> bytes`` (or async).
  ``Faults`` script the rest: a failing preparation, a slow or failing init, an exit. A reset
  environment keeps its ``tmp`` and restarts its runtime in place, as a sandbox does.
- ``running_app`` (``app.py``): an ``Application`` with both, its operation handlers called in
  process.
- ``async_test``: an ``async def`` test under ``asyncio.run``, with a real-time deadline.

- ``plugin.py``: the pytest plugin (fixtures for users' own function tests, against a real
  server process; ``deploy.py`` packages and deploys their code).

Nothing here sleeps real seconds; the only real-time waits are deadlines for loopback I/O.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from locallambda.testing.app import ROLE, AppHarness, async_test, code_zip, running_app
    from locallambda.testing.clock import EPOCH, ManualClock, ManualTimer
    from locallambda.testing.executor import (
        ExitRuntime,
        FakeExecutor,
        FakeRuntime,
        Faults,
        Handler,
        echo,
        exits,
        function_spec,
        hang,
    )

# Imported when first used: the pytest plugin (``testing/plugin.py``, loaded by every pytest run
# of an environment that has this package) must not import the whole server.
_HOME = {
    **dict.fromkeys(("ROLE", "AppHarness", "async_test", "code_zip", "running_app"), "app"),
    **dict.fromkeys(("EPOCH", "ManualClock", "ManualTimer"), "clock"),
    **dict.fromkeys(
        ("ExitRuntime", "FakeExecutor", "FakeRuntime", "Faults", "Handler", "echo", "exits", "function_spec", "hang"),
        "executor",
    ),
}


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


__all__ = [
    "EPOCH",
    "ROLE",
    "AppHarness",
    "ExitRuntime",
    "FakeExecutor",
    "FakeRuntime",
    "Faults",
    "Handler",
    "ManualClock",
    "ManualTimer",
    "async_test",
    "code_zip",
    "echo",
    "exits",
    "function_spec",
    "hang",
    "running_app",
]
