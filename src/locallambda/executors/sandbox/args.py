"""The bwrap command lines of the sandbox executor, as pure functions of their inputs.

Nothing here looks at the host or starts a process: the binds that depend on the host's file
system come in already computed (``mounts.py``), so every function can be tested without bwrap.

- ``launcher_argv``: the command line a launcher is started with, before the function is known.
  It holds the namespaces (so a launcher that never receives its arguments cannot run anything
  unconfined) and, with cgroups, a shell that first enters the sandbox's cgroup(s).
- ``sandbox_args``: what a launcher is then sent through its ``--args`` pipe: the mounts, the
  working directory, the environment and the runtime's command (AWS starts external extensions
  before the runtime, from ``/opt``: runtimes-extensions-api.html).
- ``args_payload``: those arguments as bwrap reads them (NUL-separated).
- ``probe_argv``: the empty sandbox that tells whether bwrap works on this host.
"""

from __future__ import annotations

import logging
import os
import shlex
from collections.abc import Mapping, Sequence

from locallambda.executors.extensions import with_extensions
from locallambda.executors.sandbox.mounts import OPT, SANDBOX_GID, SANDBOX_UID, TASK_ROOT

__all__ = [
    "COMMAND_VAR",
    "args_payload",
    "launcher_argv",
    "namespace_flags",
    "probe_argv",
    "sandbox_args",
]

log = logging.getLogger(__name__)

COMMAND_VAR = "LOCALLAMBDA_SANDBOX_COMMAND"
# Inside the sandbox: run the command handed over (shell-quoted) in an environment variable,
# without leaving that variable to the runtime. bwrap takes its options from a pipe, but the
# command only from its own command line, which is fixed before the function is known.
_LAUNCH = f'c=${COMMAND_VAR}; unset {COMMAND_VAR}; eval "exec $c"'
# Outside: write its own pid into each cgroup.procs file named before "--", then become the
# command after it (bwrap), so that everything the sandbox starts is inside the cgroup(s).
_ENTER = 'while [ "$1" != -- ]; do echo $$ > "$1" || exit 125; shift; done; shift; exec "$@"'


def namespace_flags() -> list[str]:
    """AWS's user (uid 993, gid 990) in a user namespace without capabilities; a pid and an IPC
    namespace; a cgroup namespace where the kernel has one; dying with the server; a session of
    its own. The network namespace stays the host's (the Runtime API is on 127.0.0.1)."""
    return [
        "--unshare-user",
        "--uid",
        str(SANDBOX_UID),
        "--gid",
        str(SANDBOX_GID),
        "--unshare-pid",
        "--unshare-ipc",
        "--unshare-cgroup-try",
        "--die-with-parent",
        "--new-session",
    ]


def launcher_argv(bwrap: str, args_fd: int, procs_files: Sequence[str] = ()) -> list[str]:
    """The command line of a launcher: bwrap with the namespaces, reading the rest of its
    arguments from ``args_fd``; entering the cgroups of ``procs_files`` first, when given."""
    argv = [bwrap, *namespace_flags(), "--args", str(args_fd), "--", "/bin/sh", "-c", _LAUNCH]
    if procs_files:
        argv = ["/bin/sh", "-c", _ENTER, "sh", *procs_files, "--", *argv]
    return argv


def sandbox_args(
    *,
    system: Sequence[str],
    masks: Sequence[str],
    ephemeral_mb: int,
    own_paths: Sequence[str],
    argv_binds: Sequence[str],
    code_dir: str,
    opt: Sequence[str],
    env: Mapping[str, str],
    argv: Sequence[str],
    extensions: Sequence[str] = (),
) -> list[str]:
    """The arguments a launcher is sent, in the order bwrap applies them.

    ``system`` and ``masks`` are the host layout's binds (system directories read-only, private
    ``/etc`` entries masked); ``own_paths`` the binds of host directories the runtime needs at
    their own path; ``argv_binds`` those of host files its command line names; ``opt`` the
    binds that make ``/opt`` (``mounts.layer_binds``). ``env`` and ``argv`` are already named as
    inside the sandbox; ``extensions`` (``/opt/extensions/*``) start before ``argv``.
    """
    command = with_extensions(list(argv), list(extensions), OPT) if extensions else list(argv)
    # A private /tmp of EphemeralStorage, world-writable and sticky as on AWS.
    args = [*system, *masks, "--proc", "/proc", "--dev", "/dev"]
    args += ["--perms", "1777", "--size", str(ephemeral_mb * 1024 * 1024), "--tmpfs", "/tmp"]
    args += own_paths
    args += argv_binds
    args += ["--ro-bind", code_dir, TASK_ROOT]
    args += opt
    # The root is made read-only once built: /var/task, /opt and everything else but /tmp.
    args += ["--dir", "/var/runtime", "--remount-ro", "/", "--chdir", TASK_ROOT]
    for key, value in env.items():
        args += ["--setenv", key, value]
    args += ["--setenv", COMMAND_VAR, shlex.join(command)]
    return args


def args_payload(args: Sequence[str]) -> bytes:
    """``args`` as bwrap's ``--args`` reads them: each one followed by a NUL.

    Raises ``ValueError`` ("embedded null byte") for an argument holding a NUL: it would split
    into arguments of bwrap's own, and an environment variable's value must never become a mount.
    """
    encoded = [os.fsencode(a) for a in args]
    if any(b"\0" in a for a in encoded):
        raise ValueError("embedded null byte")
    return b"".join(a + b"\0" for a in encoded)


def probe_argv(bwrap: str, system: Sequence[str], true: str) -> list[str]:
    """An empty sandbox with every namespace and mount kind the executor uses, running ``true``."""
    return [
        bwrap,
        *namespace_flags(),
        *system,
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--perms",
        "1777",
        "--size",
        "1048576",
        "--tmpfs",
        "/tmp",
        "--remount-ro",
        "/",
        "--",
        true,
    ]
