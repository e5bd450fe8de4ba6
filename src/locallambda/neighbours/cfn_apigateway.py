"""``AWS::ApiGateway::RestApi``, ``Deployment`` and ``Stage``: the REST API a SAM ``Api`` event
makes, in moto's API Gateway.

moto's own RestApi model needs a ``Name`` and ignores ``Body``, so the API SAM writes (named by
its OpenAPI ``info.title``, its paths in ``Body``) had no resources, and moto has no Stage model
at all. These models call moto's API Gateway backend in the thread that runs the stack:

- RestApi (aws-resource-apigateway-restapi.html): ``Name``, else the definition's
  ``info.title`` ("A name is required if the REST API is not based on an OpenAPI
  specification"); ``Body`` (an object, or JSON/YAML text) or ``BodyS3Location`` (an object of
  the embedded S3) imported, an update's new definition replacing the old one (``Mode``
  overwrite); ``BinaryMediaTypes``, ``Description``, ``EndpointConfiguration``, ``Policy``,
  ``ApiKeySourceType``, ``MinimumCompressionSize``, ``DisableExecuteApiEndpoint``, ``Tags``.
  ``Ref`` is the API's ID; ``Fn::GetAtt`` ``RestApiId``, ``RootResourceId``.
- Deployment (aws-resource-apigateway-deployment.html): a deployment of ``RestApiId``, with
  the stage ``StageName`` it creates (``StageDescription.Variables``/``Description`` for that
  stage); ``Ref`` and ``Fn::GetAtt DeploymentId`` are its ID. ``Description`` changes in place,
  anything else replaces it. Removing it removes the stage it created.
- Stage (aws-resource-apigateway-stage.html): ``StageName`` of ``RestApiId`` pointing at
  ``DeploymentId``, with ``Variables``, ``Description``, ``TracingEnabled``, ``Tags``; ``Ref``
  is the stage's name. ``RestApiId`` and ``StageName`` require replacement, the rest changes
  in place.

A removal finds its API, deployment or stage already gone and succeeds (CloudFormation's delete
handlers succeed on NotFound): a stack is deleted in no particular order.

Imported only once moto is loaded (``apigateway.py`` installs the models).
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterator
from typing import Any, ClassVar

from moto.apigateway.models import APIGatewayBackend, RestAPI, apigateway_backends
from moto.core.exceptions import JsonRESTError

from locallambda.neighbours.apigateway import normalized_body
from locallambda.neighbours.cfn_base import LambdaResource, Placement, as_bool, as_int, properties_of, tag_list
from locallambda.neighbours.lambda_api import ResourceFailed

__all__ = ["Deployment", "RestApi", "Stage"]

# API Gateway's error codes → CloudFormation's handler error codes (resource-type-test-contract).
_HANDLER_CODES = {
    "BadRequestException": "InvalidRequest",
    "NotFoundException": "NotFound",
    "ConflictException": "AlreadyExists",
    "TooManyRequestsException": "Throttling",
    "LimitExceededException": "ServiceLimitExceeded",
    "UnauthorizedException": "AccessDenied",
}


def _failed(message: str, code: str = "") -> ResourceFailed:
    """CloudFormation's words for a handler's failure (troubleshooting.html)."""
    handler_code = _HANDLER_CODES.get(code, "GeneralServiceException")
    return ResourceFailed(
        f'Resource handler returned message: "{message}" (RequestToken: {uuid.uuid4()}, HandlerErrorCode: {handler_code})',
        code=code,
    )


@contextlib.contextmanager
def _api_errors() -> Iterator[None]:
    try:
        yield
    except JsonRESTError as exc:
        raise _failed(str(exc.message), str(exc.error_type)) from None


def _backend(placement: Placement) -> APIGatewayBackend:
    backend: APIGatewayBackend = apigateway_backends[placement.account_id][placement.region]
    return backend


def _api(placement: Placement, api_id: str) -> RestAPI:
    with _api_errors():
        found: RestAPI = _backend(placement).get_rest_api(str(api_id))
    return found


def _definition(placement: Placement, props: dict[str, Any]) -> dict[str, Any] | None:
    """The OpenAPI definition of ``Body`` or ``BodyS3Location``; ``None`` without either."""
    body = props.get("Body")
    if body is None and isinstance(props.get("BodyS3Location"), dict):
        body = _s3_text(placement, props["BodyS3Location"])
    if body is None:
        return None
    if isinstance(body, str):
        from moto.apigateway.utils import deserialize_body  # JSON, else YAML

        try:
            body = deserialize_body(body)
        except Exception:
            body = None
    if not isinstance(body, dict) or not body:
        raise _failed("Invalid OpenAPI input.", "BadRequestException")
    return body


def _s3_text(placement: Placement, location: dict[str, Any]) -> str:
    from moto.s3.models import s3_backends

    bucket, key = str(location.get("Bucket", "")), str(location.get("Key", ""))
    try:
        found = s3_backends[placement.account_id]["aws"].get_object(bucket, key, version_id=location.get("Version"))
    except Exception:
        found = None
    if found is None:
        raise _failed(f"Unable to read the definition at s3://{bucket}/{key}", "BadRequestException")
    return bytes(found.value).decode("utf-8")


class RestApi(LambdaResource):
    TYPE: ClassVar[str] = "AWS::ApiGateway::RestApi"
    ATTRIBUTES: ClassVar[tuple[str, ...]] = ("RestApiId", "RootResourceId")

    @classmethod
    def create(cls, placement: Placement, resource: dict[str, Any]) -> RestApi:
        props = properties_of(resource)
        definition = _definition(placement, props)
        info = (definition or {}).get("info")
        info = info if isinstance(info, dict) else {}
        name = props.get("Name") or info.get("title")
        if not name:
            raise _failed("A name is required if the REST API is not based on an OpenAPI specification", "")
        tags = {**tag_list(props.get("Tags")), **placement.stack_tags()}
        with _api_errors():
            api = _backend(placement).create_rest_api(
                name=str(name),
                description=str(props.get("Description") or info.get("description") or ""),
                api_key_source=props.get("ApiKeySourceType"),
                endpoint_configuration=_endpoint_configuration(props.get("EndpointConfiguration")),
                tags=tags,  # type: ignore[arg-type]
                policy=_policy(props.get("Policy")),
                minimum_compression_size=as_int(props.get("MinimumCompressionSize")),
                disable_execute_api_endpoint=as_bool(props.get("DisableExecuteApiEndpoint")),
            )
        made = cls(placement, resource, api.id)
        try:
            made._define(props, definition)
        except ResourceFailed:
            made.remove()
            raise
        return made

    def _define(self, props: dict[str, Any], definition: dict[str, Any] | None) -> None:
        backend = _backend(self.placement)
        if definition is not None:
            fail = bool(as_bool(props.get("FailOnWarnings", False)))
            with _api_errors():
                backend.put_rest_api(self.physical_id, normalized_body(definition), fail, mode="overwrite")
        api = _api(self.placement, self.physical_id)
        if isinstance(props.get("BinaryMediaTypes"), list):
            api.binaryMediaTypes = [str(t) for t in props["BinaryMediaTypes"]]
        self.attributes = {"RestApiId": api.id, "RootResourceId": api.root_resource_id}

    def update(self, resource: dict[str, Any]) -> RestApi:
        old, new = self.properties, properties_of(resource)
        if new != old:
            api = _api(self.placement, self.physical_id)
            definition = _definition(self.placement, new)
            info = (definition or {}).get("info")
            info = info if isinstance(info, dict) else {}
            api.name = str(new.get("Name") or info.get("title") or api.name)
            api.description = str(new.get("Description") or info.get("description") or "")
            if "Policy" in new:
                api.policy = _policy(new.get("Policy"))
            if definition is not None and definition != _definition(self.placement, old):
                self._define(new, definition)
            elif "BinaryMediaTypes" in new:
                self._define(new, None)
        self.resource = resource
        return self

    def remove(self) -> None:
        _backend(self.placement).apis.pop(self.physical_id, None)


class Deployment(LambdaResource):
    TYPE: ClassVar[str] = "AWS::ApiGateway::Deployment"
    ATTRIBUTES: ClassVar[tuple[str, ...]] = ("DeploymentId",)

    @classmethod
    def create(cls, placement: Placement, resource: dict[str, Any]) -> Deployment:
        props = properties_of(resource)
        described = props.get("StageDescription")
        stage: dict[str, Any] = described if isinstance(described, dict) else {}
        with _api_errors():
            deployment = _backend(placement).create_deployment(
                str(props.get("RestApiId", "")),
                str(props.get("StageName") or ""),
                description=str(props.get("Description") or ""),
                stage_variables=stage.get("Variables") or {},
            )
        made = cls(placement, resource, deployment.id)
        made.attributes = {"DeploymentId": deployment.id}
        if props.get("StageName") and stage:
            created = _api(placement, str(props["RestApiId"])).stages.get(str(props["StageName"]))
            if created is not None:
                created.description = str(stage.get("Description") or "")
                created.tracing_enabled = as_bool(stage.get("TracingEnabled"))
        return made

    def update(self, resource: dict[str, Any]) -> Deployment:
        old, new = self.properties, properties_of(resource)
        if {k: v for k, v in new.items() if k != "Description"} != {k: v for k, v in old.items() if k != "Description"}:
            return self.replaced_by(type(self).create(self.placement, resource))
        if new.get("Description") != old.get("Description"):
            api = _api(self.placement, str(new.get("RestApiId", "")))
            found = api.deployments.get(self.physical_id)
            if found is not None:
                found.description = str(new.get("Description") or "")
        self.resource = resource
        return self

    def remove(self) -> None:
        api = _backend(self.placement).apis.get(str(self.properties.get("RestApiId", "")))
        if api is None:
            return
        stage_name = self.properties.get("StageName")
        created = api.stages.get(str(stage_name)) if stage_name else None
        if created is not None and created.deployment_id == self.physical_id:
            del api.stages[str(stage_name)]
        api.deployments.pop(self.physical_id, None)


class Stage(LambdaResource):
    TYPE: ClassVar[str] = "AWS::ApiGateway::Stage"
    ATTRIBUTES: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def create(cls, placement: Placement, resource: dict[str, Any]) -> Stage:
        props = properties_of(resource)
        api_id, name = str(props.get("RestApiId", "")), str(props.get("StageName", ""))
        deployment_id = str(props.get("DeploymentId", ""))
        if deployment_id not in _api(placement, api_id).deployments:
            raise _failed("Invalid deployment identifier specified", "BadRequestException")
        with _api_errors():
            _backend(placement).create_stage(
                api_id,
                name,
                deployment_id,
                variables=_variables(props.get("Variables")),
                description=str(props.get("Description") or ""),
                cacheClusterEnabled=as_bool(props.get("CacheClusterEnabled")),
                cacheClusterSize=props.get("CacheClusterSize"),
                tags={**tag_list(props.get("Tags")), **placement.stack_tags()},
                tracing_enabled=as_bool(props.get("TracingEnabled")),
            )
        return cls(placement, resource, name)

    def update(self, resource: dict[str, Any]) -> Stage:
        old, new = self.properties, properties_of(resource)
        if any(new.get(k) != old.get(k) for k in ("RestApiId", "StageName")):
            return self.replaced_by(type(self).create(self.placement, resource))
        api = _api(self.placement, str(new.get("RestApiId", "")))
        stage = api.stages.get(self.physical_id)
        if stage is None:
            return type(self).create(self.placement, resource)
        deployment_id = str(new.get("DeploymentId", ""))
        if deployment_id not in api.deployments:
            raise _failed("Invalid deployment identifier specified", "BadRequestException")
        stage.deployment_id = deployment_id
        stage.variables = _variables(new.get("Variables"))
        stage.description = str(new.get("Description") or "")
        stage.tracing_enabled = as_bool(new.get("TracingEnabled"))
        self.resource = resource
        return self

    def remove(self) -> None:
        api = _backend(self.placement).apis.get(str(self.properties.get("RestApiId", "")))
        if api is not None:
            api.stages.pop(self.physical_id, None)


def _variables(value: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def _endpoint_configuration(value: Any) -> Any:
    # the template's {Types: [...], VpcEndpointIds: [...]}; the API's {types, vpcEndpointIds}
    if not isinstance(value, dict):
        return None
    found: dict[str, Any] = {"types": list(value.get("Types") or ["EDGE"])}
    if value.get("VpcEndpointIds"):
        found["vpcEndpointIds"] = list(value["VpcEndpointIds"])
    return found


def _policy(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value)
