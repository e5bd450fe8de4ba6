"""The invocation journal: the last invocations of this server, whatever invoked them.

Issue 12 ("Invocation journal"). The engine records every invocation it runs or refuses for
lack of capacity (``InvokeEngine.invoke``: API calls, function URLs, streams, event source
mappings, Event invokes and their retries, services, destinations, replays) and every DryRun the
API answers. An ``Entry`` keeps what ran (function, qualifier, why: its ``Trigger``), when, for
how long, how it ended, the request and response payloads (at most ``payload_bytes`` each; a
longer one keeps its first bytes and is marked) and the invocation's log (its last
``LOG_CHARS`` characters).

Recording is on the invoke hot path, so it is only a record built and a deque appended to: no
I/O, no encoding, no parsing. Whatever costs more (the error's type and message, the status, text
or base64, the log's lines) is worked out when an entry is read (``outcome``, ``log_lines``).
The journal holds ``size`` entries, the oldest going first; ``size`` 0 keeps nothing.
"""

from __future__ import annotations

import collections
import dataclasses
import enum
import itertools
import re
import uuid
from collections.abc import Iterator

from locallambda.invoke.streaming import error_of
from locallambda.model.spec import FunctionSpec, InvocationResult

__all__ = [
    "API",
    "LOG_CHARS",
    "LOG_LINES",
    "STREAM",
    "TRIGGER_HEADER",
    "URL",
    "Entry",
    "Journal",
    "Kept",
    "Status",
    "Trigger",
    "trigger_named",
]

LOG_CHARS = 64 * 1024  # of an invocation's log, the last characters kept
LOG_LINES = 100  # of those, the last lines shown
# Services of this server that invoke through its own Invoke API (the neighbours' bridge, the
# destinations) say who they are in this header: ``sns``, ``s3``, ``events``, ``destination``...
TRIGGER_HEADER = "x-locallambda-trigger"
_NAME = re.compile(r"[a-z][a-z0-9-]{0,31}")
TIMEOUT_TYPE = "Sandbox.Timedout"  # the error type of a timed-out invocation (errors.SandboxTimeout)


@dataclasses.dataclass(frozen=True, slots=True)
class Trigger:
    """Why an invocation ran. ``name``: who invoked it (``api``, ``event``, ``url``, ``stream``,
    ``sqs``, ``kinesis``, ``dynamodb``, ``apigateway``, ``sns``, ``s3``, ``events``, ``logs``,
    ``destination``, ``replay``); ``invocation_type``: ``RequestResponse``, ``Event`` or
    ``DryRun``; ``attempt``: an Event invoke's run (1 is the first); ``replay_of``: the entry a
    replay repeats."""

    name: str = "api"
    invocation_type: str = "RequestResponse"
    attempt: int | None = None
    replay_of: str | None = None


API = Trigger()
STREAM = Trigger("stream")
URL = Trigger("url")


def trigger_named(value: str | None, default: str) -> str:
    """The trigger a caller names (``TRIGGER_HEADER``), or ``default`` for none or a malformed one."""
    if value and _NAME.fullmatch(value):
        return value
    return default


class Status(enum.Enum):
    SUCCESS = "Success"
    ERROR = "Error"  # the function's error (a crash or an out-of-memory kill included)
    TIMEOUT = "Timeout"
    THROTTLED = "Throttled"
    FAILED = "Failed"  # ours: the environment could not start


# Entries and their payloads are plain slotted records, not frozen ones: a frozen dataclass's
# __init__ costs 2 µs more, on the invoke path. Nothing changes them once recorded.
@dataclasses.dataclass(slots=True)
class Kept:
    """A payload as kept: its first bytes, and how long it was."""

    data: bytes
    size: int

    @property
    def truncated(self) -> bool:
        return len(self.data) < self.size


@dataclasses.dataclass(slots=True)
class Entry:
    """One invocation. ``response`` is ``None`` when none was given (a throttle, a failure, a
    DryRun); ``refusal`` is the (code, message) of a throttle or a failure of ours; ``log`` the
    last ``LOG_CHARS`` characters of the invocation's log, ``log_size`` its length."""

    id: str
    request_id: str
    function_name: str
    function_arn: str  # unqualified
    qualifier: str  # as invoked: "$LATEST", a version or an alias
    region: str
    trigger: Trigger
    start_time: float  # epoch seconds
    request: Kept
    executed_version: str | None = None
    duration_ms: float = 0.0
    init_duration_ms: float | None = None
    response: Kept | None = None
    function_error: str | None = None
    refusal: tuple[str, str] | None = None
    throttled: bool = False
    log: str = ""
    log_size: int = 0

    def outcome(self) -> tuple[Status, tuple[str, str] | None]:
        """The status, and the (type, message) of the error (``None`` for a success)."""
        if self.refusal is not None:
            return (Status.THROTTLED if self.throttled else Status.FAILED), self.refusal
        if self.function_error is None:
            return Status.SUCCESS, None
        error = error_of(self.response.data if self.response is not None else b"")
        return (Status.TIMEOUT if error[0] == TIMEOUT_TYPE else Status.ERROR), error

    def log_lines(self) -> tuple[list[str], bool]:
        """The log's last ``LOG_LINES`` lines, and whether any were left out. Lines are split on
        ``\\n`` only: a Python traceback's ``\\r``-joined lines stay one line, as in CloudWatch."""
        lines = self.log.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        cut = self.log_size > len(self.log)
        if cut and lines:
            lines.pop(0)  # the first line kept may have lost its beginning
        if len(lines) > LOG_LINES:
            return lines[-LOG_LINES:], True
        return lines, cut


class Journal:
    """The last ``size`` invocations (``size`` 0: the journal is off), payloads kept up to
    ``payload_bytes`` each. Used from the event loop only."""

    def __init__(self, size: int, payload_bytes: int) -> None:
        self.size = max(0, size)
        self.payload_bytes = max(0, payload_bytes)
        self.enabled = self.size > 0
        self._entries: collections.deque[Entry] = collections.deque(maxlen=self.size or 1)
        # Ids in a UUID's form: a random prefix of this journal and a counter (a uuid4 per
        # invocation would cost 2 µs on the invoke path).
        self._prefix = str(uuid.uuid4())[:24]
        self._count = itertools.count(1)

    def _id(self) -> str:
        return f"{self._prefix}{next(self._count):012x}"

    def _kept(self, data: bytes) -> Kept:
        limit = self.payload_bytes
        return Kept(data if len(data) <= limit else data[:limit], len(data))

    def ran(
        self,
        spec: FunctionSpec,
        qualifier: str,
        trigger: Trigger,
        payload: bytes,
        started: float,
        result: InvocationResult,
    ) -> None:
        """Record an invocation that ran (whatever its outcome)."""
        log = result.log
        self._entries.append(
            Entry(
                self._id(),
                result.request_id,
                spec.name,
                spec.arn,
                qualifier,
                spec.region,
                trigger,
                started,
                self._kept(payload),
                executed_version=result.executed_version,
                duration_ms=result.duration_ms,
                init_duration_ms=result.init_duration_ms,
                response=self._kept(result.payload),
                function_error=result.function_error,
                log=log if len(log) <= LOG_CHARS else log[-LOG_CHARS:],
                log_size=len(log),
            )
        )

    def not_run(
        self,
        spec: FunctionSpec,
        qualifier: str,
        trigger: Trigger,
        request_id: str,
        payload: bytes,
        started: float,
        *,
        duration_ms: float = 0.0,
        refusal: tuple[str, str] | None = None,
        throttled: bool = False,
    ) -> None:
        """Record an invocation that did not run: a DryRun (no ``refusal``), a throttle, or a
        failure on our side (``refusal``: its error code and message)."""
        self._entries.append(
            Entry(
                self._id(),
                request_id,
                spec.name,
                spec.arn,
                qualifier,
                spec.region,
                trigger,
                started,
                self._kept(payload),
                duration_ms=duration_ms,
                refusal=refusal,
                throttled=throttled,
            )
        )

    def __len__(self) -> int:
        return len(self._entries) if self.enabled else 0

    def newest(self) -> Iterator[Entry]:
        """Every entry, newest first."""
        return reversed(self._entries) if self.enabled else iter(())

    def select(
        self,
        *,
        function: str | None = None,
        trigger: str | None = None,
        status: Status | None = None,
        limit: int | None = None,
    ) -> list[Entry]:
        """Entries newest first: of the function (its name or unqualified ARN), by trigger name,
        by status; at most ``limit``."""
        found: list[Entry] = []
        for entry in self.newest():
            if limit is not None and len(found) >= limit:
                break
            if function is not None and function not in (entry.function_name, entry.function_arn):
                continue
            if trigger is not None and entry.trigger.name != trigger:
                continue
            if status is not None and entry.outcome()[0] is not status:
                continue
            found.append(entry)
        return found

    def get(self, entry_id: str) -> Entry | None:
        return next((e for e in self.newest() if e.id == entry_id), None)

    def of_request(self, request_id: str) -> Entry | None:
        """The newest entry of a request id (an Event invoke's retries share theirs)."""
        return next((e for e in self.newest() if e.request_id == request_id), None)

    def clear(self) -> None:
        self._entries.clear()
