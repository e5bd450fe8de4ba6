"""A container as a runtime process: created and started, watched until it exits, killed.

``create_container`` makes a container from its ``ContainerConfig``, copies in what could not be
mounted (one tar stream from ``copies.Archives``, put at ``/``), and starts it; a container that
fails half-way is removed again. ``DockerContainer`` is the ``RuntimeProcess`` of a started
one: a daemon thread of its own waits for it to stop, then reads its exit status and whether
the kernel killed it for memory (docker's ``State.OOMKilled``, reported as
``Runtime.OutOfMemory``). The thread is its own, off the shared worker pool, because it lives
as long as the container. Output comes from the container's ``OutputPipe`` when it has one;
otherwise (code copied in, or an image without ``/bin/sh``) the same thread follows docker's
log stream (which ends when the container stops).

Exit statuses follow the process executor's convention: negative for a signal (docker reports
``128 + signal``), ``-9`` for a container we killed or that vanished. Peak memory comes from the
container's cgroup, readable only when the daemon runs on this machine.

A reset (after a timeout or a crash during an invocation, AWS keeps the environment and its
``/tmp``: lambda-runtime-environment.html, "Failures during the invoke phase") kills the
container's processes but keeps the container (``halt``: ``docker kill``, no removal); a
restart starts the same container again (``docker start``): its entrypoint runs the runtime
anew, its filesystem, ``/tmp`` included, is the one it had, its limits and its output pipe the
same. Nothing of this touches a cold start, and it needs no shell in the image. (A ``/tmp``
that ``LAMBDA_DOCKER_FLAGS`` made a tmpfs is a mount of the run, empty again after a restart.)
Each run is watched by a thread of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from locallambda.executors.base import OutputSink, RuntimeProcess
from locallambda.executors.docker.config import ContainerConfig
from locallambda.executors.docker.copies import Archives
from locallambda.executors.docker.daemon import tolerated, translated
from locallambda.executors.docker.output import OutputPipe

__all__ = ["DockerContainer", "create_container", "memory_file"]

log = logging.getLogger(__name__)

SIGKILLED = -9
_SIGNAL_BASE = 128  # docker's exit status for a signal: 128 + its number


def create_container(client: Any, config: ContainerConfig, archives: Archives) -> str:
    """Blocking: create, fill (the copies' archive from ``archives``) and start a container;
    returns its id.

    Raises ``ExecutorError("Could not start a container from <image>: …")``, having removed
    what it created.
    """
    container = None
    failure = f"Could not start a container from {config.arguments['image']}"
    try:
        with translated(failure):
            container = client.containers.create(**config.arguments)
            if config.copies:
                container.put_archive("/", archives.archive(config.copies, config.changing))
            container.start()
            return str(container.id)
    except BaseException:
        if container is not None:
            with tolerated(f"removing the failed container {container.id[:12]}"):
                container.remove(force=True)
        raise


def memory_file(container_id: str, *, local: bool) -> Path | None:
    """The cgroup file holding the container's peak memory, when the daemon is local."""
    if not local:
        return None
    candidates = [
        f"/sys/fs/cgroup/memory/docker/{container_id}/memory.max_usage_in_bytes",  # v1
        f"/sys/fs/cgroup/system.slice/docker-{container_id}.scope/memory.peak",  # v2, systemd
        f"/sys/fs/cgroup/docker/{container_id}/memory.peak",  # v2, cgroupfs
    ]
    return next((Path(c) for c in candidates if os.path.exists(c)), None)


class DockerContainer(RuntimeProcess):
    """A started container, each of its runs watched by a daemon thread of its own.

    ``discard`` stops (and removes) a container in the background, ``halt`` only kills its
    processes; ``start`` (blocking, raises ``ExecutorError``) starts a halted one again; ``local``
    says whether its cgroup is readable here. Must be made on the event loop, which its output
    reaches.
    """

    def __init__(
        self,
        api: Any,
        container_id: str,
        name: str,
        output: OutputSink,
        pipe: OutputPipe | None,
        *,
        discard: Callable[[str], None],
        halt: Callable[[str], None],
        start: Callable[[str], Awaitable[bool]],
        local: bool,
    ) -> None:
        self.id = container_id
        self.name = name
        self._api = api
        self._output = output
        self._pipe = pipe
        self._discard = discard
        self._halt = halt
        self._start = start
        self._local = local
        self._loop = asyncio.get_running_loop()
        self._killed = False
        self._halted = False  # this run was killed by a reset
        self._oom = False
        self._memory_file: Path | None = None
        if pipe is not None:
            pipe.attach(self._deliver)
        self._exit = self._watch_run(None)

    def _watch_run(self, since: float | None) -> asyncio.Future[int]:
        """A thread watching the container's current run (its output since ``since`` without a
        pipe); the future of the run's exit status."""
        exit_: asyncio.Future[int] = self._loop.create_future()
        thread = threading.Thread(target=self._watch, args=(exit_, since), name=f"docker-{self.name}", daemon=True)
        thread.start()
        return exit_

    def _deliver(self, chunk: bytes) -> None:
        if not self._killed:  # after kill() its dying words (the Runtime API is gone…) are noise
            self._output(chunk)

    def _watch(self, exit_: asyncio.Future[int], since: float | None) -> None:
        """A watcher thread: the output (without a pipe), then the exit. Always settles."""
        code = SIGKILLED
        try:
            if self._pipe is None:
                # The container went away under us: it is over either way.
                with tolerated(f"the log stream of {self.name} ended"):
                    logs = self._api.logs(self.id, stream=True, follow=True, stdout=True, stderr=True, since=since)
                    for chunk in logs:
                        self._call(self._deliver, chunk)
            with tolerated(f"waiting for {self.name}"):  # removed (we killed it): reported as SIGKILL
                status = self._api.wait(self.id)
                state = self._api.inspect_container(self.id)["State"]
                code = int(status.get("StatusCode", SIGKILLED))
                self._oom = bool(state.get("OOMKilled"))
        finally:
            if self._killed or self._halted:
                code = SIGKILLED
            elif code > _SIGNAL_BASE:
                code = -(code - _SIGNAL_BASE)  # docker's 128+signal convention → our negative signal number
            self._call(self._settle, exit_, code)

    def _call(self, fn: Callable[..., None], *args: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody listens any more
            self._loop.call_soon_threadsafe(fn, *args)

    def _settle(self, exit_: asyncio.Future[int], code: int) -> None:
        if self._killed and self._pipe is not None:
            self._pipe.close()  # the pipe lives as long as the container, restarts included
        if not exit_.done():
            exit_.set_result(code)

    async def wait(self) -> int:
        # After kill, a run that had ended already (halted by a reset) has nothing more to wait
        # for here: the removal is the executor's, and its close waits for it.
        return await asyncio.shield(self._exit)

    def reset(self) -> None:
        if self._killed or self._halted or self._exit.done():
            return
        self._halted = True
        self._halt(self.id)

    async def stopped(self) -> None:
        await asyncio.shield(self._exit)  # the halted run's end

    async def restart(self) -> bool:
        if self._killed or not self._exit.done():
            return False
        since = time.time()
        if not await self._start(self.id) or self._killed:
            return False
        self._halted = False
        self._oom = False
        self._memory_file = None  # the run's cgroup is a new one
        self._exit = self._watch_run(since)
        return True

    def kill(self) -> None:
        if self._killed:
            return
        self._killed = True
        if self._pipe is not None and self._exit.done():
            self._pipe.close()  # no run left to close it
        self._discard(self.id)

    def out_of_memory(self) -> bool:
        return self._oom

    def max_memory_mb(self) -> int | None:
        """Peak memory of the container from its cgroup, when the daemon runs on this machine."""
        if self._memory_file is None:
            self._memory_file = memory_file(self.id, local=self._local)
            if self._memory_file is None:
                return None
        try:
            return int(self._memory_file.read_text().split()[0]) // (1024 * 1024)
        except (OSError, ValueError, IndexError):  # the cgroup went with the container
            return None
