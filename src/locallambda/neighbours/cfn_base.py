"""What every Lambda resource of a CloudFormation stack shares, as moto's parser expects it.

moto's CloudFormation (``moto/cloudformation/parsing.py``) finds a model class per resource type,
creates with ``create_from_cloudformation_json``, updates with ``update_from_cloudformation_json``
(in place, or a replacement when a property that requires one changed), deletes with the
instance's ``delete``, answers ``Ref`` with ``physical_resource_id`` and ``Fn::GetAtt`` with
``get_cfn_attribute`` (checked against ``has_cfn_attr`` for Outputs). ``LambdaResource`` maps
that protocol onto three methods a resource type writes: ``create``, ``update``, ``remove``.

Imported only once moto is loaded (``cloudformation.py`` installs the models).

The classes reach the server through their ``api``, the ``LoopbackLambda`` the installer sets
(moto's resource map is the process's: the last server installed wins).

AWS rules kept here:
- a resource without an explicit name gets ``<stack name>-<logical id>-<random suffix>``, cut to
  the type's length limit (aws-properties-name.html: "CloudFormation generates a unique physical
  ID to name a resource ... the stack name, the logical ID and a random string");
- ``DeletionPolicy: Retain`` keeps the resource when the stack or its template drops it,
  ``UpdateReplacePolicy: Retain`` keeps the old one of a replacement
  (aws-attribute-deletionpolicy.html, aws-attribute-updatereplacepolicy.html);
- numbers given as strings (a ``String`` parameter) are converted as the resource schema's
  types say, as CloudFormation does before it calls the handler.
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
import string
from typing import Any, ClassVar, TypeVar

from moto.cloudformation.exceptions import UnformattedGetAttTemplateException
from moto.core.common_models import CloudFormationModel

from locallambda.neighbours.lambda_api import LoopbackLambda, ResourceFailed

__all__ = ["LambdaResource", "Placement", "as_bool", "as_int", "physical_name", "tag_list"]

log = logging.getLogger(__name__)

R = TypeVar("R", bound="LambdaResource")

_SUFFIX_ALPHABET = string.ascii_uppercase + string.digits


@dataclasses.dataclass(frozen=True, slots=True)
class Placement:
    """Where a resource lives: its stack, its logical ID, its account and region."""

    account_id: str
    region: str
    stack_id: str
    logical_id: str

    @property
    def stack_name(self) -> str:
        # arn:aws:cloudformation:<region>:<account>:stack/<name>/<uuid>
        parts = self.stack_id.split(":", 5)
        return parts[5].split("/")[1] if len(parts) == 6 and parts[5].count("/") >= 2 else self.stack_id

    def stack_tags(self) -> dict[str, str]:
        """The tags CloudFormation puts on the resources it creates: the stack's own tags and
        ``aws:cloudformation:{stack-name,stack-id,logical-id}`` (aws-properties-resource-tags.html)."""
        from moto.cloudformation.models import cloudformation_backends

        tags: dict[str, str] = {}
        stack = cloudformation_backends[self.account_id][self.region].stacks.get(self.stack_id)
        if stack is not None and stack.tags:
            tags.update({str(k): str(v) for k, v in stack.tags.items()})
        tags["aws:cloudformation:stack-name"] = self.stack_name
        tags["aws:cloudformation:stack-id"] = self.stack_id
        tags["aws:cloudformation:logical-id"] = self.logical_id
        return tags


def physical_name(placement: Placement, max_length: int) -> str:
    """``<stack>-<logical id>-<12 random characters>``, cut to ``max_length`` (the logical ID
    keeps at least half of what is left, the stack name the rest)."""
    suffix = "".join(secrets.choice(_SUFFIX_ALPHABET) for _ in range(12))
    budget = max_length - len(suffix) - 2
    stack = placement.stack_name
    logical = placement.logical_id[: max(budget - len(stack), budget // 2)]
    return f"{stack[: budget - len(logical)]}-{logical}-{suffix}"


def as_int(value: Any) -> Any:
    """A number the template may give as a string; anything else is left for the API to refuse."""
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return value


def as_float(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def as_bool(value: Any) -> Any:
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return value


def tag_list(tags: Any) -> dict[str, str]:
    """A template's ``Tags: [{Key, Value}]`` as the API's map."""
    if isinstance(tags, dict):
        return {str(k): str(v) for k, v in tags.items()}
    return {str(t["Key"]): str(t.get("Value", "")) for t in tags or [] if isinstance(t, dict) and "Key" in t}


class LambdaResource(CloudFormationModel):
    """One Lambda resource of a stack. Subclasses set ``TYPE``, ``ATTRIBUTES`` and write
    ``create`` (a new resource), ``update`` (returns ``self`` changed in place, or a
    replacement) and ``remove``."""

    TYPE: ClassVar[str] = ""
    ATTRIBUTES: ClassVar[tuple[str, ...]] = ()
    api: ClassVar[LoopbackLambda]

    def __init__(self, placement: Placement, resource: dict[str, Any], physical_id: str) -> None:
        self.placement = placement
        self.resource = resource
        self.physical_id = physical_id
        self.attributes: dict[str, Any] = {}
        # set by moto's parser after creation; kept by us across updates
        self.logical_resource_id = placement.logical_id
        self.cf_resource_type = self.TYPE

    # -- what a resource type writes

    @classmethod
    def create(cls: type[R], placement: Placement, resource: dict[str, Any]) -> R:
        raise NotImplementedError

    def update(self: R, resource: dict[str, Any]) -> R:
        raise NotImplementedError

    def remove(self) -> None:
        raise NotImplementedError

    # -- helpers

    @property
    def region(self) -> str:
        return self.placement.region

    @property
    def properties(self) -> dict[str, Any]:
        return properties_of(self.resource)

    def replaced_by(self: R, new: R) -> R:
        """The old resource of a replacement goes, unless its UpdateReplacePolicy keeps it."""
        if self.resource.get("UpdateReplacePolicy") != "Retain":
            self.remove()
        return new

    # -- moto's protocol

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @staticmethod
    def cloudformation_type() -> str:
        return ""

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in cls.ATTRIBUTES

    @property
    def physical_resource_id(self) -> str:
        return self.physical_id

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        if attribute_name in self.attributes:
            return self.attributes[attribute_name]
        raise UnformattedGetAttTemplateException()

    def is_created(self) -> bool:
        return True

    def delete(self, account_id: str, region_name: str) -> None:
        if self.resource.get("DeletionPolicy") == "Retain":
            return
        self.remove()

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> LambdaResource:
        placement = Placement(account_id, region_name, str(kwargs.get("StackId", "")), str(kwargs.get("LogicalId", "")))
        try:
            return cls.create(placement, cloudformation_json)
        except ResourceFailed as exc:
            raise _located(exc, placement.logical_id, cls.TYPE) from None

    @classmethod
    def update_from_cloudformation_json(
        cls,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> LambdaResource:
        if not isinstance(original_resource, LambdaResource):
            # a resource moto created before our models were installed: make it anew
            placement = Placement(
                account_id, region_name, "", str(getattr(original_resource, "logical_resource_id", ""))
            )
            return cls.create(placement, cloudformation_json)
        try:
            return original_resource.update(cloudformation_json)
        except ResourceFailed as exc:
            raise _located(exc, original_resource.placement.logical_id, cls.TYPE) from None

    @classmethod
    def delete_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> None:
        """Not used: moto deletes through the instance's ``delete``."""
        log.debug("delete of %s %s left to its instance", cls.TYPE, resource_name)


def properties_of(resource: dict[str, Any]) -> dict[str, Any]:
    props = resource.get("Properties")
    return props if isinstance(props, dict) else {}


def _located(exc: ResourceFailed, logical_id: str, resource_type: str) -> ResourceFailed:
    exc.logical_id = logical_id
    exc.resource_type = resource_type
    return exc
