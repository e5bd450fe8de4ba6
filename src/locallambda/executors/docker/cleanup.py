"""Which containers are whose, and their removal: this server's at shutdown, a dead server's at start.

Every container carries labels naming the server that started it (``locallambda.server``, a
random id per run) and that server's process: its pid, host name and pid namespace. So does the
directory of its output FIFOs, by name. From these:

- ``sweep`` removes at shutdown every container of this server (``LAMBDA_REMOVE_CONTAINERS=0``
  keeps them, stopped, as LocalStack does);
- ``remove_orphans`` removes, on the first use of the daemon, what a server of this machine and
  pid namespace left behind when its process died without cleaning up. A pid is judged only in
  its own namespace, and another machine's containers (a shared remote daemon) are never
  touched.

Nothing here raises: a container already gone is what removal wanted anyway.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import re
import shutil
import socket
import tempfile
from pathlib import Path
from typing import Any

from locallambda.executors.docker.daemon import tolerated

__all__ = [
    "LABEL_HOST",
    "LABEL_PID",
    "LABEL_PIDNS",
    "LABEL_SERVER",
    "identity_labels",
    "pipes_directory",
    "remove_container",
    "remove_orphans",
    "sweep",
]

log = logging.getLogger(__name__)

LABEL_SERVER = "locallambda.server"
LABEL_PID = "locallambda.pid"
LABEL_HOST = "locallambda.host"
LABEL_PIDNS = "locallambda.pidns"


def identity_labels(server_id: str) -> dict[str, str]:
    """The labels that say which server, of which process, machine and pid namespace, owns a container."""
    return {
        LABEL_SERVER: server_id,
        LABEL_PID: str(os.getpid()),
        LABEL_HOST: socket.gethostname(),
        LABEL_PIDNS: _pid_namespace(),
    }


def pipes_directory() -> Path:
    """A fresh directory for this server's output FIFOs, named so that ``remove_orphans`` can
    tell whether its server is alive. Raises ``OSError``."""
    return Path(tempfile.mkdtemp(prefix=f"{_pipes_prefix()}{os.getpid()}-"))


def remove_container(api: Any, container_id: str, *, remove: bool) -> None:
    """Blocking: remove a container by force, or only kill it when ``remove`` is false."""
    with tolerated(f"discarding {container_id[:12]}"):  # already gone, or already stopped
        if remove:
            api.remove_container(container_id, force=True)
        else:
            api.kill(container_id)


def remove_orphans(api: Any, identity: dict[str, str]) -> None:
    """Blocking: remove the containers and FIFO directories of this machine's dead servers.

    ``identity`` is this server's (``identity_labels``): only containers of its host and pid
    namespace are judged.
    """
    found: list[dict[str, Any]] | None = None
    with tolerated("could not list leftover containers", level=logging.WARNING):
        found = api.containers(all=True, filters={"label": LABEL_SERVER})
    if found is None:
        return
    # The FIFO directories of dead servers of this pid namespace go too.
    prefix = _pipes_prefix()
    for leftover in Path(tempfile.gettempdir()).glob(f"{prefix}*-*"):
        if not _alive(leftover.name[len(prefix) :].split("-")[0]):
            shutil.rmtree(leftover, ignore_errors=True)
    for info in found:
        labels = info.get("Labels") or {}
        if labels.get(LABEL_HOST) != identity[LABEL_HOST] or labels.get(LABEL_PIDNS) != identity[LABEL_PIDNS]:
            continue  # another machine's (or another pid namespace's) server: not ours to judge
        if _alive(labels.get(LABEL_PID, "")):
            continue
        log.info("docker executor: removing orphaned container %s", info.get("Names"))
        with tolerated(f"removing orphaned container {info.get('Names')}"):
            api.remove_container(info["Id"], force=True)


async def sweep(api: Any, server_id: str, *, remove: bool, timeout: float) -> None:
    """Remove (or with ``remove`` false, kill) every container of this server, within ``timeout``
    seconds; the containers left when the time is up are logged, not waited for."""
    found: list[dict[str, Any]] = []
    listing = asyncio.to_thread(api.containers, all=True, filters={"label": f"{LABEL_SERVER}={server_id}"})
    try:
        with tolerated("could not list this server's containers", level=logging.WARNING):
            found = await asyncio.wait_for(listing, timeout)
    except TimeoutError:
        log.warning("docker executor: the daemon did not list this server's containers within %.0fs", timeout)
        return
    if not found:
        return
    loop = asyncio.get_running_loop()
    removals = {
        loop.run_in_executor(None, functools.partial(remove_container, api, info["Id"], remove=remove)): info["Id"]
        for info in found
    }
    _, pending = await asyncio.wait(removals, timeout=max(timeout, 0.001))
    if pending:
        left = ", ".join(removals[future][:12] for future in pending)
        log.warning("docker executor: %d container(s) not removed within %.0fs: %s", len(pending), timeout, left)


def _pipes_prefix() -> str:
    """Names FIFO directories by pid namespace, so that pids are only judged in their own."""
    return f"locallambda-docker-{re.sub(r'[^0-9]', '', _pid_namespace()) or 'ns'}-"


def _pid_namespace() -> str:
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:  # no /proc (not Linux): one namespace
        return ""


def _alive(pid_text: str) -> bool:
    try:
        pid = int(pid_text)
    except ValueError:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True
