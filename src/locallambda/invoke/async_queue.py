"""Asynchronous (Event) invocations: accepted at once, run in the background, retried as AWS does,
and never lost once accepted.

Docs: invocation-async-error-handling.html. A function error is retried ``MaximumRetryAttempts``
times (default 2, from the event invoke configuration of the qualifier the event was invoked
with), "with a one-minute wait between the first two attempts, and two minutes between the second
and third"; ``LAMBDA_RETRY_BASE_DELAY`` (LocalStack's, seconds, default 60) is the first delay and
the second is twice it. Throttles (429) and system errors (5xx) return the event to the queue with
a backoff growing from 1 s to 5 min, without using up an attempt, for as long as the event is
younger than ``MaximumEventAgeInSeconds`` (default 6 h). AWS looks ahead: an event whose next
attempt would come after its maximum age is given up at once (recorded in LocalStack's
``test_maxeventage``: with a maximum age of 60 s the first failure is final). A function whose
reserved concurrency is 0 can never run: its events fail at once (``ZeroReservedConcurrency``).

Every finished event is an ``Outcome`` (Success, RetriesExhausted, EventAgeExceeded,
ZeroReservedConcurrency) handed to the ``deliver`` seam (destinations and dead-letter queues,
``invoke/destinations.py``) before the event is forgotten.

Durability: every accepted event is a document in the state store (kind ``event``) until it has
been finished or given up on; a retry's attempt number, due time and the last response are
written before it is scheduled. The API acknowledges an Event invoke only after the store has
committed it (the dispatcher awaits the store's flush), so a kill of the server loses nothing:
``start`` resumes every stored event at its due time. Delivery is at least once, as on AWS: an
event that was running (or being delivered) when the server died runs again. With persistence off
the store keeps nothing, and ``close`` instead drains what is due (at most ``drain_s`` seconds)
before it stops.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import enum
import logging
import math
from collections.abc import Awaitable, Callable
from typing import Any

from locallambda.errors import LambdaError, ServiceError, TooManyRequestsError
from locallambda.invoke.journal import Trigger
from locallambda.model.clock import Clock, Timer
from locallambda.model.refs import FunctionRef
from locallambda.model.spec import InvocationResult
from locallambda.model.tasks import TaskScope
from locallambda.store.documents import DocumentStore

__all__ = ["Condition", "EventQueue", "Outcome", "QueuedEvent", "Response"]

log = logging.getLogger(__name__)

# (function, payload, request id, the journal's trigger: who submitted it and which attempt this is)
Runner = Callable[[FunctionRef, bytes, str, Trigger], Awaitable[InvocationResult]]
ConfigLookup = Callable[[FunctionRef], dict[str, Any]]
KIND = "event"
DEFAULT_MAX_AGE = 21600.0
DEFAULT_RETRIES = 2
MAX_BACKOFF = 300.0


class Condition(enum.Enum):
    """How an event finished: the ``condition`` of AWS's invocation record."""

    SUCCESS = "Success"
    RETRIES_EXHAUSTED = "RetriesExhausted"
    EVENT_AGE_EXCEEDED = "EventAgeExceeded"
    ZERO_RESERVED_CONCURRENCY = "ZeroReservedConcurrency"


@dataclasses.dataclass(frozen=True, slots=True)
class Response:
    """What the function answered on its last run."""

    payload: bytes
    executed_version: str
    function_error: str | None = None

    def to_doc(self) -> dict[str, Any]:
        return {
            "payload": base64.b64encode(self.payload).decode(),
            "version": self.executed_version,
            "error": self.function_error,
        }

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Response:
        error = doc.get("error")
        return cls(base64.b64decode(doc["payload"]), str(doc["version"]), None if error is None else str(error))


@dataclasses.dataclass(frozen=True, slots=True)
class QueuedEvent:
    """One accepted event: what to run, since when it waits, which attempt is next, and when."""

    request_id: str
    ref: FunctionRef
    payload: bytes
    enqueued_at: float  # wall clock: MaximumEventAgeInSeconds counts from here
    attempt: int = 0  # runs so far that ended in a function error
    due_at: float = 0.0  # wall clock: not before
    last: Response | None = None  # the answer of the last run, if it ran
    trigger: str = "event"  # who submitted it, for the journal (``event``, ``sns``, ``destination``...)

    def to_doc(self) -> dict[str, Any]:
        return {
            "last": None if self.last is None else self.last.to_doc(),
            "request_id": self.request_id,
            "function": [self.ref.name, self.ref.qualifier, self.ref.region, self.ref.account_id],
            "payload": base64.b64encode(self.payload).decode(),
            "enqueued_at": self.enqueued_at,
            "attempt": self.attempt,
            "due_at": self.due_at,
            "trigger": self.trigger,
        }

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> QueuedEvent:
        """Raises ``KeyError``, ``TypeError`` or ``ValueError`` for a malformed document."""
        name, qualifier, region, account = doc["function"]
        return cls(
            request_id=str(doc["request_id"]),
            ref=FunctionRef(str(name), None if qualifier is None else str(qualifier), str(region), str(account)),
            payload=base64.b64decode(doc["payload"]),
            enqueued_at=float(doc["enqueued_at"]),
            attempt=int(doc["attempt"]),
            due_at=float(doc["due_at"]),
            last=Response.from_doc(doc["last"]) if doc.get("last") else None,
            trigger=str(doc.get("trigger") or "event"),
        )


@dataclasses.dataclass(frozen=True, slots=True)
class Outcome:
    """A finished event: how, after how many runs, the last answer and the configuration in force."""

    event: QueuedEvent
    condition: Condition
    invoke_count: int
    response: Response | None
    config: dict[str, Any]


Deliver = Callable[[Outcome], Awaitable[None]]


class EventQueue:
    def __init__(
        self,
        run: Runner,
        config_for: ConfigLookup,
        tasks: TaskScope,
        clock: Clock,
        store: DocumentStore | None = None,
        *,
        retry_delays: tuple[float, float] = (60.0, 120.0),
        deliver: Deliver | None = None,
        blocked: Callable[[FunctionRef], bool] | None = None,
        workers: int = 32,
        drain_s: float = 10.0,
    ) -> None:
        """``deliver`` receives every finished event; ``blocked(ref)`` says whether a throttled
        function can never run (reserved concurrency 0)."""
        self._run = run
        self._deliver = deliver
        self._blocked = blocked
        self._config_for = config_for
        self._tasks = tasks
        self._clock = clock
        self._store = store
        self._retry_delays = retry_delays
        self._queue: asyncio.Queue[QueuedEvent] = asyncio.Queue()
        self._timers: set[Timer] = set()
        self._n = workers
        self._drain_s = drain_s
        self._running = 0

    def start(self) -> None:
        """Start the workers and resume the events a previous run accepted but did not finish."""
        for i in range(self._n):
            self._tasks.spawn(self._work(), name=f"event worker {i}")
        if self._store is None:
            return
        now = self._clock.time()
        resumed = 0
        for key, doc in self._store.load(KIND).items():
            try:
                event = QueuedEvent.from_doc(doc)
            except (KeyError, TypeError, ValueError) as exc:
                log.error("stored event %s is unreadable and is dropped: %s", key, exc)
                self._store.delete(KIND, key)
                continue
            self._schedule(event, max(0.0, event.due_at - now))
            resumed += 1
        if resumed:
            log.info("resumed %d event invocation(s) accepted before the last stop", resumed)

    def submit(self, ref: FunctionRef, payload: bytes, request_id: str, trigger: str = "event") -> None:
        """Accept an event: stored (when persistence is on) and queued to run now."""
        now = self._clock.time()
        event = QueuedEvent(request_id, ref, payload, enqueued_at=now, due_at=now, trigger=trigger)
        self._remember(event)
        self._queue.put_nowait(event)

    @property
    def pending(self) -> int:
        """Events accepted and not finished: queued, waiting for a retry, or running."""
        return self._queue.qsize() + len(self._timers) + self._running

    async def _work(self) -> None:
        while True:
            event = await self._queue.get()
            self._running += 1
            try:
                await self._one(event)
            except Exception:
                log.exception("event invocation %s failed", event.request_id)
                self._forget(event)
            finally:
                self._running -= 1
                self._queue.task_done()

    async def _one(self, event: QueuedEvent) -> None:
        ref, rid = event.ref, event.request_id
        config = self._config_for(ref) or {}
        max_age = float(config.get("MaximumEventAgeInSeconds", DEFAULT_MAX_AGE))
        max_retries = int(config.get("MaximumRetryAttempts", DEFAULT_RETRIES))
        if self._clock.time() - event.enqueued_at > max_age:
            log.info("event %s for %s dropped: older than %.0fs", rid, ref.name, max_age)
            await self._finish(event, Condition.EVENT_AGE_EXCEEDED, event.attempt, event.last, config)
            return
        try:
            result = await self._run(ref, event.payload, rid, Trigger(event.trigger, "Event", event.attempt + 1))
        except (TooManyRequestsError, ServiceError) as exc:
            if isinstance(exc, TooManyRequestsError) and self._blocked is not None and self._blocked(ref):
                await self._finish(event, Condition.ZERO_RESERVED_CONCURRENCY, event.attempt, event.last, config)
                return
            # Throttles and system errors do not use up retry attempts; the backoff grows with the
            # event's age (1 s, 2 s, 4 s ... up to 5 min), so a throttled event is not retried
            # every second for six hours.
            age = self._clock.time() - event.enqueued_at
            delay = min(MAX_BACKOFF, max(1.0, age))
            if age + delay > max_age:
                await self._finish(event, Condition.EVENT_AGE_EXCEEDED, event.attempt, event.last, config)
                return
            self._retry(event, delay, event.attempt, event.last)
            return
        except LambdaError as exc:
            log.info("event %s for %s not run: %s", rid, ref.name, exc.message)
            self._forget(event)
            return
        response = Response(result.payload, result.executed_version, result.function_error)
        runs = event.attempt + 1
        if not result.function_error:
            await self._finish(event, Condition.SUCCESS, runs, response, config)
            return
        if event.attempt >= max_retries:
            await self._finish(event, Condition.RETRIES_EXHAUSTED, runs, response, config)
            return
        delay = self._retry_delays[min(event.attempt, len(self._retry_delays) - 1)]
        # The look-ahead on the event's age, in whole seconds as AWS counts it.
        if math.ceil(self._clock.time() - event.enqueued_at) + delay > max_age:
            await self._finish(event, Condition.EVENT_AGE_EXCEEDED, runs, response, config)
            return
        self._retry(event, delay, runs, response)

    async def _finish(
        self, event: QueuedEvent, condition: Condition, runs: int, response: Response | None, config: dict[str, Any]
    ) -> None:
        """Hand the outcome to the destinations, then forget the event (at least once: a server
        killed in between delivers again)."""
        if condition is not Condition.SUCCESS:
            log.info(
                "event %s for %s failed for good: %s after %d run(s)",
                event.request_id,
                event.ref.name,
                condition.value,
                runs,
            )
        if self._deliver is not None:
            try:
                await self._deliver(Outcome(event, condition, runs, response, config))
            except Exception:
                log.exception("event %s: delivery of its outcome failed", event.request_id)
        self._forget(event)

    def _retry(self, event: QueuedEvent, delay: float, attempt: int, last: Response | None) -> None:
        later = dataclasses.replace(event, attempt=attempt, due_at=self._clock.time() + delay, last=last)
        self._remember(later)
        self._schedule(later, delay)

    def _schedule(self, event: QueuedEvent, delay: float) -> None:
        if delay <= 0:
            self._queue.put_nowait(event)
            return

        def fire() -> None:
            self._timers.discard(timer)
            self._queue.put_nowait(event)

        timer = self._clock.call_later(delay, fire)
        self._timers.add(timer)

    def _remember(self, event: QueuedEvent) -> None:
        if self._store is not None:
            self._store.put(KIND, event.request_id, event.to_doc())

    def _forget(self, event: QueuedEvent) -> None:
        if self._store is not None:
            self._store.delete(KIND, event.request_id)

    async def close(self) -> None:
        """Stop. With persistence on, what is left stays stored for the next start; without it,
        the events already due are run first, for at most ``drain_s`` seconds."""
        if (self._store is None or not self._store.persistent) and self._queue.qsize() + self._running:
            left = self._queue.qsize() + self._running
            log.info("running %d accepted event invocation(s) before stopping", left)
            try:
                await asyncio.wait_for(self._queue.join(), self._drain_s)
            except TimeoutError:
                log.warning("%d event invocation(s) not run: the server stopped", self.pending)
        if self._timers and (self._store is None or not self._store.persistent):
            log.warning("%d event invocation(s) waiting for a retry are dropped: persistence is off", len(self._timers))
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        await self._tasks.close()
