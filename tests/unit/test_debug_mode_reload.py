"""Lambda Debug Mode's file read again while the server runs (invoke/debugging.py): which
environments a change makes stale, and the watch that notices the change."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from locallambda.invoke.debugging import DEBUG_TIMEOUT_S, DebugMode, parse_config
from locallambda.model.clock import SystemClock
from locallambda.model.tasks import TaskScope
from locallambda.testing import async_test
from locallambda.testing.executor import function_spec

BEFORE = """
functions:
  one:
    debug-port: 19891
  two:
    debug-port: 19892
"""
AFTER = """
functions:
  two:
    debug-port: 19892
  three:
    debug-port: 19893
"""


def test_a_change_makes_stale_the_environments_it_no_longer_describes() -> None:
    mode = DebugMode(True, parse_config(BEFORE), Path("debug.yaml"))
    one, two, three = (mode.apply(function_spec(name, timeout_s=3)) for name in ("one", "two", "three"))
    assert not any(mode.stale(spec) for spec in (one, two, three))
    assert mode.replace(parse_config(AFTER), Path("debug.yaml"))
    assert mode.stale(one)  # its debugger is no longer wanted
    assert not mode.stale(two)  # unchanged: its attached debugger stays
    assert mode.stale(three)  # it started without the debugger it now has
    applied = mode.apply(function_spec("three", timeout_s=3))
    assert applied.debug is not None and applied.debug.port == 19893 and applied.timeout_s == DEBUG_TIMEOUT_S
    assert mode.apply(function_spec("one", timeout_s=3)).debug is None
    assert not mode.replace(parse_config(AFTER), Path("debug.yaml"))  # the same entries: no change


def test_another_port_or_enforce_timeouts_is_a_change() -> None:
    mode = DebugMode(True, parse_config(BEFORE), Path("debug.yaml"))
    two = mode.apply(function_spec("two"))
    mode.replace(parse_config("functions:\n  two:\n    debug-port: 19999\n"), Path("debug.yaml"))
    assert mode.stale(two)
    two = mode.apply(function_spec("two"))
    mode.replace(parse_config("functions:\n  two:\n    debug-port: 19999\n    enforce-timeouts: true\n"), Path("x"))
    assert mode.stale(two)


def test_without_a_file_nothing_is_stale() -> None:
    spec = function_spec("one")
    assert not DebugMode(True).stale(DebugMode(True).apply(spec))
    assert not DebugMode(False).stale(spec)


@async_test
async def test_the_watch_reads_a_changed_file_and_keeps_the_last_one_through_a_gap(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "debug.yaml"
    path.write_text(BEFORE)
    mode = DebugMode.from_settings(True, path)
    changes: list[int] = []
    scope = TaskScope("test")
    mode.watch(lambda: changes.append(1), scope, SystemClock())
    try:

        async def until(predicate: Callable[[], bool]) -> None:
            for _ in range(200):  # ten seconds at most: async_test's deadline
                if predicate():
                    return
                await asyncio.sleep(0.05)
            raise AssertionError("the watch never saw the change")

        path.write_text(AFTER)
        await until(lambda: changes == [1])
        assert mode.apply(function_spec("three")).debug is not None
        path.unlink()  # an editor replacing the file: the entries stay
        await until(lambda: "is gone; the configuration read last stays in force" in caplog.text)
        assert changes == [1] and mode.apply(function_spec("three")).debug is not None
        path.write_text("functions: [not, a, mapping]\n")  # invalid: nothing is debugged
        await until(lambda: changes == [1, 1])
        assert mode.apply(function_spec("two")).debug is None
    finally:
        await scope.close()
