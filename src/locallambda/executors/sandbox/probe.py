"""The host: whether bwrap can make sandboxes here, and what every sandbox of this server shares.

``supported`` answers the first question by running one empty sandbox with every namespace and
mount kind the executor uses (bwrap may be installed and still refused user namespaces by the
kernel or a container runtime); its answer is the reason, in words, or None.

``SandboxHost`` is the rest, set up once per server: a private work directory (the empty files
that mask ``/etc`` entries, the ``/etc/passwd`` that knows AWS's user), the host layout of
``mounts.py`` and, where one is writable, the cgroup tree of ``cgroups.py``. Both are blocking
(processes, file system): callers run them in a thread.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from locallambda.executors.cgroups import CgroupTree
from locallambda.executors.sandbox.args import probe_argv
from locallambda.executors.sandbox.mounts import HostLayout, system_binds

__all__ = ["PROBE_TIMEOUT_S", "SandboxHost", "supported"]

log = logging.getLogger(__name__)

PROBE_TIMEOUT_S = 20.0


def supported() -> str | None:
    """None when this host can run sandboxes, else the reason it cannot (runs bwrap once)."""
    if not sys.platform.startswith("linux"):
        return "the sandbox executor needs Linux namespaces"
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return "bubblewrap (bwrap) is not installed"
    return _probe(bwrap)


def _probe(bwrap: str) -> str | None:
    """Run an empty sandbox; the failure, if any (a failure to run bwrap becomes the reason)."""
    true = shutil.which("true") or "/bin/true"
    argv = probe_argv(bwrap, system_binds(), true)
    try:
        done = subprocess.run(argv, check=False, stdin=subprocess.DEVNULL, capture_output=True, timeout=PROBE_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bwrap could not be run: {exc}"
    if done.returncode != 0:
        detail = done.stderr.decode("utf-8", "replace").strip().splitlines()
        return "bwrap cannot create a sandbox here: " + (detail[-1] if detail else f"exit status {done.returncode}")
    return None


@dataclass(frozen=True, slots=True)
class SandboxHost:
    """What the sandboxes of one server share; ``close`` removes it from the host."""

    workdir: Path
    layout: HostLayout
    cgroups: CgroupTree | None

    @classmethod
    def open(cls, *, use_cgroups: bool) -> SandboxHost:
        """Lay out the shared binds and find a cgroup tree (unless ``use_cgroups`` is False).

        Blocking. Raises whatever the host throws (``OSError`` mostly); the work directory is
        removed again then.
        """
        workdir = Path(tempfile.mkdtemp(prefix="locallambda-sandbox-"))
        try:
            layout = HostLayout(workdir)
            cgroups, how = CgroupTree.discover() if use_cgroups else (None, "cgroups not used")
        except BaseException:
            shutil.rmtree(workdir, ignore_errors=True)
            raise
        if cgroups is None:
            log.info("sandbox memory limit: %s; sampling each sandbox's memory instead", how)
        else:
            log.info("sandbox memory limit: %s", how)
        return cls(workdir, layout, cgroups)

    def close(self) -> None:
        """Remove the cgroup tree (its empty cgroups) and the work directory. Blocking; never raises."""
        if self.cgroups is not None:
            self.cgroups.close()
        shutil.rmtree(self.workdir, ignore_errors=True)
