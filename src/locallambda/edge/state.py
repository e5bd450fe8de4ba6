"""The state endpoints (issue 12, ``locallambda state export|import``): the Lambda state as one file.

- ``GET /_aws/lambda/state``: the state file (``application/zip``; the format is
  ``control/state_archive.py``'s): every function with its versions, aliases, policy, tags,
  concurrency, URL and event invoke configurations, every layer version, event source mapping
  and code signing configuration, and the code archives they reference.
- ``POST /_aws/lambda/state?mode=replace|merge`` with such a file as the body: ``replace`` (the
  default) makes it the whole Lambda state, ``merge`` adds it to what is there (the file wins
  on the same function, layer version, mapping or configuration). Answers
  ``{"Functions": n, "Layers": n, "EventSourceMappings": n}``.

A refused file (not a zip, an entry that escapes, an unknown format version, a missing code
archive, an expansion over the limit, a record the store cannot read) is answered 400
``{"Type": "User", "Message": ...}`` and changes nothing; hot-reloaded functions (host
directories as code) in a file sent by a function's sandbox or container, or by another
machine, 403 (the caller is judged as for CreateFunction's hot-reload bucket,
``edge/callers.py``). The body is bounded by the edge's ``MAX_BODY``.

The neighbour services' state (``?neighbours=1``) is not part of the file: their snapshots are
pickles (``neighbours/persistence.py``), and loading a pickle from an uploaded file would run
whatever code it holds inside this server; such a request is answered 400 saying so.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections.abc import Callable, Mapping

from locallambda.control.state_archive import StateFileError
from locallambda.control.state_transfer import StateTransfer
from locallambda.edge.app import InternalRoute, json_response
from locallambda.errors import AccessDeniedError, PlatformError
from locallambda.model.operations import Origin
from locallambda.protocol.codec import Response

__all__ = ["STATE_PATH", "state_routes"]

STATE_PATH = "/_aws/lambda/state"
_NEIGHBOURS_REFUSED = (
    "The neighbour services' state (neighbours=1) is not exported or imported: their snapshots are "
    "Python pickles, and loading one from a file would run any code it holds in the server. Only the "
    "Lambda state is in the file."
)

OriginOf = Callable[[tuple[str, int] | None, Mapping[str, str]], Origin]


def _user_error(status: int, message: str) -> Response:
    return json_response(status, {"Type": "User", "Message": message})


def _flag(query: Mapping[str, list[str]], name: str) -> bool:
    return (query.get(name) or ["0"])[-1].lower() in ("1", "true", "yes", "on")


def state_routes(transfer: StateTransfer, origin_of: OriginOf) -> list[InternalRoute]:
    """The two routes; ``origin_of(peer, headers)`` (blocking) tells who sent an import."""

    async def export(
        m: re.Match[str],
        query: Mapping[str, list[str]],
        headers: Mapping[str, str],
        body: bytes,
        peer: tuple[str, int] | None = None,
    ) -> Response:
        if _flag(query, "neighbours"):
            return _user_error(400, _NEIGHBOURS_REFUSED)
        try:
            data = await transfer.export()
        except PlatformError as exc:
            return json_response(500, {"Type": "Server", "Message": str(exc)})
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        return Response(
            200,
            [
                (b"content-type", b"application/zip"),
                (b"content-disposition", f'attachment; filename="locallambda-state-{stamp}.zip"'.encode()),
            ],
            data,
        )

    async def import_(
        m: re.Match[str],
        query: Mapping[str, list[str]],
        headers: Mapping[str, str],
        body: bytes,
        peer: tuple[str, int] | None = None,
    ) -> Response:
        mode = (query.get("mode") or ["replace"])[-1]
        if mode not in ("replace", "merge"):
            return _user_error(400, f"Unknown mode {mode!r}: replace (the default) or merge.")
        if _flag(query, "neighbours"):
            return _user_error(400, _NEIGHBOURS_REFUSED)
        origin = await asyncio.to_thread(origin_of, peer, headers)
        try:
            counts = await transfer.import_state(body, merge=mode == "merge", host_caller=origin is Origin.HOST)
        except StateFileError as exc:
            return _user_error(400, str(exc))
        except AccessDeniedError as exc:
            return _user_error(403, exc.message)
        return json_response(200, counts)

    return [
        InternalRoute("GET", f"{STATE_PATH}/?", export, peer=True),
        InternalRoute("POST", f"{STATE_PATH}/?", import_, peer=True),
    ]
