"""Tumbling windows of a stream mapping ("Time windows", Using AWS Lambda with Amazon Kinesis;
the same for DynamoDB Streams).

"Lambda determines tumbling window boundaries based on the time when records were inserted into
the stream": a record belongs to the window ``[k·T, (k+1)·T)`` (T = ``TumblingWindowInSeconds``)
holding its arrival time. Each invocation of a window gets the window, the state the previous one
answered (``{}`` at first), the shard and the stream; "At the end of the window, the flag
``isFinalInvokeForWindow`` is set to true" and the state is dropped after that invocation; "Your
state can be a maximum of 1 MB per shard. If it exceeds that size, Lambda terminates the window
early" (``isWindowTerminatedEarly``), and the window goes on with a fresh state.

The window of each shard is kept in the shard's checkpoint document (``window``: its start and
state), so it survives a restart.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import time
from typing import Any

from locallambda.event_sources.stream_sources import StreamSource

__all__ = ["STATE_LIMIT", "Window", "WindowState"]

STATE_LIMIT = 1024 * 1024  # bytes of state per shard


def _iso(epoch: float) -> str:
    return datetime.datetime.fromtimestamp(epoch, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclasses.dataclass(slots=True)
class Window:
    """One window of one shard, as its invocations show it."""

    start: float
    length: int
    arn: str
    state: Any = dataclasses.field(default_factory=dict)
    final: bool = False
    early: bool = False

    def event(self, shard_id: str) -> dict[str, Any]:
        """The members an invocation of this window adds to ``Records``."""
        return {
            "window": {"start": _iso(self.start), "end": _iso(self.start + self.length)},
            "state": self.state,
            "shardId": shard_id,
            "eventSourceARN": self.arn,
            "isFinalInvokeForWindow": self.final,
            "isWindowTerminatedEarly": self.early,
        }

    def too_big(self) -> bool:
        return len(json.dumps(self.state)) > STATE_LIMIT

    def closing(self, early: bool) -> Window:
        """The window as its final invocation shows it."""
        return dataclasses.replace(self, final=True, early=early)


class WindowState:
    """The windows of one mapping, kept in each shard's checkpoint document."""

    def __init__(self, length: int, source: StreamSource) -> None:
        self.length = length
        self.source = source

    def start_of(self, record: dict[str, Any]) -> float:
        return float(int(self.source.arrival(record) // self.length) * self.length)

    def opens_later(self, state: dict[str, Any], record: dict[str, Any]) -> bool:
        """Does ``record`` belong to a window after the one open?"""
        window = state.get("window")
        return window is not None and self.start_of(record) > float(window["start"])

    def over(self, state: dict[str, Any]) -> bool:
        """Is the open window's time up?"""
        window = state.get("window")
        return window is not None and time.time() >= float(window["start"]) + self.length

    def open(self, state: dict[str, Any], record: dict[str, Any]) -> None:
        """Open the window of ``record`` unless one is open."""
        state.setdefault("window", {"start": self.start_of(record), "state": {}})

    def current(self, state: dict[str, Any]) -> Window:
        window = state["window"]
        return Window(float(window["start"]), self.length, self.source.arn, window.get("state") or {})

    def keep(self, state: dict[str, Any], window: Window) -> None:
        state["window"] = {"start": window.start, "state": window.state}

    def drop(self, state: dict[str, Any]) -> None:
        state.pop("window", None)
