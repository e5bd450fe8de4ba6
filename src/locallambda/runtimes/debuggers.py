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

In a container (the docker executor) the image's own runtime starts, so the debugger comes in
through what that runtime honours: ``NODE_OPTIONS`` and ``JAVA_TOOL_OPTIONS`` (read by every
Node.js and JVM process), and for Python a directory mounted (or copied) into the container,
``CONTAINER_DEBUGPY_DIR``, first on ``PYTHONPATH``: a copy of the server's debugpy (pure Python;
its compiled speed-ups are only used where they match the container's interpreter) and a
``sitecustomize`` module, which the interpreter imports at its start, before the image's
bootstrap runs awslambdaric (it then hands over to the image's own ``sitecustomize``, if any).
It starts debugpy when ``DEBUGPY_ADDRESS_VARIABLE`` is set and removes the variable, so that
neither debugpy's adapter nor the function's own Python subprocesses start another one.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from locallambda.errors import ExecutorError
from locallambda.model.spec import FunctionSpec
from locallambda.runtimes.catalogue import family

__all__ = [
    "CONTAINER_DEBUGPY_DIR",
    "DEBUGPY_ADDRESS_VARIABLE",
    "DEBUG_PORT_VARIABLE",
    "Debuggers",
    "debug_notice",
    "debugpy_bundle",
    "debugpy_prelude",
    "jdwp_agent",
]

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


# In a container: where the bundle of ``debugpy_bundle`` is, and the variable giving debugpy's
# listening address (``host:port``) to its ``sitecustomize``.
CONTAINER_DEBUGPY_DIR = "/var/runtime/locallambda-debug"
DEBUGPY_ADDRESS_VARIABLE = "LOCALLAMBDA_DEBUGPY_ADDRESS"

# Runs inside the function's container, at its interpreter's start (not in the server, whose
# variables only settings.py reads).
_SITECUSTOMIZE = """\
# locallambda, Lambda debug mode: debugpy listens and waits for a debugger before the runtime's
# init, then the image's own sitecustomize (if any) runs as it would have.
import importlib.machinery as _machinery
import importlib.util as _util
import os as _os
import sys as _sys
from os import environ as _environ

_here = _os.path.dirname(_os.path.abspath(__file__))
_address = _environ.pop({variable!r}, "")
if _here in _sys.path:
    _sys.path.remove(_here)
if _address:
    _sys.path.insert(0, _here)
    import debugpy as _debugpy

    _sys.path.remove(_here)
    _host, _, _port = _address.rpartition(":")
    _debugpy.configure(subProcess=False)
    _debugpy.listen((_host, int(_port)))
    _debugpy.wait_for_client()
_next = _machinery.PathFinder.find_spec("sitecustomize", [p for p in _sys.path if p != _here])
if _next is not None and _next.loader is not None:
    _module = _util.module_from_spec(_next)
    _sys.modules["sitecustomize"] = _module
    _next.loader.exec_module(_module)
"""


def debugpy_bundle(site: str, cache_dir: Path) -> Path:
    """Blocking: the directory to mount at ``CONTAINER_DEBUGPY_DIR``: a copy of the debugpy
    package of ``site`` and the ``sitecustomize`` module, made once per debugpy under
    ``cache_dir`` (staged, then renamed into place). Raises ``OSError``."""
    package = Path(site) / "debugpy"
    stamp = package / "__init__.py"
    text = _SITECUSTOMIZE.format(variable=DEBUGPY_ADDRESS_VARIABLE)
    digest = hashlib.blake2b(f"{package}\0{stamp.stat().st_mtime_ns}\0{text}".encode(), digest_size=8).hexdigest()
    bundle = cache_dir / "docker-debugpy" / digest
    if (bundle / "locallambda-debug" / "sitecustomize.py").is_file():
        return bundle / "locallambda-debug"
    bundle.parent.mkdir(parents=True, exist_ok=True)
    staged = Path(tempfile.mkdtemp(prefix=".staged-", dir=bundle.parent))
    try:
        inner = staged / "locallambda-debug"
        shutil.copytree(package, inner / "debugpy", ignore=shutil.ignore_patterns("__pycache__"))
        (inner / "sitecustomize.py").write_text(text, encoding="utf-8")
        os.chmod(staged, 0o755)
        try:
            staged.rename(bundle)
        except OSError:
            if not (bundle / "locallambda-debug" / "sitecustomize.py").is_file():
                raise
    finally:
        shutil.rmtree(staged, ignore_errors=True)
    return bundle / "locallambda-debug"


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
