"""The Extensions API (and Logs/Telemetry subscriptions) of one execution environment.

Docs: runtimes-extensions-api.html. An extension registers (``POST /2020-01-01/extension/register``
with ``Lambda-Extension-Name``), receives a ``Lambda-Extension-Identifier``, then long-polls
``GET /2020-01-01/extension/event/next`` for ``INVOKE`` and ``SHUTDOWN`` events.
Subscriptions to the Logs API (``PUT /2020-08-15/logs``) and the Telemetry API
(``PUT /2022-07-01/telemetry``) are accepted and recorded.
"""

from __future__ import annotations

import asyncio
import collections
import json
import uuid
from typing import Any

from locallambda.model.clock import Clock
from locallambda.model.spec import Invocation
from locallambda.model.tasks import TaskScope
from locallambda.runtime_api.http import Exchange, Routes
from locallambda.runtime_api.telemetry import LogSubscriptions, SubscriptionError

__all__ = ["ExtensionsHub"]

_EXTENSION = "/2020-01-01/extension"
_ACCEPTED = b'{"status":"OK"}'


class _Extension:
    __slots__ = ("events", "id", "name", "parked", "queue")

    def __init__(self, name: str, events: list[str]) -> None:
        self.name = name
        self.id = str(uuid.uuid4())
        self.events = set(events)
        self.queue: collections.deque[bytes] = collections.deque()
        self.parked: Exchange | None = None


class ExtensionsHub:
    def __init__(
        self, tasks: TaskScope, clock: Clock, *, function_name: str, function_version: str, handler: str
    ) -> None:
        self._clock = clock
        self._by_id: dict[str, _Extension] = {}
        self._waiting: set[str] = set()  # extensions that have asked for their first event
        self._changed = asyncio.Event()
        self.logs = LogSubscriptions(tasks, clock)
        self.function_name = function_name
        self.function_version = function_version
        self.handler = handler

    @property
    def registered(self) -> list[str]:
        return [e.name for e in self._by_id.values()]

    def routes(self) -> Routes:
        """The Extensions API and the Logs/Telemetry subscription routes."""
        return (
            Routes()
            .add("POST", f"{_EXTENSION}/register", lambda ex, _: self._register(ex))
            .add("GET", f"{_EXTENSION}/event/next", lambda ex, _: self._next_event(ex))
            .add("POST", f"{_EXTENSION}/init/error", lambda ex, _: ex.respond(202, _ACCEPTED))
            .add("POST", f"{_EXTENSION}/exit/error", lambda ex, _: ex.respond(202, _ACCEPTED))
            .add("PUT", "/2020-08-15/logs", lambda ex, _: self._subscribe(ex))
            .add("PUT", "/2022-07-01/telemetry", lambda ex, _: self._subscribe(ex))
        )

    def _next_event(self, ex: Exchange) -> None:
        ext = self._by_id.get(ex.headers.get("lambda-extension-identifier", ""))
        if ext is None:
            ex.fail(403, "Extension.UnknownExtensionIdentifier", "Unknown extension")
            return
        if ext.id not in self._waiting:
            self._waiting.add(ext.id)
            self._changed.set()
        if ext.queue:
            self._send(ext, ex, ext.queue.popleft())
        else:
            ext.parked = ex

    def _subscribe(self, ex: Exchange) -> None:
        try:
            body = json.loads(ex.body or b"{}")
            if not isinstance(body, dict):
                raise SubscriptionError("The subscription must be a JSON object")
            self.logs.subscribe(body)
        except (ValueError, SubscriptionError) as exc:
            ex.fail(400, "ValidationError", str(exc))
            return
        ex.respond(200, b"OK", content_type="text/plain")

    async def wait_ready(self, expected: int) -> None:
        """Until ``expected`` extensions have registered and asked for their first event.

        AWS ends the Init phase only then, so that no extension misses the first INVOKE.
        """
        while len(self._waiting) < expected:
            self._changed.clear()
            await self._changed.wait()

    def _register(self, ex: Exchange) -> None:
        name = ex.headers.get("lambda-extension-name")
        if not name:
            ex.fail(400, "InvalidRequest", "Missing Lambda-Extension-Name")
            return
        try:
            events = list(json.loads(ex.body or b"{}").get("events", []))
        except (ValueError, AttributeError):
            ex.fail(400, "InvalidRequest", "Invalid body")
            return
        ext = _Extension(name, events)
        self._by_id[ext.id] = ext
        body = json.dumps(
            {"functionName": self.function_name, "functionVersion": self.function_version, "handler": self.handler}
        ).encode()
        ex.respond(200, body, [("Lambda-Extension-Identifier", ext.id)])

    def _send(self, ext: _Extension, ex: Exchange, event: bytes) -> None:
        ex.respond(200, event, [("Lambda-Extension-Event-Identifier", str(uuid.uuid4()))])

    def _publish(self, kind: str, event: dict[str, Any]) -> None:
        data = json.dumps(event).encode()
        for ext in self._by_id.values():
            if kind not in ext.events:
                continue
            parked, ext.parked = ext.parked, None
            if parked is not None and parked.connected:
                self._send(ext, parked, data)
            else:
                ext.queue.append(data)

    def invoke_event(self, inv: Invocation) -> None:
        if not self._by_id:
            return
        self._publish(
            "INVOKE",
            {
                "eventType": "INVOKE",
                "deadlineMs": inv.deadline_ms,
                "requestId": inv.request_id,
                "invokedFunctionArn": inv.invoked_arn,
                "tracing": {"type": "X-Amzn-Trace-Id", "value": inv.trace_id or ""},
            },
        )

    def shutdown(self, reason: str = "spindown", grace_s: float = 2.0) -> bool:
        """Send SHUTDOWN to the extensions that asked for it; True when any did (the caller then
        gives them ``grace_s`` before killing the environment, as AWS gives them 2 s)."""
        if not any("SHUTDOWN" in ext.events for ext in self._by_id.values()):
            return False
        self._publish(
            "SHUTDOWN",
            {
                "eventType": "SHUTDOWN",
                "shutdownReason": reason,
                "deadlineMs": int((self._clock.time() + grace_s) * 1000),
            },
        )
        return True
