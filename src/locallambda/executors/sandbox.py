"""The sandbox executor: the process executor isolated with Linux namespaces (bubblewrap).

Each execution environment is one ``bwrap`` sandbox:

- **Files.** An empty root, made read-only once built, holding: the host's ``/usr`` and ``/etc``
  (and its ``/bin``, ``/lib*`` links or directories) read-only; the interpreter that runs the
  runtime client (the server's own Python, whose site-packages hold awslambdaric; ``node``;
  ``java``) and our bootstraps read-only at their host paths; the function's code read-only at
  ``/var/task``; its layers at ``/opt``; a private ``/tmp`` (tmpfs of EphemeralStorage MB, mode
  1777 as on AWS); a fresh ``/proc`` and a minimal ``/dev``. Nothing else of the host is there.
- **User.** uid 993 / gid 990 (AWS's ``sbx_user1051``) in a user namespace, without
  capabilities, so the read-only binds cannot be remounted writable. That user is the server's
  own uid seen from outside, so files of ``/etc`` that the host keeps from other users (no read
  bit for others: ``/etc/shadow``, private keys) are masked with empty ones.
- **Processes.** A pid namespace (the runtime is not the host's pid 1 and sees no host
  process), an IPC namespace, a cgroup namespace where the kernel has one, a session of its own.
  The network namespace is the host's: the Runtime API listens on 127.0.0.1.
- **Memory.** MemorySize limits the function's anonymous memory, which is what AWS's limit
  amounts to (its ``/tmp`` is a disk and does not count). With a writable memory cgroup (v2, or
  v1 as on hybrid hosts) each sandbox gets a cgroup whose hard limit is MemorySize +
  EphemeralStorage (tmpfs pages are charged to the cgroup that writes them, so a full ``/tmp``
  must fit beside the memory) and a guard samples its anonymous memory every 50 ms, killing at
  MemorySize; either kill is reported as ``Runtime.OutOfMemory``. The pids controller, where
  there is one, caps processes and threads at 1024 (AWS's quota). Without a writable cgroup
  (a server not run as root and no delegated subtree) the guard samples the ``RssAnon`` of the
  sandbox's processes instead, and there is no kernel backstop.

The runtime's command line comes from ``RuntimeCommands`` built against the host paths of the
code and layers (so that its checks for a ``bootstrap``, ``lib/`` jars or ``/opt/bin`` look at
real files), then translated to ``/var/task`` and ``/opt``.

Start-up: bwrap takes the mounts and the environment from a pipe (``--args``), so a launcher can
be started before the function is known. One launcher is kept waiting, already inside a fresh
cgroup (entering a cgroup costs an RCU grace period, ~10 ms): a cold start then costs bwrap's
namespace setup (~3 ms) and a shell that execs the runtime, on top of the runtime's own start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine, Mapping
from typing import Any
from pathlib import Path

from locallambda.errors import ExecutorError, InvalidEntrypointError
from locallambda.executors.base import Executor, OutputSink, RuntimeProcess
from locallambda.executors.cgroups import CgroupTree, EnvCgroup, remove_cgroup
from locallambda.executors.extensions import with_extensions
from locallambda.executors.process import ChildProcess
from locallambda.runtimes.commands import RuntimeCommands, extension_commands
from locallambda.executors.sandbox_mounts import (
    OPT,
    SANDBOX_GID,
    SANDBOX_UID,
    TASK_ROOT,
    HostLayout,
    argv_binds,
    is_under,
    layer_binds,
    minimal,
    path_translator,
    prefix_of,
    system_binds,
)
from locallambda.model.spec import FunctionSpec
from locallambda.model.tasks import TaskScope
from locallambda.settings import Settings

__all__ = ["SandboxExecutor", "SandboxProcess"]

log = logging.getLogger(__name__)

# Lambda quotas: "Processes and threads: 1,024" per execution environment.
PIDS_MAX = 1024
GUARD_INTERVAL_S = 0.05
# AWS's PATH and LD_LIBRARY_PATH without the runtime-image directories (/var/lang, /var/runtime)
# that do not exist here; layer_search_paths adds /opt/bin and /opt/lib when the layers have them.
SANDBOX_PATH = "/usr/local/bin:/usr/bin:/bin"
SANDBOX_LD_LIBRARY_PATH = "/lib64:/usr/lib64:/var/task:/var/task/lib"


# -- the host ----------------------------------------------------------------------------------


def _namespace_flags() -> list[str]:
    return [
        "--unshare-user", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_GID),
        "--unshare-pid", "--unshare-ipc", "--unshare-cgroup-try",
        "--die-with-parent", "--new-session",
    ]


def _probe(bwrap: str) -> str | None:
    """Run an empty sandbox with every namespace and mount kind we use; the failure, if any."""
    true = shutil.which("true") or "/bin/true"
    argv = [
        bwrap, *_namespace_flags(), *system_binds(),
        "--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--size", "1048576", "--tmpfs", "/tmp",
        "--remount-ro", "/", "--", true,
    ]
    try:
        done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bwrap could not be run: {exc}"
    if done.returncode != 0:
        detail = done.stderr.decode("utf-8", "replace").strip().splitlines()
        return "bwrap cannot create a sandbox here: " + (detail[-1] if detail else f"exit status {done.returncode}")
    return None


# -- one sandbox -------------------------------------------------------------------------------


def _proc_anon_bytes(init_pid: int) -> int | None:
    """Sum of RssAnon of the processes of a pid namespace, read through its own /proc."""
    try:
        # Until bwrap has switched to the sandbox's root, /proc/<pid>/root/proc is the host's.
        if os.path.samestat(os.stat(f"/proc/{init_pid}/root"), os.stat("/")):
            return None
        root = f"/proc/{init_pid}/root/proc"
        names = [n for n in os.listdir(root) if n.isdigit()]
    except OSError:
        return None
    total = 0
    for name in names:
        try:
            with open(f"{root}/{name}/status", "rb") as fh:
                for line in fh:
                    if line.startswith(b"RssAnon:"):  # "RssAnon:\t    1234 kB"
                        total += int(line.split()[1]) * 1024
                        break
        except (OSError, ValueError, IndexError):
            continue
    return total


def _child_of(pid: int) -> int | None:
    """The first process whose parent is ``pid`` (the sandbox's pid 1 for a bwrap pid)."""
    try:
        entries = os.listdir("/proc")
    except OSError:
        return None
    for name in entries:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2:].split()
        if len(fields) > 1 and fields[1] == str(pid).encode():
            return int(name)
    return None


class _MemoryGuard:
    """One timer for every running sandbox: samples each one's memory every 50 ms."""

    def __init__(self) -> None:
        self._watched: set[SandboxProcess] = set()
        self._task: asyncio.Task[None] | None = None

    def watch(self, sandbox: SandboxProcess) -> None:
        self._watched.add(sandbox)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    def unwatch(self, sandbox: SandboxProcess) -> None:
        self._watched.discard(sandbox)

    async def _run(self) -> None:
        while self._watched:
            for sandbox in list(self._watched):
                sandbox.sample()
            await asyncio.sleep(GUARD_INTERVAL_S)

    def close(self) -> None:
        self._watched.clear()
        if self._task is not None:
            self._task.cancel()


class SandboxProcess(RuntimeProcess):
    """A running sandbox: the bwrap process (a ``ChildProcess``), its cgroup, its memory limit."""

    def __init__(self, child: ChildProcess, cgroup: EnvCgroup | None, memory_limit: int, guard: _MemoryGuard) -> None:
        self._child = child
        self._cgroup = cgroup
        self._limit = memory_limit
        self._guard = guard
        self._peak = 0
        self._sampled_at = 0.0
        self._oom = False
        self._ended = False
        self._ns_init: int | None = None
        guard.watch(self)

    @property
    def pid(self) -> int:
        return self._child.pid

    def _anon(self) -> int | None:
        if self._cgroup is not None:
            return self._cgroup.anon_bytes()
        if self._ns_init is None:
            self._ns_init = _child_of(self._child.pid)
            if self._ns_init is None:
                return None
        return _proc_anon_bytes(self._ns_init)

    def sample(self) -> None:
        """Record the anonymous memory in use; past MemorySize, stop the sandbox as AWS does
        (the invocation then ends with Runtime.OutOfMemory)."""
        if self._ended:
            return
        self._sampled_at = time.monotonic()
        anon = self._anon()
        if anon is None:
            return
        self._peak = max(self._peak, anon)
        if anon > self._limit:
            self._oom = True
            self.kill()

    async def wait(self) -> int:
        code = await self._child.wait()
        self._ended = True
        self._guard.unwatch(self)
        if self._cgroup is not None:
            if self._cgroup.oom_kills() > 0:
                self._oom = True
            self._cgroup.kill_all()
            await remove_cgroup(self._cgroup)
        # bwrap exits with 128+N when the runtime was killed by signal N: report the signal,
        # as the process executor does (Runtime.ExitError "signal: killed").
        if 128 < code < 160:
            code = -(code - 128)
        return code

    def kill(self) -> None:
        # bwrap's pid 1 dies with bwrap (--die-with-parent), and the kernel then kills every
        # process of the pid namespace; the cgroup catches anything that would escape.
        self._guard.unwatch(self)
        self._child.kill()
        if self._cgroup is not None:
            self._cgroup.kill_all()

    def max_memory_mb(self) -> int | None:
        # The guard's samples, refreshed here when older than 100 ms (warm invokes in a row
        # should not each pay a read).
        if time.monotonic() - self._sampled_at > 0.1:
            self.sample()
        return -(-self._peak // (1024 * 1024)) if self._peak else None

    def out_of_memory(self) -> bool:
        return self._oom


_COMMAND_VAR = "LOCALLAMBDA_SANDBOX_COMMAND"
# Inside the sandbox: run the command handed over (shell-quoted) in an environment variable,
# without leaving that variable to the runtime. bwrap takes its options from a pipe, but the
# command only from its own command line, which is fixed before the function is known.
_LAUNCH = f'c=${_COMMAND_VAR}; unset {_COMMAND_VAR}; eval "exec $c"'
_ENTER = 'while [ "$1" != -- ]; do echo $$ > "$1" || exit 125; shift; done; shift; exec "$@"'
# Moving a process into a cgroup waits for an RCU grace period (~10 ms on a busy host, measured
# on cgroup v1), so one launcher is kept waiting in a fresh cgroup and replaced as soon as used:
# the wait then falls between cold starts instead of inside one.


class _Launcher:
    """A bwrap started (in its cgroup) and blocked reading its arguments from a pipe."""

    def __init__(self, proc: asyncio.subprocess.Process, cgroup: EnvCgroup | None, args_fd: int) -> None:
        self.proc = proc
        self.cgroup = cgroup
        self._args_fd: int | None = args_fd

    def send(self, args: list[str]) -> None:
        """Hand bwrap its arguments (NUL-separated) and let it go.

        Raises ``ValueError`` for an argument holding a NUL (it would split into arguments of
        bwrap's own: an environment variable's value must never become a mount), ``OSError``
        when bwrap is gone.
        """
        encoded = [os.fsencode(a) for a in args]
        if any(b"\0" in a for a in encoded):
            raise ValueError("embedded null byte")
        fd, self._args_fd = self._args_fd, None
        assert fd is not None
        data = b"".join(a + b"\0" for a in encoded)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)

    async def dispose(self) -> None:
        """Kill it unused and remove its cgroup."""
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        if self._args_fd is not None:
            os.close(self._args_fd)
            self._args_fd = None
        await self.proc.wait()
        if self.cgroup is not None:
            await remove_cgroup(self.cgroup)


# -- the executor ------------------------------------------------------------------------------


class SandboxExecutor(Executor):
    name = "sandbox"
    # External extensions (/opt/extensions/*) start inside the sandbox, before the runtime.
    starts_extensions = True

    def __init__(
        self, commands: RuntimeCommands, settings: Settings, tasks: TaskScope, *, use_cgroups: bool = True
    ) -> None:
        """``use_cgroups=False`` skips cgroups even where they are writable (the memory limit is
        then only the sampling guard; tests use it to prove that path)."""
        self._commands = commands
        self._scope = tasks
        self._settings = settings
        self._use_cgroups = use_cgroups
        self._workdir: Path | None = None
        self._layout: HostLayout | None = None
        self._cgroups: CgroupTree | None = None
        self._problem: str | None = None
        self._ready: asyncio.Future[None] | None = None
        self._count = 0
        self._spare: _Launcher | None = None
        self._guard = _MemoryGuard()
        self._refilling = False
        self._closing = False
        self._tasks: set[asyncio.Task[None]] = set()

    @staticmethod
    def supported() -> str | None:
        """None when this host can run sandboxes, else the reason it cannot (runs bwrap once)."""
        if not sys.platform.startswith("linux"):
            return "the sandbox executor needs Linux namespaces"
        bwrap = shutil.which("bwrap")
        if bwrap is None:
            return "bubblewrap (bwrap) is not installed"
        return _probe(bwrap)

    async def _setup(self) -> str | None:
        """Probe bwrap, lay out the shared binds and find a cgroup tree, once; the problem if any."""
        if self._ready is None:
            self._ready = asyncio.get_running_loop().create_future()
            try:
                self._problem = await asyncio.to_thread(self._setup_blocking)
            except Exception as exc:  # any host surprise becomes the reason, not a crash
                self._problem = f"the sandbox could not be set up: {exc}"
            self._ready.set_result(None)
            if self._problem is None:
                self._refill()
        else:
            await asyncio.shield(self._ready)
        return self._problem

    def _setup_blocking(self) -> str | None:
        problem = self.supported()
        if problem is not None:
            return problem
        self._workdir = Path(tempfile.mkdtemp(prefix="locallambda-sandbox-"))
        self._layout = HostLayout(self._workdir)
        self._cgroups, how = CgroupTree.discover() if self._use_cgroups else (None, "cgroups not used")
        if self._cgroups is None:
            log.info("sandbox memory limit: %s; sampling each sandbox's memory instead", how)
        else:
            log.info("sandbox memory limit: %s", how)
        return None

    async def prepare(self, spec: FunctionSpec) -> str | None:
        problem = await self._setup()
        if problem is not None:
            return problem
        return await self._commands.check(spec)

    async def start(
        self, spec: FunctionSpec, runtime_api: str, environment: Mapping[str, str], output: OutputSink
    ) -> RuntimeProcess:
        problem = await self._setup()
        if problem is not None:
            raise ExecutorError(problem)
        layout = self._layout
        assert layout is not None
        if spec.code_dir is None:
            raise ExecutorError("The function has no code on this machine.")
        code_dir = str(spec.code_dir)
        layers = [str(p) for p in spec.layers]
        # Host path → path inside; longest first so that nested paths translate correctly.
        places = sorted([(code_dir, TASK_ROOT), *[(p, OPT) for p in layers]], key=lambda t: -len(t[0]))
        translate = path_translator(places)

        base = {
            "PATH": SANDBOX_PATH,
            "LD_LIBRARY_PATH": SANDBOX_LD_LIBRARY_PATH,
            "HOME": "/tmp",
            **environment,
            "LAMBDA_TASK_ROOT": TASK_ROOT,
        }
        try:
            argv, extra_env = await self._commands.command(
                spec, spec.code_dir, opt=spec.layers[0] if len(spec.layers) == 1 else None, base_env=base,
            )
        except InvalidEntrypointError as exc:
            raise InvalidEntrypointError(translate(str(exc))) from exc
        _check_entrypoint(argv, translate)
        if "PYTHONPYCACHEPREFIX" not in spec.environment:
            # A bytecode cache outside the sandbox would be invisible (every module, the standard
            # library's too, compiled again at each start) or a host directory writable by every
            # function. /var/task is read-only, as on AWS: the prebuilt __pycache__ of the
            # interpreter's own tree is used, the function's modules are compiled in memory.
            extra_env.pop("PYTHONPYCACHEPREFIX", None)
        env = {**base, **{k: translate(v) for k, v in extra_env.items()}, "LAMBDA_TASK_ROOT": TASK_ROOT}
        argv = [translate(a) for a in argv]
        shared = list(layout.shared)
        argv[0], exe_roots = await self._resolve(argv[0], env["PATH"])
        shared += exe_roots
        binds = argv_binds(argv[1:], [*layout.system_roots, *shared, TASK_ROOT, OPT])

        extensions = [translate(str(p)) for p in extension_commands(list(spec.layers))]
        command = with_extensions(argv, extensions, OPT) if extensions else argv

        # tmpfs pages are charged to the writer: /tmp must fit beside the function's memory.
        hard_limit = (spec.memory_mb + spec.ephemeral_mb) * 1024 * 1024
        args = [*layout.system, *layout.masks, "--proc", "/proc", "--dev", "/dev",
                "--perms", "1777", "--size", str(spec.ephemeral_mb * 1024 * 1024), "--tmpfs", "/tmp"]
        for path in minimal(shared):
            if os.path.exists(path) and not is_under(path, layout.system_roots):
                args += ["--ro-bind", path, path]
        args += binds
        args += ["--ro-bind", code_dir, TASK_ROOT]
        args += layer_binds(layers)
        args += ["--dir", "/var/runtime", "--remount-ro", "/", "--chdir", TASK_ROOT]
        for key, value in env.items():
            args += ["--setenv", key, value]
        args += ["--setenv", _COMMAND_VAR, shlex.join(command)]

        launcher, self._spare = self._spare, None
        if launcher is not None and launcher.proc.returncode is not None:
            self._background(launcher.dispose())
            launcher = None
        if launcher is None:
            launcher = await self._launch()
        elif not self._closing:
            # The next sandbox's launcher enters its cgroup while this one starts.
            asyncio.get_running_loop().call_soon(self._refill)
        if launcher.cgroup is not None:
            launcher.cgroup.set_limits(hard_limit, PIDS_MAX)
        try:
            launcher.send(args)
        except (OSError, ValueError) as exc:
            self._background(launcher.dispose())
            raise ExecutorError(f"Could not start the sandbox: {exc}") from exc
        return SandboxProcess(ChildProcess(launcher.proc, output, self._scope), launcher.cgroup, spec.memory_mb * 1024 * 1024, self._guard)

    def _background(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run ``coro`` on the loop, holding the task (the loop keeps only weak references)."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _launch(self) -> _Launcher:
        """A bwrap in a fresh cgroup (when there are cgroups), blocked until it is sent its
        arguments. Raises ``ExecutorError``."""
        assert self._layout is not None
        cgroup = None
        if self._cgroups is not None:
            self._count += 1
            cgroup = self._cgroups.create(f"env-{self._count}-{os.urandom(3).hex()}")
        read_fd, write_fd = os.pipe()
        # The namespaces are on bwrap's own command line (not among the arguments sent later):
        # a launcher that never receives them cannot run anything unconfined.
        argv = [self._layout.bwrap, *_namespace_flags(), "--args", str(read_fd), "--", "/bin/sh", "-c", _LAUNCH]
        if cgroup is not None:
            # The shell enters the cgroup(s) and becomes bwrap: everything it starts is inside.
            argv = ["/bin/sh", "-c", _ENTER, "sh", *cgroup.procs_files, "--", *argv]
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                cwd="/",
                env={},
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                pass_fds=(read_fd,),
            )
        except OSError as exc:
            os.close(write_fd)
            if cgroup is not None:
                cgroup.remove()
            raise ExecutorError(f"Could not start the sandbox: {exc}") from exc
        finally:
            os.close(read_fd)
        return _Launcher(proc, cgroup, write_fd)

    def _refill(self) -> None:
        if self._spare is not None or self._closing or self._refilling:
            return
        self._refilling = True

        async def refill() -> None:
            try:
                self._spare = await self._launch()
            except ExecutorError as exc:
                log.warning("no spare sandbox launcher: %s", exc)
            finally:
                self._refilling = False
            if self._closing and self._spare is not None:
                spare, self._spare = self._spare, None
                await spare.dispose()

        self._background(refill())

    async def _resolve(self, program: str, path: str) -> tuple[str, list[str]]:
        """The absolute host path of the runtime's program and the directories it needs."""
        assert self._layout is not None
        resolved = program
        if not program.startswith("/"):
            # The sandbox's PATH first (a layer's /opt/bin is not a host path), then the server's.
            found = shutil.which(program, path=path) or shutil.which(program, path=self._settings.host_path)
            if found is None:
                return program, []
            resolved = found
        if resolved.startswith((TASK_ROOT + "/", OPT + "/")):
            return resolved, []
        roots: list[str] = []
        for exe in {resolved, os.path.realpath(resolved)}:
            if not is_under(exe, self._layout.system_roots):
                roots.append(prefix_of(exe))
        if os.path.basename(resolved).startswith("python"):
            known = self._layout.known_python_roots(resolved)
            roots += known if known is not None else await asyncio.to_thread(self._layout.python_roots, resolved)
        return resolved, roots

    async def close(self) -> None:
        self._closing = True
        self._guard.close()
        if self._spare is not None:
            spare, self._spare = self._spare, None
            await spare.dispose()
        if self._cgroups is not None:
            await asyncio.to_thread(self._cgroups.close)
            self._cgroups = None
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None


def _check_entrypoint(argv: list[str], translate: Callable[[str], str]) -> None:
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
