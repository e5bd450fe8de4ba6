"""The gate of a local environment: the script it sources, and what execve would refuse.

``gate_script`` is run by the real ``/bin/sh`` as a gate runs it (sourced from its stdin): the
program must get exactly its arguments, its working directory and its environment, nothing the
shell adds. ``exec_problem`` must answer as ``subprocess`` would have raised, so that a bad
entrypoint is still ``Runtime.InvalidEntrypoint``.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from locallambda.executors.gates import exec_problem, gate_script

_DUMP = "import json, os, sys; print(json.dumps({'argv': sys.argv[1:], 'cwd': os.getcwd(), 'env': dict(os.environ)}))"


def _run_gate(script: bytes) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["/bin/sh", "-c", ". /dev/fd/0"], input=script, env={}, cwd="/", capture_output=True)


def test_the_program_gets_its_arguments_directory_and_environment_exactly(tmp_path: Path) -> None:
    env = {
        "LANG": "C.UTF-8",
        "PLAIN": "1",
        "QUOTES": 'it\'s "quoted" $HOME `x`',
        "LINES": "one\ntwo\n",
        "EMPTY": "",
        "IFS": "x",
    }
    argv = [sys.executable, "-c", _DUMP, "a b", "*", "", "new\nline", "'"]
    done = _run_gate(gate_script(argv, str(tmp_path), env) or b"")
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["argv"] == argv[3:]
    assert seen["cwd"] == str(tmp_path)
    assert seen["env"] == env  # no PWD, OLDPWD or anything else of the shell's


def test_the_program_reads_nothing_of_the_script_from_stdin(tmp_path: Path) -> None:
    argv = [sys.executable, "-c", "import sys; print(repr(sys.stdin.read()))"]
    done = _run_gate(gate_script(argv, str(tmp_path), {}) or b"")
    assert done.stdout == b"''\n", done.stderr


def test_a_name_the_shell_cannot_export_means_no_script() -> None:
    assert gate_script(["/bin/true"], "/", {"NOT-A-NAME": "1"}) is None
    with pytest.raises(ValueError, match="embedded null byte"):
        gate_script(["/bin/true"], "/", {"A": "a\0b"})


def _file(path: Path, content: bytes, mode: int) -> Path:
    path.write_bytes(content)
    path.chmod(mode)
    return path


def test_exec_problems_are_the_errors_subprocess_raised(tmp_path: Path) -> None:
    cases = {
        "missing": None,
        "not-executable": _file(tmp_path / "not-executable", b"#!/bin/sh\n", 0o644),
        "no-interpreter": _file(tmp_path / "no-interpreter", b"#!/no/such/shell\n", 0o755),
        "script": _file(tmp_path / "script", b"#!/bin/sh\nexit 0\n", 0o755),
        "directory": None,
    }
    (tmp_path / "directory").mkdir()
    for name in cases:
        path = tmp_path / name
        try:
            subprocess.run([str(path)], cwd=tmp_path, check=False, capture_output=True)
            raised = None
        except OSError as exc:
            raised = exc.errno
        assert exec_problem(str(path), None, tmp_path) == raised, name
        assert exec_problem(f"./{name}", None, tmp_path) == raised, name


def test_no_shebang_is_an_exec_format_error(tmp_path: Path) -> None:
    registered = (
        [n for n in os.listdir("/proc/sys/fs/binfmt_misc") if n not in ("register", "status")]
        if (Path("/proc/sys/fs/binfmt_misc").is_dir())
        else []
    )
    if registered:
        pytest.skip(f"binfmt_misc handlers are registered here: {registered}")
    _file(tmp_path / "bootstrap", b"echo not a script\n", 0o755)
    assert exec_problem(str(tmp_path / "bootstrap"), None, tmp_path) == errno.ENOEXEC


def test_names_are_looked_up_on_the_path_given(tmp_path: Path) -> None:
    _file(tmp_path / "tool", b"#!/bin/sh\n", 0o755)
    assert exec_problem("tool", str(tmp_path), Path("/")) is None
    assert exec_problem("tool", "/nonexistent", Path("/")) == errno.ENOENT
    assert exec_problem(Path(sys.executable).name, str(Path(sys.executable).parent), Path("/")) is None


def test_a_missing_working_directory_is_no_such_file(tmp_path: Path) -> None:
    assert exec_problem(sys.executable, None, tmp_path / "gone") == errno.ENOENT
