"""``locallambda invoke`` and ``replay``: run a function, print its answer and its log.

The answer (the payload, as the function returned it) goes to stdout, so that
``locallambda invoke f > out.json`` keeps it; the log tail (``LogType=Tail``: the last 4 KB of
the invocation's log, base64 in ``X-Amz-Log-Result``) and what went wrong go to stderr. A
function error (``X-Amz-Function-Error``) exits 1, as does anything the server refuses.

A function still ``Pending`` (or being updated) is waited for with a message, as
``aws lambda wait function-active-v2`` would, until ``--wait`` seconds have passed.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import sys
import time
from pathlib import Path
from typing import Any

from locallambda.cli.output import Painter
from locallambda.cli.remote import CliError, Remote

__all__ = ["invoke", "read_payload", "replay"]


def read_payload(spec: str | None) -> bytes | None:
    """``--payload``: JSON text, ``@file`` (the file's bytes) or ``@-`` (stdin). Raises
    ``CliError`` for a file that cannot be read."""
    if spec is None:
        return None
    if spec == "@-":
        return sys.stdin.buffer.read()
    if spec.startswith("@"):
        try:
            return Path(spec[1:]).expanduser().read_bytes()
        except OSError as exc:
            raise CliError(f"cannot read the payload file {spec[1:]}: {exc.strerror or exc}", 2) from None
    return spec.encode()


def invoke(args: argparse.Namespace, remote: Remote) -> int:
    payload = read_payload(args.payload)
    err = Painter(sys.stderr, args.color)
    _wait_until_ready(remote, args.function, args.qualifier, args.wait, err)
    params: dict[str, Any] = {"FunctionName": args.function, "InvocationType": args.type}
    if args.qualifier:
        params["Qualifier"] = args.qualifier
    if payload is not None:
        params["Payload"] = payload
    if args.type == "RequestResponse" and not args.no_logs:
        params["LogType"] = "Tail"
    with remote.api() as client:
        resp = client.invoke(**params)
        body: bytes = resp["Payload"].read() if "Payload" in resp else b""
    if args.type != "RequestResponse":
        request_id = resp.get("ResponseMetadata", {}).get("RequestId", "")
        done = "accepted" if args.type == "Event" else "allowed"
        err.write(f"{done} ({resp.get('StatusCode')}), request id {request_id}", "dim")
        return 0
    if "LogResult" in resp:
        err.log(_decode_log(str(resp["LogResult"])))
    _write_payload(body)
    if resp.get("FunctionError"):
        err.write(f"function error ({resp['FunctionError']})", "red")
        return 1
    return 0


def replay(args: argparse.Namespace, remote: Remote) -> int:
    """Run a journal entry's request again (``POST /_aws/lambda/invocations/<id>/replay``)."""
    from urllib.parse import quote

    answer = remote.post_json(f"/_aws/lambda/invocations/{quote(args.id, safe='')}/replay", {})
    if not isinstance(answer, dict):
        raise CliError(f"the replay of {args.id} answered {answer!r}")
    err = Painter(sys.stderr, args.color)
    if answer.get("LogResult") and not args.no_logs:
        err.log(_decode_log(str(answer["LogResult"])))
    result = answer.get("Payload")
    if isinstance(result, str):
        _write_payload(result.encode())
    elif result is not None:
        _write_payload(json.dumps(result).encode())
    err.write(f"replayed {args.id} as {answer.get('Id', '?')}: status {answer.get('StatusCode', '?')}", "dim")
    if answer.get("FunctionError"):
        err.write(f"function error ({answer['FunctionError']})", "red")
        return 1
    return 0


def _wait_until_ready(remote: Remote, name: str, qualifier: str | None, wait_s: float, err: Painter) -> None:
    """Return once the function (version) is Active and not being updated. Raises ``CliError``
    when it is Failed, does not exist, or is still not ready after ``wait_s`` seconds."""
    params = {"FunctionName": name, **({"Qualifier": qualifier} if qualifier else {})}
    deadline = time.monotonic() + wait_s
    started = time.monotonic()
    told = False
    while True:
        with remote.api() as client:
            config = client.get_function_configuration(**params)
        state, update = config.get("State"), config.get("LastUpdateStatus")
        if state == "Failed":
            raise CliError(f"{name} is Failed: {config.get('StateReason', 'no reason given')}")
        if state in (None, "Active", "Inactive") and update != "InProgress":
            if told:
                err.write(f"{name} is ready after {time.monotonic() - started:.1f} s", "dim")
            return
        if not told:
            doing = "being updated" if update == "InProgress" else f"{state}"
            err.write(f"waiting for {name} ({doing}) to become Active…", "dim")
            told = True
        if time.monotonic() >= deadline:
            raise CliError(f"{name} is still {state} (LastUpdateStatus {update}) after {wait_s:g} s")
        time.sleep(0.2)


def _decode_log(value: str) -> list[str]:
    try:
        text = base64.b64decode(value, validate=True).decode("utf-8", errors="replace")
    except (binascii.Error, ValueError):
        text = value
    return text.rstrip("\n").split("\n") if text else []


def _write_payload(body: bytes) -> None:
    out = sys.stdout.buffer
    out.write(body)
    if not body.endswith(b"\n"):
        out.write(b"\n")
    out.flush()
