"""executors/spawn.py: real child processes started with Popen, watched through a pidfd on a
uvloop event loop (the server's), as the executors use them."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess

import pytest
import uvloop

from locallambda.executors.spawn import spawn


def _run(coro: object) -> object:
    return uvloop.run(coro)  # type: ignore[arg-type]


def test_output_and_exit_status() -> None:
    async def main() -> tuple[bytes, int, int | None]:
        child = await spawn(
            ["/bin/sh", "-c", "echo out; echo err >&2; exit 3"], cwd="/", env={}, stdin=subprocess.DEVNULL, output=True
        )
        assert child.stdout is not None
        data = await child.stdout.read()
        code = await child.wait()
        return data, code, child.returncode

    data, code, returncode = _run(main())  # type: ignore[misc]
    assert data == b"out\nerr\n"
    assert code == returncode == 3


def test_a_killed_child_reports_the_signal_and_is_reaped() -> None:
    async def main() -> tuple[int, int]:
        child = await spawn(["/bin/sleep", "30"], cwd="/", env={}, stdin=subprocess.DEVNULL, output=False)
        child.kill()
        code = await asyncio.wait_for(child.wait(), 5)
        child.kill()  # once it is gone: nothing happens
        return code, child.pid

    code, pid = _run(main())  # type: ignore[misc]
    assert code == -signal.SIGKILL
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # reaped already: no zombie left


def test_stdin_and_passed_fds_and_a_session_of_its_own() -> None:
    stdin_r, stdin_w = os.pipe()
    extra_r, extra_w = os.pipe()

    async def main() -> tuple[bytes, int]:
        child = await spawn(
            ["/bin/sh", "-c", f'read line; read other < /dev/fd/{extra_r}; echo "$line $other"; ps -o sid= -p $$'],
            cwd="/",
            env={"PATH": "/usr/bin:/bin"},
            stdin=stdin_r,
            output=True,
            pass_fds=(extra_r,),
        )
        os.write(stdin_w, b"hello\n")
        os.write(extra_w, b"there\n")
        assert child.stdout is not None
        data = await child.stdout.read()
        await child.wait()
        return data, child.pid

    try:
        data, pid = _run(main())  # type: ignore[misc]
    finally:
        for fd in (stdin_r, stdin_w, extra_r, extra_w):
            os.close(fd)
    lines = data.split(b"\n")
    assert lines[0] == b"hello there"
    assert lines[1].strip() == str(pid).encode()  # a session of its own: its sid is its pid


def test_a_program_that_cannot_be_executed_raises_oserror() -> None:
    async def main() -> None:
        await spawn(["/nonexistent/program"], cwd="/", env={}, stdin=subprocess.DEVNULL, output=True)

    with pytest.raises(FileNotFoundError):
        _run(main())


def test_the_output_pipe_is_closed_once_it_ends() -> None:
    """No descriptor of a child outlives its output (uvloop keeps an ended read pipe open)."""

    async def main() -> list[int]:
        counts = []
        for _ in range(20):
            counts.append(len(os.listdir("/proc/self/fd")))
            child = await spawn(["/bin/echo", "x"], cwd="/", env={}, stdin=subprocess.DEVNULL, output=True)
            assert child.stdout is not None
            assert await child.stdout.read() == b"x\n"
            await child.wait()
        await asyncio.sleep(0.05)
        counts.append(len(os.listdir("/proc/self/fd")))
        return counts

    counts = _run(main())
    assert isinstance(counts, list)
    # After the first (the loop's own, made lazily), the count stays where it was: a pipe left open
    # would add one per child.
    assert max(counts[1:]) <= counts[1] + 2, counts


def test_children_run_a_little_below_the_server_and_so_do_theirs() -> None:
    from locallambda.executors.spawn import FUNCTION_NICE

    async def main() -> bytes:
        # `nice` with no operand prints the niceness it runs at; run by the child, by its child,
        # once spawn has returned: the child is reniced right after it starts, so for its first
        # moment it runs at the server's niceness (what it forks then would stay there).
        go_read, go_write = os.pipe()
        child = await spawn(
            ["/bin/sh", "-c", "read go; nice; /bin/sh -c nice"],
            cwd="/",
            env={"PATH": "/usr/bin:/bin"},
            stdin=go_read,
            output=True,
        )
        os.close(go_read)
        os.write(go_write, b"go\n")
        os.close(go_write)
        assert child.stdout is not None
        data = await child.stdout.read()
        await child.wait()
        return data

    ours = os.getpriority(os.PRIO_PROCESS, 0)
    assert _run(main()) == f"{ours + FUNCTION_NICE}\n{ours + FUNCTION_NICE}\n".encode()
