"""Asynchronous (Event) invocations: accepted at once, run in the background, retried as AWS does,
and never lost once accepted.

Docs: invocation-async.html. A function error is retried ``MaximumRetryAttempts`` times (default
2), about one minute before the first retry and two before the second; events older than
``MaximumEventAgeInSeconds`` (default 6 h) are dropped; throttles are requeued with backoff.
The delays are settable for tests through the constructor.

Durability: every accepted event is a document in the state store (kind ``event``) until it has
run for the last time, been dropped, or been given up on; a retry's attempt number and due time
are written before it is scheduled. The API acknowledges an Event invoke only after the store has
committed it (the dispatcher awaits the store's flush), so a kill of the server loses nothing:
``start`` resumes every stored event at its due time. Delivery is at least once, as on AWS: an
event that was running when the server died runs again. With persistence off the store keeps
nothing, and ``close`` instead drains what is due (at most ``drain_s`` seconds) before it stops.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from locallambda.errors import LambdaError, TooManyRequestsError
from locallambda.model.clock import Clock, Timer
from locallambda.model.refs import FunctionRef
from locallambda.model.spec import InvocationResult
from locallambda.model.tasks import TaskScope
from locallambda.store.documents import DocumentStore

__all__ = ["EventQueue", "QueuedEvent"]

log = logging.getLogger(__name__)

Runner = Callable[[FunctionRef, bytes, str], Awaitable[InvocationResult]]
ConfigLookup = Callable[[FunctionRef], dict[str, Any]]
KIND = "event"


@dataclasses.dataclass(frozen=True, slots=True)
class QueuedEvent:
    """One accepted event: what to run, since when it waits, which attempt is next, and when."""

    request_id: str
    ref: FunctionRef
    payload: bytes
    enqueued_at: float  # wall clock: MaximumEventAgeInSeconds counts from here
    attempt: int = 0
    due_at: float = 0.0  # wall clock: not before

    def to_doc(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "function": [self.ref.name, self.ref.qualifier, self.ref.region, self.ref.account_id],
            "payload": base64.b64encode(self.payload).decode(),
            "enqueued_at": self.enqueued_at,
            "attempt": self.attempt,
            "due_at": self.due_at,
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
        )


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
        workers: int = 32,
        drain_s: float = 10.0,
    ) -> None:
        self._run = run
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

    def submit(self, ref: FunctionRef, payload: bytes, request_id: str) -> None:
        """Accept an event: stored (when persistence is on) and queued to run now."""
        now = self._clock.time()
        event = QueuedEvent(request_id, ref, payload, enqueued_at=now, due_at=now)
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
        max_age = float(config.get("MaximumEventAgeInSeconds", 21600))
        max_retries = int(config.get("MaximumRetryAttempts", 2))
        if self._clock.time() - event.enqueued_at > max_age:
            log.info("event %s for %s dropped: older than %.0fs", rid, ref.name, max_age)
            self._forget(event)
            return
        try:
            result = await self._run(ref, event.payload, rid)
        except TooManyRequestsError:
            # Throttles do not use up retry attempts; the backoff grows with the event's age
            # (1 s, 2 s, 4 s ... up to 5 min), so a throttled event is not retried every second
            # for six hours.
            age = self._clock.time() - event.enqueued_at
            self._retry(event, min(300.0, max(1.0, age)), event.attempt)
            return
        except LambdaError as exc:
            log.info("event %s for %s not run: %s", rid, ref.name, exc.message)
            self._forget(event)
            return
        if result.function_error and event.attempt < max_retries:
            delay = self._retry_delays[min(event.attempt, len(self._retry_delays) - 1)]
            self._retry(event, delay, event.attempt + 1)
            return
        self._forget(event)

    def _retry(self, event: QueuedEvent, delay: float, attempt: int) -> None:
        later = dataclasses.replace(event, attempt=attempt, due_at=self._clock.time() + delay)
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
