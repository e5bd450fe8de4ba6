"""Function state: one record per function, written through to the document store.

A ``FunctionRecord`` holds everything attached to one function: its $LATEST configuration and
code, published versions, aliases, resource policy, tags, concurrency and per-qualifier
configurations. Configurations are kept in their wire form (the FunctionConfiguration dict AWS
returns) because that is what every read returns; the few fields only we use are snake_case.

Both the control plane (which changes records) and the invoke engine (which reads them) use this
module; it is the one place that says which version a qualifier names.

Everything runs on one event loop, so there are no locks; a handler that awaits between read
and write must re-read.
"""

from __future__ import annotations

import copy
import dataclasses
import enum
import uuid
from collections.abc import Iterator
from typing import Any

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
        return cls(
            config=doc["config"],
            code_sha256_hex=doc.get("code"),
            image_uri=doc.get("image"),
            unzipped_size=doc.get("unzipped"),
        )

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
        doc = dict(doc)
        doc["latest"] = VersionRecord.from_doc(doc["latest"])
        doc["versions"] = {k: VersionRecord.from_doc(v) for k, v in doc.get("versions", {}).items()}
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in doc.items() if k in known})


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
    """Generic write-through map of JSON documents of one kind (layers, code signing configs ...)."""

    def __init__(self, store: DocumentStore, kind: str) -> None:
        self._store = store
        self._kind = kind
        self._items: dict[str, Any] = store.load(kind)

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
        self._functions: dict[str, FunctionRecord] = {
            key: FunctionRecord.from_doc(doc) for key, doc in store.load(self.KIND).items()
        }
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
