"""``locallambda start``: the server in this process, in the foreground until SIGINT/SIGTERM.

The listening socket is bound before anything is printed, so "listening" is never said of a port
another process holds (that is a one-line error and exit code 1); "ready" follows once the
server's startup (executors, persisted state, pollers) is done and it answers requests."""

from __future__ import annotations

import argparse
import logging
import socket
import sys
from pathlib import Path

from locallambda import __version__
from locallambda.settings import Settings

__all__ = ["start"]


def start(args: argparse.Namespace) -> int:
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
    try:
        sock = _bind(settings.host, settings.port)
    except OSError as exc:
        print(f"locallambda: cannot listen on {settings.host}:{settings.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    try:
        app = build_app(settings)
    except ValueError as exc:  # a configuration file that cannot be used (LAMBDA_DEBUG_MODE_CONFIG_PATH)
        print(f"locallambda: {exc}", file=sys.stderr)
        sock.close()
        return 2
    health = app.health()
    served = ", ".join(name for name, state in health["services"].items() if state != "disabled")
    print(
        f"locallambda {__version__} listening on {settings.endpoint_url} (executor: {health['executor']}, "
        f"persistence: {'on' if settings.persistence else 'off'}; services: {served})",
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
        # Nobody's proxy: a client's X-Forwarded-For / -Proto must not become the connection's
        # address (a function URL's sourceIp, the callers' check of edge/callers.py) or scheme.
        proxy_headers=False,
        log_level="warning",
        timeout_graceful_shutdown=5,
    )

    class Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets=sockets)
            if self.started:
                print(
                    f"locallambda ready on {settings.endpoint_url} — dashboard {settings.endpoint_url}/_dashboard/ "
                    "(Ctrl-C to stop)",
                    flush=True,
                )

    try:
        Server(config).run(sockets=[sock])
    finally:
        sock.close()
    return 0


def _bind(host: str, port: int) -> socket.socket:
    """The server's listening socket, bound (``OSError`` when the address is taken or invalid)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.set_inheritable(True)
    except OSError:
        sock.close()
        raise
    return sock
