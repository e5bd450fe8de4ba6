"""Delivery of logs to extensions subscribed through the Logs API or the Telemetry API.

Docs: telemetry-api.html, runtimes-logs-api.html. An extension subscribes with
``PUT /2022-07-01/telemetry`` (or ``PUT /2020-08-15/logs``) naming the event types it wants
(``platform``, ``function``, ``extension``), buffering limits and an HTTP destination, usually
``http://sandbox.localdomain:<port>/``. Lambda then POSTs JSON arrays of events
``{"time": ..., "type": ..., "record": ...}`` to that address, batched by ``timeoutMs`` and
``maxItems``. ``sandbox.localdomain`` names the execution environment; here that is this host.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
from typing import Any
from urllib.parse import urlsplit

from locallambda.model.clock import Clock, Timer, iso_millis
from locallambda.model.tasks import TaskScope
from locallambda.runtime_api.http import encode_head

__all__ = ["LogSubscriptions", "SubscriptionError"]

log = logging.getLogger(__name__)

_CATEGORIES = {"platform", "function", "extension"}
_LOCAL_NAMES = {"sandbox.localdomain", "sandbox", "localhost"}


class SubscriptionError(ValueError):
    """A subscription request AWS would refuse; the message says why."""


# Batches waiting for delivery to one subscriber; beyond this the oldest are dropped, as Lambda
# drops telemetry an extension does not keep up with (telemetry-api.html, "Buffering").
MAX_PENDING_BATCHES = 16


class _Subscriber:
    __slots__ = (
        "buffer", "buffered", "dropped", "host", "max_bytes", "max_items", "path", "pending", "port",
        "sending", "timeout_s", "timer", "types",
    )  # fmt: skip

    def __init__(
        self, host: str, port: int, path: str, types: set[str], timeout_s: float, max_items: int, max_bytes: int
    ) -> None:
        self.host = host
        self.port = port
        self.path = path
        self.types = types
        self.timeout_s = timeout_s
        self.max_items = max_items
        self.max_bytes = max_bytes
        self.buffer: list[dict[str, Any]] = []
        self.buffered = 0  # bytes of the buffered records, as counted for maxBytes
        self.pending: collections.deque[bytes] = collections.deque()
        self.sending = False
        self.dropped = 0
        self.timer: Timer | None = None


class LogSubscriptions:
    def __init__(self, tasks: TaskScope, clock: Clock) -> None:
        self._tasks = tasks
        self._clock = clock
        self._subscribers: list[_Subscriber] = []

    @property
    def active(self) -> bool:
        return bool(self._subscribers)

    def subscribe(self, body: dict[str, Any]) -> None:
        """Record a subscription. Raises ``SubscriptionError`` for a malformed request."""
        destination = body.get("destination") or {}
        uri = destination.get("URI") or ""
        if destination.get("protocol", "HTTP") != "HTTP" or not uri:
            raise SubscriptionError("Only HTTP destinations with a URI are supported")
        parts = urlsplit(uri)
        if parts.scheme != "http" or not parts.port:
            raise SubscriptionError(f"Invalid destination URI: {uri}")
        host = "127.0.0.1" if (parts.hostname or "") in _LOCAL_NAMES else (parts.hostname or "127.0.0.1")
        types = {t for t in body.get("types") or [] if t in _CATEGORIES}
        if not types:
            raise SubscriptionError("At least one of platform, function or extension must be subscribed to")
        buffering = body.get("buffering") or {}
        try:
            # AWS's ranges: timeoutMs 25–30,000 (1,000), maxItems 1,000–10,000 (10,000),
            # maxBytes 262,144–1,048,576 (262,144).
            timeout_ms = min(30_000, max(25, int(buffering.get("timeoutMs", 1000))))
            max_items = min(10_000, max(1, int(buffering.get("maxItems", 10000))))
            max_bytes = min(1_048_576, max(1, int(buffering.get("maxBytes", 262_144))))
        except (TypeError, ValueError) as exc:
            raise SubscriptionError(f"Invalid buffering configuration: {exc}") from exc
        self._subscribers.append(
            _Subscriber(host, parts.port, parts.path or "/", types, timeout_ms / 1000, max_items, max_bytes)
        )

    def publish(self, kind: str, record: Any) -> None:
        """Queue one event (``function`` with the line, or ``platform.*`` with a record dict)."""
        category = kind.split(".", 1)[0]
        event = None
        size = 0
        for sub in self._subscribers:
            if category not in sub.types:
                continue
            if event is None:
                event = {"time": iso_millis(self._clock.time()), "type": kind, "record": record}
                size = len(record) if isinstance(record, str) else 256
            sub.buffer.append(event)
            sub.buffered += size
            if len(sub.buffer) >= sub.max_items or sub.buffered >= sub.max_bytes:
                self._flush(sub)
            elif sub.timer is None:
                sub.timer = self._clock.call_later(sub.timeout_s, self._flush, sub)

    def _flush(self, sub: _Subscriber) -> None:
        if sub.timer is not None:
            sub.timer.cancel()
            sub.timer = None
        batch, sub.buffer, sub.buffered = sub.buffer, [], 0
        if not batch:
            return
        sub.pending.append(json.dumps(batch).encode())
        while len(sub.pending) > MAX_PENDING_BATCHES:
            sub.pending.popleft()
            sub.dropped += 1
            log.debug("log subscriber %s:%d does not keep up: a batch was dropped", sub.host, sub.port)
        if not sub.sending:
            sub.sending = True
            self._tasks.spawn(self._send(sub), name="telemetry delivery")

    async def _send(self, sub: _Subscriber) -> None:
        """Deliver the subscriber's batches one after another, in order."""
        try:
            while sub.pending:
                await self._post(sub, sub.pending.popleft())
        finally:
            sub.sending = False

    async def _post(self, sub: _Subscriber, body: bytes) -> None:
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(sub.host, sub.port), 2.0)
        except (TimeoutError, OSError) as exc:
            log.debug("log subscriber %s:%d unreachable: %s", sub.host, sub.port, exc)
            return
        try:
            headers = [
                ("Host", f"sandbox.localdomain:{sub.port}"),
                ("Content-Type", "application/json"),
                ("Connection", "close"),
            ]
            writer.write(encode_head(f"POST {sub.path} HTTP/1.1".encode("latin-1"), headers, len(body)) + body)
            await writer.drain()
            await asyncio.wait_for(reader.read(65536), 2.0)
        except (TimeoutError, OSError) as exc:
            log.debug("log delivery to %s:%d failed: %s", sub.host, sub.port, exc)
        finally:
            writer.close()

    def flush_all(self) -> None:
        for sub in self._subscribers:
            self._flush(sub)
