"""The neighbour services, served in this process by embedded moto on the server's own port.

moto (its server application, the one ``moto_server`` runs) is loaded at the first request for a
neighbour, not at start: a server used only for Lambda pays nothing for it, and the invoke path
never touches it. Each call runs in a worker thread (``wsgi.py``). Every request is answered in
this server's account (``x-moto-account-id``), so ARNs and ``GetCallerIdentity`` agree with the
Lambda API's.

Hosts that name a bucket the LocalStack way (``<bucket>.s3.localhost.localstack.cloud:4566``)
are given to moto as the AWS host they stand for (``<bucket>.s3.amazonaws.com``); a bare
``s3.localhost.localstack.cloud`` is path style, as on LocalStack.

A service left out of ``SERVICES`` is answered as LocalStack answers it (501
``InternalFailure``, "Service 'sqs' is not enabled. Please check your 'SERVICES' configuration
variable."), written in the protocol its client parses.

The state moto keeps is that of this process (moto's backends are module-level): two servers
built in one process share their neighbours. Servers run as processes of their own share
nothing.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import re
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar
from xml.sax.saxutils import escape

from locallambda.neighbours.catalogue import SERVICES
from locallambda.neighbours.sqs_speed import install as install_sqs_speed
from locallambda.neighbours.wsgi import WsgiAnswer, WsgiCaller, build_environ

__all__ = ["Neighbours"]

T = TypeVar("T")

log = logging.getLogger(__name__)

_LOCALSTACK_S3_HOST = re.compile(r"^(?:(?P<bucket>.+)\.)?s3\.localhost\.localstack\.cloud(?P<port>:\d+)?$")


class Neighbours:
    """The services around Lambda. ``served`` is ``SERVICES`` (``None``: every service moto
    has); the ``on_load`` hooks run once, in a worker thread, right after moto is imported
    (they wire moto's calls to Lambda to this server's Lambda, its CloudFormation resources)."""

    def __init__(
        self,
        account_id: str,
        server: tuple[str, int],
        served: frozenset[str] | None = None,
        on_load: Callable[[], None] | Sequence[Callable[[], None]] = (),
        workers: int = 8,
        after_call: Callable[[str, str, dict[str, Any], int], None] | None = None,
        before_call: Mapping[str, Callable[[], None]] | None = None,
    ) -> None:
        self._account_id = account_id
        self._server = server
        self._served = served
        self._on_load = [on_load] if callable(on_load) else list(on_load)
        self._workers = workers
        self._lock = threading.Lock()
        self._caller: WsgiCaller | None = None
        self._used: set[str] = set()
        self._after_call = after_call  # (service, method, environ, status), in the worker thread
        self._before_call = dict(before_call or {})  # service → what runs before its requests, there too

    def serves(self, service: str) -> bool:
        return self._served is None or service in self._served

    def states(self) -> dict[str, str]:
        """Each known service and its state, as LocalStack's health endpoint lists them:
        ``running`` (used since start), ``available`` (served, not used yet), ``disabled``."""
        states: dict[str, str] = {}
        for name in sorted(set(SERVICES) | self._used):
            if name == "lambda":
                continue
            if not self.serves(name):
                states[name] = "disabled"
            else:
                states[name] = "running" if name in self._used else "available"
        return states

    async def handle(
        self,
        service: str | None,
        method: str,
        raw_path: str,
        query_string: str,
        headers: Sequence[tuple[str, str]],
        body: bytes,
        client: tuple[str, int] | None,
    ) -> WsgiAnswer:
        """Answer a request for a neighbour (``service`` as classified; ``None`` when nothing
        named one, which moto resolves itself, S3 by default)."""
        name = service or "s3"
        if not self.serves(name):
            return unserved(name, headers)
        self._used.add(name)
        fixed = [(k, v) for k, v in headers if k != "x-moto-account-id"]
        fixed.append(("x-moto-account-id", self._account_id))
        fixed = [(k, _moto_host(v)) if k == "host" else (k, v) for k, v in fixed]
        environ = build_environ(method, raw_path, query_string, fixed, body, self._server, client)
        caller = self._caller or await _loaded(self)
        before = self._before_call.get(name)
        after_call = self._after_call
        if after_call is None:
            return await caller.call(environ, before=before)
        # In the same worker thread, before the answer leaves: what it acknowledged is kept.
        return await caller.call(environ, lambda answer: after_call(name, method, environ, answer.status), before)

    def changed_directly(self, service: str, target: str) -> None:
        """Say that this server's own code called ``target`` (an ``X-Amz-Target``, e.g.
        ``AmazonSQS.ReceiveMessage``) on a backend without a request: the service counts as
        used, and what the call changed is kept as after a request (blocking)."""
        self._used.add(service)
        if self._after_call is not None:
            self._after_call(service, "POST", {"HTTP_X_AMZ_TARGET": target}, 200)

    def load(self) -> WsgiCaller:
        """Import moto and build its application (once; blocking: call from a worker thread)."""
        with self._lock:
            if self._caller is None:
                from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

                install_sqs_speed()
                _cache_module_list()
                for hook in self._on_load:
                    hook()
                self._caller = WsgiCaller(DomainDispatcherApplication(create_backend_app), self._workers)
                # moto's modules are hundreds of thousands of long-lived objects: moved out of the
                # collector's reach, so that full collections (and their pauses on the event
                # loop) cost what they did before moto was loaded.
                gc.collect()
                gc.freeze()
                log.info("neighbour services loaded (moto)")
            return self._caller

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` against moto's backends in a worker thread, moto loaded first."""
        caller = self._caller or await _loaded(self)
        return await caller.run(fn, *args)

    def close(self) -> None:
        if self._caller is not None:
            self._caller.close()


async def _loaded(neighbours: Neighbours) -> WsgiCaller:
    return await asyncio.to_thread(neighbours.load)


def _moto_host(host: str) -> str:
    m = _LOCALSTACK_S3_HOST.match(host.lower())
    if m is None:
        return host
    if m.group("bucket"):
        return f"{m.group('bucket')}.s3.amazonaws.com"
    return f"localhost{m.group('port') or ''}"


def unserved(service: str, headers: Sequence[tuple[str, str]]) -> WsgiAnswer:
    """LocalStack's answer for a service that ``SERVICES`` leaves out, in the service's
    protocol (JSON when the client sent a JSON target, as SQS's newer clients do)."""
    message = f"Service '{service}' is not enabled. Please check your 'SERVICES' configuration variable."
    request_id = str(uuid.uuid4())
    known = SERVICES.get(service)
    protocol = known.protocol if known is not None else "json"
    if any(k == "x-amz-target" for k, _ in headers):
        protocol = "json"
    base: list[tuple[bytes, bytes]] = [(b"x-amzn-requestid", request_id.encode())]
    if protocol == "query":
        xml = (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>InternalFailure</Code>"
            f"<Message>{escape(message)}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        )
        return WsgiAnswer(501, [*base, (b"content-type", b"text/xml")], xml.encode())
    if protocol == "rest-xml":
        xml = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>InternalFailure</Code>'
            f"<Message>{escape(message)}</Message><RequestId>{request_id}</RequestId></Error>"
        )
        return WsgiAnswer(501, [*base, (b"content-type", b"application/xml")], xml.encode())
    doc: dict[str, Any] = {"__type": "InternalFailure", "message": message}
    return WsgiAnswer(
        501,
        [*base, (b"content-type", b"application/x-amz-json-1.1"), (b"x-amzn-errortype", b"InternalFailure")],
        json.dumps(doc).encode(),
    )


def _cache_module_list() -> None:
    """moto's dispatcher asks ``list_of_moto_modules`` twice per request, which lists moto's
    package directory and stats each entry (~0.5 ms a request); the list does not change while
    the process runs, so it is read once."""
    from moto import backends

    modules = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: modules
