"""Linux's inotify through ctypes: told of changes under a directory tree as they happen.

``TreeWatch`` watches a tree (every directory in it but those skipped: ``open``, in a worker
thread, as it walks the tree), adds watches for directories created in it later, and calls
``on_event`` on the event loop once per batch of events read (``listen``). ``available()`` says
whether this machine has inotify at all; ``TreeWatch.open`` raises ``OSError`` when a watch cannot
be added (the per-user limit, a tree too large, a missing
directory), and the caller polls instead.

Events asked for: a file written and closed, created, deleted, moved in or out, its attributes
changed (``touch``), and the watched directory itself deleted or moved. The kernel's queue
overflowing counts as a change of everything watched.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import errno
import os
import struct
from collections.abc import Callable
from pathlib import Path

__all__ = ["TreeWatch", "available"]

IN_MODIFY = 0x002
IN_ATTRIB = 0x004
IN_CLOSE_WRITE = 0x008
IN_MOVED_FROM = 0x040
IN_MOVED_TO = 0x080
IN_CREATE = 0x100
IN_DELETE = 0x200
IN_DELETE_SELF = 0x400
IN_MOVE_SELF = 0x800
IN_Q_OVERFLOW = 0x4000
IN_IGNORED = 0x8000
IN_ONLYDIR = 0x01000000
IN_ISDIR = 0x40000000
IN_NONBLOCK = 0o4000
IN_CLOEXEC = 0o2000000

_MASK = (
    IN_MODIFY
    | IN_ATTRIB
    | IN_CLOSE_WRITE
    | IN_MOVED_FROM
    | IN_MOVED_TO
    | IN_CREATE
    | IN_DELETE
    | IN_DELETE_SELF
    | IN_MOVE_SELF
    | IN_ONLYDIR
)
_HEADER = struct.Struct("iIII")  # wd, mask, cookie, len
MAX_DIRECTORIES = 2_000  # beyond this a tree is polled: each watch costs kernel memory

_libc: ctypes.CDLL | None = None


def _lib() -> ctypes.CDLL | None:
    global _libc
    if _libc is None:
        name = ctypes.util.find_library("c")
        if name is None:
            return None
        lib = ctypes.CDLL(name, use_errno=True)
        if not hasattr(lib, "inotify_init1"):
            return None
        lib.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
        lib.inotify_add_watch.restype = ctypes.c_int
        lib.inotify_rm_watch.argtypes = [ctypes.c_int, ctypes.c_int]
        lib.inotify_rm_watch.restype = ctypes.c_int
        _libc = lib
    return _libc


def available() -> bool:
    return _lib() is not None


class TreeWatch:
    """Every directory of ``root`` watched (but those named in ``skip``) until ``close``."""

    def __init__(self, root: Path, skip: frozenset[str], on_event: Callable[[], None]) -> None:
        self.root = root
        self._skip = skip
        self._on_event = on_event
        self._fd = -1
        self._dirs: dict[int, str] = {}  # watch descriptor → directory
        self._loop: asyncio.AbstractEventLoop | None = None
        self.lost = False  # the root went away, or the queue overflowed: poll from now on

    def open(self) -> None:
        """Add a watch for every directory of the tree (blocking: it walks the tree; call in a
        worker thread). Events are queued from here on, read once ``listen`` is called. Raises
        ``OSError``."""
        lib = _lib()
        if lib is None:
            raise OSError(errno.ENOSYS, "inotify is not available")
        fd = lib.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1 failed")
        self._fd = fd
        self._add_tree(str(self.root))

    def listen(self) -> None:
        """Read the queued events on the running event loop from now on (after ``open``)."""
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self._fd, self._readable)

    def close(self) -> None:
        fd, self._fd = self._fd, -1
        if fd >= 0:
            if self._loop is not None:
                self._loop.remove_reader(fd)
            os.close(fd)
        self._dirs.clear()

    def _add_tree(self, top: str) -> None:
        for base, dirs, _ in os.walk(top):
            dirs[:] = [d for d in dirs if d not in self._skip]
            self._add(base)

    def _add(self, path: str) -> None:
        if len(self._dirs) >= MAX_DIRECTORIES:
            raise OSError(errno.ENOSPC, f"more than {MAX_DIRECTORIES} directories to watch")
        lib = _lib()
        assert lib is not None
        wd = lib.inotify_add_watch(self._fd, os.fsencode(path), _MASK)
        if wd < 0:
            code = ctypes.get_errno()
            if code in (errno.ENOENT, errno.ENOTDIR) and path != str(self.root):
                return  # gone again before it could be watched
            raise OSError(code, f"cannot watch {path}: {os.strerror(code)}")
        self._dirs[wd] = path

    def _readable(self) -> None:
        try:
            data = os.read(self._fd, 64 * 1024)
        except BlockingIOError:
            return
        except OSError:
            self.lost = True
            self._on_event()
            return
        offset = 0
        relevant = False
        while offset + _HEADER.size <= len(data):
            wd, mask, _, length = _HEADER.unpack_from(data, offset)
            raw_name = data[offset + _HEADER.size : offset + _HEADER.size + length].rstrip(b"\0")
            offset += _HEADER.size + length
            name = os.fsdecode(raw_name)
            if mask & IN_Q_OVERFLOW:
                self.lost = relevant = True
                continue
            directory = self._dirs.get(wd)
            if directory is None:
                continue
            if mask & IN_IGNORED:
                self._dirs.pop(wd, None)
            if directory == str(self.root) and mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED):
                self.lost = relevant = True
            if name in self._skip or (not name and mask & IN_IGNORED):
                continue  # e.g. __pycache__ written by the function's own imports
            relevant = True
            if mask & IN_ISDIR and mask & (IN_CREATE | IN_MOVED_TO):
                try:
                    self._add_tree(os.path.join(directory, name))
                except OSError:
                    self.lost = True
        if relevant:
            self._on_event()
