"""Lambda Debug Mode: functions started under their runtime's debugger, each on a port of its own.

LocalStack's names and rules (docs.localstack.cloud, "Lambda Debug Mode"; the parser and the
provisioner of its community code, ``services/lambda_/lambda_debug_mode/`` before it moved to
Pro). ``LAMBDA_DEBUG_MODE=1`` turns it on; ``LAMBDA_DEBUG_MODE_CONFIG_PATH`` names a file::

    functions:
      arn:aws:lambda:us-east-1:000000000000:function:one:
        debug-port: 19891
      arn:aws:lambda:us-east-1:000000000000:function:two:3:
        debug-port: 19892
        enforce-timeouts: true

- A key is a function ARN; an unqualified one means ``$LATEST`` (LocalStack's
  ``to_qualified_lambda_function_arn``). Ours also takes a function name, ``name`` or
  ``name:version``, of any region. A qualifier names a version (``$LATEST`` or a number): the
  version an invocation runs, whatever alias it came through.
- ``debug-port``: the runtime starts under its debugger listening on ``127.0.0.1:<port>``
  (Python: debugpy, Node.js: the inspector, Java: JDWP; ``runtimes/commands.py``) and waits
  for a debugger before its init. A port given twice makes the file invalid (LocalStack's
  ``PortAlreadyInUse``).
- ``enforce-timeouts`` (default false): unless true, the function's timeout is lifted to one
  hour, ``DEFAULT_LAMBDA_DEBUG_MODE_TIMEOUT_SECONDS`` (``AWS_LAMBDA_FUNCTION_TIMEOUT`` and the
  invocation's deadline follow), so a stop at a breakpoint does not time the invocation out.
  With ``LAMBDA_DEBUG_MODE=1`` and no file, every function's timeout is lifted so (LocalStack's
  first debug mode) and no debugger is started.
- A debugged version has one environment (a port is bound once): an invocation while another
  runs is throttled as LocalStack's ``LambdaDebugTarget`` throttles it, ``TooManyRequestsException``
  ``Rate Exceeded.`` with ``Reason`` ``SingleLeaseEnforcement`` (Event invokes are then retried
  as after any throttle). Its environment is kept however long it idles (``invoke/pool.py``), so
  an attached debugger stays attached.

The file is YAML when PyYAML can be imported (moto brings it), else JSON (a JSON document is YAML
too). It is read when the server starts; a file that cannot be read or is invalid stops the start
with ``ValueError`` (LocalStack logs the error and debugs nothing).

The file is watched while the server runs, as LocalStack's ``LambdaDebugModeSession`` watches it
(a thread looking at its modification time every second, the new file enforced once read):
``watch`` looks at the file's modification time, size and inode every ``WATCH_INTERVAL_S`` (an
editor that saves by renaming a new file into place changes the inode; a stat is all a look
costs, where inotify would have to watch the file's whole directory tree). A changed file is read
again: its entries apply to the environments started from then on, and the environments they
no longer describe (a version added, removed, or given another port or ``enforce-timeouts``) are
retired by the ``on_change`` the engine gives (idle ones at once, busy ones when their invocation
ends), so that the next invocation of such a version starts afresh, under its debugger or not.
A file that became invalid debugs nothing until it is fixed (LocalStack's "could not load the
latest configuration"); one that cannot be read (gone for a moment while an editor replaces it)
leaves the entries as they were.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from locallambda.errors import TooManyRequestsError
from locallambda.model.clock import Clock
from locallambda.model.refs import LATEST
from locallambda.model.spec import DebugTarget, FunctionSpec
from locallambda.model.tasks import TaskScope

__all__ = ["DEBUG_TIMEOUT_S", "WATCH_INTERVAL_S", "DebugMode", "parse_config"]

log = logging.getLogger(__name__)

DEBUG_TIMEOUT_S = 3_600  # LocalStack's DEFAULT_LAMBDA_DEBUG_MODE_TIMEOUT_SECONDS
WATCH_INTERVAL_S = 0.5  # LocalStack looks once a second

# (region or None for a key given by name, function name, version)
_Key = tuple[str | None, str, str]


@dataclasses.dataclass(frozen=True, slots=True)
class _Entry:
    port: int | None
    enforce_timeouts: bool
    account: str | None  # of a key given as an ARN


def _load(text: str, path: Path) -> Any:
    try:
        import yaml
    except ImportError:
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path} is not valid JSON (PyYAML is not installed for YAML): {exc}") from exc
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(f"{path} is not valid YAML: {exc}") from exc


def _key(name: str) -> tuple[_Key, str | None]:
    """A key of the file as (region, name, version) and the ARN's account. Raises ``ValueError``
    for a malformed ARN (LocalStack's ``UnknownLambdaArnFormat``)."""
    if name.startswith("arn:"):
        parts = name.split(":")
        if len(parts) not in (7, 8) or parts[5] != "function" or not parts[6] or (len(parts) == 8 and not parts[7]):
            raise ValueError(f"not a function ARN: {name!r}")
        return (parts[3], parts[6], parts[7] if len(parts) == 8 else LATEST), parts[4]
    function, _, version = name.partition(":")
    if not function or (version == "" and name.endswith(":")):
        raise ValueError(f"not a function name: {name!r}")
    return (None, function, version or LATEST), None


def parse_config(text: str, path: Path = Path("<config>")) -> dict[_Key, _Entry]:
    """The entries of a debug mode file. Raises ``ValueError`` saying what is wrong with it."""
    data = _load(text, path)
    if data is None:
        return {}
    functions = data.get("functions") if isinstance(data, dict) else None
    if not isinstance(functions, dict):
        raise ValueError(f"{path}: expected a mapping 'functions: {{<function ARN>: {{debug-port: <port>}}}}'")
    entries: dict[_Key, _Entry] = {}
    ports: dict[int, str] = {}
    for name, value in functions.items():
        key, account = _key(str(name))
        raw = value or {}
        if not isinstance(raw, dict) or set(raw) - {"debug-port", "enforce-timeouts"}:
            raise ValueError(f"{path}: {name}: expected 'debug-port' and 'enforce-timeouts' only, got {raw!r}")
        port = raw.get("debug-port")
        if port is not None and (isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536):
            raise ValueError(f"{path}: {name}: debug-port must be a port number, got {port!r}")
        enforce = raw.get("enforce-timeouts", False)
        if not isinstance(enforce, bool):
            raise ValueError(f"{path}: {name}: enforce-timeouts must be true or false, got {enforce!r}")
        if key in entries:
            raise ValueError(f"{path}: {name} is configured twice")
        if port is not None:
            if port in ports:
                raise ValueError(f"{path}: debug-port {port} is given to both {ports[port]} and {name}")
            ports[port] = str(name)
        entries[key] = _Entry(port, enforce, account)
    return entries


class DebugMode:
    """Which functions run under a debugger, and the one invocation each may run at a time."""

    def __init__(self, enabled: bool, entries: Mapping[_Key, _Entry] | None = None, path: Path | None = None) -> None:
        """``entries`` from ``parse_config`` of the file at ``path`` (watched by ``watch``);
        ``None``: no file (every timeout lifted)."""
        self.enabled = enabled
        self.path = path if enabled and entries is not None else None
        self._entries = dict(entries or {})
        self._everything = enabled and entries is None
        self._applied: dict[tuple[str, str], tuple[FunctionSpec, FunctionSpec]] = {}
        self._busy: set[tuple[str, str]] = set()
        self._seen = _signature(self.path) if self.path is not None else None

    @classmethod
    def from_settings(cls, enabled: bool, path: Path | None) -> DebugMode:
        """Read the file (when debug mode is on). Raises ``ValueError`` for a file that cannot
        be read or is invalid."""
        if not enabled:
            return cls(False)
        if path is None:
            log.info("Lambda debug mode: no LAMBDA_DEBUG_MODE_CONFIG_PATH; every function's timeout is lifted")
            return cls(True)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ValueError(f"LAMBDA_DEBUG_MODE_CONFIG_PATH: cannot read {path}: {exc.strerror or exc}") from exc
        entries = parse_config(text, path)
        _log_entries(entries)
        return cls(True, entries, path)

    # -- the file watched ---------------------------------------------------------------------

    def watch(self, on_change: Callable[[], None], tasks: TaskScope, clock: Clock) -> None:
        """Look at the file every ``WATCH_INTERVAL_S`` in ``tasks`` (nothing without a file);
        ``on_change`` is called once the entries changed (the engine retires what is ``stale``)."""
        if self.path is not None:
            tasks.spawn(self._watch(self.path, on_change, clock), name="debug mode config watch")

    async def _watch(self, path: Path, on_change: Callable[[], None], clock: Clock) -> None:
        while True:
            await clock.sleep(WATCH_INTERVAL_S)
            seen = _signature(path)
            if seen == self._seen:
                continue
            self._seen = seen
            if seen is None:
                log.warning("Lambda debug mode: %s is gone; the configuration read last stays in force", path)
                continue
            entries = await asyncio.to_thread(_read_again, path)
            if entries is not None and self.replace(entries, path):
                on_change()

    def replace(self, entries: Mapping[_Key, _Entry], path: Path) -> bool:
        """Enforce the ``entries`` read again from ``path``; whether they changed."""
        if entries == self._entries:
            return False
        log.info("Lambda debug mode: %s changed; %d function(s) configured", path, len(entries))
        _log_entries(entries)
        self._entries = dict(entries)
        self._applied = {}
        return True

    def stale(self, spec: FunctionSpec) -> bool:
        """Whether an environment started from ``spec`` (as ``apply`` gave it) is not what the
        configuration now asks for: a debugger it should have, or should not, or on another port."""
        if not self.enabled or self._everything:
            return False
        entry = self._entry(spec)
        wanted = (entry.port, entry.enforce_timeouts) if entry is not None and entry.port else None
        running = (spec.debug.port, spec.debug.enforce_timeouts) if spec.debug is not None else None
        return wanted != running

    def _entry(self, spec: FunctionSpec) -> _Entry | None:
        entry = self._entries.get((spec.region, spec.name, spec.version))
        if entry is not None and entry.account not in (None, spec.account_id):
            entry = None
        return entry or self._entries.get((None, spec.name, spec.version))

    def apply(self, spec: FunctionSpec) -> FunctionSpec:
        """``spec`` as debug mode runs it: with its ``debug`` target and its timeout lifted, or
        unchanged. The same object for the same ``spec`` (the engine's specs are cached)."""
        if not self.enabled:
            return spec
        slot = (spec.key, spec.version)
        cached = self._applied.get(slot)
        if cached is not None and cached[0] is spec:
            return cached[1]
        entry = None if self._everything else self._entry(spec)
        applied = spec
        if self._everything:
            applied = dataclasses.replace(spec, timeout_s=DEBUG_TIMEOUT_S)
        elif entry is not None:
            applied = dataclasses.replace(
                spec,
                timeout_s=spec.timeout_s if entry.enforce_timeouts else DEBUG_TIMEOUT_S,
                debug=DebugTarget(entry.port, spec.timeout_s, entry.enforce_timeouts) if entry.port else None,
            )
        self._applied[slot] = (spec, applied)
        return applied

    @contextlib.contextmanager
    def lease(self, spec: FunctionSpec) -> Iterator[None]:
        """Hold the one invocation a debugged version may run for the duration of the block
        (nothing for a version that is not debugged). Raises ``TooManyRequestsError``."""
        if spec.debug is None:
            yield
            return
        slot = (spec.key, spec.version)
        if slot in self._busy:
            log.warning("Lambda debug mode: concurrent invocations of %s:%s are refused", spec.name, spec.version)
            raise TooManyRequestsError("Rate Exceeded.", Reason="SingleLeaseEnforcement", Type="User")
        self._busy.add(slot)
        try:
            yield
        finally:
            self._busy.discard(slot)


def _read_again(path: Path) -> dict[_Key, _Entry] | None:
    """Blocking: the entries of the changed file; None when it cannot be read (nothing changes),
    none when it is invalid (LocalStack's "could not load the latest configuration")."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        log.warning("Lambda debug mode: cannot read %s (%s); the configuration stays", path, exc.strerror or exc)
        return None
    try:
        return parse_config(text, path)
    except ValueError as exc:
        log.error("Lambda debug mode could not load the changed configuration; nothing is debugged: %s", exc)
        return {}


def _signature(path: Path) -> tuple[int, int, int] | None:
    """The file's modification time, size and inode; None when it cannot be looked at."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def _log_entries(entries: Mapping[_Key, _Entry]) -> None:
    for (region, name, version), entry in entries.items():
        log.info(
            "Lambda debug mode: %s%s:%s%s%s",
            f"{region}/" if region else "",
            name,
            version,
            f" on 127.0.0.1:{entry.port}" if entry.port else "",
            "" if entry.enforce_timeouts else ", timeout lifted",
        )
