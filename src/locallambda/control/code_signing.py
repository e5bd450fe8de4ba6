"""Code signing configurations and their attachment to functions.

A configuration lives in ``plane.registry("code_signing_config")`` under its ARN
(``arn:aws:lambda:<region>:<account>:code-signing-config:csc-<17 lowercase alnum>``) as
``{"config": <the CodeSigningConfig AWS returns>, "tags": {...}}``. A function names the
configuration it uses in ``record.code_signing_config_arn``.

AWS's texts come from LocalStack's parity snapshots (``TestCodeSigningConfig``): an unknown
configuration is "The Lambda code signing configuration <arn> can not be found." for the
configuration operations, but ``CodeSigningConfigNotFoundException`` with its own text when a
function is pointed at it (checked before the function). A configuration still used by a
function cannot be deleted (API_DeleteCodeSigningConfig: "You can delete the code signing
configuration only if no function is using it", ResourceConflictException).

Only the bookkeeping is done here; verifying signatures of uploaded code is not.
"""

from __future__ import annotations

import copy
import secrets
import string
from typing import Any

from locallambda.control.paging import paginate
from locallambda.control.plane import ControlPlane
from locallambda.errors import CodeSigningConfigNotFoundError, ResourceConflictError, ResourceNotFoundError
from locallambda.model.clock import aws_timestamp
from locallambda.model.operations import RequestContext, operation
from locallambda.model.refs import function_arn
from locallambda.store.functions import FunctionRecord, Registry

__all__ = ["REGISTRY_KIND", "CodeSigningApi", "CodeSigningConfigNotFoundError", "csc_arn"]

REGISTRY_KIND = "code_signing_config"
_ID_ALPHABET = string.ascii_lowercase + string.digits


def csc_arn(region: str, account_id: str, csc_id: str) -> str:
    return f"arn:aws:lambda:{region}:{account_id}:code-signing-config:{csc_id}"


def _new_id() -> str:
    return "csc-" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(17))


def _not_found(arn: str) -> ResourceNotFoundError:
    return ResourceNotFoundError(f"The Lambda code signing configuration {arn} can not be found.")


class CodeSigningApi:
    """Handlers for the code signing configuration operations."""

    def __init__(self, plane: ControlPlane) -> None:
        self.plane = plane

    @property
    def _configs(self) -> Registry:
        return self.plane.registry(REGISTRY_KIND)

    # -- lookups --------------------------------------------------------------------------

    def _find(self, ctx: RequestContext, arn: str) -> dict[str, Any] | None:
        """The stored document of a configuration of this region and account, or ``None``."""
        if not arn.startswith(f"arn:aws:lambda:{ctx.region}:{ctx.account_id}:code-signing-config:"):
            return None  # configurations are regional: another region's ARN is not found here
        doc = self._configs.get(arn)
        return doc if isinstance(doc, dict) else None

    def _existing(self, ctx: RequestContext, arn: str) -> dict[str, Any]:
        """Raises ``ResourceNotFoundError`` with AWS's text when the configuration does not exist."""
        doc = self._find(ctx, arn)
        if doc is None:
            raise _not_found(arn)
        return doc

    def _users(self, ctx: RequestContext, arn: str) -> list[FunctionRecord]:
        return [r for r in self.plane.functions.in_region(ctx.region) if r.code_signing_config_arn == arn]

    def _function(self, ctx: RequestContext, p: dict[str, Any]) -> FunctionRecord:
        """Raises ``ResourceNotFoundError`` ("Function not found: <unqualified arn>")."""
        ref = self.plane.ref(ctx.region, ctx.account_id, p["FunctionName"])
        return self.plane.get_function(ref)

    # -- configurations -------------------------------------------------------------------

    @operation("CreateCodeSigningConfig")
    async def create_config(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        csc_id = _new_id()
        while self._configs.get(csc_arn(ctx.region, ctx.account_id, csc_id)) is not None:
            csc_id = _new_id()
        arn = csc_arn(ctx.region, ctx.account_id, csc_id)
        policies = p.get("CodeSigningPolicies") or {}
        config = {
            "CodeSigningConfigId": csc_id,
            "CodeSigningConfigArn": arn,
            "Description": p.get("Description", ""),
            "AllowedPublishers": {
                "SigningProfileVersionArns": list(p["AllowedPublishers"]["SigningProfileVersionArns"])
            },
            # AWS's default policy is to deploy unsigned or wrongly signed code with a warning.
            "CodeSigningPolicies": {
                "UntrustedArtifactOnDeployment": policies.get("UntrustedArtifactOnDeployment", "Warn")
            },
            "LastModified": aws_timestamp(),
        }
        self._configs.put(arn, {"config": config, "tags": dict(p.get("Tags") or {})})
        return {"CodeSigningConfig": copy.deepcopy(config)}

    @operation("GetCodeSigningConfig")
    async def get_config(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        doc = self._existing(ctx, p["CodeSigningConfigArn"])
        return {"CodeSigningConfig": copy.deepcopy(doc["config"])}

    @operation("UpdateCodeSigningConfig")
    async def update_config(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        """Change the members given (an update that names none answers the configuration)."""
        arn = p["CodeSigningConfigArn"]
        doc = copy.deepcopy(self._existing(ctx, arn))
        config = doc["config"]
        if p.get("Description") is not None:
            config["Description"] = p["Description"]
        if p.get("AllowedPublishers") is not None:
            config["AllowedPublishers"] = {
                "SigningProfileVersionArns": list(p["AllowedPublishers"]["SigningProfileVersionArns"])
            }
        if p.get("CodeSigningPolicies") is not None:
            config["CodeSigningPolicies"] = {
                "UntrustedArtifactOnDeployment": p["CodeSigningPolicies"].get(
                    "UntrustedArtifactOnDeployment", config["CodeSigningPolicies"]["UntrustedArtifactOnDeployment"]
                )
            }
        config["LastModified"] = aws_timestamp()
        self._configs.put(arn, doc)
        return {"CodeSigningConfig": copy.deepcopy(config)}

    @operation("DeleteCodeSigningConfig")
    async def delete_config(self, ctx: RequestContext, p: dict[str, Any]) -> None:
        """Raises ``ResourceNotFoundError`` or, while a function uses it, ``ResourceConflictError``."""
        arn = p["CodeSigningConfigArn"]
        self._existing(ctx, arn)
        users = self._users(ctx, arn)
        if users:
            # The wording is ours: no recorded AWS answer for this case was available.
            raise ResourceConflictError(
                f"The code signing configuration {arn} cannot be deleted because it is used by the "
                f"following functions: [{', '.join(r.name for r in users)}]"
            )
        self._configs.delete(arn)

    @operation("ListCodeSigningConfigs")
    async def list_configs(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        prefix = f"arn:aws:lambda:{ctx.region}:{ctx.account_id}:code-signing-config:"
        configs = [doc["config"] for arn, doc in self._configs.items() if arn.startswith(prefix)]
        page, marker = paginate(
            configs, p.get("Marker"), p.get("MaxItems"), key=lambda c: str(c["CodeSigningConfigArn"])
        )
        out: dict[str, Any] = {"CodeSigningConfigs": copy.deepcopy(page)}
        if marker:
            out["NextMarker"] = marker
        return out

    @operation("ListFunctionsByCodeSigningConfig")
    async def list_functions(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        arn = p["CodeSigningConfigArn"]
        self._existing(ctx, arn)
        arns = [function_arn(r.region, r.account_id, r.name) for r in self._users(ctx, arn)]
        page, marker = paginate(arns, p.get("Marker"), p.get("MaxItems"), key=lambda a: a)
        out: dict[str, Any] = {"FunctionArns": page}
        if marker:
            out["NextMarker"] = marker
        return out

    # -- attachment to functions ----------------------------------------------------------

    @operation("PutFunctionCodeSigningConfig")
    async def put_function_config(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        """Raises ``CodeSigningConfigNotFoundError`` first, then ``ResourceNotFoundError`` for the function."""
        arn = p["CodeSigningConfigArn"]
        if self._find(ctx, arn) is None:
            raise CodeSigningConfigNotFoundError(
                "The code signing configuration cannot be found. Check that the provided configuration "
                f"is not deleted: {arn}."
            )
        record = self._function(ctx, p)
        record.code_signing_config_arn = arn
        self.plane.functions.save(record)
        return {"CodeSigningConfigArn": arn, "FunctionName": record.name}

    @operation("GetFunctionCodeSigningConfig")
    async def get_function_config(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        record = self._function(ctx, p)
        if not record.code_signing_config_arn:
            return {}  # AWS answers 200 with neither member for a function without one
        return {"CodeSigningConfigArn": record.code_signing_config_arn, "FunctionName": record.name}

    @operation("DeleteFunctionCodeSigningConfig")
    async def delete_function_config(self, ctx: RequestContext, p: dict[str, Any]) -> None:
        """Detach the configuration; succeeds when none is attached, as AWS does."""
        record = self._function(ctx, p)
        if record.code_signing_config_arn is not None:
            record.code_signing_config_arn = None
            self.plane.functions.save(record)
