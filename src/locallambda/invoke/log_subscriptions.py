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
import contextlib
import datetime as dt
import json
import logging
from typing import Any
from urllib.parse import urlsplit

__all__ = ["LogSubscriptions", "SubscriptionError"]

log = logging.getLogger("locallambda.extensions")

_CATEGORIES = {"platform", "function", "extension"}
_LOCAL_NAMES = {"sandbox.localdomain", "sandbox", "localhost"}


class SubscriptionError(ValueError):
    """A subscription request AWS would refuse; the message says why."""


class _Subscriber:
    __slots__ = ("host", "port", "path", "types", "timeout_s", "max_items", "buffer", "timer")

    def __init__(self, host: str, port: int, path: str, types: set[str], timeout_s: float, max_items: int) -> None:
        self.host = host
        self.port = port
        self.path = path
        self.types = types
        self.timeout_s = timeout_s
        self.max_items = max_items
        self.buffer: list[dict[str, Any]] = []
        self.timer: asyncio.TimerHandle | None = None


def _now() -> str:
    now = dt.datetime.now(dt.timezone.utc)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


class LogSubscriptions:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._subscribers: list[_Subscriber] = []
        self._tasks: set[asyncio.Task[None]] = set()

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
        timeout_ms = int(buffering.get("timeoutMs", 1000))
        max_items = int(buffering.get("maxItems", 10000))
        self._subscribers.append(
            _Subscriber(host, parts.port, parts.path or "/", types, max(25, timeout_ms) / 1000, max(1, max_items))
        )

    def publish(self, kind: str, record: Any) -> None:
        """Queue one event (``function`` with the line, or ``platform.*`` with a record dict)."""
        category = kind.split(".", 1)[0]
        event = None
        for sub in self._subscribers:
            if category not in sub.types:
                continue
            if event is None:
                event = {"time": _now(), "type": kind, "record": record}
            sub.buffer.append(event)
            if len(sub.buffer) >= sub.max_items:
                self._flush(sub)
            elif sub.timer is None:
                sub.timer = self._loop.call_later(sub.timeout_s, self._flush, sub)

    def _flush(self, sub: _Subscriber) -> None:
        if sub.timer is not None:
            sub.timer.cancel()
            sub.timer = None
        batch, sub.buffer = sub.buffer, []
        if batch:
            task = self._loop.create_task(self._post(sub, json.dumps(batch).encode()))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _post(self, sub: _Subscriber, body: bytes) -> None:
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(sub.host, sub.port), 2.0)
        except (OSError, asyncio.TimeoutError) as exc:
            log.debug("log subscriber %s:%d unreachable: %s", sub.host, sub.port, exc)
            return
        try:
            writer.write(
                f"POST {sub.path} HTTP/1.1\r\nHost: sandbox.localdomain:{sub.port}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                + body
            )
            await writer.drain()
            await asyncio.wait_for(reader.read(65536), 2.0)
        except (OSError, asyncio.TimeoutError) as exc:
            log.debug("log delivery to %s:%d failed: %s", sub.host, sub.port, exc)
        finally:
            writer.close()

    def flush_all(self) -> None:
        for sub in self._subscribers:
            self._flush(sub)

    async def close(self) -> None:
        self.flush_all()
        for task in list(self._tasks):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, 2.0)
