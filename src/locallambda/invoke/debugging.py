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
too). It is read once, when the server starts; a file that cannot be read or is invalid stops the
start with ``ValueError`` (LocalStack logs the error and debugs nothing).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from locallambda.errors import TooManyRequestsError
from locallambda.model.refs import LATEST
from locallambda.model.spec import DebugTarget, FunctionSpec

__all__ = ["DEBUG_TIMEOUT_S", "DebugMode", "parse_config"]

log = logging.getLogger(__name__)

DEBUG_TIMEOUT_S = 3_600  # LocalStack's DEFAULT_LAMBDA_DEBUG_MODE_TIMEOUT_SECONDS

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

    def __init__(self, enabled: bool, entries: Mapping[_Key, _Entry] | None = None) -> None:
        """``entries`` from ``parse_config``; ``None``: no file (every timeout lifted)."""
        self.enabled = enabled
        self._entries = dict(entries or {})
        self._everything = enabled and entries is None
        self._applied: dict[tuple[str, str], tuple[FunctionSpec, FunctionSpec]] = {}
        self._busy: set[tuple[str, str]] = set()

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
        for (region, name, version), entry in entries.items():
            log.info(
                "Lambda debug mode: %s%s:%s%s%s",
                f"{region}/" if region else "",
                name,
                version,
                f" on 127.0.0.1:{entry.port}" if entry.port else "",
                "" if entry.enforce_timeouts else ", timeout lifted",
            )
        return cls(True, entries)

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
