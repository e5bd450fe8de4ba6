"""Unit tests of the sandbox executor's bwrap command lines (executors/sandbox/args.py), without bwrap.

What a launcher is started with (the namespaces, entering its cgroups), what it is then sent (the
read-only /var/task and /opt, a /tmp of EphemeralStorage, the environment, the working directory,
the runtime's command with its extensions first), and the NUL-separated form bwrap reads.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from locallambda.executors.extensions import with_extensions
from locallambda.executors.sandbox.args import (
    COMMAND_VAR,
    args_payload,
    launcher_argv,
    namespace_flags,
    probe_argv,
    sandbox_args,
)
from locallambda.executors.sandbox.memory import cgroup_memory_limit
from locallambda.executors.sandbox.mounts import code_translator, layer_binds

SYSTEM = ["--ro-bind", "/usr", "/usr", "--ro-bind", "/etc", "/etc", "--symlink", "usr/bin", "/bin"]
MASKS = ["--ro-bind", "/work/empty", "/etc/shadow", "--ro-bind", "/work/passwd", "/etc/passwd"]
ARGV = ["/venv/bin/python", "-m", "awslambdaric", "handler.handler"]
ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "AWS_REGION": "us-east-1",
    "LAMBDA_TASK_ROOT": "/var/task",
}


def build(
    *,
    ephemeral_mb: int = 512,
    own_paths: Sequence[str] = ("--ro-bind", "/venv", "/venv"),
    argv_binds: Sequence[str] = (),
    opt: Sequence[str] = ("--dir", "/opt"),
    env: Mapping[str, str] = ENV,
    argv: Sequence[str] = ARGV,
    extensions: Sequence[str] = (),
) -> list[str]:
    return sandbox_args(
        system=SYSTEM,
        masks=MASKS,
        ephemeral_mb=ephemeral_mb,
        own_paths=own_paths,
        argv_binds=argv_binds,
        code_dir="/store/code/abc",
        opt=opt,
        env=env,
        argv=argv,
        extensions=extensions,
    )


def triples(args: list[str], option: str) -> list[tuple[str, str]]:
    """The (source, destination) pairs of every ``option source destination`` in ``args``."""
    return [(args[i + 1], args[i + 2]) for i, a in enumerate(args) if a == option]


def index_of(args: list[str], *sequence: str) -> int:
    """Where ``sequence`` starts in ``args`` (as consecutive arguments); fails when absent."""
    for i in range(len(args) - len(sequence) + 1):
        if tuple(args[i : i + len(sequence)]) == sequence:
            return i
    raise AssertionError(f"{sequence} not in {args}")


def setenvs(args: list[str]) -> list[tuple[str, str]]:
    return triples(args, "--setenv")


# -- the files ---------------------------------------------------------------------------------


def test_code_is_bound_read_only_at_var_task() -> None:
    args = build()
    assert ("/store/code/abc", "/var/task") in triples(args, "--ro-bind")
    assert ("/store/code/abc", "/var/task") not in triples(args, "--bind")
    # The whole root is made read-only after the last mount, /var/task with it.
    assert index_of(args, "--ro-bind", "/store/code/abc", "/var/task") < index_of(args, "--remount-ro", "/")


def test_no_layer_makes_an_empty_opt() -> None:
    args = build(opt=layer_binds([]))
    assert index_of(args, "--dir", "/opt") > index_of(args, "--ro-bind", "/store/code/abc", "/var/task")
    assert not [d for _, d in triples(args, "--ro-bind") if d.startswith("/opt")]


def test_one_layer_is_bound_read_only_at_opt(tmp_path: Path) -> None:
    layer = tmp_path / "merged"
    layer.mkdir()
    args = build(opt=layer_binds([str(layer)]))
    assert (str(layer), "/opt") in triples(args, "--ro-bind")
    assert index_of(args, "--ro-bind", str(layer), "/opt") < index_of(args, "--remount-ro", "/")


def test_several_layers_bind_their_entries_under_opt_later_wins(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    for layer, entries in ((first, ["python", "data"]), (second, ["bin", "data"])):
        for entry in entries:
            (layer / entry).mkdir(parents=True)
    args = build(opt=layer_binds([str(first), str(second)]))
    opt = [(s, d) for s, d in triples(args, "--ro-bind") if d.startswith("/opt/")]
    assert opt == [
        (str(first / "data"), "/opt/data"),
        (str(first / "python"), "/opt/python"),
        (str(second / "bin"), "/opt/bin"),
        (str(second / "data"), "/opt/data"),  # bound after the first layer's: it wins
    ]
    assert index_of(args, "--dir", "/opt") < index_of(args, "--ro-bind", str(first / "data"), "/opt/data")


def test_system_and_masks_come_first_and_host_paths_before_the_code() -> None:
    args = build(argv_binds=["--ro-bind", "/jars/app.jar", "/jars/app.jar"])
    assert args[: len(SYSTEM)] == SYSTEM
    assert args[len(SYSTEM) : len(SYSTEM) + len(MASKS)] == MASKS
    code = index_of(args, "--ro-bind", "/store/code/abc", "/var/task")
    assert index_of(args, "--ro-bind", "/venv", "/venv") < index_of(args, "--ro-bind", "/jars/app.jar", "/jars/app.jar")
    assert index_of(args, "--ro-bind", "/jars/app.jar", "/jars/app.jar") < code
    # Nothing is ever bound writable: only /tmp (a tmpfs) can be written.
    assert "--bind" not in args and "--dev-bind" not in args


def test_proc_dev_and_var_runtime() -> None:
    args = build()
    assert index_of(args, "--proc", "/proc", "--dev", "/dev") == len(SYSTEM) + len(MASKS)
    assert index_of(args, "--dir", "/var/runtime", "--remount-ro", "/") > 0


@pytest.mark.parametrize("ephemeral_mb", [512, 1024, 10240])
def test_tmp_is_a_sticky_tmpfs_of_ephemeral_storage(ephemeral_mb: int) -> None:
    args = build(ephemeral_mb=ephemeral_mb)
    size = str(ephemeral_mb * 1024 * 1024)
    assert index_of(args, "--perms", "1777", "--size", size, "--tmpfs", "/tmp") >= 0
    # Before anything could be bound under it, and not remounted read-only by "/": a tmpfs of its own.
    assert args.count("--tmpfs") == 1


def test_the_cgroup_limit_leaves_room_for_a_full_tmp() -> None:
    assert cgroup_memory_limit(128, 512) == 640 * 1024 * 1024
    assert cgroup_memory_limit(10240, 10240) == 20480 * 1024 * 1024


# -- the process -------------------------------------------------------------------------------


def test_working_directory_is_var_task_after_the_root_is_read_only() -> None:
    args = build()
    assert index_of(args, "--remount-ro", "/", "--chdir", "/var/task") < index_of(args, "--setenv")


def test_environment_is_set_in_order_then_the_command() -> None:
    env = {"PATH": "/usr/bin:/opt/bin", "TZ": ":UTC", "MY_VAR": "a value with spaces = and : too", "EMPTY": ""}
    args = build(env=env)
    assert setenvs(args) == [*env.items(), (COMMAND_VAR, shlex.join(ARGV))]
    # Nothing but the environment and the command follows the --setenv's.
    first = index_of(args, "--setenv")
    assert len(args) - first == 3 * (len(env) + 1)


def test_command_is_shell_quoted_for_the_launcher() -> None:
    argv = ["/usr/bin/bash", "--posix", "/var/task/my bootstrap", "it's"]
    command = dict(setenvs(build(argv=argv)))[COMMAND_VAR]
    assert shlex.split(command) == argv


def test_extensions_start_from_opt_before_the_runtime() -> None:
    extensions = ["/opt/extensions/one", "/opt/extensions/two"]
    command = dict(setenvs(build(extensions=extensions)))[COMMAND_VAR]
    assert command == shlex.join(with_extensions(ARGV, extensions, "/opt"))
    words = shlex.split(command)
    assert words[:2] == ["/bin/sh", "-c"]
    assert words[3:] == ["sh", "/opt", *extensions, "--", *ARGV]


def test_without_extensions_the_runtime_is_the_command() -> None:
    assert shlex.split(dict(setenvs(build()))[COMMAND_VAR]) == ARGV


def test_no_namespace_option_is_sent_through_the_pipe() -> None:
    # The namespaces are on the launcher's own command line: arguments that never arrive cannot
    # leave anything unconfined, and none sent can undo them.
    args = build()
    assert not [a for a in args if a.startswith("--unshare") or a in ("--uid", "--gid", "--share-net")]


# -- the launcher ------------------------------------------------------------------------------


def test_namespace_flags() -> None:
    assert namespace_flags() == [
        "--unshare-user",
        "--uid",
        "993",
        "--gid",
        "990",
        "--unshare-pid",
        "--unshare-ipc",
        "--unshare-cgroup-try",
        "--die-with-parent",
        "--new-session",
    ]
    # The network namespace stays the host's: the Runtime API listens on 127.0.0.1.
    assert "--unshare-net" not in namespace_flags() and "--unshare-all" not in namespace_flags()


def test_launcher_reads_its_arguments_from_the_pipe() -> None:
    argv = launcher_argv("/usr/bin/bwrap", 7)
    assert argv[: 1 + len(namespace_flags())] == ["/usr/bin/bwrap", *namespace_flags()]
    assert argv[len(namespace_flags()) + 1 : len(namespace_flags()) + 4] == ["--args", "7", "--"]
    shell = argv[len(namespace_flags()) + 4 :]
    assert shell[:2] == ["/bin/sh", "-c"] and len(shell) == 3
    # The command comes from the variable, which the runtime does not inherit.
    assert f"unset {COMMAND_VAR}" in shell[2] and 'eval "exec $c"' in shell[2]


def test_launcher_enters_its_cgroups_before_becoming_bwrap() -> None:
    procs = ["/sys/fs/cgroup/memory/x/env-1/cgroup.procs", "/sys/fs/cgroup/pids/x/env-1/cgroup.procs"]
    argv = launcher_argv("/usr/bin/bwrap", 7, procs)
    assert argv[:2] == ["/bin/sh", "-c"]
    assert argv[3:7] == ["sh", *procs, "--"]
    assert argv[7:] == launcher_argv("/usr/bin/bwrap", 7)


def test_probe_tries_every_mount_kind() -> None:
    argv = probe_argv("/usr/bin/bwrap", SYSTEM, "/usr/bin/true")
    assert argv[: 1 + len(namespace_flags())] == ["/usr/bin/bwrap", *namespace_flags()]
    assert index_of(argv, *SYSTEM) == 1 + len(namespace_flags())
    assert (
        index_of(argv, "--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--size", "1048576", "--tmpfs", "/tmp")
        > 0
    )
    assert argv[-4:] == ["--remount-ro", "/", "--", "/usr/bin/true"]


# -- the pipe ----------------------------------------------------------------------------------


def test_payload_is_nul_terminated_arguments() -> None:
    assert args_payload(["--setenv", "A", "é b"]) == b"--setenv\0A\0" + "é b".encode() + b"\0"
    assert args_payload([]) == b""


def test_a_nul_in_a_value_never_becomes_an_option() -> None:
    args = build(env={"SMUGGLED": "x\0--bind\0/\0/host"})
    with pytest.raises(ValueError, match="embedded null byte"):
        args_payload(args)


# -- host paths named inside -------------------------------------------------------------------


def test_code_and_layer_paths_translate_at_path_boundaries() -> None:
    translate = code_translator("/store/code/abc", ["/store/layers/l1", "/store/code/abc/nested"])
    assert translate("/store/code/abc/handler.py") == "/var/task/handler.py"
    assert translate("/store/code/abc/nested/bin/x") == "/opt/bin/x"  # the longer path first
    assert translate("PYTHONPATH=/store/code/abc:/store/layers/l1/python") == "PYTHONPATH=/var/task:/opt/python"
    assert translate("/store/code/abcdef") == "/store/code/abcdef"  # not at a boundary
