"""The command line: ``locallambda start`` runs the server; every other command talks to a
running one over HTTP (the Lambda API through botocore, internal endpoints as plain JSON).

    start                      the server in the foreground
    status                     executor, services, functions, warm environments
    functions, layers          what the server holds (tables; --json for scripts)
    invoke NAME                run a function: its answer on stdout, its log tail on stderr
    logs NAME [--follow]       a function's recent log lines
    journal, replay ID         recorded invocations, and running one of them again
    state export|import FILE   the whole Lambda state as one file (import: --merge)

Where the server is: ``--endpoint-url`` (``--endpoint`` too), else ``AWS_ENDPOINT_URL``, else
``http://127.0.0.1:4566``. Exit status: 0, 1 for a failure (a function error included), 2 for a
usage error.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

from locallambda import __version__
from locallambda.cli.remote import CliError, Remote
from locallambda.settings import client_endpoint_url

__all__ = ["main"]

Command = Callable[[argparse.Namespace, Remote], int]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="locallambda", description="A local AWS Lambda service")
    parser.add_argument("--version", action="version", version=f"locallambda {__version__}")
    _remote_options(parser, argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    start = sub.add_parser("start", help="start the server (in the foreground)")
    start.add_argument("--host", default=None, help="address to bind (default 127.0.0.1)")
    start.add_argument("--port", type=int, default=None, help="port (default 4566)")
    start.add_argument("--data-dir", default=None, help="where state and code are kept with persistence on")
    start.add_argument("--persistence", choices=("on", "off"), default=None, help="keep state across restarts")
    start.set_defaults(func=None)

    from locallambda.cli import calls, history, overview

    def command(name: str, func: Command, help_: str, *, json_: bool = False) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_)
        _remote_options(p, argparse.SUPPRESS)
        if json_:
            p.add_argument("--json", action="store_true", help="print JSON instead of text")
        p.set_defaults(func=func, json=False)
        return p

    command("status", overview.status, "the server: executor, services, functions, warm environments", json_=True)
    command("functions", overview.functions, "the functions: name, runtime, state, last modified, memory", json_=True)
    command("layers", overview.layers, "the layers and their latest versions", json_=True)

    inv = command("invoke", calls.invoke, "invoke a function: its answer on stdout, its log tail on stderr")
    inv.add_argument("function", help="function name or ARN")
    inv.add_argument("--payload", "-p", default=None, help="the event: JSON text, @file, or @- for stdin")
    inv.add_argument("--qualifier", "-q", default=None, help="version or alias")
    inv.add_argument(
        "--type", default="RequestResponse", choices=("RequestResponse", "Event", "DryRun"), help="InvocationType"
    )
    inv.add_argument("--no-logs", action="store_true", help="do not print the log tail")
    inv.add_argument("--wait", type=float, default=300.0, help="seconds to wait for a Pending function (300)")

    logs = command("logs", history.logs, "a function's recent log lines (START/END/REPORT and its output)")
    logs.add_argument("function", help="function name")
    logs.add_argument("--follow", "-f", action="store_true", help="keep printing new lines")
    logs.add_argument("--limit", type=int, default=None, help="at most this many lines (the newest; 1000)")

    jnl = command("journal", history.journal, "recorded invocations, newest first", json_=True)
    jnl.add_argument("--function", default=None, help="only this function's")
    jnl.add_argument("--limit", type=int, default=20, help="at most this many (20)")
    jnl.add_argument("--verbose", "-v", action="store_true", help="each one's request, response and log too")

    rep = command("replay", calls.replay, "invoke a recorded invocation's request again")
    rep.add_argument("id", help="the journal entry's Id")
    rep.add_argument("--no-logs", action="store_true", help="do not print the log tail")

    from locallambda.cli import state

    st = command("state", state.run, "the whole Lambda state as one file: export FILE, import FILE [--merge]")
    state.register(st, lambda p: _remote_options(p, argparse.SUPPRESS))
    return parser


def _remote_options(parser: argparse.ArgumentParser, default: object) -> None:
    """The options every client command takes, before or after its name."""
    parser.add_argument(
        "--endpoint-url",
        "--endpoint",
        dest="endpoint_url",
        default=default,
        help="the server (default: AWS_ENDPOINT_URL, else http://127.0.0.1:4566)",
    )
    parser.add_argument("--region", default=default, help="the region (default: AWS_DEFAULT_REGION, else us-east-1)")
    parser.add_argument(
        "--color", choices=("auto", "always", "never"), default=default, help="colours (default: on a terminal)"
    )
    parser.add_argument("--no-color", dest="color", action="store_const", const="never", default=default)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "start":
        from locallambda.cli.server import start

        return start(args)
    remote = Remote(getattr(args, "endpoint_url", None) or client_endpoint_url(), getattr(args, "region", None))
    args.color = getattr(args, "color", None) or "auto"
    try:
        return int(args.func(args, remote))
    except CliError as exc:
        print(f"locallambda: {exc}", file=sys.stderr)
        return exc.status
    except BrokenPipeError:  # `locallambda logs f | head`: quiet, also at the final flush
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
