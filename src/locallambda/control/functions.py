"""Functions: create, read, list, update, delete, with AWS's lifecycle (Pending → Active).

A new function is ``Pending`` until the invoke engine's preparer says it can run; then it is
``Active`` (or ``Failed`` with the preparer's reason). Updates go ``InProgress`` → ``Successful``
the same way. Every change gets a new RevisionId; a RevisionId in the request must match.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from locallambda.control.arns import LATEST, FunctionRef, function_arn
from locallambda.control.paging import paginate
from locallambda.control.plane import ControlPlane, aws_timestamp
from locallambda.control.state import FunctionRecord, VersionRecord, new_revision_id
from locallambda.control.tags import check_tags
from locallambda.errors import (
    AccessDeniedError,
    InvalidParameterValueError,
    PreconditionFailedError,
    RequestEntityTooLargeError,
    ResourceConflictError,
    ResourceNotFoundError,
)
from locallambda.requests import Handler, RequestContext
from locallambda.runtimes import catalogue

__all__ = ["FunctionsApi", "RESERVED_ENV_KEYS", "check_revision", "resolve_version"]

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

HOT_RELOAD_SHA = "hot-reloading-hash-not-available"
MAX_FUNCTION_NAME = 64

# What a version shows while its code is being prepared (AWS: the reason reads "being created"
# for updates too).
_PENDING = {"State": "Pending", "StateReason": "The function is being created.", "StateReasonCode": "Creating"}
_STATUS_KEYS = ("StateReason", "StateReasonCode", "LastUpdateStatus", "LastUpdateStatusReason",
                "LastUpdateStatusReasonCode")

# Configuration members copied verbatim from a request into the stored configuration.
_PLAIN_MEMBERS = ("Description", "Handler", "Runtime", "Role", "Timeout", "MemorySize", "KMSKeyArn")


def check_revision(given: str | None, current: str, api: str = "GetFunction/GetAlias") -> None:
    """Raises ``PreconditionFailedError`` (AWS's text) when a RevisionId does not match."""
    if given is not None and given != current:
        raise PreconditionFailedError(
            "The Revision Id provided does not match the latest Revision Id. "
            f"Call the {api} API to retrieve the latest Revision Id"
        )


def resolve_version(record: FunctionRecord, ref: FunctionRef) -> tuple[VersionRecord, str | None]:
    """The version a qualifier names (version number, ``$LATEST`` or alias) and the alias, if any.

    Raises ``ResourceNotFoundError`` with the qualified ARN, as AWS does.
    """
    q = ref.qualifier
    if q is None or q == LATEST:
        return record.latest, None
    if q in record.versions:
        return record.versions[q], None
    alias = record.aliases.get(q)
    if alias is not None:
        version = record.version(alias["FunctionVersion"])
        if version is not None:
            return version, q
    raise ResourceNotFoundError(f"Function not found: {ref.arn()}")


def _runtime_version_arn(region: str, runtime: str) -> str:
    digest = hashlib.sha256(runtime.encode()).hexdigest()
    return f"arn:aws:lambda:{region}::runtime:{digest}"


def _env_size_check(variables: dict[str, str]) -> None:
    if not variables:
        return
    measured = json.dumps(variables, separators=(",", ":"))
    if len(measured.encode()) > 4096:
        raise InvalidParameterValueError(
            "Lambda was unable to configure your environment variables because the environment "
            "variables you have provided exceeded the 4KB limit. String measured: " + measured
        )
    reserved = [k for k in variables if k in RESERVED_ENV_KEYS]
    if reserved:
        raise InvalidParameterValueError(
            "Lambda was unable to configure your environment variables because the environment "
            "variables you have provided contains reserved keys that are currently not supported "
            f"for modification. Reserved keys used in this request: {', '.join(reserved)}"
        )


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

    def __init__(self, plane: ControlPlane) -> None:
        self.plane = plane

    def handlers(self) -> dict[str, Handler]:
        return {
            "CreateFunction": self.create_function,
            "GetFunction": self.get_function,
            "GetFunctionConfiguration": self.get_function_configuration,
            "ListFunctions": self.list_functions,
            "DeleteFunction": self.delete_function,
            "UpdateFunctionCode": self.update_function_code,
            "UpdateFunctionConfiguration": self.update_function_configuration,
            "PublishVersion": self.publish_version,
            "ListVersionsByFunction": self.list_versions_by_function,
        }

    # -- code -----------------------------------------------------------------------------

    async def _store_code(self, code: dict[str, Any]) -> dict[str, Any]:
        """Turn a FunctionCode member into stored code: zip bytes, hot-reload path or image."""
        s = self.plane.settings
        if code.get("ImageUri"):
            return {"image_uri": code["ImageUri"]}
        zip_file = code.get("ZipFile")
        if zip_file is not None:
            if len(zip_file) > s.limits_code_size_zipped:
                raise RequestEntityTooLargeError(
                    f"Zipped size must be smaller than {s.limits_code_size_zipped} bytes"
                )
            # put_zip validates while it extracts (names, methods, declared and real sizes), so
            # the archive is decompressed once; a refused archive leaves nothing behind.
            stored = await self.plane.run_blocking(self.plane.code.put_zip, zip_file, s.limits_code_size_unzipped)
            return {"sha_hex": stored.sha256_hex, "sha_b64": stored.sha256_b64, "size": stored.size}
        bucket = code.get("S3Bucket")
        if bucket is not None:
            if bucket == s.bucket_marker_local:
                # LocalStack's hot reloading: the key is a directory on this machine, mounted live.
                return {"hot_reload_path": code.get("S3Key", ""), "sha_b64": HOT_RELOAD_SHA, "size": 0}
            raise InvalidParameterValueError(
                "Error occurred while GetObject. S3 Error Code: NoSuchBucket. S3 Error Message: "
                "The specified bucket does not exist"
            )
        raise InvalidParameterValueError("Please provide a source for function code.")

    @staticmethod
    def _apply_code(version: VersionRecord, stored: dict[str, Any]) -> None:
        cfg = version.config
        if "image_uri" in stored:
            version.image_uri = stored["image_uri"]
            version.code_sha256_hex = None
            digest = hashlib.sha256(stored["image_uri"].encode()).hexdigest()
            cfg["CodeSha256"] = digest
            cfg["CodeSize"] = 0
            return
        version.image_uri = None
        version.code_sha256_hex = stored.get("sha_hex")
        cfg["CodeSha256"] = stored["sha_b64"]
        cfg["CodeSize"] = stored["size"]
        if "hot_reload_path" in stored:
            cfg["_HotReloadPath"] = stored["hot_reload_path"]
        else:
            cfg.pop("_HotReloadPath", None)

    # -- lifecycle ------------------------------------------------------------------------

    async def _become_active(self, record: FunctionRecord, generation: int) -> None:
        reason = await self.plane.preparer(record)
        if record.generation != generation or self.plane.functions.get(record.region, record.name) is not record:
            return  # superseded by a later update, or deleted meanwhile
        for version in [record.latest, *record.versions.values()]:
            cfg = version.config
            if cfg.get("State") == "Pending" or cfg.get("LastUpdateStatus") == "InProgress":
                for k in ("StateReason", "StateReasonCode", "LastUpdateStatusReason", "LastUpdateStatusReasonCode"):
                    cfg.pop(k, None)
                if reason is None:
                    cfg["State"] = "Active"
                    cfg["LastUpdateStatus"] = "Successful"
                else:
                    cfg["State"] = "Failed"
                    cfg["StateReason"] = reason
                    cfg["StateReasonCode"] = "InternalError"
                    cfg["LastUpdateStatus"] = "Failed"
                    cfg["LastUpdateStatusReason"] = reason
                    cfg["LastUpdateStatusReasonCode"] = "InternalError"
                cfg["RevisionId"] = new_revision_id()
        self.plane.functions.save(record)
        self.plane.notify(record, "updated")

    async def _settle(self, record: FunctionRecord) -> None:
        record.generation += 1
        if self.plane.settings.synchronous_create:
            await self._become_active(record, record.generation)
        else:
            self.plane.spawn(self._become_active(record, record.generation))

    async def resume(self) -> None:
        """Finish the transitions a previous run left open (call once at startup, on the loop).

        A function saved while ``Pending`` or ``InProgress`` (the server stopped before its
        preparation ended) would otherwise stay so forever with persistence on.
        """
        for record in self.plane.functions.all():
            cfgs = [record.latest.config, *(v.config for v in record.versions.values())]
            if any(c.get("State") == "Pending" or c.get("LastUpdateStatus") == "InProgress" for c in cfgs):
                await self._settle(record)

    @staticmethod
    def _ensure_updatable(record: FunctionRecord) -> None:
        cfg = record.latest.config
        if cfg.get("State") == "Pending":
            raise ResourceConflictError(
                "The operation cannot be performed at this time. The function is currently in the "
                "following state: Pending"
            )
        if cfg.get("LastUpdateStatus") == "InProgress":
            raise ResourceConflictError(
                "The operation cannot be performed at this time. An update is in progress for "
                f"resource: {cfg['FunctionArn']}"
            )

    # -- operations -----------------------------------------------------------------------

    async def create_function(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        limit = self.plane.settings.limits_create_function_request_size
        if ctx.content_length > limit:
            raise RequestEntityTooLargeError(f"Request must be smaller than {limit} bytes for the CreateFunction operation")
        ref = self.plane.ref(ctx.region, ctx.account_id, p["FunctionName"])
        if ref.account_id != ctx.account_id:
            # Creating a function in another account needs permissions this server never grants.
            target = function_arn(ref.region, ref.account_id, ref.name)
            raise AccessDeniedError(
                f"User: arn:aws:iam::{ctx.account_id}:root is not authorized to perform: "
                f"lambda:CreateFunction on resource: {target}"
            )
        check_tags(p.get("Tags") or {})
        if len(ref.name) > MAX_FUNCTION_NAME:
            # The model allows 140 characters (room for an ARN); the name itself may have 64.
            # AWS words this like a validation error but sends InvalidParameterValueException.
            raise InvalidParameterValueError(
                f"1 validation error detected: Value '{p['FunctionName']}' at 'functionName' failed to "
                f"satisfy constraint: Member must have length less than or equal to {MAX_FUNCTION_NAME}"
            )
        package_type = p.get("PackageType", "Zip")
        if self.plane.functions.get(ref.region, ref.name) is not None:
            raise ResourceConflictError(f"Function already exist: {ref.name}")
        if package_type == "Zip":
            if not p.get("Runtime") or not p.get("Handler"):
                raise InvalidParameterValueError(
                    "Runtime and Handler are mandatory parameters for functions created with deployment packages."
                )
            _check_runtime(p.get("Runtime"))
            if p.get("Code", {}).get("ImageUri"):
                raise InvalidParameterValueError("Please don't provide ImageUri when updating a function with packageType Zip.")
        elif not p.get("Code", {}).get("ImageUri"):
            raise InvalidParameterValueError("Please provide ImageUri when creating a function with packageType Image.")
        variables = (p.get("Environment") or {}).get("Variables") or {}
        _env_size_check(variables)
        stored = await self._store_code(p.get("Code") or {})
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
            "Environment": {"Variables": dict(variables)},
            "TracingConfig": {"Mode": (p.get("TracingConfig") or {}).get("Mode", "PassThrough")},
            "RevisionId": new_revision_id(),
            "State": "Pending",
            "StateReason": "The function is being created.",
            "StateReasonCode": "Creating",
            "PackageType": package_type,
            "Architectures": p.get("Architectures") or ["x86_64"],
            "EphemeralStorage": p.get("EphemeralStorage") or {"Size": 512},
            "SnapStart": {"ApplyOn": (p.get("SnapStart") or {}).get("ApplyOn", "None"), "OptimizationStatus": "Off"},
            "LoggingConfig": {
                "LogFormat": "Text",
                "LogGroup": f"/aws/lambda/{ref.name}",
                **(p.get("LoggingConfig") or {}),
            },
        }
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
            from locallambda.control.layers import function_layers  # layers.py owns AWS's layer checks

            cfg["Layers"] = function_layers(self.plane, ref.region, ref.account_id, p["Layers"], stored.get("sha_hex"))
        latest = VersionRecord(cfg)
        self._apply_code(latest, stored)
        record = FunctionRecord(name=ref.name, region=ref.region, account_id=ref.account_id, latest=latest)
        record.tags = dict(p.get("Tags") or {})
        record.code_signing_config_arn = p.get("CodeSigningConfigArn")
        self.plane.functions.add(record)
        version = self._publish(record, None) if p.get("Publish") else None
        self.plane.functions.save(record)
        await self._settle(record)
        if version is None:
            return self._public(latest.config)
        # AWS answers with the new version's configuration but the unqualified ARN.
        out = self._public(version.config)
        out["FunctionArn"] = arn
        return out

    @staticmethod
    def _public(cfg: dict[str, Any], listing: bool = False) -> dict[str, Any]:
        """The configuration as the API shows it (internal keys start with an underscore)."""
        out = {k: v for k, v in cfg.items() if not k.startswith("_")}
        if listing:
            for k in ("State", "StateReason", "StateReasonCode", "LastUpdateStatus",
                      "LastUpdateStatusReason", "LastUpdateStatusReasonCode", "RuntimeVersionConfig"):
                out.pop(k, None)
        return out

    def _lookup(self, ctx: RequestContext, p: dict[str, Any]) -> tuple[FunctionRecord, FunctionRef, VersionRecord, str | None]:
        ref = self.plane.ref(ctx.region, ctx.account_id, p["FunctionName"], p.get("Qualifier"))
        record = self.plane.functions.get(ref.region, ref.name)
        if record is None:
            raise ResourceNotFoundError(f"Function not found: {ref.arn()}")
        version, alias = resolve_version(record, ref)
        return record, ref, version, alias

    def _config_view(self, record: FunctionRecord, ref: FunctionRef, version: VersionRecord, alias: str | None) -> dict[str, Any]:
        cfg = self._public(version.config)
        if alias is not None:
            cfg["FunctionArn"] = ref.arn(alias)
        elif ref.qualifier == LATEST:
            # Asked for explicitly, $LATEST comes back qualified (unasked, the ARN is bare).
            cfg["FunctionArn"] = ref.arn(LATEST)
        return cfg

    async def get_function_configuration(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        record, ref, version, alias = self._lookup(ctx, p)
        return self._config_view(record, ref, version, alias)

    def code_location(self, ctx: RequestContext, version: VersionRecord) -> dict[str, Any]:
        if version.image_uri:
            return {"RepositoryType": "ECR", "ImageUri": version.image_uri, "ResolvedImageUri": version.image_uri}
        host = ctx.headers.get("host") or f"127.0.0.1:{self.plane.settings.port}"
        sha = version.code_sha256_hex or "none"
        return {"RepositoryType": "S3", "Location": f"http://{host}/_aws/lambda/code/{sha}.zip"}

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

    async def list_functions(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        configs: list[dict[str, Any]] = []
        for record in self.plane.functions.in_region(ctx.region):
            if p.get("FunctionVersion") == "ALL":
                latest = self._public(record.latest.config, listing=True)
                latest["FunctionArn"] = record.latest.config["FunctionArn"] + ":" + LATEST
                configs.append(latest)
                for num in sorted(record.versions, key=int):
                    configs.append(self._public(record.versions[num].config, listing=True))
            else:
                configs.append(self._public(record.latest.config, listing=True))
        page, marker = paginate(configs, p.get("Marker"), p.get("MaxItems"), key=_list_key)
        out: dict[str, Any] = {"Functions": page}
        if marker:
            out["NextMarker"] = marker
        return out

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
            self.plane.notify(record, "deleted")
            return {"StatusCode": 204}
        if q not in record.versions:
            return {"StatusCode": 204}  # AWS answers success for a version that is already gone
        users = sorted(a for a, cfg in record.aliases.items()
                       if cfg["FunctionVersion"] == q or q in (cfg.get("RoutingConfig") or {}).get("AdditionalVersionWeights", {}))
        if users:
            raise ResourceConflictError(
                f"Unable to delete version because the following aliases reference it: [{', '.join(users)}]"
            )
        del record.versions[q]
        record.provisioned_concurrency.pop(q, None)
        record.event_invoke_configs.pop(q, None)
        self.plane.functions.save(record)
        self.plane.notify(record, "updated")
        return {"StatusCode": 204}

    async def update_function_code(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        ref = self.plane.ref(ctx.region, ctx.account_id, p["FunctionName"])
        record = self.plane.get_function(ref)
        self._ensure_updatable(record)
        check_revision(p.get("RevisionId"), record.latest.config["RevisionId"])
        pkg = record.latest.config.get("PackageType", "Zip")
        if pkg == "Zip" and p.get("ImageUri"):
            raise InvalidParameterValueError("Please don't provide ImageUri when updating a function with packageType Zip.")
        if pkg == "Image" and not p.get("ImageUri"):
            raise InvalidParameterValueError("Please provide ImageUri when updating a function with packageType Image.")
        code: dict[str, Any] = {k: p[k] for k in ("ZipFile", "S3Bucket", "S3Key", "S3ObjectVersion", "ImageUri") if k in p}
        stored = await self._store_code(code)
        record = self.plane.get_function(ref)  # re-read: we awaited
        self._ensure_updatable(record)
        if p.get("DryRun"):
            preview = record.latest.snapshot()
            self._apply_code(preview, stored)
            return self._public(preview.config)
        latest = record.latest
        self._apply_code(latest, stored)
        if p.get("Architectures"):
            latest.config["Architectures"] = p["Architectures"]
        self._mark_updating(latest)
        result = latest
        if p.get("Publish"):
            result = self._publish(record, None)
        self.plane.functions.save(record)
        await self._settle(record)
        return self._public(result.config)

    @staticmethod
    def _mark_updating(version: VersionRecord) -> None:
        cfg = version.config
        cfg["LastModified"] = aws_timestamp()
        cfg["RevisionId"] = new_revision_id()
        cfg["LastUpdateStatus"] = "InProgress"
        cfg["LastUpdateStatusReason"] = "The function is being created."
        cfg["LastUpdateStatusReasonCode"] = "Creating"

    async def update_function_configuration(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        ref = self.plane.ref(ctx.region, ctx.account_id, p["FunctionName"])
        record = self.plane.get_function(ref)
        # The request's own values are judged before the function's state, as AWS does.
        if "Runtime" in p:
            _check_runtime(p["Runtime"])
        if "Environment" in p:
            _env_size_check((p["Environment"] or {}).get("Variables") or {})
        self._ensure_updatable(record)
        check_revision(p.get("RevisionId"), record.latest.config["RevisionId"])
        cfg = record.latest.config
        if "Layers" in p:  # checked before anything changes: a refused list must leave no trace
            from locallambda.control.layers import function_layers  # layers.py owns AWS's layer checks

            new_layers = function_layers(self.plane, ref.region, ref.account_id, p["Layers"] or [],
                                         record.latest.code_sha256_hex)
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
            cfg["LoggingConfig"] = {**cfg.get("LoggingConfig", {}), **p["LoggingConfig"]}
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
        self._mark_updating(record.latest)
        self.plane.functions.save(record)
        await self._settle(record)
        return self._public(cfg)

    def _publish(self, record: FunctionRecord, description: str | None) -> VersionRecord:
        """Snapshot $LATEST as the next version (or return the last one if nothing changed)."""
        latest = record.latest.config
        if record.versions:
            last = record.versions[str(max(int(v) for v in record.versions))]
            # AWS publishes nothing when $LATEST has not changed since the last version, even if
            # a new Description is given: the version's own description is not compared, the
            # state of $LATEST it was published from is.
            source = last.config.get("_PublishedFrom")
            unchanged = source == _fingerprint(latest) if source else _same_config(last.config, latest)
            if unchanged:
                return last
        number = str(record.next_version)
        record.next_version += 1
        version = record.latest.snapshot()
        cfg = version.config
        cfg["Version"] = number
        cfg["FunctionArn"] = function_arn(record.region, record.account_id, record.name, number)
        cfg["RevisionId"] = new_revision_id()
        cfg["_PublishedFrom"] = _fingerprint(latest)
        if latest.get("State") == "Pending" or latest.get("LastUpdateStatus") == "InProgress":
            # A version published from code still being prepared is itself Pending, without an
            # update status, until the preparation ends (AWS: UpdateFunctionCode with Publish).
            for key in _STATUS_KEYS:
                cfg.pop(key, None)
            cfg.update(_PENDING)
        if description is not None:
            cfg["Description"] = description
        record.versions[number] = version
        return version

    async def publish_version(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        ref = self.plane.ref(ctx.region, ctx.account_id, p["FunctionName"])
        record = self.plane.get_function(ref)
        latest = record.latest.config
        check_revision(p.get("RevisionId"), latest["RevisionId"])
        sha = p.get("CodeSha256")
        if sha is not None and sha != latest.get("CodeSha256"):
            raise InvalidParameterValueError(
                f"CodeSHA256 ({sha}) is different from current CodeSHA256 in $LATEST "
                f"({latest.get('CodeSha256')}). Please try again with the CodeSHA256 in $LATEST."
            )
        self._ensure_updatable(record)
        version = self._publish(record, p.get("Description"))
        self.plane.functions.save(record)
        self.plane.notify(record, "updated")
        return self._public(version.config)

    async def list_versions_by_function(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        ref = self.plane.ref(ctx.region, ctx.account_id, p["FunctionName"])
        record = self.plane.get_function(ref)
        latest = self._public(record.latest.config, listing=True)
        latest["FunctionArn"] = record.latest.config["FunctionArn"] + ":" + LATEST
        items = [latest] + [self._public(record.versions[n].config, listing=True) for n in sorted(record.versions, key=int)]
        page, marker = paginate(items, p.get("Marker"), p.get("MaxItems"), key=_version_key)
        out: dict[str, Any] = {"Versions": page}
        if marker:
            out["NextMarker"] = marker
        return out


# An alias name as the model defines it: not all digits.
_ALIAS_SHAPED = re.compile(r"(?!^[0-9]+$)[a-zA-Z0-9-_]+")

_VOLATILE = {"RevisionId", "Version", "FunctionArn", "LastModified", "State", "StateReason", "StateReasonCode",
             "LastUpdateStatus", "LastUpdateStatusReason", "LastUpdateStatusReasonCode", "_PublishedFrom"}


def _same_config(a: dict[str, Any], b: dict[str, Any]) -> bool:
    def strip(c: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in c.items() if k not in _VOLATILE}

    return strip(a) == strip(b)


def _fingerprint(cfg: dict[str, Any]) -> str:
    """What identifies the state of $LATEST for publishing: code and configuration, not status."""
    stable = {k: v for k, v in cfg.items() if k not in _VOLATILE}  # _HotReloadPath counts
    return hashlib.sha256(json.dumps(stable, sort_keys=True).encode()).hexdigest()


def _list_key(cfg: dict[str, Any]) -> str:
    return f"{cfg['FunctionName']}\x00{_version_key(cfg)}"


def _version_key(cfg: dict[str, Any]) -> str:
    v = cfg["Version"]
    return "0" * 12 if v == LATEST else v.rjust(12, "0")
