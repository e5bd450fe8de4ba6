"""cgroups of the executors that run on the host: one cgroup per environment under a tree of this server.

Two kinds of tree, each found (or made) by a blocking discovery:

- ``CgroupTree.discover`` (the sandbox executor) needs a writable memory controller: cgroup v2
  (one directory per sandbox, memory and pids enabled in its parent's ``cgroup.subtree_control``),
  or cgroup v1 as on hybrid hosts (one directory per hierarchy: memory, and pids where mounted).
  The tree is named after the server's pid (``locallambda-<pid>``).
- ``CgroupTree.tracking`` (the process executor) only holds processes, with no limit: the v1 pids
  hierarchy where there is one, else the unified hierarchy (no controller needed there), else v1
  memory; a candidate is taken once a probe process could enter it. The tree is named after the
  server's pid, its start time and an instance (``locallambda-<pid>-<start>-local-<hex>``): a pid
  reused after a crash does not make a dead server's tree look alive, and two servers built in
  one process keep apart.

Trees whose server is gone are swept at every discovery (``_sweep``): every process still inside
is killed, then the cgroups are removed. That is what, at the next start, removes what a server
killed with SIGKILL left running.

Per environment (``EnvCgroup``): the hard memory limit and the pids limit, the anonymous memory in
use (what the sandbox's memory guard samples), the kernel's OOM kills (``Runtime.OutOfMemory``),
killing every process inside (``cgroup.kill`` on v2; elsewhere forks are stopped first through
``pids.max`` where the pids controller is, then what is listed is killed until nothing is), and
removal once empty. Everything here is blocking file-system work on the kernel's cgroup files,
except ``remove_cgroup``; failures to write a control file are tolerated (a missing controller
means no limit, not an error).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

__all__ = ["CgroupTree", "EnvCgroup", "remove_cgroup"]

log = logging.getLogger(__name__)

# locallambda-<pid> (the sandbox's trees), locallambda-<pid>-<start time>-<kind>-<instance>.
_TREE = re.compile(r"locallambda-(\d+)(?:-(\d+)-[a-z]+-[0-9a-f]+)?")
# Rounds of reading cgroup.procs and killing what it lists: only forks racing the kill make
# more than one (none once pids.max is 0).
_KILL_ROUNDS = 20
# How long a sweep or a close waits for killed processes to leave their cgroups.
_PURGE_WAIT_S = 2.0
_PROBE_TIMEOUT_S = 5.0


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


def _procs(d: Path) -> list[int]:
    try:
        return [int(p) for p in (d / "cgroup.procs").read_text().split()]
    except (OSError, ValueError):
        return []


def _kill(version: int, dirs: Sequence[Path]) -> None:
    """SIGKILL every process in ``dirs`` (the directories of one cgroup), forks racing it included."""
    if version == 2 and _write(dirs[0] / "cgroup.kill", "1"):
        return  # Linux 5.14+: the whole subtree at once, forks included
    for round_ in range(_KILL_ROUNDS):
        pids = {pid for d in dirs for pid in _procs(d)}
        if not pids:
            return
        if round_ == 0:
            # Where the pids controller is, no fork succeeds from now on: nothing can be
            # started behind the kills below.
            for d in dirs:
                if (d / "pids.max").exists():
                    _write(d / "pids.max", "0")
        for pid in pids:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)


def _rmdir(d: Path) -> bool:
    """True when ``d`` is gone; False while a process (or a child cgroup) is still in it."""
    try:
        d.rmdir()
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return True


def _subdirs(d: Path) -> list[Path]:
    try:
        return [c for c in d.iterdir() if c.is_dir()]
    except OSError:
        return []


def _purge(d: Path, version: int, deadline: float) -> bool:
    """Kill every process in cgroup ``d`` and below it, then remove them; False when one could
    not be removed by ``deadline`` (``time.monotonic``)."""
    _kill(version, [d])
    done = all([_purge(child, version, deadline) for child in _subdirs(d)])
    while done and not _rmdir(d):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
        _kill(version, [d])
    return done


class EnvCgroup:
    """The cgroup(s) of one environment: v2 one directory; v1 one per hierarchy (memory, pids).

    ``path`` is the first directory: the memory controller's where there is one.
    """

    def __init__(self, version: int, path: Path, others: list[Path]) -> None:
        self.version = version
        self.path = path
        self.dirs = [path, *others]

    @property
    def procs_files(self) -> list[str]:
        return [str(d / "cgroup.procs") for d in self.dirs]

    def set_limits(self, memory_bytes: int, pids_max: int) -> None:
        if self.version == 2:
            _write(self.path / "memory.max", str(memory_bytes))
            _write(self.path / "memory.swap.max", "0")
            _write(self.path / "pids.max", str(pids_max))
            return
        # Raising from unlimited: the memory limit first, then memory+swap (absent without swap
        # accounting), which may never be below it.
        _write(self.path / "memory.limit_in_bytes", str(memory_bytes))
        _write(self.path / "memory.memsw.limit_in_bytes", str(memory_bytes))
        for d in self.dirs[1:]:
            _write(d / "pids.max", str(pids_max))

    def anon_bytes(self) -> int | None:
        if self.version == 2:
            return _stat_value(self.path / "memory.stat", b"anon")
        return _stat_value(self.path / "memory.stat", b"total_rss")

    def oom_kills(self) -> int:
        if self.version == 2:
            return _stat_value(self.path / "memory.events", b"oom_kill") or 0
        count = _stat_value(self.path / "memory.oom_control", b"oom_kill")
        return count or 0

    def kill_all(self) -> None:
        """SIGKILL every process inside, however it detached (a session, a group, a double fork
        of its own). Never raises."""
        _kill(self.version, self.dirs)

    def remove(self) -> bool:
        """rmdir every directory; False while a process is still in one."""
        done = True
        for d in self.dirs:
            done = _rmdir(d) and done
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


def _v1_own(mounts: list[tuple[str, str, str, set[str]]], own: dict[str, str], ctrl: str) -> Path | None:
    """This process's cgroup directory in the v1 hierarchy of ``ctrl``."""
    mount = next((m for m in mounts if m[2] == "cgroup" and ctrl in m[3]), None)
    if mount is None or ctrl not in own:
        return None
    return _locate(mount[0], mount[1], own[ctrl])


def _holding_parents(mounts: list[tuple[str, str, str, set[str]]], own: dict[str, str]) -> list[tuple[str, Path]]:
    """Where a tree that only holds processes may go, best first: (controller or ``""``, parent)."""
    found: list[tuple[str, Path]] = []
    pids = _v1_own(mounts, own, "pids")
    if pids is not None:
        found.append(("pids", pids))
    unified = next((m for m in mounts if m[2] == "cgroup2"), None)
    if unified is not None and "" in own:
        point = Path(unified[1])
        mine = _locate(unified[0], unified[1], own[""])
        # Next to ours (a delegated slice), or under the root.
        if mine is not None and mine != point:
            found.append(("", mine.parent))
        found.append(("", point))
    memory = _v1_own(mounts, own, "memory")
    if memory is not None:
        found.append(("memory", memory))
    return found


def _start_time(pid: int | str) -> int | None:
    """When a process started (clock ticks since boot: field 22 of ``/proc/<pid>/stat``)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
        return int(stat[stat.rfind(b")") + 2 :].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def _owner_alive(name: str) -> bool | None:
    """Whether the server a tree is named after still runs; None when the name is no tree's."""
    m = _TREE.fullmatch(name)
    if m is None:
        return None
    pid = int(m.group(1))
    if m.group(2) is None:
        # A pid alone (the sandbox's trees): ours is alive, another's while its pid is.
        return pid == os.getpid() or Path(f"/proc/{pid}").exists()
    return _start_time(pid) == int(m.group(2))


def _sweep(parent: Path) -> None:
    """Kill what is left in the trees of servers that are gone, and remove those trees."""
    version = 2 if (parent / "cgroup.controllers").exists() else 1
    deadline = time.monotonic() + _PURGE_WAIT_S
    for entry in _subdirs(parent):
        if _owner_alive(entry.name) is False and not _purge(entry, version, deadline):
            log.warning("the cgroup tree %s of a server that is gone could not be removed", entry)


def _can_enter(cgroup: Path) -> bool:
    """Whether a process of ours can move itself into ``cgroup`` (runs one shell). Blocking."""
    try:
        done = subprocess.run(
            ["/bin/sh", "-c", 'echo $$ > "$1"', "sh", str(cgroup / "cgroup.procs")],
            check=False,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=_PROBE_TIMEOUT_S,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


class CgroupTree:
    """The directory under which this server makes a cgroup per environment."""

    def __init__(self, version: int, bases: dict[str, Path]) -> None:
        self.version = version
        # v2: {"": base}; v1: {"memory": base, "pids": base?}, or {"pids": base} for tracking.
        self._bases = bases

    def describe(self) -> str:
        return f"cgroup v{self.version} at {next(iter(self._bases.values()))}"

    @staticmethod
    def discover() -> tuple[CgroupTree | None, str]:
        """A tree with the memory controller (the sandbox's), or None and why not. Blocking."""
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
        own_dir = _v1_own(mounts, own, "memory")
        if own_dir is None:
            return None, "no memory cgroup controller"
        if not os.access(own_dir, os.W_OK):
            return None, "the memory cgroup is not writable (not root, nothing delegated)"
        bases: dict[str, Path] = {}
        for ctrl in ("memory", "pids"):
            parent = _v1_own(mounts, own, ctrl)
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

    @staticmethod
    def tracking() -> tuple[CgroupTree | None, str]:
        """A tree that only holds processes (the process executor's), or None and why not.

        Blocking: sweeps the trees of dead servers wherever a tree of either kind may be, then
        takes the first place where a probe process could enter a cgroup made there.
        """
        name = f"locallambda-{os.getpid()}-{_start_time('self') or 0}-local-{os.urandom(3).hex()}"
        parents = _holding_parents(_mounts(), _own_paths())
        if not parents:
            return None, "no cgroup hierarchy is mounted"
        for parent in dict.fromkeys(p for _, p in parents):
            _sweep(parent)
        for ctrl, parent in parents:
            if not os.access(parent, os.W_OK) or not os.access(parent / "cgroup.procs", os.W_OK):
                continue
            base, version = parent / name, 1 if ctrl else 2
            try:
                base.mkdir()
            except OSError:
                continue
            probe = base / "probe"
            try:
                probe.mkdir()
                entered = _can_enter(probe)
            except OSError:
                entered = False
            deadline = time.monotonic() + _PURGE_WAIT_S
            _purge(probe, version, deadline)
            if entered:
                tree = CgroupTree(version, {ctrl: base})
                return tree, tree.describe()
            _purge(base, version, deadline)
        return None, "no cgroup this server may move processes into (not root, nothing delegated)"

    def create(self, env_id: str) -> EnvCgroup | None:
        """An empty cgroup for one environment (limits come with ``set_limits``); None when it
        cannot be made."""
        dirs: list[Path] = []
        for base in self._bases.values():
            d = base / env_id
            try:
                d.mkdir()
            except OSError:
                if not dirs:  # the first (memory's, or the only one) is required
                    return None
                continue
            dirs.append(d)
        return EnvCgroup(self.version, dirs[0], dirs[1:])

    def close(self) -> None:
        """Kill what is still inside the tree's cgroups, remove them and the tree (waits up to
        2 s for the processes to go). Blocking; never raises."""
        deadline = time.monotonic() + _PURGE_WAIT_S
        for base in self._bases.values():
            if not _purge(base, self.version, deadline):
                log.warning("cgroup tree %s could not be removed", base)


async def remove_cgroup(cgroup: EnvCgroup) -> None:
    """rmdir an environment's cgroup once the kernel has let go of its last process (up to 1 s);
    what is still inside (a fork that raced a kill) is killed again at each try."""
    for _ in range(50):
        if cgroup.remove():
            return
        cgroup.kill_all()
        await asyncio.sleep(0.02)
    log.warning("cgroup %s could not be removed", cgroup.path)
