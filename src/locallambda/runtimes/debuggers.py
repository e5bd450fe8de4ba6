"""How each runtime starts under its debugger in Lambda Debug Mode (``spec.debug``).

The debugger listens on ``127.0.0.1:<port>`` (the sandbox shares the host's network namespace,
so it is the host's loopback there too) and holds the runtime's init until a debugger attaches,
so that the first invocation stops at its breakpoints (LocalStack's Python sample calls
``debugpy.wait_for_client()``, its Node.js one ``--inspect-brk``, its Java one ``suspend=y``):

- Python: debugpy, started by the bootstrap before awslambdaric (``debugpy.listen`` then
  ``wait_for_client``); debugpy is imported from where it is installed for the function's
  interpreter (else the server's: it is pure Python) and leaves ``sys.path`` again, so the
  function sees nothing else of that directory. Its adapter, a process of its own, speaks DAP
  (VS Code's ``"type": "debugpy", "request": "attach"``).
- Node.js: ``--inspect-wait`` where the host's Node.js has it (20.15 and later; the runtime
  starts once a debugger attaches), else ``--inspect-brk`` (it also stops at the bootstrap's
  first line). The Chrome DevTools Protocol, ``/json/list`` on that port.
- Java: the JDWP agent, ``suspend=y``.
- Any runtime gets LocalStack's ``LDM_DEBUG_PORT``, so that a custom runtime's own bootstrap can
  start a debugger of its own there.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import subprocess
import sys

from locallambda.errors import ExecutorError
from locallambda.model.spec import FunctionSpec
from locallambda.runtimes.catalogue import family

__all__ = ["DEBUG_PORT_VARIABLE", "Debuggers", "debug_notice", "debugpy_prelude", "jdwp_agent"]

# LocalStack's variable naming a debugged function's debug port (its LDM_ENV_VAR_DEBUG_PORT).
DEBUG_PORT_VARIABLE = "LDM_DEBUG_PORT"

# No debugger for the function's own Python subprocesses (subProcess=False): they are its own.
_DEBUGPY = """\
sys.path.insert(0, {site!r})
import debugpy
sys.path.remove({site!r})
debugpy.configure(subProcess=False)
debugpy.listen(("127.0.0.1", {port}))
debugpy.wait_for_client()
"""


def debugpy_prelude(site: str, port: int) -> str:
    """The lines the Python bootstrap runs before awslambdaric: debugpy (from ``site``) listens on
    ``127.0.0.1:<port>`` and waits for a debugger."""
    return _DEBUGPY.format(site=site, port=port)


def jdwp_agent(port: int, host: str = "127.0.0.1") -> str:
    """The JVM option of the JDWP agent listening for a debugger on ``<host>:<port>`` (``*``: every
    interface); the JVM waits for it before the runtime's init (``suspend=y``)."""
    return f"-agentlib:jdwp=transport=dt_socket,server=y,suspend=y,address={host}:{port}"


def debug_notice(spec: FunctionSpec) -> str:
    """The log line of a function in debug mode: where its debugger listens, and its timeout."""
    debug = spec.debug
    assert debug is not None
    how = {"python": "debugpy (DAP)", "nodejs": "the Node.js inspector", "java": "JDWP"}.get(family(spec.runtime or ""))
    timeout = (
        f"timeout {debug.timeout_s} s enforced"
        if debug.enforce_timeouts
        else f"timeout not enforced ({debug.timeout_s} s lifted to {spec.timeout_s} s)"
    )
    if how is None:
        return (
            f"locallambda: debug mode: {spec.name} has no debugger of ours for {spec.runtime or spec.package_type}; "
            f"{DEBUG_PORT_VARIABLE}={debug.port} is set for one of its own; {timeout}"
        )
    return (
        f"locallambda: debug mode: {spec.name} waits for a debugger on 127.0.0.1:{debug.port} ({how}) "
        f"before its init; {timeout}"
    )


class Debuggers:
    """What this host has of each debugger, looked up once (off the event loop)."""

    def __init__(self) -> None:
        self._debugpy: dict[str, str] = {}  # interpreter → the directory its debugpy is in ("": none)
        self._inspect_wait: bool | None = None

    def debugpy_site(self, python: str) -> str:
        """Where ``python`` finds debugpy ("" when neither it nor the server has one), blocking."""
        if python not in self._debugpy:
            spec = importlib.util.find_spec("debugpy")
            found = os.path.dirname(os.path.dirname(spec.origin)) if spec is not None and spec.origin else ""
            if python != sys.executable:
                code = "import debugpy, os; print(os.path.dirname(os.path.dirname(debugpy.__file__)))"
                try:
                    done = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=20, check=False)
                    found = done.stdout.strip() or found
                except (OSError, subprocess.TimeoutExpired):
                    pass
            self._debugpy[python] = found
        return self._debugpy[python]

    async def debugpy_prelude(self, python: str, port: int) -> str:
        """The Python bootstrap's prelude for ``python``. Raises ``ExecutorError`` where debugpy
        is not installed."""
        site = self._debugpy[python] if python in self._debugpy else await asyncio.to_thread(self.debugpy_site, python)
        if not site:
            raise ExecutorError(f"Lambda debug mode: debugpy is not installed for {python} (pip install debugpy)")
        return debugpy_prelude(site, port)

    def _has_inspect_wait(self) -> bool:
        if self._inspect_wait is None:
            try:
                done = subprocess.run(["node", "--help"], capture_output=True, text=True, timeout=20, check=False)
                self._inspect_wait = "--inspect-wait" in done.stdout
            except (OSError, subprocess.TimeoutExpired):
                self._inspect_wait = False
        return self._inspect_wait

    async def node_inspect(self, port: int) -> str:
        """Node.js's option that starts its inspector on ``127.0.0.1:<port>``, waiting for a debugger."""
        wait = self._inspect_wait if self._inspect_wait is not None else await asyncio.to_thread(self._has_inspect_wait)
        return f"{'--inspect-wait' if wait else '--inspect-brk'}=127.0.0.1:{port}"
