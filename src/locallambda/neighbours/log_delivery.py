"""Function logs delivered where AWS puts them: CloudWatch Logs, served here by the embedded moto.

What AWS does ("Working with Lambda function logs", monitoring-cloudwatchlogs.html; "Configuring
CloudWatch log groups", monitoring-cloudwatchlogs-loggroups.html): every execution environment
writes to a log stream of its own in the function's log group, ``/aws/lambda/<name>`` or
``LoggingConfig.LogGroup``, and the group is created at the first write when it is missing. An
event's message is the line with its newline (LocalStack's AWS-recorded
``TestCloudwatchLogs::test_multi_line_prints``: ``"START RequestId: … Version: $LATEST\\n"``,
``"multi\\n"``, ``"REPORT …\\t\\n"``); a JSON platform record (LogFormat JSON) is written compact,
with the line's time first. An event's timestamp is the line's time in milliseconds; the events of
one PutLogEvents are in time order, at most 10,000 of them and 1,048,576 bytes counting 26 bytes
per event (API_PutLogEvents.html; sizes are counted here in characters: moto sets no limit).

Contract: ``put`` is called on the event loop, takes O(1) and never blocks, waits or raises. What
waits is bounded, in lines (``max_lines``) and in memory (``max_bytes``): past either, the oldest
lines are dropped and counted (``dropped``), so a flood of output slows no invocation. One worker
thread, started by the first line, loads the neighbours when it first needs them (moto is imported
there, never on the event loop) and writes what waits straight into moto's backend, in batches:
once no line has come for ``quiet_s``, or ``max_delay_s`` after the batch's first line. Writing into
moto holds the interpreter's lock (~10 µs a line, and the import of moto seconds), which the event
loop then waits for: so a burst of invocations is served first and its lines written when it
pauses. A reader does not wait for that: ``flush``, called before a CloudWatch Logs request is
answered, writes what waits first, so every line written before the request is in its answer.
A line moto refuses (a group deleted meanwhile, say) is counted in ``failed`` and logged. A server
whose ``SERVICES`` leaves ``logs`` out ships nothing: the factory connects no shipper.

What moto keeps is bounded too: at most ``max_retained`` of the events delivered here and
``max_retained_bytes`` of their text, the oldest forgotten first (where CloudWatch Logs expires events by a group's retention in days). Without a
bound a busy function would grow the server's memory, and the garbage collector's pauses on the
event loop with it, for as long as the server runs.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from operator import itemgetter
from time import monotonic
from typing import Any, NamedTuple, Protocol

from locallambda.model.clock import iso_millis
from locallambda.neighbours.catalogue import parse_services_setting

__all__ = [
    "MAX_BYTES",
    "MAX_LINES",
    "MAX_RETAINED",
    "MAX_RETAINED_BYTES",
    "Destination",
    "LogDelivery",
    "LogsBackend",
    "moto_logs",
    "ships_logs",
]

log = logging.getLogger(__name__)

MAX_LINES = 50_000  # lines waiting for delivery, across every function
MAX_BYTES = 32 * 1024 * 1024  # memory those lines may hold
MAX_RETAINED = 100_000  # events delivered here that moto keeps, across every stream
MAX_RETAINED_BYTES = 64 * 1024 * 1024  # and the characters of their messages
QUIET_S = 0.5  # a batch is written once no line has come for this long (moto pays ~50 µs a put)
MAX_DELAY_S = 5.0  # or this long after its first line, however busy the server

# PutLogEvents' quotas (API_PutLogEvents.html).
_BATCH_EVENTS = 10_000
_BATCH_BYTES = 1_048_576
_EVENT_OVERHEAD = 26


class Destination(Protocol):
    """Where a line goes (``invoke.invocation_log.LogDestination`` is one)."""

    @property
    def account_id(self) -> str: ...
    @property
    def region(self) -> str: ...
    @property
    def group(self) -> str: ...
    @property
    def stream(self) -> str: ...


class LogsBackend(Protocol):
    """What is used of moto's ``LogsBackend``."""

    def ensure_log_group(self, log_group_name: str) -> None: ...
    def ensure_log_stream(self, log_group_name: str, log_stream_name: str) -> None: ...
    def put_log_events(self, log_group_name: str, log_stream_name: str, log_events: list[dict[str, Any]]) -> object: ...
    @property
    def groups(self) -> Mapping[str, Any]: ...  # name → group, whose .streams[name].events is a list


BackendFor = Callable[[str, str], LogsBackend]  # (account, region) → its backend; may block


def ships_logs(services: str | None) -> bool:
    """Whether function logs go to CloudWatch Logs: ``SERVICES`` serves ``logs`` (or everything)."""
    served = parse_services_setting(services)
    return served is None or "logs" in served


def moto_logs(load: Callable[[], object]) -> BackendFor:
    """moto's CloudWatch Logs backends, reached after ``load`` (the neighbours' ``load``, which
    imports moto once and wires it to this server) has run: in the worker thread only."""

    def backend_for(account_id: str, region: str) -> LogsBackend:
        load()
        from moto.logs.models import logs_backends

        backend: LogsBackend = logs_backends[account_id][region]
        return backend

    return backend_for


class _Line(NamedTuple):
    destination: Destination
    time: float  # seconds since the epoch
    text: str
    record: dict[str, Any] | None  # the JSON record written instead of the text
    size: int


class LogDelivery:
    """Ships log lines to CloudWatch Logs in batches, from a worker thread of its own."""

    def __init__(
        self,
        backend_for: BackendFor,
        *,
        max_lines: int = MAX_LINES,
        max_bytes: int = MAX_BYTES,
        max_retained: int = MAX_RETAINED,
        max_retained_bytes: int = MAX_RETAINED_BYTES,
        quiet_s: float = QUIET_S,
        max_delay_s: float = MAX_DELAY_S,
    ) -> None:
        self._backend_for = backend_for
        self._max_lines = max_lines
        self._max_bytes = max_bytes
        self._quiet_s = quiet_s
        self._max_delay_s = max_delay_s
        self._max_retained = max_retained
        self._max_retained_bytes = max_retained_bytes
        # What moto holds of ours, oldest first: (backend, group, stream, events in one put,
        # their characters).
        self._retained: collections.deque[tuple[LogsBackend, str, str, int, int]] = collections.deque()
        self._retained_total = 0
        self._retained_bytes = 0
        self._lock = threading.Lock()  # guards the queue, its size and the counters put changes
        self._queue: collections.deque[_Line] = collections.deque()
        self._bytes = 0
        self._last_put = 0.0  # monotonic() of the newest line
        self._writing = threading.Lock()  # one batch taken and written at a time, in order
        self._wake = threading.Event()  # set when the queue stops being empty, and at close
        self._closing = threading.Event()
        self._thread: threading.Thread | None = None
        self._backends: dict[tuple[str, str], LogsBackend] = {}
        self._broken: str | None = None  # why nothing can be delivered (moto would not load)
        self._reported_drops = 0
        self.dropped = 0  # lines dropped because the queue was full (or delivery impossible)
        self.delivered = 0  # events written
        self.failed = 0  # events moto refused

    # -- the event loop's side ----------------------------------------------------------------

    def put(self, destination: Destination, time: float, text: str, record: dict[str, Any] | None = None) -> None:
        """Queue one line (``time`` in seconds); the oldest lines go when the queue is full."""
        line = _Line(destination, time, text, record, sys.getsizeof(text))
        with self._lock:
            if self._closing.is_set() or self._broken is not None:
                self.dropped += 1
                return
            was_empty = not self._queue
            self._queue.append(line)
            self._last_put = monotonic()
            self._bytes += line.size
            while len(self._queue) > 1 and (len(self._queue) > self._max_lines or self._bytes > self._max_bytes):
                self._bytes -= self._queue.popleft().size
                self.dropped += 1
        if was_empty:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="cloudwatch-logs", daemon=True)
                self._thread.start()
            self._wake.set()

    @property
    def pending(self) -> int:
        """Lines waiting for the worker."""
        return len(self._queue)

    async def close(self, timeout: float = 5.0) -> None:
        """Deliver what waits (for at most ``timeout`` seconds, off the event loop) and stop;
        lines put afterwards are dropped."""
        await asyncio.to_thread(self.stop, timeout)

    def stop(self, timeout: float = 5.0) -> None:
        """``close`` for a thread that may block."""
        self._closing.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("CloudWatch Logs delivery still busy after %.0fs: the rest of the log is lost", timeout)

    # -- the worker's side --------------------------------------------------------------------

    def flush(self) -> None:
        """Write every line waiting now (blocking: from a worker thread, before a CloudWatch
        Logs request is answered)."""
        if self._queue:
            self._write_batch()

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()  # before the queue is taken: a line put after it wakes us again
            first = monotonic()
            while not self._closing.is_set():
                due = min(self._last_put + self._quiet_s, first + self._max_delay_s)
                wait = due - monotonic()
                if wait <= 0:
                    break
                self._closing.wait(wait)
            self._write_batch()
            if self._closing.is_set() and not self._queue:
                return

    def _write_batch(self) -> None:
        with self._writing:
            batch = self._take()
            if batch:
                self._deliver(batch)

    def _take(self) -> list[_Line]:
        with self._lock:
            batch = list(self._queue)
            self._queue.clear()
            self._bytes = 0
            drops = self.dropped - self._reported_drops
            self._reported_drops = self.dropped
        if drops:
            log.warning("%d log lines were not sent to CloudWatch Logs: more were waiting than it holds", drops)
        return batch

    def _deliver(self, batch: list[_Line]) -> None:
        streams: dict[tuple[str, str, str, str], list[tuple[int, str]]] = {}
        for line in batch:
            d = line.destination
            events = streams.setdefault((d.account_id, d.region, d.group, d.stream), [])
            events.append((int(line.time * 1000), _message(line)))
        for (account_id, region, group, stream), events in streams.items():
            events.sort(key=itemgetter(0))  # stable: lines of one millisecond keep their order
            backend = self._backend(account_id, region)
            if backend is None:
                with self._lock:
                    self.dropped += len(events)
                continue
            try:
                backend.ensure_log_group(group)
                backend.ensure_log_stream(group, stream)
                for chunk in _chunks(events):
                    backend.put_log_events(group, stream, [{"timestamp": t, "message": m} for t, m in chunk])
                    self.delivered += len(chunk)
                    self._retain(backend, group, stream, len(chunk), sum(len(m) for _, m in chunk))
            except Exception:  # moto's own errors: the one place they are caught
                self.failed += len(events)
                log.warning("CloudWatch Logs refused %d events for %s %s", len(events), group, stream, exc_info=True)

    def _retain(self, backend: LogsBackend, group: str, stream: str, count: int, size: int) -> None:
        """Note a put; forget the oldest events while more than ``max_retained`` events or
        ``max_retained_bytes`` characters are kept (by whole puts for the characters)."""
        self._retained.append((backend, group, stream, count, size))
        self._retained_total += count
        self._retained_bytes += size
        while self._retained and self._retained_bytes > self._max_retained_bytes:
            old_backend, old_group, old_stream, old_count, old_size = self._retained.popleft()
            _forget_oldest(old_backend, old_group, old_stream, old_count)
            self._retained_total -= old_count
            self._retained_bytes -= old_size
        while self._retained_total > self._max_retained:
            old_backend, old_group, old_stream, old_count, old_size = self._retained[0]
            excess = min(old_count, self._retained_total - self._max_retained)
            _forget_oldest(old_backend, old_group, old_stream, excess)
            self._retained_total -= excess
            if excess == old_count:
                self._retained.popleft()
                self._retained_bytes -= old_size
            else:
                kept = old_size * (old_count - excess) // old_count
                self._retained_bytes -= old_size - kept
                self._retained[0] = (old_backend, old_group, old_stream, old_count - excess, kept)

    def _backend(self, account_id: str, region: str) -> LogsBackend | None:
        backend = self._backends.get((account_id, region))
        if backend is None and self._broken is None:
            try:
                backend = self._backends[account_id, region] = self._backend_for(account_id, region)
            except Exception as exc:  # moto would not load: nothing will be delivered
                self._broken = f"{type(exc).__name__}: {exc}"
                log.error("function logs cannot go to CloudWatch Logs: %s", self._broken, exc_info=True)
        return backend


def _forget_oldest(backend: LogsBackend, group: str, stream: str, count: int) -> None:
    """Remove the ``count`` oldest events of a stream from moto (gone already: nothing to do)."""
    try:
        held = backend.groups[group].streams[stream]
    except (KeyError, AttributeError):
        return
    events = held.events
    gone = events[:count]
    del events[:count]  # in place: a request reading the list meanwhile sees one or the other
    held.stored_bytes = max(0, held.stored_bytes - sum(len(e.message) for e in gone))


def _message(line: _Line) -> str:
    if line.record is None:
        return line.text + "\n"
    return json.dumps({"time": iso_millis(line.time), **line.record}, separators=(",", ":"), ensure_ascii=False)


def _chunks(events: list[tuple[int, str]]) -> Iterator[list[tuple[int, str]]]:
    """``events`` in PutLogEvents-sized pieces."""
    chunk: list[tuple[int, str]] = []
    size = 0
    for event in events:
        cost = len(event[1]) + _EVENT_OVERHEAD
        if chunk and (len(chunk) >= _BATCH_EVENTS or size + cost > _BATCH_BYTES):
            yield chunk
            chunk, size = [], 0
        chunk.append(event)
        size += cost
    if chunk:
        yield chunk
