"""How external extensions start: before the runtime, in its environment, in its process group.

Docs: runtimes-extensions-api.html. AWS starts every executable of ``/opt/extensions`` during the
init phase, with the function's environment and ``/opt`` as working directory; they register on
the same Runtime API as the runtime. One small shell script does it for every executor: it
starts each extension in the background, then replaces itself with the runtime, so the
extensions live in the runtime's process group (and sandbox) and die with it.
"""

from __future__ import annotations

__all__ = ["with_extensions"]

_SCRIPT = 'opt="$1"; shift; while [ "$1" != -- ]; do (cd "$opt" && exec "$1") & shift; done; shift; exec "$@"'


def with_extensions(argv: list[str], extensions: list[str], opt: str = "/opt") -> list[str]:
    """The command that starts ``extensions`` (from ``opt``) and then ``argv`` in their place."""
    return ["/bin/sh", "-c", _SCRIPT, "sh", opt, *extensions, "--", *argv]
