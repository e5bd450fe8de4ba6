"""Function state: one record per function, written through to the document store.

A ``FunctionRecord`` holds everything attached to one function: its $LATEST configuration and
code, published versions, aliases, resource policy, tags, concurrency and per-qualifier
configurations. Configurations are kept in their wire form (the FunctionConfiguration dict AWS
returns) because that is what every read returns; the few fields only we use are snake_case.

Both the control plane (which changes records) and the invoke engine (which reads them) use this
module; it is the one place that says which version a qualifier names.

Everything runs on one event loop, so there are no locks; a handler that awaits between read
and write must re-read.

Stored documents are checked as they are loaded (``FunctionRecord.from_doc``): one that is not a
record of this shape (damaged, hand-edited, written by something else) is logged and skipped,
so that a start never fails on a stored record and the other functions are served.
"""

from __future__ import annotations

import copy
import dataclasses
import enum
import logging
import types
import typing
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from locallambda.model.lifecycle import VersionStatus
from locallambda.model.refs import LATEST
from locallambda.store.documents import DocumentStore

__all__ = [
    "Change",
    "FunctionRecord",
    "FunctionRegistry",
    "Registry",
    "VersionRecord",
    "new_revision_id",
    "route_alias",
]

log = logging.getLogger(__name__)


class Change(enum.Enum):
    """What happened to a function record, as told to the plane's change listeners."""

    UPDATED = "updated"
    DELETED = "deleted"


def new_revision_id() -> str:
    return str(uuid.uuid4())


@dataclasses.dataclass(slots=True)
class VersionRecord:
    """One version ($LATEST or a published number): its wire configuration and its code."""

    config: dict[str, Any]
    code_sha256_hex: str | None = None  # None for image functions
    image_uri: str | None = None
    unzipped_size: int | None = None  # bytes of the extracted code (None: not measured yet)

    def to_doc(self) -> dict[str, Any]:
        return {
            "config": self.config,
            "code": self.code_sha256_hex,
            "image": self.image_uri,
            "unzipped": self.unzipped_size,
        }

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> VersionRecord:
        """Raises ``KeyError``, ``TypeError`` or ``ValueError`` for a malformed document."""
        version = cls(
            config=doc["config"],
            code_sha256_hex=doc.get("code"),
            image_uri=doc.get("image"),
            unzipped_size=doc.get("unzipped"),
        )
        _check_fields(version)
        _check_config(version.config)
        return version

    def snapshot(self) -> VersionRecord:
        return VersionRecord(copy.deepcopy(self.config), self.code_sha256_hex, self.image_uri, self.unzipped_size)


@dataclasses.dataclass(slots=True)
class FunctionRecord:
    name: str
    region: str
    account_id: str
    latest: VersionRecord
    versions: dict[str, VersionRecord] = dataclasses.field(default_factory=dict)
    next_version: int = 1
    aliases: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    policy_statements: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    policy_revision_id: str = dataclasses.field(default_factory=new_revision_id)
    tags: dict[str, str] = dataclasses.field(default_factory=dict)
    reserved_concurrency: int | None = None
    provisioned_concurrency: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    event_invoke_configs: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    url_configs: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    recursive_loop: str = "Terminate"
    runtime_management: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    code_signing_config_arn: str | None = None
    # Bumped on every code or configuration change; the invoke engine drops environments of an
    # older generation so that no stale code is served after an update.
    generation: int = 0
    # Distinguishes a function from an earlier one of the same name (deleted, then created anew).
    incarnation: str = dataclasses.field(default_factory=lambda: uuid.uuid4().hex)

    @property
    def key(self) -> str:
        return f"{self.region}/{self.name}"

    def version(self, qualifier: str | None) -> VersionRecord | None:
        if qualifier in (None, LATEST):
            return self.latest
        return self.versions.get(qualifier)

    def resolve(self, qualifier: str | None, roll: float | None = None) -> tuple[VersionRecord, str | None] | None:
        """The version a qualifier names (``$LATEST``, a number or an alias) and the alias, if any.

        An alias names its FunctionVersion; with ``roll`` (a number in [0, 1)) a weighted alias
        picks by its RoutingConfig instead, as invocations do. ``None`` when nothing matches.
        """
        if qualifier is None or qualifier == LATEST:
            return self.latest, None
        version = self.versions.get(qualifier)
        if version is not None:
            return version, None
        alias = self.aliases.get(qualifier)
        if alias is None:
            return None
        target = alias["FunctionVersion"] if roll is None else route_alias(alias, roll)
        chosen = self.version(target)
        return (chosen, qualifier) if chosen is not None else None

    def to_doc(self) -> dict[str, Any]:
        doc = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        doc["latest"] = self.latest.to_doc()
        doc["versions"] = {k: v.to_doc() for k, v in self.versions.items()}
        return doc

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> FunctionRecord:
        """Raises ``KeyError``, ``TypeError`` or ``ValueError`` for a document that is not a
        function record: a field of another type, a version configuration the server cannot
        read, a lifecycle state it does not know."""
        doc = dict(doc)
        doc["latest"] = VersionRecord.from_doc(doc["latest"])
        doc["versions"] = {k: VersionRecord.from_doc(v) for k, v in doc.get("versions", {}).items()}
        known = {f.name for f in dataclasses.fields(cls)}
        record = cls(**{k: v for k, v in doc.items() if k in known})
        _check_fields(record)
        if record.latest.config["FunctionName"] != record.name:
            raise ValueError(f"its configuration names {record.latest.config['FunctionName']!r}")
        return record


def _conforms(value: Any, hint: Any) -> bool:
    """Whether a loaded JSON value has the type a field's annotation declares: JSON's own types
    (dicts and lists element by element) and records are checked, anything else is trusted."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_conforms(value, a) for a in args)
    if origin is dict:
        return isinstance(value, dict) and all(
            _conforms(k, args[0]) and _conforms(v, args[1]) for k, v in value.items()
        )
    if origin is list:
        return isinstance(value, list) and all(_conforms(v, args[0]) for v in value)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is type(None):
        return value is None
    if hint in (str, float, bool, VersionRecord):
        return isinstance(value, hint)
    return True


def _check_fields(obj: VersionRecord | FunctionRecord) -> None:
    hints = _HINTS[type(obj)]
    for field in dataclasses.fields(obj):
        value = getattr(obj, field.name)
        if not _conforms(value, hints[field.name]):
            raise TypeError(f"its {field.name} has the wrong type ({type(value).__name__})")


_HINTS = {cls: typing.get_type_hints(cls) for cls in (VersionRecord, FunctionRecord)}


# Members of a version's configuration the server reads as a type (the invoke path builds the
# function's spec from them, a start resumes its lifecycle): stored as another type, they would
# fail the start or every invocation.
_CONFIG_TYPES: dict[str, Any] = {
    "FunctionName": str,
    "FunctionArn": str,
    "Version": str,
    "Runtime": str,
    "Handler": str,
    "PackageType": str,
    "MemorySize": int,
    "Timeout": int,
    "EphemeralStorage": dict[str, int],
    "Environment": dict[str, dict[str, str]],
    "Layers": list[dict[str, Any]],
    "Architectures": list[str],
    "LoggingConfig": dict[str, Any],
    "ImageConfigResponse": dict[str, Any],
    "_HotReloadPath": str,
}
_CONFIG_REQUIRED = ("FunctionName", "FunctionArn", "Version")


def _check_config(config: dict[str, Any]) -> None:
    for name in _CONFIG_REQUIRED:
        if name not in config:
            raise KeyError(name)
    for name, hint in _CONFIG_TYPES.items():
        if config.get(name) is not None and not _conforms(config[name], hint):
            raise TypeError(f"its configuration's {name} has the wrong type ({type(config[name]).__name__})")
    if not all(isinstance(layer.get("Arn"), str) for layer in config.get("Layers") or []):
        raise TypeError("a layer of its configuration has no ARN")
    status = VersionStatus(config)
    _ = (status.state, status.update)  # ValueError for a lifecycle state this server does not know


def _reason(exc: Exception) -> str:
    return f"no {exc}" if isinstance(exc, KeyError) else str(exc)


def route_alias(alias: dict[str, Any], roll: float) -> str:
    """The version an invocation of a weighted alias runs: each additional version takes its
    weight's share of ``roll`` in [0, 1), the alias's FunctionVersion the rest."""
    weights = (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
    acc = 0.0
    for version, weight in weights.items():
        acc += float(weight)
        if roll < acc:
            return str(version)
    return str(alias["FunctionVersion"])


class Registry:
    """Generic write-through map of JSON documents of one kind (layers, code signing configs ...).

    Documents are JSON objects: a stored one that is not, or that ``check`` refuses (it raises
    ``KeyError``, ``TypeError`` or ``ValueError``), is logged and skipped at load.
    """

    def __init__(
        self, store: DocumentStore, kind: str, check: Callable[[dict[str, Any]], object] | None = None
    ) -> None:
        self._store = store
        self._kind = kind
        self._items: dict[str, Any] = {}
        for key, doc in store.load(kind).items():
            try:
                if not isinstance(doc, dict):
                    raise TypeError(f"it is a {type(doc).__name__}, not an object")
                if check is not None:
                    check(doc)
            except (KeyError, TypeError, ValueError) as exc:
                log.error("skipped the malformed %s document %r: %s", kind, key, _reason(exc))
                store.damaged.add(kind)
                continue
            self._items[key] = doc

    def get(self, key: str) -> Any | None:
        return self._items.get(key)

    def put(self, key: str, doc: Any) -> None:
        self._items[key] = doc
        self._store.put(self._kind, key, doc)

    def delete(self, key: str) -> None:
        if self._items.pop(key, None) is not None:
            self._store.delete(self._kind, key)

    def items(self) -> Iterator[tuple[str, Any]]:
        return iter(sorted(self._items.items()))


class FunctionRegistry:
    """All functions, by region and name; every ``save`` writes through to the store."""

    KIND = "function"

    def __init__(self, store: DocumentStore) -> None:
        self._store = store
        self._functions: dict[str, FunctionRecord] = {}
        for key, doc in store.load(self.KIND).items():
            try:
                if not isinstance(doc, dict):
                    raise TypeError(f"it is a {type(doc).__name__}, not an object")
                record = FunctionRecord.from_doc(doc)
                if record.key != key:
                    raise ValueError(f"it is the record of {record.key!r}")
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                log.error("skipped the malformed function record %r: %s", key, _reason(exc))
                store.damaged.add(self.KIND)
                continue
            self._functions[key] = record
        # Reserved concurrency summed per region, kept up to date on every save: the invoke
        # path needs it for every call and must not walk all functions.
        self._reserved: dict[str, int] = {}
        self._reserved_by_region: dict[str, int] = {}
        for record in self._functions.values():
            self._account(record, record.reserved_concurrency or 0)

    def _account(self, record: FunctionRecord, reserved: int) -> None:
        before = self._reserved.pop(record.key, 0)
        if reserved:
            self._reserved[record.key] = reserved
        total = self._reserved_by_region.get(record.region, 0) - before + reserved
        self._reserved_by_region[record.region] = total

    def reserved_total(self, region: str) -> int:
        """Sum of the reserved concurrency of every function in ``region``."""
        return self._reserved_by_region.get(region, 0)

    def get(self, region: str, name: str) -> FunctionRecord | None:
        return self._functions.get(f"{region}/{name}")

    def add(self, record: FunctionRecord) -> None:
        self._functions[record.key] = record
        self.save(record)

    def save(self, record: FunctionRecord) -> None:
        if self._functions.get(record.key) is record:
            self._account(record, record.reserved_concurrency or 0)
            self._store.put(self.KIND, record.key, record.to_doc())

    def remove(self, record: FunctionRecord) -> None:
        if self._functions.pop(record.key, None) is not None:
            self._account(record, 0)
            self._store.delete(self.KIND, record.key)

    def in_region(self, region: str) -> list[FunctionRecord]:
        return sorted((f for f in self._functions.values() if f.region == region), key=lambda f: f.name)

    def all(self) -> list[FunctionRecord]:
        return list(self._functions.values())
