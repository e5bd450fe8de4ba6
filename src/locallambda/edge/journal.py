"""The invocation journal's endpoints (issue 12): the recorded invocations as JSON, and replays.

- ``GET /_aws/lambda/invocations?function=<name or ARN>&limit=<n>&trigger=<t>&status=<s>``:
  ``{"Invocations": [...]}``, newest first; ``limit`` default 100, at most the journal's size;
  ``status`` one of Success, Error, Timeout, Throttled, Failed. A bad ``limit`` or ``status`` is
  answered 400 ``{"Message": ...}``.
- ``GET /_aws/lambda/invocations/<id>``: one entry; 404 ``{"Message": ...}`` for an unknown id.
- ``POST /_aws/lambda/invocations/<id>/replay``: the entry's function and qualifier invoked
  again, synchronously, with its payload (trigger ``replay``, ``ReplayOf`` the entry):
  ``{"Id", "StatusCode", "Payload", "FunctionError", "LogResult", "ExecutedVersion"}`` as Invoke
  answers them (``LogResult``: the last 4 KB of the log, base64). An unknown id: 404; a function
  deleted since: Lambda's own ``ResourceNotFoundException`` (404), rendered by the edge; a request
  kept truncated cannot be replayed: 400.
- ``DELETE /_aws/lambda/invocations``: forgets every entry (204).

An entry as JSON: ``Id``, ``RequestId``, ``FunctionName``, ``FunctionArn`` (unqualified),
``Qualifier`` (as invoked), ``ExecutedVersion``, ``Region``, ``Trigger``, ``InvocationType``,
``Attempt`` (Event invokes), ``ReplayOf``, ``StartTime`` (ISO 8601 UTC, ms), ``DurationMs``,
``InitDurationMs`` (null when warm), ``Status``, ``Error`` (``{"Type", "Message"}`` or null),
``Request`` and ``Response`` (``{"Payload": text, "Size": bytes, "Truncated": bool}``, with
``"Encoding": "base64"`` when the bytes are not UTF-8; ``Response`` null when none was given),
``Logs`` (lines) and ``LogsTruncated``.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from locallambda.edge.app import InternalRoute, json_response
from locallambda.invoke.journal import Entry, Journal, Kept, Status
from locallambda.model.clock import iso_millis
from locallambda.model.spec import InvocationResult
from locallambda.protocol.codec import Response

__all__ = ["DEFAULT_LIMIT", "entry_view", "journal_routes"]

DEFAULT_LIMIT = 100
LOG_TAIL = 4096  # LogResult: the last 4 KB of the log, as Invoke's LogType=Tail
_ID = r"([^/]+)"  # any id: an unknown one is our 404, not a request for another service

Replay = Callable[[Entry], Awaitable[tuple[InvocationResult, Entry | None]]]


def _payload(kept: Kept | None) -> dict[str, Any] | None:
    if kept is None:
        return None
    try:
        view: dict[str, Any] = {"Payload": _text(kept.data, kept.truncated)}
    except UnicodeDecodeError:
        view = {"Payload": base64.b64encode(kept.data).decode(), "Encoding": "base64"}
    view.update(Size=kept.size, Truncated=kept.truncated)
    return view


def _text(data: bytes, cut: bool) -> str:
    """``data`` as UTF-8; a payload ``cut`` inside a character reads as text up to that
    character. Raises ``UnicodeDecodeError`` for bytes that are not UTF-8."""
    try:
        return data.decode()
    except UnicodeDecodeError as exc:
        if cut and exc.end == len(data) and exc.start >= len(data) - 3:
            return data[: exc.start].decode()
        raise


def entry_view(entry: Entry) -> dict[str, Any]:
    """An entry as the endpoints answer it (the module docstring lists the members)."""
    status, error = entry.outcome()
    lines, logs_truncated = entry.log_lines()
    trigger = entry.trigger
    return {
        "Id": entry.id,
        "RequestId": entry.request_id,
        "FunctionName": entry.function_name,
        "FunctionArn": entry.function_arn,
        "Qualifier": entry.qualifier,
        "ExecutedVersion": entry.executed_version,
        "Region": entry.region,
        "Trigger": trigger.name,
        "InvocationType": trigger.invocation_type,
        "Attempt": trigger.attempt,
        "ReplayOf": trigger.replay_of,
        "StartTime": iso_millis(entry.start_time),
        "DurationMs": round(entry.duration_ms, 3),
        "InitDurationMs": None if entry.init_duration_ms is None else round(entry.init_duration_ms, 3),
        "Status": status.value,
        "Error": None if error is None else {"Type": error[0], "Message": error[1]},
        "Request": _payload(entry.request),
        "Response": _payload(entry.response),
        "Logs": lines,
        "LogsTruncated": logs_truncated,
    }


def _not_found(entry_id: str) -> Response:
    return json_response(404, {"Message": f"No invocation {entry_id} in the journal"})


def journal_routes(journal: Journal, replay: Replay) -> list[InternalRoute]:
    """The routes above over ``journal``; ``replay`` runs an entry again (the engine's)."""

    async def listing(
        m: re.Match[str], query: Mapping[str, list[str]], headers: Mapping[str, str], body: bytes
    ) -> Response:
        raw_limit = query.get("limit", [str(DEFAULT_LIMIT)])[0]
        try:
            limit = int(raw_limit)
        except ValueError:
            return json_response(400, {"Message": f"limit must be a number, got {raw_limit!r}"})
        if limit < 1:
            return json_response(400, {"Message": f"limit must be at least 1, got {limit}"})
        status = None
        if "status" in query:
            try:
                status = Status(query["status"][0])
            except ValueError:
                names = ", ".join(s.value for s in Status)
                return json_response(400, {"Message": f"status must be one of {names}, got {query['status'][0]!r}"})
        entries = journal.select(
            function=query.get("function", [None])[0],
            trigger=query.get("trigger", [None])[0],
            status=status,
            limit=min(limit, max(1, journal.size)),
        )
        return json_response(200, {"Invocations": [entry_view(e) for e in entries]})

    async def one(
        m: re.Match[str], query: Mapping[str, list[str]], headers: Mapping[str, str], body: bytes
    ) -> Response:
        entry = journal.get(m.group(1))
        return _not_found(m.group(1)) if entry is None else json_response(200, entry_view(entry))

    async def replayed(
        m: re.Match[str], query: Mapping[str, list[str]], headers: Mapping[str, str], body: bytes
    ) -> Response:
        entry = journal.get(m.group(1))
        if entry is None:
            return _not_found(m.group(1))
        try:
            result, new = await replay(entry)  # Lambda's errors (not found, throttled) go to the edge
        except ValueError as exc:
            return json_response(400, {"Message": str(exc)})
        payload = _payload(Kept(result.payload, len(result.payload))) or {}
        answer: dict[str, Any] = {
            "Id": new.id if new is not None else None,
            "StatusCode": 200,
            "Payload": payload["Payload"],
            "FunctionError": result.function_error,
            "LogResult": base64.b64encode(result.log.encode()[-LOG_TAIL:]).decode(),
            "ExecutedVersion": result.executed_version,
        }
        if "Encoding" in payload:
            answer["PayloadEncoding"] = payload["Encoding"]
        return json_response(200, answer)

    async def cleared(
        m: re.Match[str], query: Mapping[str, list[str]], headers: Mapping[str, str], body: bytes
    ) -> Response:
        journal.clear()
        return Response(204, [], b"")

    return [
        InternalRoute("GET", r"/_aws/lambda/invocations/?", listing),
        InternalRoute("DELETE", r"/_aws/lambda/invocations/?", cleared),
        InternalRoute("GET", rf"/_aws/lambda/invocations/{_ID}", one),
        InternalRoute("POST", rf"/_aws/lambda/invocations/{_ID}/replay", replayed),
    ]
