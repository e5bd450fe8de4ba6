"""The file system of a sandbox: what bwrap mounts, and how host paths are named inside.

The host's ``/usr``, ``/etc`` and ``/bin``, ``/lib*`` (links kept as links) read-only; the entries
of ``/etc`` that other users may not read masked with empty ones; an ``/etc/passwd`` that knows
the sandbox user; the function's code at ``/var/task``; its layers at ``/opt`` (one merged
directory, or each layer's top-level entries); ``/var/runtime`` as AWS's Node.js images have it
(``ca-cert.pem``, ``node_modules``); host files the runtime's command line names.
These helpers compute bwrap arguments and paths from what is on the host (they look at the file
system, which is why they are not in the pure ``args.py``); the command lines are ``args.py``'s.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

from locallambda.runtimes.commands import AWS_RUNTIME_DIR, NODE_BOOTSTRAP, host_ca_bundle

__all__ = [
    "OPT",
    "SANDBOX_GID",
    "SANDBOX_UID",
    "SANDBOX_USER",
    "TASK_ROOT",
    "HostLayout",
    "argv_binds",
    "code_translator",
    "is_under",
    "layer_binds",
    "minimal",
    "own_path_binds",
    "path_translator",
    "prefix_of",
    "system_binds",
]

TASK_ROOT = "/var/task"
OPT = "/opt"
# AWS runs functions as sbx_user1051 (uid 993, gid 990), not as root.
SANDBOX_UID = 993
SANDBOX_GID = 990
SANDBOX_USER = "sbx_user1051"
_SYSTEM_DIRS = ("/usr", "/etc")
_SYSTEM_LINKS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
# Kept private inside too: /etc entries without a read bit for others (their owner, the server's
# uid, is who the sandbox user is); directories are not descended into.
_MASK_ROOT = "/etc"


def system_binds() -> list[str]:
    """bwrap arguments for the host's system directories, read-only (links kept as links)."""
    args: list[str] = []
    for path in _SYSTEM_DIRS:
        if os.path.isdir(path):
            args += ["--ro-bind", path, path]
    for path in _SYSTEM_LINKS:
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    return args


def _private_entries(root: str) -> tuple[list[str], list[str]]:
    """Files and directories under ``root`` that other users may not read (not followed)."""
    files: list[str] = []
    dirs: list[str] = []
    for top, subdirs, names in os.walk(root):
        kept = []
        for name in subdirs:
            path = os.path.join(top, name)
            try:
                st = os.lstat(path)
            except OSError:
                continue
            if (st.st_mode & 0o005) != 0o005 and not os.path.islink(path):
                dirs.append(path)
            else:
                kept.append(name)
        subdirs[:] = kept
        for name in names:
            path = os.path.join(top, name)
            try:
                st = os.lstat(path)
            except OSError:
                continue
            if (st.st_mode & 0o170000) == 0o100000 and not st.st_mode & 0o004:
                files.append(path)
    return files, dirs


def is_under(path: str, roots: Iterable[str]) -> bool:
    return any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)


def prefix_of(executable: str) -> str:
    """The installation an executable belongs to: ``<prefix>`` of ``<prefix>/bin/x``."""
    parent = os.path.dirname(executable)
    return os.path.dirname(parent) if os.path.basename(parent) == "bin" else parent


class HostLayout:
    """What every sandbox of this server binds: computed once, off the event loop."""

    def __init__(self, workdir: Path) -> None:
        self.bwrap = shutil.which("bwrap") or "bwrap"
        # /var/runtime: the CA certificates that nodejs16.x and nodejs18.x name in
        # NODE_EXTRA_CA_CERTS (/var/runtime/ca-cert.pem on AWS: a copy of the host's bundle) and
        # node_modules, a link to the bundled SDK once a function needs it (``link_runtime_modules``).
        self._runtime_dir = workdir / "runtime"
        self._runtime_dir.mkdir(exist_ok=True)
        self._runtime_modules: Path | None = None
        ca = host_ca_bundle()
        if ca is not None:
            shutil.copyfile(ca, self._runtime_dir / "ca-cert.pem")
        self.system = [*system_binds(), "--ro-bind", str(self._runtime_dir), AWS_RUNTIME_DIR]
        self.system_roots = [p for p in (*_SYSTEM_DIRS, *_SYSTEM_LINKS) if os.path.isdir(p)]
        empty_file = workdir / "empty"
        empty_file.write_bytes(b"")
        empty_dir = workdir / "empty.d"
        empty_dir.mkdir(exist_ok=True)
        self.masks: list[str] = []
        files, dirs = _private_entries(_MASK_ROOT)
        for path in files:
            self.masks += ["--ro-bind", str(empty_file), path]
        for path in dirs:
            self.masks += ["--ro-bind", str(empty_dir), path]
        # getpwuid() must know the sandbox user (AWS's /etc/passwd has it).
        passwd = workdir / "passwd"
        try:
            host_passwd = Path("/etc/passwd").read_text()
        except OSError:
            host_passwd = "root:x:0:0:root:/root:/bin/sh\n"
        passwd.write_text(
            host_passwd.rstrip("\n")
            + f"\n{SANDBOX_USER}:x:{SANDBOX_UID}:{SANDBOX_GID}::/home/{SANDBOX_USER}:/sbin/nologin\n"
        )
        self.masks += ["--ro-bind", str(passwd), "/etc/passwd"]
        # Our bootstraps (Node.js runtime client) and the server's interpreter with awslambdaric.
        self.shared: list[str] = [str(NODE_BOOTSTRAP.parent.parent)]
        self._python: dict[str, list[str]] = {}
        self._python[os.path.realpath(sys.executable)] = self._own_python_roots()

    def link_runtime_modules(self, modules: Path) -> None:
        """Make ``/var/runtime/node_modules`` of every sandbox lead to ``modules``, the host
        directory of the SDK that Node.js 18 and later bundle (the server has one: the first call
        decides). It is found only where ``modules`` is bound at its own path too, which the
        command of such a runtime does: for other runtimes the link leads nowhere."""
        if self._runtime_modules is None:
            link = self._runtime_dir / "node_modules"
            with contextlib.suppress(FileExistsError):
                os.symlink(modules, link)
            self._runtime_modules = modules

    def _own_python_roots(self) -> list[str]:
        roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
        spec = importlib.util.find_spec("awslambdaric")
        if spec is not None and spec.origin:
            roots.add(str(Path(spec.origin).parent.parent))
        return sorted(roots)

    def known_python_roots(self, python: str) -> list[str] | None:
        return self._python.get(os.path.realpath(python))

    def python_roots(self, python: str) -> list[str]:
        """Directories an interpreter needs: its prefixes and where awslambdaric is (blocking)."""
        key = os.path.realpath(python)
        if key not in self._python:
            code = (
                "import sys, os, importlib.util as u; s = u.find_spec('awslambdaric'); "
                "print('\\n'.join({sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}"
                " | ({os.path.dirname(os.path.dirname(s.origin))} if s and s.origin else set())))"
            )
            try:
                out = subprocess.run(
                    [python, "-c", code], check=False, capture_output=True, text=True, timeout=20
                ).stdout
            except (OSError, subprocess.TimeoutExpired):
                out = ""
            self._python[key] = [line for line in out.splitlines() if line.startswith("/")]
        return self._python[key]


def path_translator(places: list[tuple[str, str]]) -> Callable[[str], str]:
    """Rewrites host paths of the code and layers into the sandbox's (at path boundaries)."""
    patterns = [(re.compile(re.escape(host.rstrip("/")) + r"(?=$|[/:=*])"), inside) for host, inside in places]

    def translate(value: str) -> str:
        for pattern, inside in patterns:
            value = pattern.sub(inside, value)
        return value

    return translate


def code_translator(code_dir: str, layers: list[str]) -> Callable[[str], str]:
    """Rewrites the host paths of the function's code to ``/var/task`` and of its layers to ``/opt``."""
    # Longest first, so that nested paths translate correctly.
    places = sorted([(code_dir, TASK_ROOT), *[(p, OPT) for p in layers]], key=lambda t: -len(t[0]))
    return path_translator(places)


def minimal(paths: Iterable[str]) -> list[str]:
    """The paths without those inside another one of them."""
    unique = sorted({os.path.normpath(p) for p in paths if p})
    kept: list[str] = []
    for p in unique:
        if not is_under(p, kept):
            kept.append(p)
    return kept


def own_path_binds(paths: Iterable[str], system_roots: list[str]) -> list[str]:
    """Read-only binds (same path) for host directories a runtime needs (its interpreter's prefix,
    our bootstraps): the outermost of them, those that exist and that no system bind covers."""
    binds: list[str] = []
    for path in minimal(paths):
        if os.path.exists(path) and not is_under(path, system_roots):
            binds += ["--ro-bind", path, path]
    return binds


def argv_binds(args: list[str], covered: list[str]) -> list[str]:
    """Read-only binds (same path) for host files named on the command line (a Java jar, its
    class-data archive) that no other bind brings in."""
    binds: list[str] = []
    seen: set[str] = set()
    for arg in args:
        for part in re.split(r"[=:]", arg):
            piece = part.rstrip("*").rstrip("/") if part.endswith("*") else part
            if not piece.startswith("/") or piece in seen or is_under(piece, covered):
                continue
            if os.path.exists(piece):
                seen.add(piece)
                binds += ["--ro-bind", piece, piece]
    return binds


def layer_binds(layers: list[str]) -> list[str]:
    """/opt: the one merged layer directory, or each layer's top-level entries (later wins)."""
    if not layers:
        return ["--dir", OPT]
    if len(layers) == 1:
        return ["--ro-bind", layers[0], OPT]
    binds = ["--dir", OPT]
    for layer in layers:
        with contextlib.suppress(OSError):
            for entry in sorted(os.listdir(layer)):
                binds += ["--ro-bind", os.path.join(layer, entry), f"{OPT}/{entry}"]
    return binds
