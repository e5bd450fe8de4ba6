"""An invocation in flight inside an environment, and the words of the Runtime API around it.

``Pending``: the invocation, the future of its answer (payload, function error), and whether
its event was handed to the runtime; ``expire`` ends the future with ``TimeoutError`` (the
function's timeout). ``InitFailure``: an init that ended without the runtime asking for an
event, worded per request. ``event_headers``: the headers of ``GET /next`` as AWS sends them
(runtimes-api.html), an X-Ray trace id drawn when the invocation brought none.
``error_document``: what a runtime that reports an error without a body is taken to have said.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable

from locallambda.errors import Fault
from locallambda.model.spec import Invocation

__all__ = ["Answer", "InitFailure", "Pending", "error_document", "event_headers", "expire"]

Answer = tuple[bytes, str | None]  # (payload, function error)


class InitFailure(Exception):
    """The init ended without the runtime asking for an event; ``fault`` words it per request."""

    def __init__(self, fault: Callable[[str], Fault], lines: Callable[[str], tuple[str, ...]] | None = None) -> None:
        super().__init__("init failed")
        self.fault = fault
        self.lines = lines or (lambda _rid: ())


class Pending:
    """One invocation waiting for its answer."""

    __slots__ = ("delivered", "future", "invocation")

    def __init__(self, invocation: Invocation, future: asyncio.Future[Answer]) -> None:
        self.invocation = invocation
        self.future = future
        self.delivered = False


def expire(future: asyncio.Future[Answer]) -> None:
    if not future.done():
        future.set_exception(TimeoutError())


def event_headers(inv: Invocation, now: float) -> list[tuple[str, str]]:
    """The headers of the event ``inv`` as the runtime's ``/next`` gets it."""
    headers = [
        ("Lambda-Runtime-Aws-Request-Id", inv.request_id),
        ("Lambda-Runtime-Deadline-Ms", str(inv.deadline_ms)),
        ("Lambda-Runtime-Invoked-Function-Arn", inv.invoked_arn),
        ("Lambda-Runtime-Trace-Id", inv.trace_id or _trace_id(now)),
    ]
    if inv.client_context:
        headers.append(("Lambda-Runtime-Client-Context", inv.client_context))
    if inv.cognito_identity:
        headers.append(("Lambda-Runtime-Cognito-Identity", inv.cognito_identity))
    return headers


def error_document(error_type: str) -> bytes:
    """What a runtime that reports an error without a body is taken to have said."""
    return json.dumps({"errorType": error_type, "errorMessage": ""}).encode()


def _trace_id(now: float) -> str:
    # X-Ray's format; the ids need to be unique, not secret, so a fast PRNG is enough.
    bits = random.getrandbits(160)
    return f"Root=1-{int(now):08x}-{bits >> 64:024x};Parent={bits & 0xFFFFFFFFFFFFFFFF:016x};Sampled=0"
