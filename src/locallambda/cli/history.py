"""``locallambda logs`` and ``journal``: what functions wrote, and what ran.

``logs`` reads ``GET /_aws/lambda/logs/<region>/<name>?since=<epoch s>`` (the server's recent
lines of the function: START/END/REPORT and its output); ``--follow`` polls it with the newest
time seen. Tracebacks (``\\r``-joined by AWS's Python runtime) print one line each; colours only
on a terminal.

``journal`` reads ``GET /_aws/lambda/invocations?function=<name>&limit=<n>``: recorded
invocations, newest first, each ``{"Id", "RequestId", "FunctionName", "Qualifier", "Trigger",
"StartTime", "DurationMs", "InitDurationMs", "Status", "Error": {"Type", "Message"} | null,
"Request", "Response" ({"Payload", "Size", "Truncated"}), "Logs"}``; ``locallambda replay ID``
runs one again.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any
from urllib.parse import quote

from locallambda.cli.output import Painter, format_time, table
from locallambda.cli.remote import CliError, Remote

__all__ = ["journal", "logs"]

_FOLLOW_INTERVAL_S = 0.5


def logs(args: argparse.Namespace, remote: Remote) -> int:
    out = Painter(sys.stdout, args.color)
    path = f"/_aws/lambda/logs/{quote(remote.region)}/{quote(args.function)}"
    since = 0.0  # the server answers the lines written after it
    try:
        while True:
            query: dict[str, str | int] = {"since": repr(since)}
            if args.limit:
                query["limit"] = args.limit
            entries = remote.get_json(path, query)["lines"]
            out.log(str(e["line"]) for e in entries)
            since = max([since, *(float(e["time"]) for e in entries)])
            if not args.follow:
                return 0
            time.sleep(_FOLLOW_INTERVAL_S)
    except KeyboardInterrupt:
        return 0


def journal(args: argparse.Namespace, remote: Remote) -> int:
    query: dict[str, str | int] = {"limit": args.limit}
    if args.function:
        query["function"] = args.function
    try:
        answer = remote.get_json("/_aws/lambda/invocations", query)
    except CliError as exc:
        if " answered 404" in str(exc):
            raise CliError(f"{remote.url} keeps no invocation journal (GET /_aws/lambda/invocations: 404)") from None
        raise
    entries: list[dict[str, Any]] = list((answer or {}).get("Invocations") or [])
    if args.json:
        print(json.dumps(entries))
        return 0
    out = Painter(sys.stdout, args.color)
    rows = [_row(entry) for entry in entries]
    table(("ID", "START (UTC)", "FUNCTION", "TRIGGER", "DURATION", "STATUS", "ERROR"), rows, out)
    if args.verbose:
        for entry in entries:
            out.write()
            out.write(f"{entry.get('Id')}  request {entry.get('RequestId')}", "bold")
            out.write(f"request:  {_text(entry.get('Request'))}")
            out.write(f"response: {_text(entry.get('Response'))}")
            out.log(str(line) for line in entry.get("Logs") or [])
    return 0


def _row(entry: dict[str, Any]) -> tuple[str, ...]:
    name = str(entry.get("FunctionName", ""))
    qualifier = entry.get("Qualifier")
    if qualifier and qualifier != "$LATEST":
        name = f"{name}:{qualifier}"
    duration = entry.get("DurationMs")
    shown = "" if duration is None else f"{float(duration):.1f} ms"
    if entry.get("InitDurationMs") is not None:
        shown += f" (+{float(entry['InitDurationMs']):.0f} init)"
    error = entry.get("Error") or {}
    failure = ": ".join(str(error[k]) for k in ("Type", "Message") if error.get(k))
    return (
        str(entry.get("Id", "")),
        format_time(entry.get("StartTime")),
        name,
        str(entry.get("Trigger") or ""),
        shown,
        str(entry.get("Status") or ""),
        failure[:80],
    )


def _text(value: object) -> str:
    """A recorded request or response: ``{"Payload", "Size", "Truncated", "Encoding"?}``."""
    if value is None:
        return "(none)"
    if isinstance(value, dict) and "Payload" in value:
        text = str(value["Payload"])
        if value.get("Encoding"):
            text = f"({value['Encoding']}) {text}"
        if value.get("Truncated"):
            text = f"{text}… (truncated, {value.get('Size', '?')} bytes)"
        return text
    return value if isinstance(value, str) else json.dumps(value)
