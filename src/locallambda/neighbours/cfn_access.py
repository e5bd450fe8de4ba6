"""``AWS::Lambda::Permission`` and ``AWS::Lambda::Url``: who may call a function, and its URL.

- Permission (aws-resource-lambda-permission.html): one statement of the function's resource
  policy, its ``StatementId`` generated (``<stack>-<logical id>-<suffix>``); ``Ref`` and
  ``Fn::GetAtt Id`` are that statement ID (the physical ID AWS reports, as recorded in
  LocalStack's test_cfn_lambda_permissions snapshot). Every property requires replacement: the
  new statement is added before the old one is removed.
- Url (aws-resource-lambda-url.html): ``Ref`` and ``Fn::GetAtt FunctionArn`` are the function's
  ARN (qualified when ``Qualifier`` is set), ``Fn::GetAtt FunctionUrl`` the URL.
  ``TargetFunctionArn`` and ``Qualifier`` require replacement; ``AuthType``, ``Cors`` and
  ``InvokeMode`` change in place.
"""

from __future__ import annotations

from typing import Any, ClassVar

from locallambda.neighbours.cfn_base import LambdaResource, Placement, as_bool, as_int, physical_name, properties_of

__all__ = ["Permission", "Url"]

_PERMISSION_MEMBERS = (
    "Action",
    "Principal",
    "SourceArn",
    "SourceAccount",
    "EventSourceToken",
    "PrincipalOrgID",
    "FunctionUrlAuthType",
)


class Permission(LambdaResource):
    TYPE: ClassVar[str] = "AWS::Lambda::Permission"
    ATTRIBUTES: ClassVar[tuple[str, ...]] = ("Id",)

    @classmethod
    def create(cls, placement: Placement, resource: dict[str, Any]) -> Permission:
        props = properties_of(resource)
        sid = physical_name(placement, 100)
        params: dict[str, Any] = {"FunctionName": props.get("FunctionName", ""), "StatementId": sid}
        params.update({k: props[k] for k in _PERMISSION_MEMBERS if k in props})
        cls.api.call(placement.region, "add_permission", **params)
        permission = cls(placement, resource, sid)
        permission.attributes = {"Id": sid}
        return permission

    def update(self, resource: dict[str, Any]) -> Permission:
        if properties_of(resource) == self.properties:
            self.resource = resource
            return self
        new = type(self).create(self.placement, resource)
        self.remove()
        return new

    def remove(self) -> None:
        self.api.call_absent_ok(
            self.region,
            "remove_permission",
            FunctionName=self.properties.get("FunctionName", ""),
            StatementId=self.physical_id,
        )


def _cors(props: dict[str, Any]) -> dict[str, Any] | None:
    cors = props.get("Cors")
    if not isinstance(cors, dict):
        return None
    fixed = dict(cors)
    if "AllowCredentials" in fixed:
        fixed["AllowCredentials"] = as_bool(fixed["AllowCredentials"])
    if "MaxAge" in fixed:
        fixed["MaxAge"] = as_int(fixed["MaxAge"])
    return fixed


class Url(LambdaResource):
    TYPE: ClassVar[str] = "AWS::Lambda::Url"
    ATTRIBUTES: ClassVar[tuple[str, ...]] = ("FunctionArn", "FunctionUrl")

    def _target(self) -> dict[str, Any]:
        props = self.properties
        target: dict[str, Any] = {"FunctionName": props.get("TargetFunctionArn", "")}
        if props.get("Qualifier"):
            target["Qualifier"] = props["Qualifier"]
        return target

    @classmethod
    def create(cls, placement: Placement, resource: dict[str, Any]) -> Url:
        props = properties_of(resource)
        params: dict[str, Any] = {"FunctionName": props.get("TargetFunctionArn", ""), "AuthType": props.get("AuthType")}
        if props.get("Qualifier"):
            params["Qualifier"] = props["Qualifier"]
        if "InvokeMode" in props:
            params["InvokeMode"] = props["InvokeMode"]
        cors = _cors(props)
        if cors is not None:
            params["Cors"] = cors
        created = cls.api.call(placement.region, "create_function_url_config", **params)
        url = cls(placement, resource, created["FunctionArn"])
        url.attributes = {"FunctionArn": created["FunctionArn"], "FunctionUrl": created["FunctionUrl"]}
        return url

    def update(self, resource: dict[str, Any]) -> Url:
        old, new = self.properties, properties_of(resource)
        if any(new.get(k) != old.get(k) for k in ("TargetFunctionArn", "Qualifier")):
            self.remove()
            return type(self).create(self.placement, resource)
        if new != old:
            self.api.call(
                self.region,
                "update_function_url_config",
                **self._target(),
                AuthType=new.get("AuthType"),
                Cors=_cors(new) or {},
                InvokeMode=new.get("InvokeMode", "BUFFERED"),
            )
        self.resource = resource
        return self

    def remove(self) -> None:
        self.api.call_absent_ok(self.region, "delete_function_url_config", **self._target())
