"""How to start each runtime's client on this host (process and sandbox executors).

- python3.x: ``python -m awslambdaric <handler>``, the official client; the interpreter of the
  requested version when it is on the machine and has awslambdaric, otherwise the host's (said
  once in the log).
- nodejs: ``node bootstrap.mjs``, our own client (the official npm one needs native builds).
- java: our own bootstrap, compiled once with javac and cached.
- provided.*: the function's own ``bootstrap`` (or a layer's ``/opt/bootstrap``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

from locallambda.executors.base import ExecutorError
from locallambda.invoke.models import FunctionSpec
from locallambda.runtimes.catalogue import family

__all__ = ["RuntimeCommands", "NODE_BOOTSTRAP"]

log = logging.getLogger("locallambda.runtimes")

NODE_BOOTSTRAP = Path(__file__).resolve().parent.parent / "runtimes" / "nodejs" / "bootstrap.mjs"


class RuntimeCommands:
    """Resolves the command line of a runtime; remembers interpreter checks."""

    def __init__(self, cache_dir: Path) -> None:
        self._cache_dir = cache_dir
        self._python: dict[str, str] = {}
        self._warned: set[str] = set()
        self._java_bootstrap: Path | None = None
        self._java_lock = asyncio.Lock()

    async def check(self, spec: FunctionSpec) -> str | None:
        """Why this host cannot run the function's runtime, or ``None`` when it can."""
        fam = family(spec.runtime or "")
        if fam == "python":
            return None
        if fam == "nodejs":
            return None if shutil.which("node") else "Node.js (node) is not installed on this machine."
        if fam == "java":
            if not shutil.which("java") or not shutil.which("javac"):
                return "Java (java and javac) is not installed on this machine."
            try:
                await self._java()
            except ExecutorError as exc:
                return str(exc)
            return None
        if fam == "provided":
            return None
        return f"The runtime {spec.runtime} is not supported by locallambda yet."

    def _python_for(self, runtime: str) -> str:
        if runtime in self._python:
            return self._python[runtime]
        version = runtime.removeprefix("python")
        chosen = sys.executable
        if f"{sys.version_info.major}.{sys.version_info.minor}" != version:
            candidate = shutil.which(f"python{version}")
            if candidate and _has_awslambdaric(candidate):
                chosen = candidate
            elif runtime not in self._warned:
                self._warned.add(runtime)
                log.warning(
                    "%s requested but python%s with awslambdaric is not on this machine; "
                    "running it with the host's Python %d.%d",
                    runtime, version, sys.version_info.major, sys.version_info.minor,
                )
        self._python[runtime] = chosen
        return chosen

    async def _java(self) -> Path:
        async with self._java_lock:
            if self._java_bootstrap is None:
                from locallambda.runtimes.java_bootstrap import ensure_java_bootstrap

                try:
                    self._java_bootstrap = await asyncio.to_thread(ensure_java_bootstrap, self._cache_dir / "java")
                except Exception as exc:  # compilation failure, javac missing
                    raise ExecutorError(f"The Java bootstrap could not be built: {exc}") from exc
            return self._java_bootstrap

    async def command(self, spec: FunctionSpec, task_root: Path, opt: Path | None = None) -> tuple[list[str], dict[str, str]]:
        """argv and extra environment to start the runtime with ``task_root`` as its code.

        ``opt`` is where the function's layers are merged (``/opt`` on AWS); search paths of each
        runtime include it as AWS's do. Raises ``ExecutorError`` for an unsupported runtime.
        """
        runtime = spec.runtime or ""
        fam = family(runtime)
        layer_roots = [opt] if opt else list(spec.layers)
        env: dict[str, str] = {}
        if fam == "python":
            version = runtime.removeprefix("python")
            paths = [str(task_root)]
            for root in layer_roots:
                paths += [str(root / "python"), str(root / "python" / "lib" / f"python{version}" / "site-packages")]
            env["PYTHONPATH"] = os.pathsep.join(paths)
            return [self._python_for(runtime), "-m", "awslambdaric", spec.handler or ""], env
        if fam == "nodejs":
            paths = []
            for root in layer_roots:
                paths += [str(root / "nodejs" / "node_modules"), str(root / "nodejs" / "node20" / "node_modules")]
            if paths:
                env["NODE_PATH"] = os.pathsep.join(paths)
            return ["node", str(NODE_BOOTSTRAP)], env
        if fam == "java":
            from locallambda.runtimes.java_bootstrap import java_command

            bootstrap = await self._java()
            extra = [root / "java" / "lib" for root in layer_roots]
            return java_command(bootstrap, task_root, extra), env
        if fam == "provided" or spec.package_type == "Image":
            candidates = [task_root / "bootstrap"] + [root / "bootstrap" for root in layer_roots]
            for path in candidates:
                if path.is_file():
                    return [str(path)], env
            raise ExecutorError(
                "Couldn't find valid bootstrap(s): [" + " ".join(str(c) for c in candidates) + "]"
            )
        raise ExecutorError(f"The runtime {runtime} is not supported by locallambda yet.")


def _has_awslambdaric(python: str) -> bool:
    try:
        done = subprocess.run([python, "-c", "import awslambdaric"], capture_output=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0
