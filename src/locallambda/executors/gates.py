"""Gates: shells waiting in a fresh cgroup for the command of a local environment.

The runtime of a local environment must be in its cgroup before it can fork, so it starts
through a gate: ``/bin/sh`` that writes its own pid into the cgroup's ``cgroup.procs``, then
sources the rest of its script from its stdin, a pipe (``gate_script``: stdin from /dev/null, the
code directory, the environment, ``exec`` of the runtime; same pid, same output pipe). Moving a
process into a cgroup waits for an RCU grace period: a gate made at the cold start added 13-16 ms
to its median here (cgroup v1, 2 CPUs), as the sandbox's launchers found. So one gate is kept
waiting in a fresh cgroup and replaced as soon as it is used: the wait and the fork fall between
cold starts, and a cold start costs writing the script. The first cold start, and each one of a
burst beyond the spare, makes its gate then.

A gate whose server is gone reads EOF and exits; one never used is killed and its cgroup removed
(``GatePool.close``). ``exec_problem`` says beforehand what ``execve`` would refuse: the gate's
shell would only print it, or run a file without ``#!`` as a script.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import shlex
import shutil
import stat
from collections.abc import Mapping, Sequence
from pathlib import Path

from locallambda.executors.cgroups import CgroupTree, EnvCgroup
from locallambda.executors.spares import SparePool, Waiting, start_waiting
from locallambda.model.tasks import TaskScope

__all__ = ["Gate", "GatePool", "exec_problem", "gate_script"]

log = logging.getLogger(__name__)

# Enter each cgroup named (a failed move is said in the function's output; the function runs all
# the same), then source the script that arrives on stdin.
_GATE = (
    'for f; do { echo $$ > "$f"; } 2>/dev/null || echo "locallambda: this environment could not enter'
    ' its cgroup ($f): processes it detaches may outlive it" >&2; done; . /dev/fd/0'
)
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def gate_script(argv: Sequence[str], cwd: str, env: Mapping[str, str]) -> bytes | None:
    """What a gate sources: ``argv`` exec'd in ``cwd`` with exactly ``env``; None when a variable's
    name is one the shell cannot export.

    Raises ``ValueError`` for a NUL, as exec would ("embedded null byte").
    """
    if any("\0" in s for s in (*argv, cwd, *env, *env.values())):
        raise ValueError("embedded null byte")
    if not all(_NAME.fullmatch(name) for name in env):
        return None
    # stdin was the script's pipe; the shell's cd would add PWD and OLDPWD to the environment.
    lines = ["exec </dev/null", f"cd {shlex.quote(cwd)} || exit 126", "unset OLDPWD PWD"]
    lines += [f"export {name}={shlex.quote(value)}" for name, value in env.items()]
    lines.append("exec " + " ".join(shlex.quote(a) for a in argv))
    return os.fsencode("\n".join(lines) + "\n")


def _binfmt_misc() -> bool:
    """Whether handlers of other executable formats are registered (then the kernel decides)."""
    try:
        return any(n not in ("register", "status") for n in os.listdir("/proc/sys/fs/binfmt_misc"))
    except OSError:
        return False


def _exec_error(target: str, depth: int = 0) -> int | None:
    try:
        info = os.stat(target)
    except OSError as exc:
        return exc.errno or errno.ENOENT
    if not stat.S_ISREG(info.st_mode) or not os.access(target, os.X_OK):
        return errno.EACCES
    try:
        with open(target, "rb") as fh:
            head = fh.read(256)
    except OSError:
        return None  # executable but not readable: the kernel may still run it
    if head.startswith(b"\x7fELF"):
        return None
    if head.startswith(b"#!"):
        words = head[2:].split(b"\n", 1)[0].split()
        if not words:
            return errno.ENOEXEC
        # Linux follows up to 4 interpreters that are scripts themselves.
        return _exec_error(os.fsdecode(words[0]), depth + 1) if depth < 4 else errno.ELOOP
    return None if _binfmt_misc() else errno.ENOEXEC


def exec_problem(program: str, path: str | None, cwd: Path) -> int | None:
    """The errno with which ``execve`` would refuse ``program`` in ``cwd`` (looked up on ``path``
    when it names no directory), as ``subprocess`` would have raised it; None when it would not."""
    if not cwd.is_dir():
        return errno.ENOENT
    if "/" not in program:
        found = shutil.which(program, path=path or os.defpath)
        return errno.ENOENT if found is None else _exec_error(found)
    return _exec_error(str(cwd / program))


class Gate(Waiting):
    """A shell started in its cgroup, blocked reading its script (``gate_script``) from a pipe."""

    what = "gate"
    cgroup: EnvCgroup


class GatePool(SparePool[Gate]):
    """One spare gate, made after the first is used and replaced as soon as it is taken.
    ``take`` raises ``OSError`` when no gate can be started (no cgroup can be made: ``ENOSPC``)."""

    def __init__(self, tree: CgroupTree, scope: TaskScope) -> None:
        super().__init__(self._new, scope, "gate")
        self._tree = tree
        self._count = 0

    async def _new(self) -> Gate:
        """A gate in a fresh cgroup, blocked until it is sent its script. Raises ``OSError``."""
        self._count += 1
        proc, cgroup, write_fd = await start_waiting(
            self._tree, f"env-{self._count}", lambda c: ["/bin/sh", "-c", _GATE, "sh", *c.procs_files], {}
        )
        return Gate(proc, cgroup, write_fd)
