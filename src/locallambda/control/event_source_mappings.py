"""Event source mappings: Create/Get/Update/Delete/ListEventSourceMappings and their tags.

A mapping lives in ``plane.registry("event_source_mapping")`` under its UUID, in wire form plus
private members (``_Kind``, ``_Region``, ``_Account``, ``_FunctionName``, ``_Tags``,
``_Created``). What the
control plane needs from the pollers arrives through ``MappingSeams`` (filled by the app
factory): the source's existence check, the filter-criteria check, and ``changed`` — told after
every change of a mapping (``None`` when it is gone), so that the pollers start, reconfigure or
stop. The pollers tell back what they did through ``record_result``.

States follow AWS (https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventsourcemapping.html):
Create answers ``Creating`` (``Disabled`` with ``Enabled: false``) and the mapping becomes
``Enabled`` in the background; Update answers ``Updating``, ``Enabling`` or ``Disabling`` and
settles at ``Enabled``/``Disabled``; Delete answers ``Deleting`` and the mapping is gone
shortly after. An update of a mapping still ``Creating``, ``Updating`` or ``Deleting``, and a
delete while ``Updating``, answer ``ResourceInUseException``. ``StateTransitionReason`` is
``USER_INITIATED`` for SQS and Kafka and ``User action`` for streams, as AWS records them. A
mapping outlives its function (AWS keeps it; its invocations fail).

Kafka (MSK and self-managed), Amazon MQ and DocumentDB mappings are checked, stored, listed and
tagged as AWS does, but no broker client runs here: they settle ``Enabled`` with AWS's
connection-error ``LastProcessingResult`` (``BROKER_UNREACHABLE``) and nothing polls them. Every
mapping is persisted with the rest of the state; ``resume`` hands them to the pollers after a
restart.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from locallambda.control.event_source_rules import (
    CREATE_ONLY,
    SETTABLE,
    SourceKind,
    apply_defaults,
    check_members,
    check_request,
    kind_of,
    visible_members,
)
from locallambda.control.paging import paginate
from locallambda.control.plane import ControlPlane
from locallambda.control.seams import TaggableArn, TagTarget
from locallambda.control.tags import check_tags
from locallambda.errors import (
    InvalidParameterValueError,
    ResourceConflictError,
    ResourceInUseError,
    ResourceNotFoundError,
)
from locallambda.model.operations import RequestContext, operation
from locallambda.model.refs import LATEST, FunctionRef

__all__ = ["REGISTRY_KIND", "EventSourceMappingsApi", "MappingSeams"]

REGISTRY_KIND = "event_source_mapping"
_MISSING = "The resource you requested does not exist."
# How long a transitional state (Creating, Updating, ...) lasts before it settles: AWS takes
# seconds; a local server needs only to answer the transitional state first.
_SETTLE_SECONDS = 0.05
# What a mapping of a broker source says once Enabled: this server runs no Kafka, MQ or
# DocumentDB client, so nothing polls it. The wording is AWS's LastProcessingResult for a Kafka
# cluster its pollers cannot reach ("Troubleshooting Kafka event source mapping errors").
BROKER_UNREACHABLE = "PROBLEM: Connection error. Please check your event source connection configuration."
# The transitional states in which AWS refuses a change with ResourceInUseException ("you tried
# to update an event source mapping in the CREATING state, or you tried to delete an event source
# mapping currently UPDATING", the API reference's errors of Update/DeleteEventSourceMapping).
_UPDATE_REFUSED = ("Creating", "Updating", "Deleting")
_DELETE_REFUSED = ("Updating",)


@dataclasses.dataclass(slots=True)
class MappingSeams:
    """What the mappings API asks of the pollers (``event_sources``), filled by the app factory.

    - ``check_source(kind, arn)``: raises ``InvalidParameterValueError`` with AWS's text when the
      queue or stream does not exist.
    - ``check_filters(kind, criteria)``: raises ``InvalidParameterValueError`` for an invalid pattern.
    - ``changed(uuid, mapping)``: a mapping was created, changed or deleted (``None``).
    """

    check_source: Callable[[str, str], Awaitable[None]]
    check_filters: Callable[[str, dict[str, Any]], None]
    changed: Callable[[str, dict[str, Any] | None], None]


def _esm_arn(region: str, account_id: str, uuid_: str) -> str:
    return f"arn:aws:lambda:{region}:{account_id}:event-source-mapping:{uuid_}"


def _sources(doc: dict[str, Any]) -> list[str]:
    """The source ARN, or a self-managed cluster's bootstrap servers in the order given."""
    if doc.get("EventSourceArn"):
        return [str(doc["EventSourceArn"])]
    servers = ((doc.get("SelfManagedEventSource") or {}).get("Endpoints") or {}).get("KAFKA_BOOTSTRAP_SERVERS")
    return [str(s) for s in servers or []]


class EventSourceMappingsApi:
    """Handlers for the five EventSourceMapping operations; the tag resolver of their ARNs."""

    def __init__(self, plane: ControlPlane, seams: MappingSeams) -> None:
        self.plane = plane
        self.seams = seams
        self.mappings = plane.registry(REGISTRY_KIND)
        plane.tag_resolvers["event-source-mapping"] = self._tag_target

    # -- the pollers' side ----------------------------------------------------------------

    def resume(self) -> None:
        """After a restart: settle mappings left in a transitional state, hand every one to the
        pollers."""
        for key, doc in list(self.mappings.items()):
            if doc["State"] == "Deleting":
                self._forget(key)
                continue
            if doc["State"] in ("Creating", "Updating", "Enabling"):
                doc["State"] = "Enabled"
            elif doc["State"] == "Disabling":
                doc["State"] = "Disabled"
            self._settled(key, doc)

    def record_result(self, uuid_: str, result: str) -> None:
        """The pollers' ``LastProcessingResult`` of a mapping (``OK``, ``PROBLEM: ...``)."""
        doc = self.mappings.get(uuid_)
        if doc is not None and "LastProcessingResult" in doc and doc["LastProcessingResult"] != result:
            doc["LastProcessingResult"] = result
            self.mappings.put(uuid_, doc)

    def mapping(self, uuid_: str) -> dict[str, Any] | None:
        doc = self.mappings.get(uuid_)
        return copy.deepcopy(doc) if doc is not None else None

    # -- helpers --------------------------------------------------------------------------

    def _lookup(self, ctx: RequestContext, uuid_: str) -> dict[str, Any]:
        doc = self.mappings.get(uuid_)
        if doc is None or doc["_Region"] != ctx.region or doc["_Account"] != ctx.account_id:
            raise ResourceNotFoundError(_MISSING)
        return doc  # type: ignore[no-any-return]

    def _function_arn(self, ctx: RequestContext, name: str) -> tuple[FunctionRef, str]:
        """The function (and qualifier) a FunctionName names, and FunctionArn as AWS shows it.

        Raises ``InvalidParameterValueError`` ("Function does not exist") when the function,
        version or alias is missing (AWS answers 400 here, not 404).
        """
        ref = self.plane.ref(ctx.region, ctx.account_id, name)
        record = self.plane.functions.get(ref.region, ref.name)
        q = ref.qualifier
        if (
            record is None
            or record.account_id != ref.account_id
            or (q is not None and q != LATEST and q not in record.versions and q not in record.aliases)
        ):
            raise InvalidParameterValueError("Function does not exist")
        return ref, ref.arn()

    def _view(self, doc: dict[str, Any], state: str | None = None) -> dict[str, Any]:
        out = visible_members(SourceKind(doc["_Kind"]), copy.deepcopy(doc))
        if state is not None:
            out["State"] = state
        return out

    def _check_duplicate(self, kind: SourceKind, doc: dict[str, Any]) -> None:
        sources = _sources(doc)
        for key, other in self.mappings.items():
            if other["FunctionArn"] != doc["FunctionArn"] or not set(sources) & set(_sources(other)):
                continue
            if kind is SourceKind.SQS:
                raise ResourceConflictError(
                    f'An event source mapping with SQS arn (" {other["EventSourceArn"]} ") and function '
                    f'(" {doc["_FunctionName"]} ") already exists. Please update or delete the existing mapping '
                    f"with UUID {key}"
                )
            if kind.is_kafka:
                if set(other.get("Topics") or []) & set(doc.get("Topics") or []):
                    raise ResourceConflictError(
                        f'An event source mapping with event source ("{",".join(sources)}"), '
                        f'function ("{doc["FunctionArn"]}"), topics ("{",".join(doc["Topics"])}") already exists. '
                        f"Please update or delete the existing mapping with UUID {key}"
                    )
                continue
            raise ResourceConflictError(
                f'The event source arn (" {other["EventSourceArn"]} ") and function (" {doc["_FunctionName"]} ") '
                f"provided mapping already exists. Please update or delete the existing mapping with UUID {key}"
            )

    async def _check(self, kind: SourceKind, doc: dict[str, Any]) -> None:
        check_request(kind, doc)
        if doc.get("FilterCriteria") is not None:
            self.seams.check_filters(kind.value, doc["FilterCriteria"])

    def _settle_later(self, key: str, target: str | None) -> None:
        """Move the mapping out of its transitional state in the background (``None``: delete)."""

        async def settle() -> None:
            await asyncio.sleep(_SETTLE_SECONDS)
            doc = self.mappings.get(key)
            if doc is None:
                return
            if target is None:
                self._forget(key)
                return
            doc["State"] = target
            self._settled(key, doc)

        self.plane.spawn(settle())

    def _settled(self, key: str, doc: dict[str, Any]) -> None:
        kind = SourceKind(doc["_Kind"])
        if kind.is_broker and doc["State"] == "Enabled":
            doc["LastProcessingResult"] = BROKER_UNREACHABLE
        self.mappings.put(key, doc)
        self.seams.changed(key, copy.deepcopy(doc))

    def _forget(self, key: str) -> None:
        self.mappings.delete(key)
        self.seams.changed(key, None)

    # -- operations -----------------------------------------------------------------------

    @operation("CreateEventSourceMapping")
    async def create_event_source_mapping(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        """Raises ``InvalidParameterValueError`` (checks, missing function or source),
        ``ValidationError`` and ``ResourceConflictError`` (a mapping of this source and function
        exists)."""
        kind = kind_of(p)
        check_members(kind, p)
        key = str(uuid.uuid4())
        doc: dict[str, Any] = {name: copy.deepcopy(p[name]) for name in (*SETTABLE, *CREATE_ONLY) if name in p}
        doc.update(
            {
                "_Kind": kind.value,
                "_Region": ctx.region,
                "_Account": ctx.account_id,
                "_FunctionName": p["FunctionName"],
                "_Tags": {},
                "UUID": key,
                "EventSourceMappingArn": _esm_arn(ctx.region, ctx.account_id, key),
                "_Created": time.time(),
                "LastModified": round(time.time(), 3),
                "StateTransitionReason": "User action" if kind.is_stream else "USER_INITIATED",
            }
        )
        apply_defaults(kind, doc)
        await self._check(kind, doc)
        _, doc["FunctionArn"] = self._function_arn(ctx, p["FunctionName"])
        if p.get("EventSourceArn") and not kind.is_broker:
            await self.seams.check_source(kind.value, str(p["EventSourceArn"]))
        self._check_duplicate(kind, doc)
        if p.get("Tags"):
            check_tags(p["Tags"])
            doc["_Tags"] = dict(p["Tags"])
        enabled = p.get("Enabled", True) is not False
        doc["State"] = "Creating" if enabled else "Disabled"
        self.mappings.put(key, doc)
        if enabled:
            self._settle_later(key, "Enabled")
        else:
            self.seams.changed(key, copy.deepcopy(doc))
        return self._view(doc)

    @operation("GetEventSourceMapping")
    async def get_event_source_mapping(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        return self._view(self._lookup(ctx, p["UUID"]))

    @operation("UpdateEventSourceMapping")
    async def update_event_source_mapping(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        """Merge the given members into the mapping; ``Enabled`` switches it on or off.

        Raises ``ResourceNotFoundError`` ("The resource you requested does not exist."), and
        what Create's checks raise for the merged mapping.
        """
        current = self._lookup(ctx, p["UUID"])
        if current["State"] in _UPDATE_REFUSED:
            raise ResourceInUseError("Cannot update the event source mapping because it is in use.")
        kind = SourceKind(current["_Kind"])
        check_members(kind, p)
        doc = copy.deepcopy(current)
        for name in SETTABLE:
            if name in p:
                doc[name] = copy.deepcopy(p[name])
        if "DestinationConfig" in p and kind.is_stream:
            doc["DestinationConfig"] = {"OnFailure": dict((p["DestinationConfig"] or {}).get("OnFailure") or {})}
        await self._check(kind, doc)
        if p.get("FunctionName"):
            _, doc["FunctionArn"] = self._function_arn(ctx, p["FunctionName"])
            doc["_FunctionName"] = p["FunctionName"]
        enabled = p.get("Enabled")
        was_on = current["State"] in ("Enabled", "Creating", "Updating", "Enabling")
        if enabled is True and not was_on:
            doc["State"], target = "Enabling", "Enabled"
        elif enabled is False and was_on:
            doc["State"], target = "Disabling", "Disabled"
        else:
            doc["State"], target = "Updating", ("Enabled" if was_on else "Disabled")
        doc["LastModified"] = round(time.time(), 3)
        self.mappings.put(p["UUID"], doc)
        self._settle_later(p["UUID"], target)
        return self._view(doc)

    @operation("DeleteEventSourceMapping")
    async def delete_event_source_mapping(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        """Answers the mapping in state ``Deleting``; it is removed (and its poller stopped) in
        the background. Raises ``ResourceNotFoundError``, and ``ResourceInUseError`` while an
        update is being applied."""
        doc = self._lookup(ctx, p["UUID"])
        if doc["State"] in _DELETE_REFUSED:
            raise ResourceInUseError("Cannot delete the event source mapping because it is in use.")
        doc["State"] = "Deleting"
        self.mappings.put(p["UUID"], doc)
        self.seams.changed(p["UUID"], None)  # stop polling at once
        self._settle_later(p["UUID"], None)
        return self._view(doc)

    @operation("ListEventSourceMappings")
    async def list_event_source_mappings(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        """Mappings of the caller's region in the order they were created, filtered by source
        ARN and by function (a name, partial or full ARN, qualified or not: an unqualified one
        matches the function's mappings of every qualifier, a qualified one that qualifier only).
        Filters naming nothing that exists answer an empty list, as AWS's do (LocalStack's
        ``test_event_source_mapping_exceptions``)."""
        docs = [d for _, d in self.mappings.items() if d["_Region"] == ctx.region and d["_Account"] == ctx.account_id]
        if p.get("EventSourceArn"):
            docs = [d for d in docs if d.get("EventSourceArn") == p["EventSourceArn"]]
        if p.get("FunctionName"):
            ref = self.plane.ref(ctx.region, ctx.account_id, p["FunctionName"])
            if ref.qualifier is None:
                docs = [d for d in docs if self._unqualified(d["FunctionArn"]) == ref.unqualified_arn]
            else:
                docs = [d for d in docs if d["FunctionArn"] == ref.arn()]
        # Paged in creation order: an update (a new LastModified) must not move a mapping
        # between pages while a client pages through them.
        docs.sort(key=lambda d: (d.get("_Created", d["LastModified"]), d["UUID"]))
        keyed = [f"{d.get('_Created', d['LastModified']):020.6f}:{d['UUID']}" for d in docs]
        by_key = dict(zip(keyed, docs, strict=True))
        page, marker = paginate(keyed, p.get("Marker"), p.get("MaxItems"), key=lambda k: k, default=100)
        out: dict[str, Any] = {"EventSourceMappings": [self._view(by_key[k]) for k in page]}
        if marker:
            out["NextMarker"] = marker
        return out

    @staticmethod
    def _unqualified(arn: str) -> str:
        return ":".join(arn.split(":")[:7])

    # -- tags -----------------------------------------------------------------------------

    def _tag_target(self, arn: TaggableArn) -> TagTarget:
        doc = self.mappings.get(arn.resource_id)
        if doc is None or doc["_Region"] != arn.region or doc["_Account"] != arn.account_id or arn.qualifier:
            raise ResourceNotFoundError(f"Event source mapping not found: {arn.arn}")
        tags: dict[str, str] = doc["_Tags"]

        def save() -> None:
            self.mappings.put(arn.resource_id, doc)

        return TagTarget(tags, save)
