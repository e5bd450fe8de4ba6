"""How to start each runtime's client on this host (process and sandbox executors).

- python3.x: awslambdaric, the official client, started as ``python -m awslambdaric <handler>``
  would start it, over our transport for its C one (``python/runtime_client.py``); the interpreter of the
  requested version when it is on the machine and has awslambdaric, otherwise the host's (said
  once in the log).
- nodejs: ``node bootstrap.mjs``, our own client (the official npm one needs native builds), with
  AWS's ``NODE_PATH`` and, for nodejs16.x and nodejs18.x, ``NODE_EXTRA_CA_CERTS``; nodejs18.x and
  later find the AWS SDK for JavaScript v3 in the runtime directory (``/var/runtime``), as on AWS.
- java: our own bootstrap, compiled once with javac and cached.
- provided.*: the function's own ``bootstrap`` (or a layer's ``/opt/bootstrap``).

A function in Lambda Debug Mode (``spec.debug``) starts under its runtime's debugger
(``runtimes/debuggers.py``).
"""

from __future__ import annotations

import asyncio
import base64
import functools
import importlib.util
import logging
import marshal
import os
import shutil
import subprocess
import sys
import zlib
from collections.abc import Mapping
from pathlib import Path

from locallambda.errors import ExecutorError, InvalidEntrypointError
from locallambda.model.spec import FunctionSpec
from locallambda.runtimes.catalogue import family
from locallambda.runtimes.debuggers import DEBUG_PORT_VARIABLE, Debuggers, debug_notice, jdwp_agent
from locallambda.runtimes.python_errors import error_payload_shape

__all__ = [
    "AWS_NODE_CA_CERTS",
    "AWS_RUNTIME_DIR",
    "ESM_NODE_PATH_FLAG",
    "NODE_BOOTSTRAP",
    "RuntimeCommands",
    "aws_node_path",
    "exec_wrapper",
    "extension_commands",
    "host_ca_bundle",
    "layer_search_paths",
    "node_bundles_sdk",
    "node_extra_ca_certs",
    "node_major",
    "on_host",
    "with_exec_wrapper",
]

log = logging.getLogger(__name__)

NODE_BOOTSTRAP = Path(__file__).resolve().parent / "nodejs" / "bootstrap.mjs"
# Tells the bootstrap to search NODE_PATH for ES modules too (nodejs18.x and later do).
ESM_NODE_PATH_FLAG = "--esm-node-path"

# The runtime directory of AWS's images (LAMBDA_RUNTIME_DIR): the runtime client, and for Node.js
# the bundled SDK (node_modules) and the CA certificates the runtime adds (ca-cert.pem).
AWS_RUNTIME_DIR = "/var/runtime"
AWS_NODE_CA_CERTS = f"{AWS_RUNTIME_DIR}/ca-cert.pem"
# Where hosts keep the system's CA bundle: Debian and Ubuntu, Fedora and Amazon Linux, openSUSE, Alpine.
_CA_BUNDLES = (
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
)


class RuntimeCommands:
    """Resolves the command line of a runtime; remembers interpreter checks."""

    def __init__(self, cache_dir: Path, java_home: Path | None = None, nodejs_runtime: Path | None = None) -> None:
        """``nodejs_runtime`` is the host directory Node.js functions see as ``/var/runtime``
        (its ``node_modules`` the bundled SDK); ``None``: they see none."""
        self._cache_dir = cache_dir
        self._java_home = java_home
        self.nodejs_runtime = nodejs_runtime
        self._ca_bundle: Path | None = None
        self._ca_looked_for = False
        self._python: dict[str, str] = {}
        self._sites: dict[str, str] = {}  # interpreter → the directory its awslambdaric is in
        # Runtimes served by something else than they name (python3.12 by the host's 3.11):
        # runtime → what runs it. Shown by the health endpoint and in the functions' own logs.
        self.substitutions: dict[str, str] = {}
        self._java_bootstrap: Path | None = None
        self._java_lock = asyncio.Lock()
        self.debuggers = Debuggers()  # Lambda debug mode's

    async def check(self, spec: FunctionSpec) -> str | None:
        """Why this host cannot run the function's runtime, or ``None`` when it can."""
        if spec.package_type == "Image":  # the app routes these to docker; never run them here
            return "Container image functions need the docker executor."
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
            else:
                self.substitutions[runtime] = f"Python {sys.version_info.major}.{sys.version_info.minor}"
                log.warning(
                    "%s requested but python%s with awslambdaric is not on this machine; "
                    "running it with the host's Python %d.%d",
                    runtime,
                    version,
                    sys.version_info.major,
                    sys.version_info.minor,
                )
        self._python[runtime] = chosen
        return chosen

    def _site_of(self, python: str) -> str:
        """Where ``python``'s awslambdaric (and boto3, botocore ...) are installed (blocking)."""
        if python not in self._sites:
            if python == sys.executable:
                spec = importlib.util.find_spec("awslambdaric")
                origin = spec.origin if spec is not None else None
                self._sites[python] = os.path.dirname(os.path.dirname(origin)) if origin else ""
            else:
                code = "import awslambdaric, os; print(os.path.dirname(os.path.dirname(awslambdaric.__file__)))"
                try:
                    done = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=20, check=False)
                    self._sites[python] = done.stdout.strip()
                except (OSError, subprocess.TimeoutExpired):
                    self._sites[python] = ""
        return self._sites[python]

    def python_site(self, python: str) -> str | None:
        """Where the awslambdaric of ``python`` is, once a Python command for it was made
        (None otherwise, or when it has none)."""
        return self._sites.get(python) or None

    def ca_bundle(self) -> Path | None:
        """The host's CA bundle (looked for once), or ``None`` when it has none of the usual ones."""
        if not self._ca_looked_for:
            self._ca_bundle = host_ca_bundle()
            self._ca_looked_for = True
        return self._ca_bundle

    def _node_path(self, runtime: str, layer_roots: list[Path], task_root: Path) -> str:
        """AWS's NODE_PATH with the directories where they are on this host (the process
        executor's; the sandbox and docker executors use ``aws_node_path`` itself): the layers'
        /opt, the runtime directory only where it holds what AWS's does (the SDK v3 of Node.js
        18 and later; nodejs16.x bundles v2, which is not here), the code's /var/task. The order
        is AWS's, so a function's own node_modules (found first by Node itself), then its layers,
        win over the bundled SDK."""
        major = node_major(runtime)
        paths: list[str] = []
        for root in layer_roots:
            if major is not None:
                paths.append(str(root / "nodejs" / f"node{major}" / "node_modules"))
            paths.append(str(root / "nodejs" / "node_modules"))
        if self.nodejs_runtime is not None and node_bundles_sdk(runtime):
            paths += [str(self.nodejs_runtime / "node_modules"), str(self.nodejs_runtime)]
        paths.append(str(task_root))
        return os.pathsep.join(paths)

    def notice(self, spec: FunctionSpec) -> str | None:
        """Lines for the function's log when its runtime is not the one it asked for, and when
        it runs under a debugger (they open the log of the environment's first invocation,
        where the user looks)."""
        runtime = spec.runtime or ""
        served = self.substitutions.get(runtime)
        lines = (
            []
            if served is None
            else [f"locallambda: {runtime} is not installed on this machine; this function runs on {served}"]
        )
        if spec.debug is not None:
            lines.append(debug_notice(spec))
        return "\n".join(lines) or None

    async def _java(self) -> Path:
        async with self._java_lock:
            if self._java_bootstrap is None:
                from locallambda.runtimes.java_bootstrap import ensure_java_bootstrap

                try:
                    self._java_bootstrap = await asyncio.to_thread(
                        ensure_java_bootstrap, self._cache_dir / "java", java_home=self._java_home
                    )
                except Exception as exc:  # compilation failure, javac missing
                    raise ExecutorError(f"The Java bootstrap could not be built: {exc}") from exc
            return self._java_bootstrap

    async def command(
        self,
        spec: FunctionSpec,
        task_root: Path,
        opt: Path | None = None,
        base_env: Mapping[str, str] | None = None,
    ) -> tuple[list[str], dict[str, str]]:
        """argv and extra environment to start the runtime with ``task_root`` as its code.

        ``opt`` is where the function's layers are merged (``/opt`` on AWS; by default the
        directories of ``spec.layers``); each runtime's search paths include it as AWS's do.
        ``base_env`` is the environment the runtime would otherwise get: ``PATH`` and
        ``LD_LIBRARY_PATH`` are extended from it rather than replaced. Raises ``ExecutorError``
        for an unsupported runtime or a provided runtime without a bootstrap.
        """
        runtime = spec.runtime or ""
        fam = family(runtime)
        layer_roots = [opt] if opt else list(spec.layers)
        env = layer_search_paths(layer_roots, base_env or {})
        if spec.debug is not None:
            env[DEBUG_PORT_VARIABLE] = str(spec.debug.port)  # LocalStack's, for any runtime
        if fam == "python":
            version = runtime.removeprefix("python")
            paths = [str(task_root)]
            for root in layer_roots:
                # AWS: PYTHONPATH has /opt/python/lib/pythonX.Y/site-packages and /opt/python.
                paths += [str(root / "python"), str(root / "python" / "lib" / f"python{version}" / "site-packages")]
            env["PYTHONPATH"] = os.pathsep.join(paths)
            # The task root is the shared, content-addressed copy of the code (read-only /var/task
            # on AWS): compiled bytecode goes to our cache instead of a __pycache__ inside it.
            if spec.hot_reload:
                # Python validates bytecode by the source's mtime in whole seconds and its size: an
                # edit within the same second would be served stale, so hot code is never cached.
                env["PYTHONDONTWRITEBYTECODE"] = "1"
            else:
                env["PYTHONPYCACHEPREFIX"] = str(self._cache_dir / "pycache")
            python: str = (
                self._python[runtime] if runtime in self._python else await asyncio.to_thread(self._python_for, runtime)
            )
            site = self._sites[python] if python in self._sites else await asyncio.to_thread(self._site_of, python)
            # -u: output reaches the log as it is written (AWS sets no PYTHONUNBUFFERED the function
            # would see). -S: the interpreter's own site-packages (the server's virtualenv) stay out
            # of sys.path; the function sees its code and layers (PYTHONPATH) and, after them, only
            # what AWS's Python runtime bundles, served from there by a finder.
            prelude, flags = "", []
            if spec.debug is not None:
                prelude = await self.debuggers.debugpy_prelude(python, spec.debug.port)
                flags = ["-X", "frozen_modules=off"]  # frozen modules would hide code from debugpy
            program = python_bootstrap(site, runtime, prelude, python)
            return [python, "-u", "-S", *flags, "-c", program, spec.handler or ""], env
        if fam == "nodejs":
            base = base_env or {}
            # AWS's bootstrap sets NODE_PATH only when the function's configuration leaves it empty.
            if not base.get("NODE_PATH"):
                env["NODE_PATH"] = self._node_path(runtime, layer_roots, task_root)
            # ... and NODE_EXTRA_CA_CERTS only when the configuration does not set it at all.
            if node_extra_ca_certs(runtime) and "NODE_EXTRA_CA_CERTS" not in base:
                ca = self.ca_bundle()
                if ca is not None:
                    env["NODE_EXTRA_CA_CERTS"] = str(ca)
            argv = ["node", str(NODE_BOOTSTRAP)]
            if spec.debug is not None:
                argv.insert(1, await self.debuggers.node_inspect(spec.debug.port))
            if (node_major(runtime) or 0) >= 18:
                argv.append(ESM_NODE_PATH_FLAG)
            return argv, env
        if fam == "java":
            from locallambda.runtimes.java_bootstrap import java_command

            bootstrap = await self._java()
            # AWS: the class path ends with /opt/java/lib/* (every jar of the layers).
            extra = [root / "java" / "lib" / "*" for root in layer_roots]
            argv = java_command(bootstrap, task_root, extra)
            if spec.debug is not None:
                argv.insert(1, jdwp_agent(spec.debug.port))
            return argv, env
        if fam == "provided" or spec.package_type == "Image":
            # The function's own bootstrap wins; otherwise a layer's (/opt/bootstrap).
            candidates = [task_root / "bootstrap"] + [root / "bootstrap" for root in layer_roots]
            for path in candidates:
                if path.is_file():
                    return _bootstrap_argv(path), env
            raise InvalidEntrypointError(
                "Couldn't find valid bootstrap(s): [" + " ".join(str(c) for c in candidates) + "]"
            )
        raise ExecutorError(f"The runtime {runtime} is not supported by locallambda yet.")


def node_major(runtime: str) -> int | None:
    """The Node.js major version a ``nodejsXX.x`` runtime names (``None`` for any other)."""
    version = runtime.removeprefix("nodejs").split(".", 1)[0] if runtime.startswith("nodejs") else ""
    return int(version) if version.isdigit() else None


def node_bundles_sdk(runtime: str) -> bool:
    """Whether AWS's image of ``runtime`` bundles the AWS SDK for JavaScript v3 (nodejs18.x and
    later; lambda-nodejs.html, "Runtime-included SDK versions")."""
    return (node_major(runtime) or 0) >= 18


def node_extra_ca_certs(runtime: str) -> bool:
    """Whether AWS sets ``NODE_EXTRA_CA_CERTS`` for ``runtime``: nodejs16.x and nodejs18.x, to
    ``/var/runtime/ca-cert.pem`` (their bootstrap; AWS's recorded test_introspection_invoke),
    not nodejs20.x and later."""
    return node_major(runtime) in (16, 18)


def aws_node_path(runtime: str) -> str:
    """``NODE_PATH`` exactly as AWS sets it for ``runtime`` (its recorded test_introspection_invoke):
    ``/opt/nodejs/nodeXX/node_modules:/opt/nodejs/node_modules:/var/runtime/node_modules:/var/runtime:/var/task``."""
    major = node_major(runtime)
    versioned = [f"/opt/nodejs/node{major}/node_modules"] if major is not None else []
    rest = ["/opt/nodejs/node_modules", f"{AWS_RUNTIME_DIR}/node_modules", AWS_RUNTIME_DIR, "/var/task"]
    return ":".join(versioned + rest)


def host_ca_bundle() -> Path | None:
    """The system CA bundle of this host, or ``None`` (blocking: a few stat calls)."""
    for candidate in _CA_BUNDLES:
        path = Path(candidate)
        if path.is_file():
            return path
    return None


# What AWS's Python runtimes bundle besides the runtime client: the SDK and what it needs
# (lambda-python.html, "Runtime-included SDK versions"); awslambdaric's own dependencies.
BUNDLED_PYTHON = frozenset({
    "awslambdaric", "runtime_client", "simplejson", "snapshot_restore_py",
    "boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six",
})  # fmt: skip

# awslambdaric's transport, ours (python/runtime_client.py): registered as ``runtime_client``
# before awslambdaric imports its C one. The program is parsed at every cold start, and parsing the
# client's source costs about 3 ms there: the server's own interpreter gets the code compiled
# here (marshal), any other the source; compressed, in base64 (a literal full of escapes is slow
# to parse too).
PYTHON_RUNTIME_CLIENT = (Path(__file__).resolve().parent / "python" / "runtime_client.py").read_text()
_CLIENT_NAME = "<locallambda runtime_client>"
_CLIENT_CODE = base64.b64encode(zlib.compress(marshal.dumps(compile(PYTHON_RUNTIME_CLIENT, _CLIENT_NAME, "exec")), 9))
_CLIENT_SOURCE = base64.b64encode(zlib.compress(PYTHON_RUNTIME_CLIENT.encode(), 9))
_LOAD_CODE = (
    f'__import__("marshal").loads(__import__("zlib").decompress(__import__("binascii").a2b_base64({_CLIENT_CODE!r})))'
)
_LOAD_SOURCE = f'compile(__import__("zlib").decompress(__import__("binascii").a2b_base64({_CLIENT_SOURCE!r})), "{_CLIENT_NAME}", "exec")'

_real_path = functools.lru_cache(maxsize=16)(os.path.realpath)  # not a lookup per cold start

_PYTHON_BOOTSTRAP = """\
import importlib.machinery, runpy, sys
class _Bundled:
    @staticmethod
    def find_spec(name, path=None, target=None):
        if path is None and name in {bundled!r}:
            return importlib.machinery.PathFinder.find_spec(name, [{site!r}])
        return None
sys.meta_path.append(_Bundled)
del _Bundled
_client = type(sys)("runtime_client")
exec({client}, _client.__dict__)
sys.modules["runtime_client"] = _client
del _client
{errors}{debugger}runpy.run_module("awslambdaric", run_name="__main__", alter_sys=True)
"""


def python_bootstrap(site: str, runtime: str = "", prelude: str = "", python: str = "") -> str:
    """The ``python -S -c`` program that starts awslambdaric with only the bundled packages of
    ``site`` importable (after the function's own code and layers, which come first as on AWS),
    over our transport (``python/runtime_client.py``), its error payloads in ``runtime``'s shape
    (``python_errors.py``), ``prelude`` run before awslambdaric starts (debug mode's debugpy);
    ``python``: the interpreter that runs it (the server's own gets the client compiled)."""
    same = bool(python) and _real_path(python) == _real_path(sys.executable)
    return _PYTHON_BOOTSTRAP.format(
        bundled=sorted(BUNDLED_PYTHON),
        site=site,
        client=_LOAD_CODE if same else _LOAD_SOURCE,
        errors=error_payload_shape(runtime),
        debugger=prelude,
    )


def with_exec_wrapper(argv: list[str], wrapper: str) -> list[str]:
    """The runtime started through ``AWS_LAMBDA_EXEC_WRAPPER`` (runtimes-modify.html#runtime-wrapper):
    the wrapper receives the runtime's command line as its arguments and is expected to ``exec``
    it. Run through a shell's ``exec`` so that a missing wrapper ends as it does on AWS, with exit
    status 127 (``Runtime.ExitError``, recorded in LocalStack's test_lambda_runtime_wrapper_not_found)."""
    return ["/bin/sh", "-c", 'exec "$0" "$@"', wrapper, *argv]


def exec_wrapper(spec: FunctionSpec) -> str | None:
    """The function's ``AWS_LAMBDA_EXEC_WRAPPER``, for the runtimes AWS honours it in (the managed
    ones: not ``provided.*``, whose bootstrap is the function's own, nor images)."""
    wrapper = spec.environment.get("AWS_LAMBDA_EXEC_WRAPPER")
    if not wrapper or family(spec.runtime or "") == "provided" or spec.package_type == "Image":
        return None
    return wrapper


def on_host(path: str, task_root: Path, layer_roots: list[Path]) -> str:
    """A path as the function names it (``/var/task/...``, ``/opt/...``) where it is on this host."""
    for prefix, root in (("/var/task", task_root), *(("/opt", r) for r in layer_roots[:1])):
        if path == prefix or path.startswith(prefix + "/"):
            return str(root) + path[len(prefix) :]
    return path


def layer_search_paths(layer_roots: list[Path], base_env: Mapping[str, str]) -> dict[str, str]:
    """``PATH`` and ``LD_LIBRARY_PATH`` extended as AWS sets them for layers.

    AWS: ``PATH`` ends with ``/opt/bin``, ``LD_LIBRARY_PATH`` with ``/opt/lib``.
    Only directories that exist are added (an absent one would only slow every lookup down).
    """
    env: dict[str, str] = {}
    bins = [str(root / "bin") for root in layer_roots if (root / "bin").is_dir()]
    if bins:
        env["PATH"] = os.pathsep.join([p for p in [base_env.get("PATH", "")] if p] + bins)
    libs = [str(root / "lib") for root in layer_roots if (root / "lib").is_dir()]
    if libs:
        env["LD_LIBRARY_PATH"] = os.pathsep.join([p for p in [base_env.get("LD_LIBRARY_PATH", "")] if p] + libs)
    return env


def extension_commands(layer_roots: list[Path]) -> list[Path]:
    """The external extensions of a function: executables in ``/opt/extensions``, by name.

    AWS starts each of them before the runtime, in alphabetical order.
    """
    found: list[Path] = []
    for root in layer_roots:
        folder = root / "extensions"
        try:
            entries = sorted(folder.iterdir(), key=lambda p: p.name)
        except OSError:
            continue
        found += [p for p in entries if p.is_file() and os.access(p, os.X_OK)]
    return found


def _bootstrap_argv(path: Path) -> list[str]:
    """The command that runs a ``bootstrap`` as Amazon Linux would.

    On Amazon Linux ``/bin/sh`` is bash, and custom runtimes rely on it: AWS's own tutorial
    (runtimes-walkthrough.html) starts with ``#!/bin/sh`` and uses ``set -o pipefail``,
    ``source`` and ``function``. Where ``/bin/sh`` is another shell (dash on Debian and Ubuntu),
    such a script is run by bash in POSIX mode, which is what ``sh`` is on AWS.
    """
    try:
        with open(path, "rb") as fh:
            first = fh.readline(256)
    except OSError:
        return [str(path)]
    shebang = first.rstrip(b"\r\n").split()
    if shebang[:1] != [b"#!/bin/sh"] or not os.access(path, os.X_OK):
        return [str(path)]  # a non-executable file still fails as AWS says: permission denied
    bash = shutil.which("bash")
    sh = os.path.realpath("/bin/sh")
    if bash is None or os.path.basename(sh) == "bash":
        return [str(path)]
    return [bash, "--posix", *(arg.decode() for arg in shebang[1:]), str(path)]


def _has_awslambdaric(python: str) -> bool:
    try:
        done = subprocess.run([python, "-c", "import awslambdaric"], capture_output=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0
