"""``AWS::Lambda::Version`` and ``AWS::Lambda::Alias`` through this server's Lambda API.

- Version (aws-resource-lambda-version.html): ``Ref`` "returns the ARN of the Lambda version,
  such as arn:aws:lambda:us-west-2:123456789012:function:helloworld:1"; ``Fn::GetAtt`` gives
  ``Version`` (the number) and ``FunctionArn``/``Id`` (the version's ARN, the schema's
  identifier). ``FunctionName``, ``CodeSha256`` and ``Description`` cannot be updated: a change
  publishes a new version and deletes the old one (unless UpdateReplacePolicy retains it);
  ``ProvisionedConcurrencyConfig`` changes in place.
- Alias (aws-resource-lambda-alias.html): ``Ref`` and ``Fn::GetAtt AliasArn`` are the alias's
  ARN. ``Name`` and ``FunctionName`` require replacement; ``FunctionVersion``, ``Description``,
  ``RoutingConfig`` (``AdditionalVersionWeights: [{FunctionVersion, FunctionWeight}]``, the API's
  map) and ``ProvisionedConcurrencyConfig`` change in place.
- A provisioned concurrency configuration completes when it is ``READY``, as CloudFormation waits
  for it (a ``FAILED`` one fails the resource with its status reason).
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

from locallambda.neighbours.cfn_base import LambdaResource, Placement, as_float, as_int, properties_of
from locallambda.neighbours.lambda_api import LoopbackLambda, ResourceFailed

__all__ = ["Alias", "Version"]

_PROVISIONED_DEADLINE = 600.0


def _provision(api: LoopbackLambda, region: str, name: str, qualifier: str, new: Any, old: Any) -> None:
    """Make the provisioned concurrency of ``name:qualifier`` what the template says."""
    if new == old:
        return
    if not isinstance(new, dict) or "ProvisionedConcurrentExecutions" not in new:
        if old:
            api.call_absent_ok(region, "delete_provisioned_concurrency_config", FunctionName=name, Qualifier=qualifier)
        return
    api.call(
        region,
        "put_provisioned_concurrency_config",
        FunctionName=name,
        Qualifier=qualifier,
        ProvisionedConcurrentExecutions=as_int(new["ProvisionedConcurrentExecutions"]),
    )
    deadline = time.monotonic() + _PROVISIONED_DEADLINE
    while True:
        config = api.call(region, "get_provisioned_concurrency_config", FunctionName=name, Qualifier=qualifier)
        status = config.get("Status")
        if status == "READY":
            return
        if status == "FAILED" or time.monotonic() >= deadline:
            raise ResourceFailed(
                f"Provisioned concurrency of {name}:{qualifier} is {status}: {config.get('StatusReason', '')}"
            )
        time.sleep(0.1)


class Version(LambdaResource):
    TYPE: ClassVar[str] = "AWS::Lambda::Version"
    ATTRIBUTES: ClassVar[tuple[str, ...]] = ("Version", "FunctionArn", "Id")

    def __init__(self, placement: Placement, resource: dict[str, Any], physical_id: str, function: str) -> None:
        super().__init__(placement, resource, physical_id)
        self.function = function

    @classmethod
    def create(cls, placement: Placement, resource: dict[str, Any]) -> Version:
        props = properties_of(resource)
        params: dict[str, Any] = {"FunctionName": props.get("FunctionName", "")}
        for key in ("CodeSha256", "Description"):
            if key in props:
                params[key] = props[key]
        published = cls.api.call(placement.region, "publish_version", **params)
        version = cls(placement, resource, published["FunctionArn"], published["FunctionName"])
        number = str(published["Version"])
        version.attributes = {
            "Version": number,
            "FunctionArn": published["FunctionArn"],
            "Id": published["FunctionArn"],
        }
        try:
            _provision(
                cls.api, placement.region, version.function, number, props.get("ProvisionedConcurrencyConfig"), None
            )
            cls.api.settle(placement.region, version.function, number)
        except ResourceFailed:
            version.remove()
            raise
        return version

    def update(self, resource: dict[str, Any]) -> Version:
        old, new = self.properties, properties_of(resource)
        if any(new.get(k) != old.get(k) for k in ("FunctionName", "CodeSha256", "Description")):
            return self.replaced_by(type(self).create(self.placement, resource))
        _provision(
            self.api,
            self.region,
            self.function,
            self.attributes["Version"],
            new.get("ProvisionedConcurrencyConfig"),
            old.get("ProvisionedConcurrencyConfig"),
        )
        self.resource = resource
        return self

    def remove(self) -> None:
        self.api.call_absent_ok(
            self.region, "delete_function", FunctionName=self.function, Qualifier=self.attributes["Version"]
        )


def _routing(props: dict[str, Any]) -> dict[str, Any] | None:
    routing = props.get("RoutingConfig")
    if not isinstance(routing, dict):
        return None
    weights = routing.get("AdditionalVersionWeights") or []
    return {
        "AdditionalVersionWeights": {
            str(w.get("FunctionVersion")): as_float(w.get("FunctionWeight")) for w in weights if isinstance(w, dict)
        }
    }


class Alias(LambdaResource):
    TYPE: ClassVar[str] = "AWS::Lambda::Alias"
    ATTRIBUTES: ClassVar[tuple[str, ...]] = ("AliasArn", "Id")

    def __init__(self, placement: Placement, resource: dict[str, Any], physical_id: str, function: str) -> None:
        super().__init__(placement, resource, physical_id)
        self.function = function
        self.attributes = {"AliasArn": physical_id, "Id": physical_id}

    @property
    def name(self) -> str:
        return str(self.properties.get("Name", ""))

    @classmethod
    def create(cls, placement: Placement, resource: dict[str, Any]) -> Alias:
        props = properties_of(resource)
        function = str(props.get("FunctionName", ""))
        params: dict[str, Any] = {
            "FunctionName": function,
            "Name": props.get("Name", ""),
            "FunctionVersion": str(props.get("FunctionVersion", "")),
        }
        if "Description" in props:
            params["Description"] = props["Description"]
        routing = _routing(props)
        if routing is not None:
            params["RoutingConfig"] = routing
        created = cls.api.call(placement.region, "create_alias", **params)
        alias = cls(placement, resource, created["AliasArn"], function)
        try:
            _provision(cls.api, placement.region, function, alias.name, props.get("ProvisionedConcurrencyConfig"), None)
        except ResourceFailed:
            alias.remove()
            raise
        return alias

    def update(self, resource: dict[str, Any]) -> Alias:
        old, new = self.properties, properties_of(resource)
        if any(new.get(k) != old.get(k) for k in ("Name", "FunctionName")):
            return self.replaced_by(type(self).create(self.placement, resource))
        params: dict[str, Any] = {
            "FunctionName": self.function,
            "Name": self.name,
            "FunctionVersion": str(new.get("FunctionVersion", "")),
            "Description": new.get("Description", ""),
            "RoutingConfig": _routing(new) or {"AdditionalVersionWeights": {}},
        }
        self.api.call(self.region, "update_alias", **params)
        _provision(
            self.api,
            self.region,
            self.function,
            self.name,
            new.get("ProvisionedConcurrencyConfig"),
            old.get("ProvisionedConcurrencyConfig"),
        )
        self.resource = resource
        return self

    def remove(self) -> None:
        self.api.call_absent_ok(self.region, "delete_alias", FunctionName=self.function, Name=self.name)
