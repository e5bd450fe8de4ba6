"""An environment's log: the runtime's output cut into lines, the platform's START/END/REPORT
lines as AWS writes them, and the same events for Logs/Telemetry API subscribers.

Docs: monitoring-cloudwatchlogs.html (the line formats), telemetry-api.html (``platform.start``,
``platform.runtimeDone``, ``platform.report``). Every line goes to the server's log store; while
an invocation runs, its lines are also collected for ``LogType=Tail``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from locallambda.model.clock import iso_millis
from locallambda.runtime_api.telemetry import LogSubscriptions

__all__ = ["InvocationLog"]


class InvocationLog:
    def __init__(
        self,
        function_key: str,
        version: str,
        memory_mb: int,
        log_line: Callable[[str, str], None],
        subscriptions: LogSubscriptions,
    ) -> None:
        self._key = function_key
        self._version = version
        self._memory_mb = memory_mb
        self._log_line = log_line  # (function key, line) → the log store
        self._subscriptions = subscriptions
        # The init's own output belongs to the first invocation's log (AWS shows it in its tail):
        # lines are collected from the start, and the first ``begin`` keeps them.
        self._buffer: list[str] = []
        self._collecting = True
        self._begun = False
        self._partial = b""

    # -- the runtime's output ---------------------------------------------------------------

    def output(self, chunk: bytes) -> None:
        """Output of the runtime (and its extensions): whole lines are logged, the rest kept."""
        data = self._partial + chunk
        lines = data.split(b"\n")
        self._partial = lines.pop()
        for raw in lines:
            text = raw.decode("utf-8", "replace").rstrip("\r")
            self.line(text)
            if self._subscriptions.active:
                self._subscriptions.publish("function", text)

    def flush_partial(self) -> None:
        """Output left without a final newline (Java's LambdaLogger.log, Python's print(end=""))
        belongs to the invocation now ending, not to the next one."""
        if self._partial:
            self.line(self._partial.decode("utf-8", "replace").rstrip("\r"))
            self._partial = b""

    def line(self, text: str) -> None:
        if self._collecting:
            self._buffer.append(text)
        self._log_line(self._key, text)

    # -- the platform's lines ---------------------------------------------------------------

    def begin(self) -> None:
        """Collect the lines that follow for the invocation about to start (the first one also
        keeps what the init wrote)."""
        if self._begun:
            self._buffer = []
        self._begun = True
        self._collecting = True

    def forget_init(self) -> None:
        """The init happened apart from any invocation (provisioned concurrency): its lines stay
        in the log store but not in the first invocation's tail."""
        if not self._begun:
            self._buffer = []

    def start(self, request_id: str) -> None:
        self.line(f"START RequestId: {request_id} Version: {self._version}")
        self.platform("platform.start", {"requestId": request_id, "version": self._version})

    def timed_out(self, request_id: str, timeout_s: float, now: float) -> None:
        self.line(f"{iso_millis(now)} {request_id} Task timed out after {timeout_s:.2f} seconds")

    def end(
        self, request_id: str, duration_ms: float, init_ms: float | None, max_memory_mb: int | None, failed: bool
    ) -> str:
        """END and REPORT (and the subscribers' runtimeDone and report); the invocation's log."""
        self.flush_partial()
        self.line(f"END RequestId: {request_id}")
        billed = max(1, math.ceil(duration_ms))
        report = (
            f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\tBilled Duration: {billed} ms\t"
            f"Memory Size: {self._memory_mb} MB\tMax Memory Used: {max_memory_mb or 0} MB"
        )
        if init_ms is not None:
            report += f"\tInit Duration: {init_ms:.2f} ms"
        self.line(report + "\t")
        if self._subscriptions.active:
            status = "error" if failed else "success"
            metrics: dict[str, Any] = {
                "durationMs": round(duration_ms, 3),
                "billedDurationMs": billed,
                "memorySizeMB": self._memory_mb,
                "maxMemoryUsedMB": max_memory_mb or 0,
            }
            if init_ms is not None:
                metrics["initDurationMs"] = round(init_ms, 3)
            self.platform("platform.runtimeDone", {"requestId": request_id, "status": status})
            self.platform("platform.report", {"requestId": request_id, "status": status, "metrics": metrics})
        text = "\n".join(self._buffer) + "\n"
        self._buffer = []
        self._collecting = False
        return text

    def platform(self, kind: str, record: dict[str, Any]) -> None:
        if self._subscriptions.active:
            self._subscriptions.publish(kind, record)
