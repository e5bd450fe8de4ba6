"""Zygotes: spare Python interpreters, the runtime client's imports done, waiting in a fresh
cgroup for the function they are to become (the local executor's Python cold starts).

A Python environment starts as ``python -u -S -c <bootstrap> <handler>`` (``runtimes/commands.py``):
the interpreter's start and the imports of awslambdaric and what it needs (json, logging,
decimal, simplejson, the C runtime client...) were two thirds of a cold start. A zygote is that
interpreter started ahead, in its cgroup, with those imports done; at the cold start it is sent
the command, directory and environment (``job``), and becomes what a fresh interpreter would be:

- the environment replaced by exactly the function's (``environ``, so ``putenv`` too) and what
  the interpreter adds at its start (``LC_CTYPE`` when it coerces a C locale), its directory
  entered, stdin from /dev/null (as a gate's script does);
- ``sys.path`` as ``-S -c`` with that ``PYTHONPATH`` gives it ('' first, then ``PYTHONPATH``, then
  the standard library); ``PYTHONPYCACHEPREFIX`` and ``PYTHONDONTWRITEBYTECODE`` applied to
  ``sys``; ``sys.argv`` as ``-c`` leaves it;
- awslambdaric's ``bootstrap``, ``__main__`` and ``lambda_runtime_client`` are imported again
  after that (``bootstrap`` reads ``AWS_LAMBDA_LOG_FORMAT`` and ``AWS_LAMBDA_LOG_LEVEL`` when
  imported; ``runtime_client``, the transport, reads the Runtime API's address when it is made, so
  it is not made ahead: the bootstrap program registers ours, ``runtimes/python/runtime_client.py``,
  and awslambdaric's C one, never loaded here, is kept from loading while the zygote imports); its
  other modules, which read nothing of the environment when imported, are kept (``_KEPT_IN``);
- the bootstrap program runs in ``__main__`` as ``-c`` runs it, compiled ahead when it is the one
  the zygote was made for (that of the pool's first cold start); the import system's finders of
  the directories the zygote looked in are kept (each lists its directory again when it changes),
  the function's own directories get new ones.

Where that would not be the same, the zygote ``exec``s the command instead (same pid, cgroup and
output pipe: an ordinary cold start): when a variable read at interpreter start differs from the
zygote's own (``PYTHON*`` but the three applied, the locale's, ``TZ``, the dynamic loader's; the
server keeps a zygote per set of them), when the command is not the bootstrap's shape, or when the
code directory or a ``PYTHONPATH`` entry holds a name that the zygote imported ahead (a function's
own ``simplejson`` or ``logging.py`` would be imported in a fresh interpreter, not the zygote's).

A cold start that finds no spare ready (still importing, or taken) gets a fork of the pool's
fork server instead (``forkserver.py``), started by the first such cold start.

Init Duration stays what it measures: from the cold start's command to the runtime's first
``/next``; the zygote's own start and imports happened before, while no invocation waited.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import os
import time
from collections.abc import Callable, Mapping, Sequence

from locallambda.executors.cgroups import CgroupTree, EnvCgroup
from locallambda.executors.forkserver import ForkServer
from locallambda.executors.spares import DISPOSE_TIMEOUT_S, SparePool, Waiting, start_waiting
from locallambda.executors.spawn import Child
from locallambda.model.tasks import TaskScope

__all__ = ["BURST_S", "Zygote", "Zygotes", "startup_variables", "zygote_shape"]

# How long after a cold start that found no spare ready the spares are forked (forkserver.py).
BURST_S = 1.0

_APPLIED = frozenset({"PYTHONPATH", "PYTHONPYCACHEPREFIX", "PYTHONDONTWRITEBYTECODE"})
_STARTUP_NAMES = frozenset({"LANG", "LANGUAGE", "TZ", "GLIBC_TUNABLES"})
_STARTUP_PREFIXES = ("PYTHON", "LC_", "LD_", "MALLOC_")

# The zygote: argv is [site, the program it will likely run, "wait" or "fork" (with "=<fd>": a
# pipe it closes once its imports are done), cgroup.procs files...]. Its names are all inside one function, so that ``__main__`` is left empty for the
# program it runs.
_ZYGOTE = r"""
def _zygote():
    import os, sys
    from os import environ  # the function's process, not the server's
    def enter(files):
        for f in files:
            try:
                with open(f, "w") as fh:
                    fh.write(str(os.getpid()))
            except OSError:
                os.write(2, ("locallambda: this environment could not enter its cgroup (%s): processes it"
                             " detaches may outlive it\n" % f).encode())
    enter(sys.argv[4:])
    def serve():
        # A fork server (forkserver.py): stdin is a socket of the server's; each message asks for
        # a child, its stdin and output the two descriptors it carries, its cgroup.procs files in
        # its text. Answers: "forked <pid>", and "exit <pid> <code>" once it has been reaped.
        import _socket, _signal
        ctl = _socket.socket(fileno=os.dup(0))
        def say(line):
            try:
                ctl.send(line.encode())
            except OSError:
                os._exit(0)  # the server is gone
        def reap(signum, frame):
            while True:
                try:
                    pid, status = os.waitpid(-1, os.WNOHANG)
                except ChildProcessError:
                    return
                if not pid:
                    return
                say("exit %d %d" % (pid, os.waitstatus_to_exitcode(status)))
        _signal.signal(_signal.SIGCHLD, reap)
        while True:
            msg, ancillary, _, _ = ctl.recvmsg(65536, _socket.CMSG_SPACE(8))
            if not msg:
                os._exit(0)
            fds = [int.from_bytes(data[i:i + 4], sys.byteorder)
                   for _, _, data in ancillary for i in range(0, len(data) // 4 * 4, 4)]
            if len(fds) != 2:
                for fd in fds:
                    os.close(fd)
                say("refused")
                continue
            pid = os.fork()
            if not pid:
                _signal.signal(_signal.SIGCHLD, _signal.SIG_DFL)
                ctl.close()
                os.dup2(fds[0], 0)
                os.dup2(fds[1], 1)
                os.dup2(fds[1], 2)
                for fd in fds:
                    os.close(fd)
                os.setsid()
                return msg.decode().split("\n")[1:]
            for fd in fds:
                os.close(fd)
            say("forked %d" % pid)
    initial = list(sys.path)
    before = set(sys.modules)
    sys.path.append(sys.argv[1])
    class NotYet:
        @staticmethod
        def find_spec(name, path=None, target=None):
            if name == "runtime_client":
                raise ImportError("imported after the zygote's fork")
            return None
    sys.meta_path.insert(0, NotYet)
    try:
        import awslambdaric.bootstrap, awslambdaric.__main__, awslambdaric.lambda_config, runpy, importlib.machinery
        import _socket, binascii, zlib  # our runtime_client's
    except Exception:
        pass
    sys.meta_path.remove(NotYet)
    sys.path[:] = initial
    package = sys.modules.get("awslambdaric")
    keep = getattr(package, "__version__", None) in KEPT_IN
    for name in [n for n in sys.modules if n == "awslambdaric" or n.startswith("awslambdaric.")]:
        if not keep or name in FRESH:
            del sys.modules[name]
            if keep:
                vars(package).pop(name.rpartition(".")[2], None)  # else "from . import bootstrap" takes it
    # The program of the cold start that made this zygote's pool, compiled ahead: the next ones
    # likely run the same (a process's first compile also costs ~2 ms more than the next ones).
    likely = sys.argv[2]
    ahead_code = compile(likely, "<string>", "exec")
    ahead = {n.partition(".")[0] for n in set(sys.modules) - before}
    import json
    mode, _, ready = sys.argv[3].partition("=")
    if ready:
        os.close(int(ready))  # tells the server that this zygote is ready
    if mode == "fork":
        enter(serve())  # in each child: its cgroup
    chunks = []
    while True:
        chunk = os.read(0, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    if not chunks:
        os._exit(0)
    job = json.loads(b"".join(chunks))
    argv, env, cwd = job["argv"], job["env"], job["cwd"]
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    try:
        os.chdir(cwd)
    except OSError as exc:
        os.write(2, ("locallambda: cannot enter %s: %s\n" % (cwd, exc.strerror)).encode())
        os._exit(126)
    startup = STARTUP
    # The zygote was given the command's startup variables; what else it has of them, the
    # interpreter added (LC_CTYPE, when it coerced a C locale), as a fresh one would.
    born = {k: v for k, v in environ.items() if startup(k)}
    same = all(born.get(k) == v for k, v in env.items() if startup(k))
    paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    def shadows(directory):
        try:
            names = os.listdir(directory or ".")
        except OSError:
            return False
        return any(n.partition(".")[0] in ahead for n in names)
    shaped = len(argv) == 6 and argv[1:4] == ["-u", "-S", "-c"] and argv[0] == sys.executable
    if not (same and shaped) or any(shadows(d) for d in ["", *paths]):
        os.execvpe(argv[0], argv, env)
    environ.clear()
    environ.update(env)
    for k, v in born.items():
        environ.setdefault(k, v)
    sys.path[:] = [initial[0], *paths, *initial[1:]]
    # The finders of the directories this zygote looked in stay (each lists its directory again
    # when its mtime changes); the function's own ('' is its directory, then PYTHONPATH) are new.
    for known in [k for k in sys.path_importer_cache if k not in initial[1:] and k != sys.argv[1]]:
        del sys.path_importer_cache[known]
    sys.pycache_prefix = env.get("PYTHONPYCACHEPREFIX") or None
    sys.dont_write_bytecode = bool(env.get("PYTHONDONTWRITEBYTECODE"))
    sys.argv[:] = ["-c", argv[5]]
    main = sys.modules["__main__"].__dict__
    for name in [n for n in main if not (n.startswith("__") and n.endswith("__"))]:
        del main[name]
    exec(ahead_code if argv[4] == likely else compile(argv[4], "<string>", "exec"), main)
_zygote()
"""


# Whether a variable is read at interpreter start: one text, the zygote program's and ours.
_STARTUP_SOURCE = f"lambda k: k not in {sorted(_APPLIED)!r} and (k in {sorted(_STARTUP_NAMES)!r} or k.startswith({_STARTUP_PREFIXES!r}))"
_is_startup: Callable[[str], bool] = eval(_STARTUP_SOURCE)  # a constant text, built above
# awslambdaric's modules but these read nothing of the environment when imported (read for its
# releases 3.0.0 to 4.2.2: their module-level code is constants, classes and imports; bootstrap
# reads AWS_LAMBDA_LOG_FORMAT/LEVEL, lambda_runtime_client makes the transport): the zygote keeps
# them for those releases and imports the three after the job; of another release, it imports all.
_FRESH = ("awslambdaric.bootstrap", "awslambdaric.__main__", "awslambdaric.lambda_runtime_client")
_KEPT_IN = (
    "3.0.0",
    "3.0.1",
    "3.0.2",
    "3.1.0",
    "3.1.1",
    "4.0.0",
    "4.0.1",
    "4.0.2",
    "4.0.3",
    "4.0.4",
    "4.1.0",
    "4.2.0",
    "4.2.1",
    "4.2.2",
)
ZYGOTE_PROGRAM = (
    _ZYGOTE.replace("startup = STARTUP", f"startup = {_STARTUP_SOURCE}")
    .replace("in KEPT_IN", f"in {_KEPT_IN!r}")
    .replace("in FRESH", f"in {_FRESH!r}")
)


def startup_variables(env: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """The variables of ``env`` an interpreter reads when it starts (a zygote's own environment)."""
    return tuple(sorted((k, v) for k, v in env.items() if _is_startup(k)))


def zygote_shape(argv: Sequence[str]) -> bool:
    """Whether ``argv`` is the Python bootstrap's command a zygote can become."""
    return len(argv) == 6 and list(argv[1:4]) == ["-u", "-S", "-c"]


class Zygote(Waiting):
    """An interpreter in its cgroup blocked reading its job from a pipe, its imports done once
    ``ready`` (``ready_fd``: the read end of a pipe whose other end it closes then)."""

    what = "zygote"
    cgroup: EnvCgroup

    def __init__(self, proc: Child, cgroup: EnvCgroup, input_fd: int, ready_fd: int | None = None) -> None:
        super().__init__(proc, cgroup, input_fd)
        self._ready_fd = ready_fd
        if ready_fd is not None:
            os.set_blocking(ready_fd, False)

    @property
    def ready(self) -> bool:
        fd = self._ready_fd
        if fd is None:
            return True
        try:
            if os.read(fd, 1):
                return False  # nothing writes there: not ready, as far as we know
        except BlockingIOError:
            return False
        except OSError:
            pass
        self._ready_fd = None
        os.close(fd)
        return True

    def kill(self) -> None:
        super().kill()
        if self._ready_fd is not None:
            os.close(self._ready_fd)
            self._ready_fd = None


def job(argv: Sequence[str], cwd: str, env: Mapping[str, str]) -> bytes:
    """What a zygote reads. Raises ``ValueError`` for a NUL, as exec would."""
    if any("\0" in s for s in (*argv, cwd, *env, *env.values())):
        raise ValueError("embedded null byte")
    return json.dumps({"argv": list(argv), "cwd": cwd, "env": dict(env)}).encode()


Key = tuple[str, str, tuple[tuple[str, str], ...]]  # interpreter, its awslambdaric's directory, startup variables


class Zygotes:
    """A spare zygote per (interpreter, its awslambdaric's directory, startup variables), made
    after the first cold start that could have used one and replaced as soon as it is taken:
    forked by that key's fork server (``forkserver.py``), started with the first spare."""

    def __init__(self, tree: CgroupTree, scope: TaskScope) -> None:
        self._tree = tree
        self._scope = scope
        self._pools: dict[Key, SparePool[Zygote]] = {}
        self._servers: dict[Key, asyncio.Task[ForkServer]] = {}
        self._burst_until: dict[Key, float] = {}
        self._count = 0

    async def take(self, argv: Sequence[str], site: str, env: Mapping[str, str]) -> Zygote | None:
        """A zygote for this command, or None the first time (one is made for the next).
        Raises ``OSError`` when one cannot be started."""
        key = (argv[0], site, startup_variables(env))
        pool = self._pools.get(key)
        if pool is None:
            program = argv[4]
            pool = self._pools[key] = SparePool(
                lambda: self._new(key, program),
                self._scope.child("zygotes"),
                "zygote",
                make_now=lambda: self._fork(key, program),
            )
            pool.refill()
            return None
        return await pool.take()

    def discard(self, zygote: Zygote) -> None:
        zygote.kill()
        self._scope.spawn(zygote.dispose(), name=f"dispose of zygote {zygote.proc.pid}")

    async def _new(self, key: Key, program: str) -> Zygote:
        """The spare of the pool of ``key``: forked while cold starts find none ready (a burst),
        else started from scratch (a fork's first moments copy the pages it writes: ~2.5 ms
        more of Init Duration here). Raises ``OSError``."""
        server = self._ready_server(key)
        if server is not None and time.monotonic() < self._burst_until.get(key, 0.0):
            return await self._forked(server)
        python, site, startup = key
        self._count += 1
        ready_read, ready_write = os.pipe()
        try:
            proc, cgroup, write_fd = await start_waiting(
                self._tree,
                f"zygote-{self._count}",
                lambda c: [
                    python,
                    "-u",
                    "-S",
                    "-c",
                    ZYGOTE_PROGRAM,
                    site,
                    program,
                    f"wait={ready_write}",
                    *c.procs_files,
                ],
                dict(startup),
                pass_fds=(ready_write,),
            )
        except BaseException:
            os.close(ready_read)
            raise
        finally:
            os.close(ready_write)
        return Zygote(proc, cgroup, write_fd, ready_read)

    async def _fork(self, key: Key, program: str) -> Zygote:
        """A zygote for a cold start that found no spare ready: a fork of the fork server of
        ``key``, once one is up (the first such cold start starts it, and one from scratch).
        Raises ``OSError``."""
        self._burst_until[key] = time.monotonic() + BURST_S
        server = self._ready_server(key)
        if server is None:
            started = self._servers.get(key)
            if started is None:
                python, site, startup = key
                argv = [python, "-u", "-S", "-c", ZYGOTE_PROGRAM, site, program, "fork"]
                started = self._servers[key] = self._scope.spawn(
                    ForkServer.start(self._tree, "zygote-forks", argv, dict(startup)), name="zygote fork server"
                )
            # Its first answers wait for its imports: those of one interpreter, not one each.
            with contextlib.suppress(OSError):
                server = await asyncio.shield(started)
        if server is not None and server.alive:
            with contextlib.suppress(OSError):
                return await self._forked(server)
        return await self._new(key, program)

    def _ready_server(self, key: Key) -> ForkServer | None:
        """The fork server of ``key`` when it is up; one that ended is disposed of (the next
        burst starts another)."""
        started = self._servers.get(key)
        if started is None or not started.done():
            return None  # not yet started, or starting: its answers would wait for its imports
        server = None if started.cancelled() or started.exception() else started.result()
        if server is not None and server.alive:
            return server
        del self._servers[key]
        if server is not None:
            self._scope.spawn(server.dispose(DISPOSE_TIMEOUT_S), name="dispose of a zygote fork server")
        return None

    async def _forked(self, server: ForkServer) -> Zygote:
        self._count += 1
        cgroup = self._tree.create(f"zygote-{self._count}-{os.urandom(3).hex()}")
        if cgroup is None:
            raise OSError(errno.ENOSPC, "no cgroup could be made")
        try:
            child, job_fd = await server.fork(cgroup)
        except BaseException:
            cgroup.remove()
            raise
        return Zygote(child, cgroup, job_fd)

    async def close(self, timeout_s: float) -> None:
        """Dispose of the spares, then of the fork servers (which report the spares' exits)."""
        for pool in list(self._pools.values()):
            await pool.close(timeout_s)
        self._pools.clear()
        servers, self._servers = list(self._servers.values()), {}
        for started in servers:
            if not started.done():
                await asyncio.wait([started], timeout=timeout_s)
            if started.done() and not started.cancelled() and started.exception() is None:
                await started.result().dispose(timeout_s)
