"""Command line: ``locallambda start`` (and friends)."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from locallambda import __version__
from locallambda.settings import Settings

__all__ = ["main"]


def _start(args: argparse.Namespace) -> int:
    import uvicorn

    from locallambda.app import build_app

    persistence = None if args.persistence is None else args.persistence == "on"
    try:
        settings = Settings.from_env(
            host=args.host,
            port=args.port,
            data_dir=Path(args.data_dir) if args.data_dir else None,
            persistence=persistence,
        )
    except ValueError as exc:
        print(f"locallambda: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=logging.DEBUG if settings.debug else logging.INFO,
        format="%(asctime)s %(levelname)-5s %(name)s: %(message)s",
    )
    app = build_app(settings)
    print(
        f"locallambda {__version__} listening on {settings.endpoint_url} (executor: {app.health()['executor']}, "
        f"persistence: {'on' if settings.persistence else 'off'})",
        flush=True,
    )
    config = uvicorn.Config(
        app.asgi,
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        access_log=False,
        log_level="warning",
        timeout_graceful_shutdown=5,
    )
    uvicorn.Server(config).run()
    return 0


def _logs(args: argparse.Namespace) -> int:
    """Print a function's recent log lines; with --follow keep printing new ones."""
    import http.client
    import json
    import time
    from urllib.parse import quote

    settings = Settings.from_env()
    endpoint = args.endpoint or settings.endpoint_url
    host_port = endpoint.split("://", 1)[-1].rstrip("/")
    host, _, port = host_port.partition(":")
    since = 0.0
    try:
        while True:
            conn = http.client.HTTPConnection(host, int(port or 80), timeout=10)
            conn.request("GET", f"/_aws/lambda/logs/{quote(args.region)}/{quote(args.function)}?since={since}")
            resp = conn.getresponse()
            data = resp.read()
            conn.close()
            if resp.status != 200:
                print(f"locallambda: {resp.status} {data.decode(errors='replace')}", file=sys.stderr)
                return 1
            for entry in json.loads(data)["lines"]:
                print(entry["line"], flush=True)
                since = max(since, entry["time"])
            if not args.follow:
                return 0
            time.sleep(0.5)
    except OSError as exc:
        print(f"locallambda: cannot reach {endpoint}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="locallambda", description="A local AWS Lambda service")
    parser.add_argument("--version", action="version", version=__version__)
    sub = parser.add_subparsers(dest="command", required=True)
    start = sub.add_parser("start", help="start the server")
    start.add_argument("--host", default=None, help="address to bind (default 127.0.0.1)")
    start.add_argument("--port", type=int, default=None, help="port (default 4566)")
    start.add_argument("--data-dir", default=None, help="where state and code are kept with persistence on")
    start.add_argument("--persistence", choices=("on", "off"), default=None, help="keep state across restarts")
    start.set_defaults(func=_start)
    logs = sub.add_parser("logs", help="print a function's recent log (START/END/REPORT and its output)")
    logs.add_argument("function", help="function name")
    logs.add_argument("--follow", "-f", action="store_true", help="keep printing new lines")
    logs.add_argument("--region", default="us-east-1")
    logs.add_argument("--endpoint", default=None, help="server URL (default http://127.0.0.1:4566)")
    logs.set_defaults(func=_logs)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
