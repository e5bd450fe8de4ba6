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

A Python function's next cold starts come from a spare sandbox made for it after its first one
(``zygotes.py``): its mounts, a zygote already waiting in it with awslambdaric imported, sent the
job at the cold start (~10 ms instead of ~70 ms, most of it the fresh interpreter's imports).

The sandbox's first process is a supervisor (``supervisor.py``) that starts the runtime (its
extensions first) and, after a reset, starts it again in the same sandbox: AWS keeps ``/tmp``
when it resets an environment after a timeout or a crash (lambda-runtime-environment.html,
"Failures during the invoke phase"), and this ``/tmp`` lives as long as the sandbox's namespaces.

The parts: ``probe.py`` (can this host do it; what the sandboxes share), ``command.py`` (the
runtime's command inside), ``mounts.py`` (the binds), ``args.py`` (bwrap's arguments, pure),
``launcher.py`` (the spare launcher), ``zygotes.py`` (spare sandboxes for Python),
``supervisor.py`` (the sandbox's first process), ``memory.py`` (the guard), ``process.py`` (a
running sandbox), and ``executors/cgroups.py`` (shared with the local executor). This class only connects them: ``prepare``, ``start``, ``close``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence

from locallambda.errors import ExecutorError
from locallambda.executors.base import Executor, OutputSink, RuntimeProcess
from locallambda.executors.extensions import with_extensions
from locallambda.executors.process import ChildProcess
from locallambda.executors.sandbox.args import sandbox_args
from locallambda.executors.sandbox.command import SandboxCommand, sandbox_command
from locallambda.executors.sandbox.launcher import PIDS_MAX, Launcher, LauncherPool
from locallambda.executors.sandbox.memory import MemoryGuard, cgroup_memory_limit
from locallambda.executors.sandbox.mounts import OPT, TASK_ROOT, argv_binds, layer_binds, own_path_binds
from locallambda.executors.sandbox.probe import SandboxHost, supported
from locallambda.executors.sandbox.process import SandboxProcess
from locallambda.executors.sandbox.supervisor import Supervisor, job_order, supervised
from locallambda.executors.sandbox.zygotes import SandboxZygotes, identity
from locallambda.executors.zygotes import ZYGOTE_PROGRAM, job, startup_variables
from locallambda.model.spec import FunctionSpec
from locallambda.model.tasks import TaskScope
from locallambda.runtimes.commands import RuntimeCommands
from locallambda.settings import Settings

__all__ = ["CLOSE_TIMEOUT_S", "SandboxExecutor"]

log = logging.getLogger(__name__)

# Bounds every wait of ``close``: the set-up still running, the guard, the spare launcher.
CLOSE_TIMEOUT_S = 5.0


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
        self._ready: asyncio.Task[str | None] | None = None
        self._host: SandboxHost | None = None
        self._launchers: LauncherPool | None = None
        self._zygotes: SandboxZygotes | None = None
        self._guard = MemoryGuard(tasks.child("memory"))
        self._closing = False

    @staticmethod
    def supported() -> str | None:
        """None when this host can run sandboxes, else the reason it cannot (runs bwrap once)."""
        return supported()

    async def _setup(self) -> str | None:
        """Probe bwrap, lay out the shared binds and find a cgroup tree, once; the problem if any.

        The set-up runs in the executor's scope: a caller that is cancelled does not cancel it
        for the others.
        """
        if self._ready is None:
            self._ready = self._scope.spawn(self._open(), name="sandbox set-up")
        return await asyncio.shield(self._ready)

    async def _open(self) -> str | None:
        try:
            opened = await asyncio.to_thread(self._open_host)
        except Exception as exc:  # any host surprise becomes the reason, not a crash
            return f"the sandbox could not be set up: {exc}"
        if isinstance(opened, str):
            return opened
        if self._closing:
            await asyncio.to_thread(opened.close)
            return "the sandbox executor is closed"
        self._host = opened
        self._launchers = LauncherPool(opened.layout.bwrap, opened.cgroups, self._scope.child("launchers"))
        if opened.cgroups is not None:
            self._zygotes = SandboxZygotes(opened.layout.bwrap, opened.cgroups, self._scope.child("sandbox zygotes"))
        self._launchers.refill()
        return None

    def _open_host(self) -> SandboxHost | str:
        """Blocking: what the sandboxes share, or why this host cannot run them."""
        problem = self.supported()
        if problem is not None:
            return problem
        return SandboxHost.open(use_cgroups=self._use_cgroups)

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
        host, launchers = self._host, self._launchers
        assert host is not None and launchers is not None
        if spec.code_dir is None:
            raise ExecutorError("The function has no code on this machine.")
        layout = host.layout
        command = await sandbox_command(
            self._commands, spec, spec.code_dir, environment, layout, self._settings.host_path
        )
        # The supervisor starts the extensions and the runtime, and starts them again after a reset.
        runtime = list(command.argv)
        if command.extensions:
            runtime = with_extensions(runtime, list(command.extensions), OPT)
        code_dir = str(spec.code_dir)

        def build(env: Mapping[str, str], argv: Sequence[str]) -> list[str]:
            return sandbox_args(
                system=layout.system,
                masks=layout.masks,
                ephemeral_mb=spec.ephemeral_mb,
                own_paths=own_path_binds(command.roots, layout.system_roots),
                argv_binds=argv_binds(list(command.argv[1:]), [*layout.system_roots, *command.roots, TASK_ROOT, OPT]),
                code_dir=code_dir,
                opt=layer_binds([str(p) for p in spec.layers]),
                env=env,
                argv=argv,
            )

        notice = self._commands.notice(spec)
        if notice is not None:
            output(notice.encode() + b"\n")
        if command.python_site is not None and self._zygotes is not None:
            made = await self._from_zygote(self._zygotes, spec, command, command.python_site, build, output)
            if made is not None:
                return made
        supervisor_argv, supervisor_env = supervised(runtime)
        args = build({**command.env, **supervisor_env}, supervisor_argv)
        launcher = await launchers.start(args, cgroup_memory_limit(spec.memory_mb, spec.ephemeral_mb))
        return self._running(spec, launcher, Supervisor(launcher.take_control()), output)

    async def _from_zygote(
        self,
        zygotes: SandboxZygotes,
        spec: FunctionSpec,
        command: SandboxCommand,
        site: str,
        build: Callable[[Mapping[str, str], Sequence[str]], list[str]],
        output: OutputSink,
    ) -> SandboxProcess | None:
        """The runtime started by the zygote of a spare sandbox (``zygotes.py``); None when there
        is none yet for this function, or it cannot be used."""
        argv = command.argv
        # The zygote's own variables are those an interpreter reads at its start; the job gives
        # it all of them, and it becomes the command (or execs it, where it cannot).
        zygote = [argv[0], "-u", "-S", "-c", ZYGOTE_PROGRAM, site, argv[4], "wait"]
        supervisor_argv, supervisor_env = supervised(zygote, spare=True)
        args = build({**dict(startup_variables(command.env)), **supervisor_env}, supervisor_argv)
        key = (*args, *identity([str(spec.code_dir), *(str(p) for p in spec.layers)]))
        try:
            # The supervisor's shell exports PWD (its directory, /var/task) to what it starts.
            data = job(argv, TASK_ROOT, {**command.env, "PWD": TASK_ROOT})
            launcher = await zygotes.take(key, args)
        except (OSError, ValueError) as exc:
            log.warning("no spare sandbox for %s: %s", spec.name, exc)
            return None
        if launcher is None:
            return None
        supervisor = Supervisor(launcher.take_control(), job_order(data))
        try:
            if launcher.cgroup is not None:
                launcher.cgroup.set_limits(cgroup_memory_limit(spec.memory_mb, spec.ephemeral_mb), PIDS_MAX)
            launcher.send_job(data)
        except OSError as exc:
            log.warning("a spare sandbox of %s could not be used: %s", spec.name, exc)
            supervisor.close()
            zygotes.discard(launcher)
            return None
        return self._running(spec, launcher, supervisor, output)

    def _running(
        self, spec: FunctionSpec, launcher: Launcher, supervisor: Supervisor, output: OutputSink
    ) -> SandboxProcess:
        child = ChildProcess(launcher.proc, output, self._scope)
        return SandboxProcess(
            child, supervisor, launcher.cgroup, spec.memory_mb * 1024 * 1024, self._guard, self._scope
        )

    async def close(self) -> None:
        """Stop the guard, dispose of the spare launcher, remove the cgroup tree and the work
        directory; each wait bounded by ``CLOSE_TIMEOUT_S``. Called once, after every kill."""
        self._closing = True
        if self._ready is not None and not self._ready.done():
            await asyncio.wait([self._ready], timeout=CLOSE_TIMEOUT_S)
        await self._guard.close(CLOSE_TIMEOUT_S)
        if self._launchers is not None:
            await self._launchers.close(CLOSE_TIMEOUT_S)
        if self._zygotes is not None:
            await self._zygotes.close(CLOSE_TIMEOUT_S)
        host, self._host = self._host, None
        if host is not None:
            await asyncio.to_thread(host.close)
