"""The Runtime API's routes (``/2018-06-01/runtime/...``) over the environment they serve.

Docs: runtimes-api.html. The runtime long-polls ``GET invocation/next`` for its next event and
answers each one on ``POST invocation/{id}/response`` or ``POST invocation/{id}/error``; an init
that fails is reported on ``POST init/error``. What these mean for the environment's state is the
``RuntimeHost``'s business; this module only maps requests onto it and answers as AWS does
(``202 {"status":"OK"}``, or ``400 InvalidRequestID`` for a request id that is not the current
invocation's).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from locallambda.runtime_api.http import Exchange, Routes

__all__ = ["PREFIX", "RuntimeHost", "runtime_routes"]

PREFIX = "/2018-06-01/runtime"
_ACCEPTED = b'{"status":"OK"}'
_ERROR_TYPE_HEADER = "lambda-runtime-function-error-type"


class RuntimeHost(Protocol):
    """What the Runtime API asks of the execution environment behind it."""

    def next_invocation(self, exchange: Exchange) -> None:
        """The runtime is ready for an event: answer ``exchange`` with one, now or later."""

    def invocation_result(self, request_id: str, body: bytes, error_type: str | None, failed: bool) -> bool:
        """The runtime's answer to an invocation (``failed``: it reported an error); False when
        ``request_id`` is not the invocation in progress."""

    def init_error(self, body: bytes, error_type: str | None) -> None:
        """The runtime's init failed, for the reason in ``body``."""


def runtime_routes(host: RuntimeHost) -> Routes:
    def next_event(ex: Exchange, _: Mapping[str, str]) -> None:
        host.next_invocation(ex)

    def response(ex: Exchange, params: Mapping[str, str]) -> None:
        _result(ex, params["request_id"], failed=False)

    def error(ex: Exchange, params: Mapping[str, str]) -> None:
        _result(ex, params["request_id"], failed=True)

    def _result(ex: Exchange, request_id: str, *, failed: bool) -> None:
        if host.invocation_result(request_id, ex.body, ex.headers.get(_ERROR_TYPE_HEADER), failed):
            ex.respond(202, _ACCEPTED)
        else:
            ex.fail(400, "InvalidRequestID", "Invalid request ID")

    def init_error(ex: Exchange, _: Mapping[str, str]) -> None:
        ex.respond(202, _ACCEPTED)
        host.init_error(ex.body, ex.headers.get(_ERROR_TYPE_HEADER))

    return (
        Routes()
        .add("GET", f"{PREFIX}/invocation/next", next_event)
        .add("POST", f"{PREFIX}/invocation/{{request_id}}/response", response)
        .add("POST", f"{PREFIX}/invocation/{{request_id}}/error", error)
        .add("POST", f"{PREFIX}/init/error", init_error)
    )
