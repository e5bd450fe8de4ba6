"""The runtime's command line and environment as the sandbox runs them.

The command comes from ``RuntimeCommands``, built against the host paths of the code and layers
(so that its checks for a ``bootstrap``, ``lib/`` jars or ``/opt/bin`` look at real files), then
translated to ``/var/task`` and ``/opt``. The program is resolved to a host path (the sandbox's
PATH first, then the server's), and the host directories it needs (its installation's prefix;
for a Python, its prefixes and where awslambdaric is) are named so that they can be bound at
their own path. The environment is AWS's, less the runtime-image directories that do not exist
here: no ``HOME`` (AWS sets none), Node.js's ``NODE_PATH`` and ``NODE_EXTRA_CA_CERTS`` with AWS's
very values, the bundled SDK of nodejs18.x and later at ``/var/runtime/node_modules``.

Raises ``InvalidEntrypointError`` as the process executor's exec would, with the sandbox's
paths: ``fork/exec /var/task/bootstrap: permission denied`` or ``...: exec format error``
(inside, bwrap would only print the failure and exit).
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from locallambda.errors import InvalidEntrypointError
from locallambda.executors.sandbox.mounts import OPT, TASK_ROOT, HostLayout, code_translator, is_under, prefix_of
from locallambda.executors.zygotes import zygote_shape
from locallambda.model.spec import FunctionSpec
from locallambda.runtimes.catalogue import family
from locallambda.runtimes.commands import (
    AWS_NODE_CA_CERTS,
    RuntimeCommands,
    aws_node_path,
    exec_wrapper,
    extension_commands,
    node_bundles_sdk,
    with_exec_wrapper,
)

__all__ = ["SANDBOX_LD_LIBRARY_PATH", "SANDBOX_PATH", "SandboxCommand", "check_entrypoint", "sandbox_command"]

log = logging.getLogger(__name__)

# AWS's PATH and LD_LIBRARY_PATH without the runtime-image directories (/var/lang, /var/runtime)
# that do not exist here; layer_search_paths adds /opt/bin and /opt/lib when the layers have them.
SANDBOX_PATH = "/usr/local/bin:/usr/bin:/bin"
SANDBOX_LD_LIBRARY_PATH = "/lib64:/usr/lib64:/var/task:/var/task/lib"


@dataclass(frozen=True, slots=True)
class SandboxCommand:
    """What a sandbox runs, named as inside it, and the host directories that must be there."""

    argv: tuple[str, ...]  # argv[0]: the program's absolute path (a host path, bound as it is)
    env: Mapping[str, str]
    roots: tuple[str, ...]  # host directories bound at their own path (our bootstraps, the interpreter)
    extensions: tuple[str, ...]  # /opt/extensions/*, started before the runtime
    # Where awslambdaric is, when argv is Python's own bootstrap (nothing around it): a zygote
    # may become it (sandbox/zygotes.py).
    python_site: str | None = None


async def sandbox_command(
    commands: RuntimeCommands,
    spec: FunctionSpec,
    code_dir: Path,
    environment: Mapping[str, str],
    layout: HostLayout,
    host_path: str,
) -> SandboxCommand:
    """The command of ``spec``'s runtime in a sandbox, ``environment`` (AWS's variables) included.

    Raises ``InvalidEntrypointError`` (its message in the sandbox's paths).
    """
    translate = code_translator(str(code_dir), [str(p) for p in spec.layers])
    base = {
        "PATH": SANDBOX_PATH,
        "LD_LIBRARY_PATH": SANDBOX_LD_LIBRARY_PATH,
        **environment,
        "LAMBDA_TASK_ROOT": TASK_ROOT,
    }
    try:
        argv, extra_env = await commands.command(
            spec, code_dir, opt=spec.layers[0] if len(spec.layers) == 1 else None, base_env=base
        )
    except InvalidEntrypointError as exc:
        raise InvalidEntrypointError(translate(str(exc))) from exc
    check_entrypoint(argv, translate)
    # A bytecode cache outside the sandbox would be invisible (every module, the standard
    # library's too, compiled again at each start) or a host directory writable by every
    # function. /var/task is read-only, as on AWS: the prebuilt __pycache__ of the interpreter's
    # own tree is used, the function's modules are compiled in memory.
    keep_pycache = "PYTHONPYCACHEPREFIX" in spec.environment
    extra = {k: translate(v) for k, v in extra_env.items() if keep_pycache or k != "PYTHONPYCACHEPREFIX"}
    runtime_roots = _node_runtime(commands, spec.runtime or "", extra, layout)
    env = {**base, **extra, "LAMBDA_TASK_ROOT": TASK_ROOT}
    inside = [translate(a) for a in argv]
    inside[0], program_roots, ask_python = _resolve(inside[0], env["PATH"], layout, host_path)
    if ask_python:
        # Asking an interpreter we have not met where it lives runs it: off the event loop.
        program_roots += await asyncio.to_thread(layout.python_roots, inside[0])
    wrapper = exec_wrapper(spec)
    site = commands.python_site(argv[0]) if wrapper is None and zygote_shape(argv) else None
    if wrapper is not None:  # named as inside the sandbox, where /var/task and /opt are real
        inside = with_exec_wrapper(inside, wrapper)
    extensions = tuple(translate(str(p)) for p in extension_commands(list(spec.layers)))
    if spec.debug is not None and family(spec.runtime or "") == "python":
        # Lambda debug mode: where debugpy is (already looked up by ``command``), at its own path.
        runtime_roots.append(commands.debuggers.debugpy_site(argv[0]))
    roots = (*layout.shared, *program_roots, *runtime_roots)
    return SandboxCommand(tuple(inside), env, roots, extensions, site if not extensions else None)


def _node_runtime(commands: RuntimeCommands, runtime: str, extra: dict[str, str], layout: HostLayout) -> list[str]:
    """A Node.js runtime's variables named as AWS names them (``extra`` holds them only when the
    function does not set them itself), and the host directory to bind for its bundled SDK.

    Inside, ``/var/runtime`` is what AWS's images have there: ``ca-cert.pem`` and, for nodejs18.x
    and later, ``node_modules`` with the SDK (the layout's link to it, bound at its own path).
    """
    if family(runtime) != "nodejs":
        return []
    if "NODE_PATH" in extra:
        extra["NODE_PATH"] = aws_node_path(runtime)
    if "NODE_EXTRA_CA_CERTS" in extra:
        extra["NODE_EXTRA_CA_CERTS"] = AWS_NODE_CA_CERTS
    if commands.nodejs_runtime is None or not node_bundles_sdk(runtime):
        return []
    modules = (commands.nodejs_runtime / "node_modules").absolute()
    if not modules.is_dir():
        return []  # bootstrap.sh did not install it: an import fails as Node words it
    layout.link_runtime_modules(modules)
    return [str(modules)]


def _resolve(program: str, path: str, layout: HostLayout, host_path: str) -> tuple[str, list[str], bool]:
    """The absolute host path of the runtime's program, the directories it needs, and whether
    it is a Python whose own directories are still to be asked (by running it)."""
    resolved = program
    if not program.startswith("/"):
        # The sandbox's PATH first (a layer's /opt/bin is not a host path), then the server's.
        found = shutil.which(program, path=path) or shutil.which(program, path=host_path)
        if found is None:
            return program, [], False
        resolved = found
    if resolved.startswith((TASK_ROOT + "/", OPT + "/")):
        return resolved, [], False
    roots: list[str] = []
    for exe in {resolved, os.path.realpath(resolved)}:
        if not is_under(exe, layout.system_roots):
            roots.append(prefix_of(exe))
    if not os.path.basename(resolved).startswith("python"):
        return resolved, roots, False
    known = layout.known_python_roots(resolved)
    if known is None:
        return resolved, roots, True
    return resolved, [*roots, *known], False


def check_entrypoint(argv: list[str], translate: Callable[[str], str]) -> None:
    """Refuse, as the process executor's exec would, a function's own entrypoint that cannot be
    executed (inside the sandbox bwrap would only print the failure and exit).

    Raises ``InvalidEntrypointError`` with AWS's Go-style text: ``fork/exec /var/task/bootstrap:
    permission denied`` or ``...: exec format error``.
    """
    program = argv[0]
    inside = translate(program)
    if inside == program or not os.path.isfile(program):
        return  # not the function's own file (an interpreter of the host)
    if not os.access(program, os.X_OK):
        raise InvalidEntrypointError(f"fork/exec {inside}: permission denied")
    try:
        with open(program, "rb") as fh:
            magic = fh.read(4)
    except OSError as exc:
        raise InvalidEntrypointError(f"fork/exec {inside}: {os.strerror(exc.errno or 5).lower()}") from exc
    if magic != b"\x7fELF" and not magic.startswith(b"#!"):
        raise InvalidEntrypointError(f"fork/exec {inside}: exec format error")
