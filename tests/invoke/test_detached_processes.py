"""What a function detaches never outlives its environment, nor the server (process executor).

The function starts two processes that leave the runtime's process group, as daemons do: one in
a session of its own (``setsid``), one double-forked (its parent exits at once, so it is an
orphan) into a process group of its own (``setpgid``). Each writes its pid to a file of the host's
``/tmp``, which the process executor shares. They must be gone once the environment stops
(keep-alive expiry, UpdateFunctionConfiguration, DeleteFunction), once the server stops
(SIGTERM), and, after a SIGKILL of the server alone, once the next server has started.

Where cgroups are writable (root here) each environment is a cgroup; elsewhere the server holds
them as a subreaper. The second is proven by servers that see no cgroup at all (started in a
mount namespace without ``/sys/fs/cgroup``); what it does not promise (a SIGKILL of the server)
is not asked of it.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import Server
from tests.invoke.conftest import CLI_ENV, EXECUTOR, Functions, stop_checked, wait_updated

pytestmark = pytest.mark.skipif(EXECUTOR != "local", reason="host pids and /tmp: the process executor")

# argv: how (setsid | double-fork), the pid file.
_SLEEPER = """\
import os, sys, time
how, path = sys.argv[1], sys.argv[2]
if how == "setsid":
    os.setsid()
else:
    if os.fork():
        os._exit(0)
    os.setpgid(0, 0)
with open(path + ".tmp", "w") as fh:
    fh.write(str(os.getpid()))
os.rename(path + ".tmp", path)
time.sleep(300)
"""

DETACHER = f"""\
import os, subprocess, sys, time

SLEEPER = {_SLEEPER!r}

def handler(event, context):
    files = []
    for how in ("setsid", "double-fork"):
        path = os.path.join(event["dir"], how + ".pid")
        subprocess.Popen([sys.executable, "-c", SLEEPER, how, path], stdin=subprocess.DEVNULL)
        files.append(path)
    deadline = time.monotonic() + 10
    while not all(os.path.exists(p) for p in files) and time.monotonic() < deadline:
        time.sleep(0.01)
    return [int(open(p).read()) for p in files]
"""


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_gone(pids: list[int], timeout: float = 10.0) -> list[int]:
    """The pids still alive after ``timeout`` seconds (killed then, not to leak into other tests)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(alive(p) for p in pids):
            return []
        time.sleep(0.02)
    left = [p for p in pids if alive(p)]
    for pid in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    return left


def detach(fns: Functions, name: str, where: Path) -> list[int]:
    """Invoke the detacher; its two detached pids, checked to be running."""
    pids: list[int] = fns.invoke_json(name, {"dir": str(where)})
    assert len(pids) == 2 and all(alive(p) for p in pids), pids
    return pids


# -- with cgroups (or whatever this host gives) --------------------------------------------------


def test_keepalive_expiry_kills_what_the_function_detached(spawn_server: Callable[..., Server], tmp_path: Path) -> None:
    server = spawn_server(LAMBDA_KEEPALIVE_MS="300")
    fns = Functions(server)
    name = fns.python(DETACHER, timeout=30)
    pids: list[int] = fns.invoke_json(name, {"dir": str(tmp_path)})
    assert len(pids) == 2
    assert wait_gone(pids) == [], "detached processes outlived their expired environment"


def test_configuration_update_kills_what_the_function_detached(functions: Functions, tmp_path: Path) -> None:
    name = functions.python(DETACHER, timeout=30)
    pids = detach(functions, name, tmp_path)
    functions.client.update_function_configuration(FunctionName=name, Environment={"Variables": {"NEW": "1"}})
    wait_updated(functions.client, name)
    assert wait_gone(pids) == [], "detached processes outlived the environment of the old configuration"


def test_delete_kills_what_the_function_detached(functions: Functions, tmp_path: Path) -> None:
    name = functions.python(DETACHER, timeout=30)
    pids = detach(functions, name, tmp_path)
    functions.client.delete_function(FunctionName=name)
    assert wait_gone(pids) == [], "detached processes outlived their deleted function"


def test_server_stop_kills_what_functions_detached(spawn_server: Callable[..., Server], tmp_path: Path) -> None:
    server = spawn_server()
    fns = Functions(server)
    name = fns.python(DETACHER, timeout=30)
    pids = detach(fns, name, tmp_path)
    server.stop()
    assert wait_gone(pids) == [], "detached processes outlived the server"


def test_next_start_kills_what_a_killed_server_left(spawn_server: Callable[..., Server], tmp_path: Path) -> None:
    first = spawn_server()
    fns = Functions(first)
    name = fns.python(DETACHER, timeout=30)
    pids = detach(fns, name, tmp_path)
    assert first.proc is not None
    os.kill(first.proc.pid, signal.SIGKILL)  # the server alone, not its process group
    first.proc.wait(10)
    spawn_server()
    assert wait_gone(pids, timeout=20) == [], "what a killed server left was still running after the next start"


# -- without cgroups: the server as subreaper ----------------------------------------------------

# Run a command in a mount namespace of its own without the cgroup file systems.
_NO_CGROUPS = 'umount -R /sys/fs/cgroup 2>/dev/null; ! grep -q " - cgroup" /proc/self/mountinfo && exec "$@"'


def _hidden_cgroups_problem() -> str | None:
    if shutil.which("unshare") is None:
        return "no unshare(1)"
    done = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", _NO_CGROUPS, "sh", "true"],
        capture_output=True,
        timeout=30,
    )
    return None if done.returncode == 0 else "cannot unmount the cgroup file systems in a mount namespace"


class ServerWithoutCgroups(Server):
    """A server that sees no cgroup file system (its own mount namespace)."""

    def start(self, timeout: float = 30) -> Server:
        log = open(self.log_path, "wb")  # noqa: SIM115 - the server writes to it until it stops
        argv = [sys.executable, "-m", "locallambda", "start", "--port", str(self.port), *self.args]
        self.proc = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c", _NO_CGROUPS, "sh", *argv],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log_path.read_text()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"server did not start in {timeout}s:\n{self.log_path.read_text()}")


@pytest.fixture()
def spawn_without_cgroups() -> Iterator[Callable[..., Server]]:
    problem = _hidden_cgroups_problem()
    if problem is not None:
        pytest.skip(problem)
    servers: list[Server] = []

    def spawn(**env: str) -> Server:
        server = ServerWithoutCgroups(
            env={"LAMBDA_SYNCHRONOUS_CREATE": "1", "LAMBDA_EXECUTOR": EXECUTOR, **CLI_ENV, **env}
        )
        servers.append(server)
        return server.start()

    yield spawn
    for server in servers:
        stop_checked(server)


def _subreaper_in_use(server: Server) -> bool:
    return "the server adopts what a function detaches" in server.log()


def test_without_cgroups_environment_stop_kills_what_the_function_detached(
    spawn_without_cgroups: Callable[..., Server], tmp_path: Path
) -> None:
    server = spawn_without_cgroups(LAMBDA_KEEPALIVE_MS="300")
    fns = Functions(server)
    name = fns.python(DETACHER, timeout=30)
    pids: list[int] = fns.invoke_json(name, {"dir": str(tmp_path)})
    assert len(pids) == 2
    assert wait_gone(pids) == [], "detached processes outlived their expired environment"
    assert _subreaper_in_use(server), server.log()


def test_without_cgroups_server_stop_kills_what_functions_detached(
    spawn_without_cgroups: Callable[..., Server], tmp_path: Path
) -> None:
    server = spawn_without_cgroups()
    fns = Functions(server)
    name = fns.python(DETACHER, timeout=30)
    pids = detach(fns, name, tmp_path)
    log = server.log()
    server.stop()
    assert wait_gone(pids) == [], "detached processes outlived the server"
    assert "the server adopts what a function detaches" in log, log
