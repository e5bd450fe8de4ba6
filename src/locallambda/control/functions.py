"""Functions: create, read, list, update, delete.

Code intake lives in ``control/code.py``, the Pending → Active lifecycle in
``control/lifecycle.py``, publishing in ``control/versions.py``. Every change gets a new
RevisionId; a RevisionId in the request must match.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from locallambda.control.code import CodeIntake
from locallambda.control.layers import check_layer_regions, function_layers
from locallambda.control.lifecycle import Lifecycle
from locallambda.control.paging import paginate
from locallambda.control.plane import ControlPlane
from locallambda.control.tags import check_tags
from locallambda.control.versions import check_revision, publish
from locallambda.control.views import public_config, version_sort_key
from locallambda.errors import (
    AuthorizationDeniedError,
    InvalidParameterValueError,
    RequestEntityTooLargeError,
    ResourceConflictError,
    ResourceNotFoundError,
)
from locallambda.model.clock import aws_timestamp
from locallambda.model.lifecycle import CREATING_REASON, FunctionState
from locallambda.model.operations import RequestContext, operation
from locallambda.model.refs import LATEST, FunctionRef, function_arn, parse_function_name
from locallambda.runtimes import catalogue
from locallambda.store.functions import Change, FunctionRecord, VersionRecord, new_revision_id
from locallambda.store.layers import LayerStore

__all__ = ["RESERVED_ENV_KEYS", "FunctionsApi"]

# Environment variables AWS sets itself and refuses to let users override.
RESERVED_ENV_KEYS = (
    "_HANDLER",
    "_X_AMZN_TRACE_ID",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API",
    "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR",
)

MAX_FUNCTION_NAME = 64

# Configuration members copied verbatim from a request into the stored configuration.
_PLAIN_MEMBERS = ("Description", "Handler", "Runtime", "Role", "Timeout", "MemorySize", "KMSKeyArn")


def _runtime_version_arn(region: str, runtime: str) -> str:
    digest = hashlib.sha256(runtime.encode()).hexdigest()
    return f"arn:aws:lambda:{region}::runtime:{digest}"


def _env_size_check(variables: dict[str, str], limit: int) -> None:
    """AWS's checks of Environment.Variables: ``limit`` bytes measured as compact JSON
    (``LAMBDA_LIMITS_MAX_FUNCTION_ENVVAR_SIZE_BYTES``, 4 KB on AWS), no reserved keys."""
    if not variables:
        return
    measured = json.dumps(variables, separators=(",", ":"))
    if len(measured.encode()) > limit:
        raise InvalidParameterValueError(
            "Lambda was unable to configure your environment variables because the environment "
            f"variables you have provided exceeded the {_kb(limit)} limit. String measured: " + measured
        )
    reserved = [k for k in variables if k in RESERVED_ENV_KEYS]
    if reserved:
        raise InvalidParameterValueError(
            "Lambda was unable to configure your environment variables because the environment "
            "variables you have provided contains reserved keys that are currently not supported "
            f"for modification. Reserved keys used in this request: {', '.join(reserved)}"
        )


def logging_config(current: dict[str, Any], requested: dict[str, Any]) -> dict[str, Any]:
    """LoggingConfig after a request: the JSON format carries ApplicationLogLevel and SystemLogLevel
    (INFO unless given); the Text format carries neither (AWS's answers in LocalStack's parity
    snapshots, TestLoggingConfig)."""
    merged = {**current, **requested}
    if merged.get("LogFormat") == "JSON":
        merged.setdefault("ApplicationLogLevel", "INFO")
        merged.setdefault("SystemLogLevel", "INFO")
    else:
        merged.pop("ApplicationLogLevel", None)
        merged.pop("SystemLogLevel", None)
    return dict(sorted(merged.items()))


def _kb(limit: int) -> str:
    return f"{limit // 1024}KB" if limit % 1024 == 0 else f"{limit} bytes"


def _check_runtime(runtime: str | None) -> None:
    if runtime is None:
        return
    if runtime not in catalogue.IMAGE_TAGS:
        raise InvalidParameterValueError(
            f"Value {runtime} at 'runtime' failed to satisfy constraint: Member must satisfy enum "
            f"value set: {catalogue.VALID_RUNTIMES_TEXT} or be a valid ARN"
        )
    if runtime in catalogue.DEPRECATED:
        raise InvalidParameterValueError(
            f"The runtime parameter of {runtime} is no longer supported for creating or updating "
            "AWS Lambda functions. We recommend you use a supported runtime while creating or "
            "updating functions."
        )


class FunctionsApi:
    """Handlers for the function lifecycle operations."""

    def __init__(self, plane: ControlPlane, layers: LayerStore, lifecycle: Lifecycle) -> None:
        self.plane = plane
        self.code = CodeIntake(plane)
        self.lifecycle = lifecycle
        self._layers = layers

    # -- operations -----------------------------------------------------------------------

    @operation("CreateFunction")
    async def create_function(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        limit = self.plane.settings.limits_create_function_request_size
        if ctx.content_length > limit:
            raise RequestEntityTooLargeError(
                f"Request must be smaller than {limit} bytes for the CreateFunction operation"
            )
        ref = parse_function_name(p["FunctionName"], ctx.region, ctx.account_id)
        if ref.account_id != ctx.account_id:
            # Creating a function in another account needs permissions this server never grants;
            # AWS answers without a message (test_function_arns, function_arn_other_account_exc).
            raise AuthorizationDeniedError("")
        check_tags(p.get("Tags") or {})
        if len(ref.name) > MAX_FUNCTION_NAME:
            # The model allows 140 characters (room for an ARN); the name itself may have 64.
            # AWS words this like a validation error but sends InvalidParameterValueException.
            raise InvalidParameterValueError(
                f"1 validation error detected: Value '{p['FunctionName']}' at 'functionName' failed to "
                f"satisfy constraint: Member must have length less than or equal to {MAX_FUNCTION_NAME}"
            )
        package_type = p.get("PackageType", "Zip")
        # Layers of another region are refused before an existing function is (AWS's order).
        check_layer_regions(p.get("Layers") or [], ref.region)
        if self.plane.functions.get(ref.region, ref.name) is not None:
            raise ResourceConflictError(f"Function already exist: {ref.name}")
        if package_type == "Zip":
            if not p.get("Runtime") or not p.get("Handler"):
                raise InvalidParameterValueError(
                    "Runtime and Handler are mandatory parameters for functions created with deployment packages."
                )
            _check_runtime(p.get("Runtime"))
            if p.get("Code", {}).get("ImageUri"):
                raise InvalidParameterValueError(
                    "Please don't provide ImageUri when updating a function with packageType Zip."
                )
        elif not p.get("Code", {}).get("ImageUri"):
            raise InvalidParameterValueError("Please provide ImageUri when creating a function with packageType Image.")
        variables = (p.get("Environment") or {}).get("Variables") or {}
        _env_size_check(variables, self.plane.settings.limits_max_function_envvar_size_bytes)
        stored = await self.code.store(p.get("Code") or {}, ctx)
        if self.plane.functions.get(ref.region, ref.name) is not None:  # created while we unzipped
            raise ResourceConflictError(f"Function already exist: {ref.name}")

        arn = function_arn(ref.region, ref.account_id, ref.name)
        cfg: dict[str, Any] = {
            "FunctionName": ref.name,
            "FunctionArn": arn,
            "Role": p["Role"],
            "CodeSize": 0,
            "Description": p.get("Description", ""),
            "Timeout": p.get("Timeout", 3),
            "MemorySize": p.get("MemorySize", 128),
            "LastModified": aws_timestamp(),
            "CodeSha256": "",
            "Version": LATEST,
            "TracingConfig": {"Mode": (p.get("TracingConfig") or {}).get("Mode", "PassThrough")},
            "RevisionId": new_revision_id(),
            "State": FunctionState.PENDING.value,
            "StateReason": CREATING_REASON,
            "StateReasonCode": "Creating",
            "PackageType": package_type,
            "Architectures": p.get("Architectures") or ["x86_64"],
            "EphemeralStorage": p.get("EphemeralStorage") or {"Size": 512},
            "SnapStart": {"ApplyOn": (p.get("SnapStart") or {}).get("ApplyOn", "None"), "OptimizationStatus": "Off"},
            "LoggingConfig": logging_config(
                {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{ref.name}"}, p.get("LoggingConfig") or {}
            ),
        }
        if "Environment" in p:  # absent unless given, as AWS answers
            cfg["Environment"] = {"Variables": dict(variables)}
        if package_type == "Zip":
            cfg["Runtime"] = p["Runtime"]
            cfg["Handler"] = p["Handler"]
            cfg["RuntimeVersionConfig"] = {"RuntimeVersionArn": _runtime_version_arn(ref.region, p["Runtime"])}
        elif p.get("ImageConfig"):
            cfg["ImageConfigResponse"] = {"ImageConfig": p["ImageConfig"]}
        for key in ("KMSKeyArn", "DeadLetterConfig", "FileSystemConfigs"):
            if p.get(key):
                cfg[key] = p[key]
        if p.get("VpcConfig"):
            vpc = p["VpcConfig"]
            cfg["VpcConfig"] = {
                "SubnetIds": vpc.get("SubnetIds", []),
                "SecurityGroupIds": vpc.get("SecurityGroupIds", []),
                "Ipv6AllowedForDualStack": vpc.get("Ipv6AllowedForDualStack", False),
                "VpcId": "",
            }
        if p.get("Layers"):
            cfg["Layers"] = function_layers(
                self._layers,
                ref.region,
                p["Layers"],
                stored.unzipped_size,
                self.plane.settings.limits_code_size_unzipped,
            )
        latest = VersionRecord(cfg)
        CodeIntake.apply(latest, stored)
        record = FunctionRecord(name=ref.name, region=ref.region, account_id=ref.account_id, latest=latest)
        record.tags = dict(p.get("Tags") or {})
        record.code_signing_config_arn = p.get("CodeSigningConfigArn")
        self.plane.functions.add(record)
        version = publish(record, None) if p.get("Publish") else None
        self.plane.functions.save(record)
        await self.lifecycle.settle(record)
        if version is None:
            return public_config(latest.config)
        # AWS answers with the new version's configuration but the unqualified ARN.
        out = public_config(version.config)
        out["FunctionArn"] = arn
        return out

    def _lookup(
        self, ctx: RequestContext, p: dict[str, Any]
    ) -> tuple[FunctionRecord, FunctionRef, VersionRecord, str | None]:
        ref = self.plane.ref(ctx.region, ctx.account_id, p["FunctionName"], p.get("Qualifier"))
        record = self.plane.functions.get(ref.region, ref.name)
        if record is None:
            raise ResourceNotFoundError(f"Function not found: {ref.arn()}")
        resolved = record.resolve(ref.qualifier)
        if resolved is None:
            raise ResourceNotFoundError(f"Function not found: {ref.arn()}")
        version, alias = resolved
        return record, ref, version, alias

    def _config_view(
        self, record: FunctionRecord, ref: FunctionRef, version: VersionRecord, alias: str | None
    ) -> dict[str, Any]:
        cfg = public_config(version.config)
        if alias is not None:
            cfg["FunctionArn"] = ref.arn(alias)
        elif ref.qualifier == LATEST:
            # Asked for explicitly, $LATEST comes back qualified (unasked, the ARN is bare).
            cfg["FunctionArn"] = ref.arn(LATEST)
        return cfg

    @operation("GetFunctionConfiguration")
    async def get_function_configuration(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        record, ref, version, alias = self._lookup(ctx, p)
        return self._config_view(record, ref, version, alias)

    def code_location(self, ctx: RequestContext, version: VersionRecord) -> dict[str, Any]:
        if version.image_uri:
            return {"RepositoryType": "ECR", "ImageUri": version.image_uri, "ResolvedImageUri": version.image_uri}
        host = ctx.headers.get("host") or f"127.0.0.1:{self.plane.settings.port}"
        sha = version.code_sha256_hex or "none"
        return {"RepositoryType": "S3", "Location": f"http://{host}/_aws/lambda/code/{sha}.zip"}

    @operation("GetFunction")
    async def get_function(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        record, ref, version, alias = self._lookup(ctx, p)
        out: dict[str, Any] = {
            "Configuration": self._config_view(record, ref, version, alias),
            "Code": self.code_location(ctx, version),
        }
        if record.tags:
            out["Tags"] = dict(record.tags)
        if record.reserved_concurrency is not None:
            out["Concurrency"] = {"ReservedConcurrentExecutions": record.reserved_concurrency}
        return out

    @operation("ListFunctions")
    async def list_functions(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        configs: list[dict[str, Any]] = []
        for record in self.plane.functions.in_region(ctx.region):
            if p.get("FunctionVersion") == "ALL":
                latest = public_config(record.latest.config, listing=True)
                latest["FunctionArn"] = record.latest.config["FunctionArn"] + ":" + LATEST
                configs.append(latest)
                for num in sorted(record.versions, key=int):
                    configs.append(public_config(record.versions[num].config, listing=True))
            else:
                configs.append(public_config(record.latest.config, listing=True))
        page, marker = paginate(configs, p.get("Marker"), p.get("MaxItems"), key=_list_key)
        out: dict[str, Any] = {"Functions": page}
        if marker:
            out["NextMarker"] = marker
        return out

    @operation("DeleteFunction")
    async def delete_function(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        ref = self.plane.ref(ctx.region, ctx.account_id, p["FunctionName"], p.get("Qualifier"))
        q = ref.qualifier
        # AWS judges the qualifier before it looks the function up: an alias-shaped qualifier is
        # refused even for a function that does not exist; $LATEST likewise.
        if q is not None and _ALIAS_SHAPED.fullmatch(q):
            raise InvalidParameterValueError("Deletion of aliases is not currently supported.")
        if q == LATEST:
            raise InvalidParameterValueError("$LATEST version cannot be deleted without deleting the function.")
        record = self.plane.get_function(ref)  # "Function not found" names the unqualified ARN
        if q is None:
            self.plane.functions.remove(record)
            self.plane.notify(record, Change.DELETED)
            return {"StatusCode": 204}
        if q not in record.versions:
            return {"StatusCode": 204}  # AWS answers success for a version that is already gone
        users = sorted(
            a
            for a, cfg in record.aliases.items()
            if cfg["FunctionVersion"] == q or q in (cfg.get("RoutingConfig") or {}).get("AdditionalVersionWeights", {})
        )
        if users:
            raise ResourceConflictError(
                f"Unable to delete version because the following aliases reference it: [{', '.join(users)}]"
            )
        del record.versions[q]
        record.provisioned_concurrency.pop(q, None)
        record.event_invoke_configs.pop(q, None)
        self.plane.functions.save(record)
        self.plane.notify(record, Change.UPDATED)
        return {"StatusCode": 204}

    @operation("UpdateFunctionCode")
    async def update_function_code(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        ref = self.plane.ref(ctx.region, ctx.account_id, p["FunctionName"])
        record = self.plane.get_function(ref)
        Lifecycle.ensure_updatable(record)
        check_revision(p.get("RevisionId"), record.latest.config["RevisionId"])
        pkg = record.latest.config.get("PackageType", "Zip")
        if pkg == "Zip" and p.get("ImageUri"):
            raise InvalidParameterValueError(
                "Please don't provide ImageUri when updating a function with packageType Zip."
            )
        if pkg == "Image" and not p.get("ImageUri"):
            raise InvalidParameterValueError("Please provide ImageUri when updating a function with packageType Image.")
        code: dict[str, Any] = {
            k: p[k] for k in ("ZipFile", "S3Bucket", "S3Key", "S3ObjectVersion", "ImageUri") if k in p
        }
        stored = await self.code.store(code, ctx)
        record = self.plane.get_function(ref)  # re-read: we awaited
        Lifecycle.ensure_updatable(record)
        if p.get("DryRun"):
            preview = record.latest.snapshot()
            CodeIntake.apply(preview, stored)
            return public_config(preview.config)
        latest = record.latest
        CodeIntake.apply(latest, stored)
        if p.get("Architectures"):
            latest.config["Architectures"] = p["Architectures"]
        Lifecycle.begin_update(latest)
        result = latest
        if p.get("Publish"):
            result = publish(record, None)
        self.plane.functions.save(record)
        await self.lifecycle.settle(record)
        return public_config(result.config)

    @operation("UpdateFunctionConfiguration")
    async def update_function_configuration(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        ref = self.plane.ref(ctx.region, ctx.account_id, p["FunctionName"])
        record = self.plane.get_function(ref)
        unzipped = 0
        if "Layers" in p:  # the code's size counts against the layers' limit; measured off the loop
            unzipped = await self.code.unzipped_size(record.latest)
            record = self.plane.get_function(ref)  # re-read: we awaited
        # The request's own values are judged before the function's state, as AWS does.
        if "Runtime" in p:
            _check_runtime(p["Runtime"])
        if "Environment" in p:
            _env_size_check(
                (p["Environment"] or {}).get("Variables") or {},
                self.plane.settings.limits_max_function_envvar_size_bytes,
            )
        Lifecycle.ensure_updatable(record)
        check_revision(p.get("RevisionId"), record.latest.config["RevisionId"])
        cfg = record.latest.config
        if "Layers" in p:  # checked before anything changes: a refused list must leave no trace
            new_layers = function_layers(
                self._layers, ref.region, p["Layers"] or [], unzipped, self.plane.settings.limits_code_size_unzipped
            )
        for key in _PLAIN_MEMBERS:
            if key in p:
                cfg[key] = p[key]
        if "Runtime" in p:
            cfg["RuntimeVersionConfig"] = {"RuntimeVersionArn": _runtime_version_arn(ref.region, p["Runtime"])}
        if "Environment" in p:
            cfg["Environment"] = {"Variables": dict((p["Environment"] or {}).get("Variables") or {})}
        for key in ("EphemeralStorage", "DeadLetterConfig", "FileSystemConfigs"):
            if key in p:
                cfg[key] = p[key]
        if "TracingConfig" in p:
            cfg["TracingConfig"] = {"Mode": p["TracingConfig"].get("Mode", "PassThrough")}
        if "LoggingConfig" in p:
            cfg["LoggingConfig"] = logging_config(cfg.get("LoggingConfig") or {}, p["LoggingConfig"] or {})
        if "SnapStart" in p:
            cfg["SnapStart"] = {"ApplyOn": p["SnapStart"].get("ApplyOn", "None"), "OptimizationStatus": "Off"}
        if "ImageConfig" in p:
            cfg["ImageConfigResponse"] = {"ImageConfig": p["ImageConfig"]}
        if "VpcConfig" in p:
            vpc = p["VpcConfig"] or {}
            cfg["VpcConfig"] = {
                "SubnetIds": vpc.get("SubnetIds", []),
                "SecurityGroupIds": vpc.get("SecurityGroupIds", []),
                "Ipv6AllowedForDualStack": vpc.get("Ipv6AllowedForDualStack", False),
                "VpcId": "",
            }
        if "Layers" in p:
            if new_layers:
                cfg["Layers"] = new_layers
            else:
                cfg.pop("Layers", None)
        Lifecycle.begin_update(record.latest)
        self.plane.functions.save(record)
        await self.lifecycle.settle(record)
        return public_config(cfg)


# An alias name as the model defines it: not all digits.
_ALIAS_SHAPED = re.compile(r"(?!^[0-9]+$)[a-zA-Z0-9-_]+")


def _list_key(cfg: dict[str, Any]) -> str:
    return f"{cfg['FunctionName']}\x00{version_sort_key(cfg)}"
