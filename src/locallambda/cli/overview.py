"""``locallambda status``, ``functions`` and ``layers``: what a running server holds.

``status`` reads ``GET /_localstack/health`` (LocalStack's health endpoint: the services and their
states; ours adds the executor and the live execution environments) and counts the functions
through ``ListFunctions``. ``ListFunctions`` leaves out ``State`` and ``LastUpdateStatus`` (AWS:
"returns a subset of the FunctionConfiguration fields … use GetFunction"), so each function's
state is read with ``GetFunctionConfiguration``. ``--json`` prints the data instead, for scripts.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from locallambda.cli.output import Painter, format_time, table
from locallambda.cli.remote import CliError, Remote

__all__ = ["functions", "layers", "status"]


def status(args: argparse.Namespace, remote: Remote) -> int:
    health = remote.get_json("/_localstack/health")
    fns = _with_states(remote, remote.paginate("list_functions", "Functions"))
    states: dict[str, int] = {}
    for fn in fns:
        states[fn.get("State", "?")] = states.get(fn.get("State", "?"), 0) + 1
    envs = health.get("environments") or {}
    if args.json:
        print(json.dumps({"endpoint": remote.url, "region": remote.region, "health": health, "functions": states}))
        return 0
    out = Painter(sys.stdout, args.color)
    services: dict[str, list[str]] = {}
    for name, state in sorted((health.get("services") or {}).items()):
        services.setdefault(str(state), []).append(name)
    by_state = ", ".join(f"{n} {s}" for s, n in sorted(states.items()))
    env_states = ", ".join(f"{n} {s}" for s, n in sorted((envs.get("states") or {}).items()))
    persistence = health.get("persistence")
    rows = [
        ("server", f"locallambda {health.get('version', '?')} at {remote.url}"),
        ("executor", str(health.get("executor", "?"))),
        ("persistence", "on" if persistence else "off" if persistence is not None else "?"),
        ("functions", f"{len(fns)} in {remote.region}" + (f" ({by_state})" if by_state else "")),
        (
            "environments",
            f"{envs.get('total', 0)} warm" + (f" ({env_states})" if env_states else "")
            if "total" in envs
            else "(not reported by this server)",
        ),
    ]
    for state in sorted(services, key=lambda s: (s != "running", s)):
        rows.append((f"services {state}", ", ".join(services[state])))
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        style = "green" if key == "services running" else ""
        out.write(f"{out.paint(key.ljust(width), 'bold')}  {out.paint(value, style)}")
    for key, count in sorted((envs.get("functions") or {}).items()):
        out.write(f"{' ' * width}  {key}: {count} warm", "dim")
    return 0


def functions(args: argparse.Namespace, remote: Remote) -> int:
    fns = _with_states(remote, remote.paginate("list_functions", "Functions"))
    fns.sort(key=lambda f: str(f["FunctionName"]))
    if args.json:
        print(json.dumps(fns, default=str))
        return 0
    rows = [
        (
            str(fn["FunctionName"]),
            str(fn.get("Runtime") or ("image" if fn.get("PackageType") == "Image" else "-")),
            _state(fn),
            format_time(fn.get("LastModified")),
            f"{fn.get('MemorySize', '-')} MB",
        )
        for fn in fns
    ]
    table(("NAME", "RUNTIME", "STATE", "LAST MODIFIED (UTC)", "MEMORY"), rows, Painter(sys.stdout, args.color))
    return 0


def layers(args: argparse.Namespace, remote: Remote) -> int:
    found = sorted(remote.paginate("list_layers", "Layers"), key=lambda layer: str(layer["LayerName"]))
    if args.json:
        print(json.dumps(found, default=str))
        return 0
    rows = []
    for layer in found:
        latest: dict[str, Any] = layer.get("LatestMatchingVersion") or {}
        rows.append(
            (
                str(layer["LayerName"]),
                str(latest.get("Version", "-")),
                ",".join(latest.get("CompatibleRuntimes") or []) or "-",
                format_time(latest.get("CreatedDate")),
                str(latest.get("Description") or ""),
            )
        )
    table(("NAME", "LATEST", "RUNTIMES", "CREATED (UTC)", "DESCRIPTION"), rows, Painter(sys.stdout, args.color))
    return 0


def _state(fn: dict[str, Any]) -> str:
    state = str(fn.get("State", "?"))
    if fn.get("LastUpdateStatus") == "InProgress":
        return f"{state} (updating)"
    if fn.get("LastUpdateStatus") == "Failed" and state != "Failed":  # a failed create fails both
        return f"{state} (update failed)"
    return state


def _with_states(remote: Remote, fns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``fns`` with each one's ``State`` and ``LastUpdateStatus`` (a few requests at a time; a
    function deleted meanwhile is left out)."""
    from concurrent.futures import ThreadPoolExecutor

    def one(fn: dict[str, Any]) -> dict[str, Any] | None:
        try:
            with remote.api() as client:
                config = client.get_function_configuration(FunctionName=fn["FunctionName"])
        except CliError as exc:
            if str(exc).startswith("ResourceNotFoundException"):
                return None
            raise
        return {**fn, **{k: config[k] for k in ("State", "StateReason", "LastUpdateStatus") if k in config}}

    remote.lambda_  # noqa: B018 - made once, before the threads share it
    with ThreadPoolExecutor(max_workers=8) as pool:
        return [fn for fn in pool.map(one, fns) if fn is not None]
