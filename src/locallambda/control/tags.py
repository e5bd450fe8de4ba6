"""Tags: TagResource, UntagResource, ListTags on any taggable Lambda resource.

A taggable resource is named by its ARN; the ARN's kind (``function``, ``event-source-mapping``,
``code-signing-config``, ``capacity-provider``, ``network-connector``) selects a resolver that
finds the resource and gives its live tag map plus a way to persist it. Resolvers live in
``plane.tag_resolvers`` so that the modules owning other resources plug theirs in::

    plane.tag_resolvers["event-source-mapping"] = my_resolver

Until a kind has a resolver of its own, every ARN of that kind is answered with AWS's
not-found error for that kind.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from locallambda.control.plane import ControlPlane
from locallambda.control.seams import TaggableArn, TagResolver, TagTarget
from locallambda.errors import InvalidParameterValueError, ResourceNotFoundError, ValidationError
from locallambda.model.operations import RequestContext, operation
from locallambda.model.refs import function_arn
from locallambda.model.wording import format_value, validation_message
from locallambda.store.functions import new_revision_id

__all__ = [
    "TAG_LIMIT",
    "TagsApi",
    "check_tags",
    "default_resolvers",
]

TAG_LIMIT = 50

_ARN = re.compile(
    r"arn:(?P<partition>aws[a-zA-Z-]*):lambda:(?P<region>[^:]+):(?P<account>\d{12}):"
    r"(?P<kind>[a-z-]+):(?P<id>[^:]+)(?::(?P<qualifier>.+))?"
)

# The service model's TagKey/TagValue pattern uses Java's Unicode classes, which Python's ``re``
# cannot compile (so the generic validator lets it pass); it is checked here instead.
_TAG_PATTERN = r"([\p{L}\p{Z}\p{N}_.:/=+\-@]*)"
_TAG_EXTRA = set("_.:/=+-@")
_KEY_CONSTRAINTS = (
    "Member must have length less than or equal to 128",
    "Member must have length greater than or equal to 1",
    f"Member must satisfy regular expression pattern: {_TAG_PATTERN}",
)
_VALUE_CONSTRAINTS = (
    "Member must have length less than or equal to 256",
    "Member must have length greater than or equal to 0",
    f"Member must satisfy regular expression pattern: {_TAG_PATTERN}",
    "Member must not be null",
)


def _not_found(text: str) -> TagResolver:
    def resolve(arn: TaggableArn) -> TagTarget:
        raise ResourceNotFoundError(f"{text}{arn.arn}")

    return resolve


def _csc_not_found(arn: TaggableArn) -> TagTarget:
    raise ResourceNotFoundError(f"The Lambda code signing configuration {arn.arn} can not be found.")


def default_resolvers(table: dict[str, TagResolver]) -> dict[str, TagResolver]:
    """Fill ``table`` with a not-found answer for each kind no module resolves yet."""
    table.setdefault("event-source-mapping", _not_found("Event source mapping not found: "))
    table.setdefault("capacity-provider", _not_found("Capacity provider not found: "))
    table.setdefault("network-connector", _not_found("Network connector not found: "))
    table.setdefault("code-signing-config", _csc_not_found)
    return table


def _tag_text_ok(text: str) -> bool:
    return all(ch in _TAG_EXTRA or unicodedata.category(ch)[0] in "LZN" for ch in text)


def check_tags(tags: dict[str, str], existing: dict[str, str] | None = None, path: str = "tags") -> None:
    """AWS's checks of a tag map: key/value characters and at most 50 tags once merged.

    Raises ``ValidationError`` for characters outside the model's pattern and
    ``InvalidParameterValueError`` ("Number of tags exceeds resource tag limit.").
    """
    errors: list[str] = []
    if not all(_tag_text_ok(k) for k in tags):
        errors.append(
            f"Value '{format_value(tags)}' at '{path}' failed to satisfy constraint: "
            f"Map keys must satisfy constraint: [{', '.join(_KEY_CONSTRAINTS)}]"
        )
    if not all(isinstance(v, str) and _tag_text_ok(v) for v in tags.values()):
        errors.append(
            f"Value '{format_value(tags)}' at '{path}' failed to satisfy constraint: "
            f"Map value must satisfy constraint: [{', '.join(_VALUE_CONSTRAINTS)}]"
        )
    if errors:
        raise ValidationError(validation_message(errors))
    if len({**(existing or {}), **tags}) > TAG_LIMIT:
        raise InvalidParameterValueError("Number of tags exceeds resource tag limit.")


class TagsApi:
    """Handlers for tagging; the resource kind decides where the tags live."""

    def __init__(self, plane: ControlPlane) -> None:
        self.plane = plane
        default_resolvers(plane.tag_resolvers)["function"] = self._function_target

    def _function_target(self, arn: TaggableArn) -> TagTarget:
        record = self.plane.functions.get(arn.region, arn.resource_id)
        if record is None or record.account_id != arn.account_id:
            raise ResourceNotFoundError(
                f"Function not found: {function_arn(arn.region, arn.account_id, arn.resource_id)}"
            )

        def save() -> None:
            # Tagging is a change of the function: AWS gives $LATEST a new RevisionId.
            record.latest.config["RevisionId"] = new_revision_id()
            self.plane.functions.save(record)

        return TagTarget(record.tags, save)

    def _target(self, raw: str) -> TagTarget:
        """Raises ValidationError (not a taggable ARN), InvalidParameterValue (qualified function
        ARN: checked before existence, as AWS does) and ResourceNotFound."""
        m = _ARN.fullmatch(raw)
        table = self.plane.tag_resolvers
        if m is None or m.group("kind") not in table:  # the validator normally refuses these first
            raise ValidationError(
                f"1 validation error detected: Value '{raw}' at 'resource' failed to satisfy constraint: "
                "Member must satisfy regular expression pattern: a taggable Lambda resource ARN"
            )
        arn = TaggableArn(
            arn=raw,
            region=m.group("region"),
            account_id=m.group("account"),
            kind=m.group("kind"),
            resource_id=m.group("id"),
            qualifier=m.group("qualifier"),
        )
        if arn.qualifier is not None and arn.kind == "function":
            raise InvalidParameterValueError(
                "Tags on function aliases and versions are not supported. Please specify a function ARN."
            )
        return table[arn.kind](arn)

    @operation("TagResource")
    async def tag_resource(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        tags: dict[str, str] = p["Tags"]
        if not tags:
            raise InvalidParameterValueError("An error occurred and the request cannot be processed.")
        target = self._target(p["Resource"])
        check_tags(tags, target.tags)
        target.tags.update(tags)
        target.save()
        return {}

    @operation("UntagResource")
    async def untag_resource(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        target = self._target(p["Resource"])
        for key in p["TagKeys"]:
            target.tags.pop(key, None)
        target.save()
        return {}

    @operation("ListTags")
    async def list_tags(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        return {"Tags": dict(self._target(p["Resource"]).tags)}
