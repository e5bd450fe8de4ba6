"""``AWS::Lambda::Function`` and ``AWS::Lambda::LayerVersion``: functions and layer versions of
this server, created, updated and deleted through its Lambda API (aws-resource-lambda-function.html,
aws-resource-lambda-layerversion.html).

- ``Ref`` is the function's name; ``Fn::GetAtt`` gives ``Arn``, ``SnapStartResponse.ApplyOn``
  and ``SnapStartResponse.OptimizationStatus``.
- Without ``FunctionName`` the name is generated (64 characters at most).
- ``Code.ZipFile`` is inline source: CloudFormation "places it in a file named index and zips
  it" (aws-properties-lambda-function-code.html), ``index.py`` for Python, ``index.js`` for
  Node.js ("the index file that CloudFormation creates uses the extension .js", CommonJS).
  ``Code.S3Bucket``/``S3Key``/``S3ObjectVersion`` and ``Code.ImageUri`` go to the API as given.
- The resource completes when the function is ``Active`` (``LoopbackLambda.settle``).
- ``Tags`` plus the stack's tags and ``aws:cloudformation:*`` become the function's tags (as
  recorded against AWS in LocalStack's test_lambda snapshots).
- Changing ``FunctionName`` or ``PackageType`` replaces the function (both "Update requires:
  Replacement"); every other property is updated in place: configuration, code (only when
  ``Code`` changed: "Changes to a deployment package in Amazon S3 are not detected
  automatically"), tags, reserved concurrency, runtime management, recursion, code signing. A
  property dropped from the template goes back to Lambda's default.
"""

from __future__ import annotations

import io
import zipfile
from typing import Any, ClassVar

from locallambda.neighbours.cfn_base import LambdaResource, Placement, as_int, physical_name, properties_of, tag_list
from locallambda.neighbours.lambda_api import ResourceFailed

__all__ = ["Function", "LayerVersion", "inline_zip"]

# CloudFormation property → CreateFunction/UpdateFunctionConfiguration member, where they differ.
_RENAMED = {"KmsKeyArn": "KMSKeyArn"}
_CONFIGURATION = (
    "Role",
    "Handler",
    "Description",
    "Timeout",
    "MemorySize",
    "VpcConfig",
    "Environment",
    "Runtime",
    "DeadLetterConfig",
    "KmsKeyArn",
    "TracingConfig",
    "Layers",
    "FileSystemConfigs",
    "ImageConfig",
    "EphemeralStorage",
    "SnapStart",
    "LoggingConfig",
)
_CREATE_ONLY = ("PackageType", "Architectures", "CodeSigningConfigArn")
# What a configuration property goes back to when the template drops it (Lambda's defaults).
_DEFAULTS: dict[str, Any] = {
    "Description": "",
    "Timeout": 3,
    "MemorySize": 128,
    "VpcConfig": {"SubnetIds": [], "SecurityGroupIds": []},
    "Environment": {"Variables": {}},
    "DeadLetterConfig": {"TargetArn": ""},
    "KmsKeyArn": "",
    "TracingConfig": {"Mode": "PassThrough"},
    "Layers": [],
    "FileSystemConfigs": [],
    "ImageConfig": {},
    "EphemeralStorage": {"Size": 512},
    "SnapStart": {"ApplyOn": "None"},
}


def inline_zip(source: str, runtime: str) -> bytes:
    """The deployment package CloudFormation makes of ``Code.ZipFile``: one file named
    ``index`` (``.py``/``.js`` by runtime), with a fixed timestamp so the same source always
    has the same CodeSha256."""
    name = "index.py" if runtime.startswith("python") else "index.js" if runtime.startswith("nodejs") else "index"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
        info.create_system = 3
        info.external_attr = 0o100644 << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        zf.writestr(info, source)
    return buf.getvalue()


def _code(props: dict[str, Any], logical_id: str) -> dict[str, Any]:
    code = props.get("Code")
    if not isinstance(code, dict):
        # CloudFormation checks a resource's properties against its schema before the handler runs
        raise ResourceFailed(
            f"Properties validation failed for resource {logical_id} with message: #: required key [Code] not found"
        )
    if "ZipFile" in code:
        return {"ZipFile": inline_zip(str(code["ZipFile"]), str(props.get("Runtime", "")))}
    keys = ("S3Bucket", "S3Key", "S3ObjectVersion", "ImageUri", "SourceKMSKeyArn")
    return {k: code[k] for k in keys if k in code}


def _config_value(name: str, value: Any) -> Any:
    if name in ("Timeout", "MemorySize"):
        return as_int(value)
    if name == "EphemeralStorage" and isinstance(value, dict):
        return {**value, "Size": as_int(value.get("Size"))}
    return value


class Function(LambdaResource):
    TYPE: ClassVar[str] = "AWS::Lambda::Function"
    ATTRIBUTES: ClassVar[tuple[str, ...]] = (
        "Arn",
        "SnapStartResponse",
        "SnapStartResponse.ApplyOn",
        "SnapStartResponse.OptimizationStatus",
    )

    @property
    def name(self) -> str:
        return self.physical_id

    @classmethod
    def create(cls, placement: Placement, resource: dict[str, Any]) -> Function:
        props = properties_of(resource)
        name = str(props.get("FunctionName") or physical_name(placement, 64))
        params: dict[str, Any] = {"FunctionName": name, "Code": _code(props, placement.logical_id)}
        for key in (*_CONFIGURATION, *_CREATE_ONLY):
            if key in props:
                params[_RENAMED.get(key, key)] = _config_value(key, props[key])
        tags = {**placement.stack_tags(), **tag_list(props.get("Tags"))}
        if tags:
            params["Tags"] = tags
        cls.api.call(placement.region, "create_function", **params)
        function = cls(placement, resource, name)
        try:
            function._apply_extras(props, {})
            function._settled()
        except ResourceFailed:
            # a resource that failed is not left behind (CloudFormation rolls it back)
            cls.api.call_absent_ok(placement.region, "delete_function", FunctionName=name)
            raise
        return function

    def update(self, resource: dict[str, Any]) -> Function:
        old, new = self.properties, properties_of(resource)
        if new.get("FunctionName") != old.get("FunctionName") or new.get("PackageType") != old.get("PackageType"):
            return self.replaced_by(type(self).create(self.placement, resource))
        region, name = self.region, self.name
        config: dict[str, Any] = {}
        for key in _CONFIGURATION:
            if key in new:
                config[_RENAMED.get(key, key)] = _config_value(key, new[key])
            elif key in old and key in _DEFAULTS:
                config[_RENAMED.get(key, key)] = _DEFAULTS[key]
        if config:
            self.api.call(region, "update_function_configuration", FunctionName=name, **config)
            self.api.settle(region, name)
        if new.get("Code") != old.get("Code") or new.get("Architectures") != old.get("Architectures"):
            code = _code(new, self.placement.logical_id)
            if "Architectures" in new:
                code["Architectures"] = new["Architectures"]
            code.pop("SourceKMSKeyArn", None)
            self.api.call(region, "update_function_code", FunctionName=name, **code)
            self.api.settle(region, name)
        self._retag(old, new)
        self._apply_extras(new, old)
        self.resource = resource
        self._settled()
        return self

    def remove(self) -> None:
        self.api.call_absent_ok(self.region, "delete_function", FunctionName=self.name)

    # -- the parts outside CreateFunction

    def _settled(self) -> None:
        config = self.api.settle(self.region, self.name)
        snap = config.get("SnapStart") or {"ApplyOn": "None", "OptimizationStatus": "Off"}
        self.attributes = {
            "Arn": config["FunctionArn"],
            "SnapStartResponse": snap,
            "SnapStartResponse.ApplyOn": snap.get("ApplyOn"),
            "SnapStartResponse.OptimizationStatus": snap.get("OptimizationStatus"),
        }

    def _retag(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        stack_tags = self.placement.stack_tags()
        before = {**stack_tags, **tag_list(old.get("Tags"))}
        after = {**stack_tags, **tag_list(new.get("Tags"))}
        if before == after:
            return
        arn = (
            self.attributes.get("Arn")
            or self.api.call(self.region, "get_function_configuration", FunctionName=self.name)["FunctionArn"]
        )
        gone = [k for k in before if k not in after]
        if gone:
            self.api.call(self.region, "untag_resource", Resource=arn, TagKeys=gone)
        changed = {k: v for k, v in after.items() if before.get(k) != v}
        if changed:
            self.api.call(self.region, "tag_resource", Resource=arn, Tags=changed)

    def _apply_extras(self, new: dict[str, Any], old: dict[str, Any]) -> None:
        """Reserved concurrency, runtime management, recursion and code signing: separate
        calls, made when the template sets or changes them (and undone when it drops them)."""
        region, name = self.region, self.name
        if new.get("ReservedConcurrentExecutions") != old.get("ReservedConcurrentExecutions"):
            if "ReservedConcurrentExecutions" in new:
                self.api.call(
                    region,
                    "put_function_concurrency",
                    FunctionName=name,
                    ReservedConcurrentExecutions=as_int(new["ReservedConcurrentExecutions"]),
                )
            else:
                self.api.call(region, "delete_function_concurrency", FunctionName=name)
        runtime_management = new.get("RuntimeManagementConfig")
        if runtime_management != old.get("RuntimeManagementConfig"):
            self.api.call(
                region,
                "put_runtime_management_config",
                FunctionName=name,
                **(runtime_management or {"UpdateRuntimeOn": "Auto"}),
            )
        if new.get("RecursiveLoop") != old.get("RecursiveLoop"):
            self.api.call(
                region,
                "put_function_recursion_config",
                FunctionName=name,
                RecursiveLoop=new.get("RecursiveLoop", "Terminate"),
            )
        if old and new.get("CodeSigningConfigArn") != old.get("CodeSigningConfigArn"):
            if "CodeSigningConfigArn" in new:
                self.api.call(
                    region,
                    "put_function_code_signing_config",
                    FunctionName=name,
                    CodeSigningConfigArn=new["CodeSigningConfigArn"],
                )
            else:
                self.api.call(region, "delete_function_code_signing_config", FunctionName=name)


class LayerVersion(LambdaResource):
    """``AWS::Lambda::LayerVersion`` (aws-resource-lambda-layerversion.html): ``Ref`` and
    ``Fn::GetAtt LayerVersionArn`` are the layer version's ARN. Every property requires
    replacement, and a replaced or dropped layer version is deleted (unless a policy retains it).
    Without ``LayerName`` the name is generated."""

    TYPE: ClassVar[str] = "AWS::Lambda::LayerVersion"
    ATTRIBUTES: ClassVar[tuple[str, ...]] = ("LayerVersionArn",)

    @classmethod
    def create(cls, placement: Placement, resource: dict[str, Any]) -> LayerVersion:
        props = properties_of(resource)
        name = str(props.get("LayerName") or physical_name(placement, 140))
        params: dict[str, Any] = {"LayerName": name, "Content": props.get("Content") or {}}
        for key in ("Description", "CompatibleRuntimes", "CompatibleArchitectures", "LicenseInfo"):
            if key in props:
                params[key] = props[key]
        published = cls.api.call(placement.region, "publish_layer_version", **params)
        layer = cls(placement, resource, published["LayerVersionArn"])
        layer.attributes = {"LayerVersionArn": published["LayerVersionArn"]}
        return layer

    def update(self, resource: dict[str, Any]) -> LayerVersion:
        if properties_of(resource) == self.properties:
            self.resource = resource
            return self
        return self.replaced_by(type(self).create(self.placement, resource))

    def remove(self) -> None:
        # arn:aws:lambda:<region>:<account>:layer:<name>:<version>
        _, _, _, _, _, _, name, version = self.physical_id.split(":")
        self.api.call_absent_ok(self.region, "delete_layer_version", LayerName=name, VersionNumber=int(version))
