"""An environment's log: the runtime's output cut into lines, the platform's START/END/REPORT
lines as AWS writes them, and the same events for Logs/Telemetry API subscribers.

Docs: monitoring-cloudwatchlogs.html (the line formats), telemetry-api.html (``platform.start``,
``platform.runtimeDone``, ``platform.report``). Every line goes to the server's log store; while
an invocation runs, its lines are also collected for ``LogType=Tail``.

Contract, for output of any size: cutting it into lines costs time linear in its length (only
new bytes are searched for newlines), and what is held at any time is bounded: less than one
event of pending output (``MAX_EVENT_BYTES``) and, for the invocation's own log, at least its
last ``TAIL_KEPT`` characters in whole lines, at most that plus one event. Nothing here raises.

Long lines are split, not truncated. A CloudWatch Logs event is at most 256 KB, counted as
PutLogEvents counts it: the message's UTF-8 bytes plus 26 bytes per event (CloudWatch Logs
quotas, cloudwatch_limits_cwl.html; API_PutLogEvents.html). Lambda cuts a longer line into
consecutive events of 262,144 - 26 = 262,118 bytes: AWS documents no such cut, it is what
users observe (stackoverflow.com/questions/77175643: a Node.js line split at 2^18 - 26 bytes;
DataDog/datadog-serverless-functions#462: CloudWatch lines from Lambda cut at ~262,119
characters). We cut at the same size, backing off to a UTF-8 character boundary so that no
character is torn in two. CloudWatch Logs has taken 1 MB events since April 2025; Lambda's
cut has been reported unchanged since (newrelic/newrelic-lambda-layers#350, May 2025).

CloudWatch Logs: an environment given a ``LogDestination`` (its function's log group and its own
stream) hands each line to the log store with it, and the store passes it on to the shipper. With
``LoggingConfig.LogFormat`` JSON, Lambda writes its platform lines there as JSON records
(``{"time", "type": "platform.start" | "platform.report", "record"}``) and no END line; the
function's own lines go as the runtime wrote them (monitoring-cloudwatchlogs-logformat.html,
"JSON format for system logs"; the records' fields as CloudWatch Logs shows them). The tail and
the history keep the text lines.
"""

from __future__ import annotations

import collections
import dataclasses
import math
from collections.abc import Callable, Iterator
from typing import Any

from locallambda.model.clock import iso_millis
from locallambda.model.spec import FunctionSpec
from locallambda.runtime_api.telemetry import LogSubscriptions

__all__ = ["MAX_EVENT_BYTES", "TAIL_KEPT", "InvocationLog", "LogDestination", "split_event"]

# The largest log event: 256 KB less the 26 bytes PutLogEvents counts for each event.
MAX_EVENT_BYTES = 256 * 1024 - 26
# How much of the invocation's own log is kept (in characters, each at least one UTF-8 byte):
# ``LogType=Tail`` returns its last 4 KB; the rest is room for lines on either side of it.
TAIL_KEPT = 64 * 1024


def split_event(data: bytes | memoryview, limit: int = MAX_EVENT_BYTES) -> Iterator[bytes | memoryview]:
    """``data`` in consecutive pieces of at most ``limit`` bytes (none when ``data`` is empty),
    each cut before a UTF-8 continuation byte when there is one within the last three bytes of
    the limit. ``limit`` must be at least 4."""
    start, end = 0, len(data)
    while end - start > limit:
        cut = start + limit
        for back in range(4):  # off continuation bytes (0b10xxxxxx): a character stays whole
            if data[cut - back] & 0xC0 != 0x80:
                cut -= back
                break
        yield data[start:cut]
        start = cut
    if start < end:
        yield data[start:end]


@dataclasses.dataclass(frozen=True, slots=True)
class LogDestination:
    """Where an environment's lines go in CloudWatch Logs: the function's log group
    (``LoggingConfig.LogGroup``, ``/aws/lambda/<name>`` by default) and the environment's own
    stream; ``json``: ``LoggingConfig.LogFormat`` is JSON."""

    account_id: str
    region: str
    group: str
    stream: str
    json: bool
    function_arn: str

    @classmethod
    def of(cls, spec: FunctionSpec, stream: str) -> LogDestination:
        return cls(spec.account_id, spec.region, spec.log_group, stream, spec.log_format.upper() == "JSON", spec.arn)


class InvocationLog:
    def __init__(
        self,
        function_key: str,
        version: str,
        memory_mb: int,
        log_line: Callable[..., None],
        subscriptions: LogSubscriptions,
        destination: LogDestination | None = None,
    ) -> None:
        """``log_line`` is the log store's ``line``: called ``(key, text)``, and with a
        ``destination`` ``(key, text, destination, record)`` for the lines CloudWatch Logs gets
        (``record``: the JSON record it gets instead of the text, or None)."""
        self._key = function_key
        self._version = version
        self._memory_mb = memory_mb
        self._log_line = log_line
        self._subscriptions = subscriptions
        self._destination = destination
        self._json = destination is not None and destination.json
        self._timed_out = False
        # The init's own output belongs to the first invocation's log (AWS shows it in its tail):
        # lines are collected from the start, and the first ``begin`` keeps them.
        self._buffer: collections.deque[str] = collections.deque()
        self._buffered = 0  # characters in ``_buffer``
        self._collecting = True
        self._begun = False
        # Output not yet ended by a newline: at most one event (more goes out as events at once).
        self._partial = bytearray()

    # -- the runtime's output ---------------------------------------------------------------

    def output(self, chunk: bytes) -> None:
        """Output of the runtime (and its extensions): whole lines are logged (one event per
        ``MAX_EVENT_BYTES``), the rest kept. Linear: only ``chunk`` is searched for newlines,
        and what is kept is less than one event."""
        view = memoryview(chunk)
        partial = self._partial
        start = 0
        while (newline := chunk.find(b"\n", start)) >= 0:
            if partial:
                partial += view[start:newline]
                self._output_line(bytes(partial))
                partial.clear()
            else:
                self._output_line(view[start:newline])
            start = newline + 1
        if start == len(chunk):
            return
        partial += view[start:]
        if len(partial) > MAX_EVENT_BYTES:
            # A line this long is cut into events as it comes rather than held until its
            # newline: whole events go out, the last piece (at least one byte) waits for more.
            data = bytes(partial)
            pieces = list(split_event(data))
            for piece in pieces[:-1]:
                self._output_text(str(piece, "utf-8", "replace"))
            del partial[: len(data) - len(pieces[-1])]

    def _output_line(self, raw: bytes | memoryview) -> None:
        end = len(raw)
        while end and raw[end - 1] == 0x0D:  # a CRLF line ends as an LF one
            end -= 1
        for piece in split_event(raw[:end]) if end else (b"",):
            self._output_text(str(piece, "utf-8", "replace"))

    def _output_text(self, text: str) -> None:
        self.line(text)
        if self._subscriptions.active:
            self._subscriptions.publish("function", text)

    def flush_partial(self) -> None:
        """Output left without a final newline (Java's LambdaLogger.log, Python's print(end=""))
        belongs to the invocation now ending, not to the next one."""
        if self._partial:
            self.line(self._partial.decode("utf-8", "replace").rstrip("\r"))
            self._partial.clear()

    def line(self, text: str, record: dict[str, Any] | None = None, shipped: bool = True) -> None:
        """One line of the log; ``record``: what CloudWatch Logs gets instead (JSON format),
        ``shipped=False``: it gets nothing."""
        if self._collecting:
            self._buffer.append(text)
            self._buffered += len(text) + 1
            # Only the tail is wanted: the oldest lines go once the rest covers TAIL_KEPT.
            while self._buffered - len(self._buffer[0]) - 1 >= TAIL_KEPT:
                self._buffered -= len(self._buffer.popleft()) + 1
        if self._destination is None or not shipped:
            self._log_line(self._key, text)
        else:
            self._log_line(self._key, text, self._destination, record)

    # -- the platform's lines ---------------------------------------------------------------

    def begin(self) -> None:
        """Collect the lines that follow for the invocation about to start (the first one also
        keeps what the init wrote)."""
        if self._begun:
            self._clear_buffer()
        self._begun = True
        self._collecting = True

    def forget_init(self) -> None:
        """The init happened apart from any invocation (provisioned concurrency): its lines stay
        in the log store but not in the first invocation's tail."""
        if not self._begun:
            self._clear_buffer()

    def _clear_buffer(self) -> None:
        self._buffer.clear()
        self._buffered = 0

    def start(self, request_id: str) -> None:
        record = None
        if self._json:
            assert self._destination is not None
            start = {"requestId": request_id, "functionArn": self._destination.function_arn, "version": self._version}
            record = {"type": "platform.start", "record": start}
        self._timed_out = False
        self.line(f"START RequestId: {request_id} Version: {self._version}", record)
        self.platform("platform.start", {"requestId": request_id, "version": self._version})

    def timed_out(self, request_id: str, timeout_s: float, now: float) -> None:
        self._timed_out = True
        self.line(f"{iso_millis(now)} {request_id} Task timed out after {timeout_s:.2f} seconds")

    def end(
        self, request_id: str, duration_ms: float, init_ms: float | None, max_memory_mb: int | None, failed: bool
    ) -> str:
        """END and REPORT (and the subscribers' runtimeDone and report); the invocation's log:
        whole lines, at least its last ``TAIL_KEPT`` characters (the first lines of a longer log
        are gone)."""
        self.flush_partial()
        self.line(f"END RequestId: {request_id}", shipped=not self._json)  # JSON has no END record
        billed = max(1, math.ceil(duration_ms))
        report = (
            f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\tBilled Duration: {billed} ms\t"
            f"Memory Size: {self._memory_mb} MB\tMax Memory Used: {max_memory_mb or 0} MB"
        )
        if init_ms is not None:
            report += f"\tInit Duration: {init_ms:.2f} ms"
        status = "error" if failed else "success"
        metrics: dict[str, Any] = {}
        if self._json or self._subscriptions.active:
            metrics = {
                "durationMs": round(duration_ms, 3),
                "billedDurationMs": billed,
                "memorySizeMB": self._memory_mb,
                "maxMemoryUsedMB": max_memory_mb or 0,
            }
            if init_ms is not None:
                metrics["initDurationMs"] = round(init_ms, 3)
        record = None
        if self._json:
            done: dict[str, Any] = {"requestId": request_id, "metrics": metrics, "status": status}
            if self._timed_out:
                done.update(status="timeout", errorType="Sandbox.Timedout")
            record = {"type": "platform.report", "record": done}
        self.line(report + "\t", record)
        if self._subscriptions.active:
            self.platform("platform.runtimeDone", {"requestId": request_id, "status": status})
            self.platform("platform.report", {"requestId": request_id, "status": status, "metrics": metrics})
        text = "\n".join(self._buffer) + "\n"
        self._clear_buffer()
        self._collecting = False
        return text

    def platform(self, kind: str, record: dict[str, Any]) -> None:
        if self._subscriptions.active:
            self._subscriptions.publish(kind, record)
