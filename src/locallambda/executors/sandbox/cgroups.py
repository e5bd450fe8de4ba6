"""cgroups for the sandbox executor: one child cgroup per sandbox under a tree of this server.

Discovery finds a writable memory controller: cgroup v2 (one directory per sandbox, memory and
pids enabled in its parent's ``cgroup.subtree_control``), or cgroup v1 as on hybrid hosts (one
directory per hierarchy: memory, and pids where mounted). The tree is named after the server's pid
(``locallambda-<pid>``) so that trees left by servers that are gone are swept at the next start.

Per sandbox (``EnvCgroup``): the hard memory limit and the pids limit, the anonymous memory in use
(what the memory guard samples), the kernel's OOM kills (reported as ``Runtime.OutOfMemory``),
killing every process inside, and removal once empty. Everything here is blocking file-system
work on the kernel's cgroup files, except ``remove_cgroup``; failures to write a control file are
tolerated (a missing controller means no limit, not an error).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import signal
from pathlib import Path

__all__ = ["CgroupTree", "EnvCgroup", "remove_cgroup"]

log = logging.getLogger(__name__)


def _write(path: Path, value: str) -> bool:
    try:
        path.write_text(value)
    except OSError:
        return False
    return True


def _stat_value(path: Path, key: bytes) -> int | None:
    """One ``key value`` line of a cgroup stat file (``memory.stat``, ``memory.events``)."""
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError:
        return None
    for line in data.split(b"\n"):
        if line.startswith(key + b" "):
            try:
                return int(line[len(key) + 1 :])
            except ValueError:
                return None
    return None


class EnvCgroup:
    """The cgroup(s) of one sandbox: v2 one directory; v1 one per hierarchy (memory, pids)."""

    def __init__(self, version: int, memory_dir: Path, others: list[Path]) -> None:
        self.version = version
        self.memory_dir = memory_dir
        self.dirs = [memory_dir, *others]

    @property
    def procs_files(self) -> list[str]:
        return [str(d / "cgroup.procs") for d in self.dirs]

    def set_limits(self, memory_bytes: int, pids_max: int) -> None:
        if self.version == 2:
            _write(self.memory_dir / "memory.max", str(memory_bytes))
            _write(self.memory_dir / "memory.swap.max", "0")
            _write(self.memory_dir / "pids.max", str(pids_max))
            return
        # Raising from unlimited: the memory limit first, then memory+swap (absent without swap
        # accounting), which may never be below it.
        _write(self.memory_dir / "memory.limit_in_bytes", str(memory_bytes))
        _write(self.memory_dir / "memory.memsw.limit_in_bytes", str(memory_bytes))
        for d in self.dirs[1:]:
            _write(d / "pids.max", str(pids_max))

    def anon_bytes(self) -> int | None:
        if self.version == 2:
            return _stat_value(self.memory_dir / "memory.stat", b"anon")
        return _stat_value(self.memory_dir / "memory.stat", b"total_rss")

    def oom_kills(self) -> int:
        if self.version == 2:
            return _stat_value(self.memory_dir / "memory.events", b"oom_kill") or 0
        count = _stat_value(self.memory_dir / "memory.oom_control", b"oom_kill")
        return count or 0

    def kill_all(self) -> None:
        if self.version == 2 and _write(self.memory_dir / "cgroup.kill", "1"):
            return
        try:
            pids = (self.memory_dir / "cgroup.procs").read_text().split()
        except OSError:
            return
        for pid in pids:
            with contextlib.suppress(OSError, ValueError):
                os.kill(int(pid), signal.SIGKILL)

    def remove(self) -> bool:
        """rmdir every directory; False while a process is still in one."""
        done = True
        for d in self.dirs:
            try:
                d.rmdir()
            except FileNotFoundError:
                pass
            except OSError:
                done = False
        return done


def _mounts() -> list[tuple[str, str, str, set[str]]]:
    """(mount root, mount point, fs type, super options) of every cgroup mount."""
    found: list[tuple[str, str, str, set[str]]] = []
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return found
    for line in lines:
        left, _, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if len(fields) < 5 or len(tail) < 3 or tail[0] not in ("cgroup", "cgroup2"):
            continue
        found.append((fields[3], fields[4].replace("\\040", " "), tail[0], set(tail[2].split(","))))
    return found


def _own_paths() -> dict[str, str]:
    """controller (or ``""`` for v2) → this process's cgroup path."""
    paths: dict[str, str] = {}
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return paths
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        if parts[1] == "":
            paths[""] = parts[2]
        for name in parts[1].split(","):
            if name:
                paths[name] = parts[2]
    return paths


def _locate(mount_root: str, mount_point: str, path: str) -> Path | None:
    if mount_root in (path, "/"):
        rel = path if mount_root == "/" else "/"
    elif path.startswith(mount_root.rstrip("/") + "/"):
        rel = path[len(mount_root.rstrip("/")) :]
    else:
        return None
    return Path(mount_point + rel.rstrip("/")) if rel != "/" else Path(mount_point)


class CgroupTree:
    """The directory under which this server makes a cgroup per sandbox."""

    def __init__(self, version: int, bases: dict[str, Path]) -> None:
        self.version = version
        self._bases = bases  # v2: {"": base}; v1: {"memory": base, "pids": base?}

    def describe(self) -> str:
        return f"cgroup v{self.version} at {self._bases.get('') or self._bases.get('memory')}"

    @staticmethod
    def discover() -> tuple[CgroupTree | None, str]:
        """A usable cgroup tree, or None and why not. Blocking (file system of the kernel)."""
        name = f"locallambda-{os.getpid()}"
        mounts = _mounts()
        own = _own_paths()
        unified = next((m for m in mounts if m[2] == "cgroup2"), None)
        if unified is not None and "" in own:
            point = Path(unified[1])
            try:
                available = (point / "cgroup.controllers").read_text().split()
            except OSError:
                available = []
            if "memory" in available:
                made = CgroupTree._make_v2(point, _locate(unified[0], unified[1], own[""]), name)
                if made is not None:
                    return made, made.describe()
                return None, "cgroup v2: no writable subtree with the memory controller"
        memory = next((m for m in mounts if m[2] == "cgroup" and "memory" in m[3]), None)
        if memory is None or "memory" not in own:
            return None, "no memory cgroup controller"
        own_dir = _locate(memory[0], memory[1], own["memory"])
        if own_dir is None or not os.access(own_dir, os.W_OK):
            return None, "the memory cgroup is not writable (not root, nothing delegated)"
        bases: dict[str, Path] = {}
        for ctrl, mount in (
            ("memory", memory),
            ("pids", next((m for m in mounts if m[2] == "cgroup" and "pids" in m[3]), None)),
        ):
            if mount is None or ctrl not in own:
                continue
            parent = _locate(mount[0], mount[1], own[ctrl])
            if parent is None:
                continue
            _sweep(parent)
            try:
                (parent / name).mkdir(exist_ok=True)
            except OSError:
                continue
            bases[ctrl] = parent / name
        if "memory" not in bases:
            return None, "the memory cgroup is not writable"
        tree = CgroupTree(1, bases)
        return tree, tree.describe()

    @staticmethod
    def _make_v2(point: Path, own: Path | None, name: str) -> CgroupTree | None:
        # A v2 cgroup with processes cannot give controllers to children ("no internal
        # processes"), so the base goes next to ours (a delegated slice), or under the root.
        candidates: list[Path] = []
        if own is not None and own != point:
            candidates.append(own.parent)
        candidates.append(point)
        for parent in candidates:
            if not os.access(parent, os.W_OK):
                continue
            _sweep(parent)
            base = parent / name
            try:
                base.mkdir(exist_ok=True)
            except OSError:
                continue
            try:
                enabled = (parent / "cgroup.subtree_control").read_text().split()
            except OSError:
                enabled = []
            if "memory" not in enabled:
                _write(parent / "cgroup.subtree_control", "+memory")
            _write(parent / "cgroup.subtree_control", "+pids")
            if _write(base / "cgroup.subtree_control", "+memory"):
                _write(base / "cgroup.subtree_control", "+pids")
                return CgroupTree(2, {"": base})
            with contextlib.suppress(OSError):
                base.rmdir()
        return None

    def create(self, env_id: str) -> EnvCgroup | None:
        """An empty cgroup for one sandbox (limits come with ``set_limits``); None when it
        cannot be made."""
        if self.version == 2:
            d = self._bases[""] / env_id
            try:
                d.mkdir()
            except OSError:
                return None
            return EnvCgroup(2, d, [])
        mem = self._bases["memory"] / env_id
        try:
            mem.mkdir()
        except OSError:
            return None
        others: list[Path] = []
        if "pids" in self._bases:
            pids = self._bases["pids"] / env_id
            with contextlib.suppress(OSError):
                pids.mkdir()
                others.append(pids)
        return EnvCgroup(1, mem, others)

    def close(self) -> None:
        for base in self._bases.values():
            _remove_tree(base)


def _remove_tree(base: Path) -> None:
    with contextlib.suppress(OSError):
        for child in base.iterdir():
            if child.is_dir():
                with contextlib.suppress(OSError):
                    child.rmdir()
    with contextlib.suppress(OSError):
        base.rmdir()


def _sweep(parent: Path) -> None:
    """Remove the empty cgroups of servers that are gone (their directory names hold their pid)."""
    with contextlib.suppress(OSError):
        for entry in parent.iterdir():
            m = re.fullmatch(r"locallambda-(\d+)", entry.name)
            if m and int(m.group(1)) != os.getpid() and not Path(f"/proc/{m.group(1)}").exists():
                _remove_tree(entry)


async def remove_cgroup(cgroup: EnvCgroup) -> None:
    """rmdir a sandbox's cgroup once the kernel has let go of its last process (up to 1 s)."""
    for _ in range(50):
        if cgroup.remove():
            return
        await asyncio.sleep(0.02)
    log.warning("cgroup %s could not be removed", cgroup.memory_dir)
