"""Layers: publish, read, list, delete, version policies, and the checks of a function's Layers.

A layer is a name with numbered, immutable versions (no ``$LATEST``). Each ``PublishLayerVersion``
makes the next number, even when the content is unchanged and even after every earlier version
was deleted (AWS keeps counting). The archive goes to the content-addressed code store, like
function code, and ``Content.Location`` points at this server's download route.

The layers' documents and the merged /opt trees built from them live in ``store/layers.py``;
this module holds the API and the checks AWS makes of a function's Layers. A deleted version's
archive is removed by ``store/collect.py`` once no function uses it; DeleteLayerVersion tells
it through the ``released`` seam.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from typing import Any

from locallambda.control.paging import paginate
from locallambda.control.plane import ControlPlane
from locallambda.errors import (
    InvalidParameterValueError,
    PreconditionFailedError,
    RequestEntityTooLargeError,
    ResourceConflictError,
    ResourceNotFoundError,
    ValidationError,
)
from locallambda.model.clock import aws_timestamp
from locallambda.model.operations import RequestContext, operation
from locallambda.model.refs import LayerRef, parse_layer_name, parse_layer_version_arn
from locallambda.store.functions import new_revision_id
from locallambda.store.layers import LayerStore

__all__ = ["MAX_LAYERS", "LayersApi", "function_layers"]

log = logging.getLogger(__name__)

# AWS: "You can add up to five layers to a function" (Lambda quotas).
MAX_LAYERS = 5
_NOT_FOUND = "The resource you requested does not exist."
_VERSION_TOO_LOW = "Layer Version Cannot be less than 1"

# The runtime enum is checked here, not by the generic validator (CreateFunction answers a bad
# Runtime differently). AWS accepts only supported runtimes in CompatibleRuntimes, but filters
# the list operations by any runtime its internal enum knows, and prints that enum in this order.
_LIST_RUNTIMES_TEXT = (
    "[ruby3.5, ruby2.6, dotnetcore1.0, python3.7, nodejs8.10, nasa, ruby2.7, python2.7-greengrass, "
    "dotnetcore2.0, python3.8, java21, dotnet6, dotnetcore2.1, python3.9, java11, nodejs6.10, provided, "
    "dotnetcore3.1, dotnet8, java25, java17, nodejs, nodejs4.3, java8.al2, go1.x, dotnet10, nodejs20.x, "
    "go1.9, byol, nodejs10.x, provided.al2023, nodejs22.x, python3.10, java8, nodejs12.x, python3.11, "
    "nodejs24.x, nodejs8.x, python3.12, nodejs14.x, nodejs8.9, nodejs26.x, python3.13, python3.14, "
    "nodejs16.x, python3.15, provided.al2, nodejs4.3-edge, nodejs18.x, ruby3.2, python3.4, ruby3.3, "
    "ruby3.4, ruby2.5, python3.6, python2.7]"
)
_LIST_RUNTIMES = frozenset(_LIST_RUNTIMES_TEXT[1:-1].split(", "))


def _check_runtime_filter(runtime: str | None) -> None:
    """ListLayers/ListLayerVersions' CompatibleRuntime. Raises ``ValidationError`` (AWS's text)."""
    if runtime is not None and runtime not in _LIST_RUNTIMES:
        raise ValidationError(
            f"1 validation error detected: Value '{runtime}' at 'compatibleRuntime' failed to satisfy "
            f"constraint: Member must satisfy enum value set: {_LIST_RUNTIMES_TEXT}"
        )


def check_layer_regions(arns: list[str], region: str) -> None:
    """Raises ``InvalidParameterValueError`` (AWS's text) when a layer lives in another region."""
    for arn in arns:
        parsed = parse_layer_version_arn(arn)
        if parsed is not None and parsed[0].region != region:
            raise InvalidParameterValueError(
                f"Layers are not in the same region as the function. Layers are expected to be in region {region}."
            )


def function_layers(
    layers: LayerStore, region: str, arns: list[str], code_unzipped_size: int, limit: int
) -> list[dict[str, Any]]:
    """Check the Layers of CreateFunction/UpdateFunctionConfiguration; the configuration's Layers.

    Checks in AWS's order: at most five layers; then per layer: same region as the function,
    the version exists, no second version of the same layer (AWS names the first two clashing
    ARNs); finally the unzipped size of the function's code plus every layer against ``limit``. Compatible runtimes and architectures are not checked: AWS treats
    them as metadata for ListLayers filters, not as a constraint.

    Raises ``InvalidParameterValueError`` with AWS's texts.
    """
    if len(arns) > MAX_LAYERS:
        raise InvalidParameterValueError(f"Cannot reference more than {MAX_LAYERS} layers.")
    seen: dict[str, str] = {}
    out: list[dict[str, Any]] = []
    total = 0
    for arn in arns:
        parsed = parse_layer_version_arn(arn)
        if parsed is not None and parsed[0].region != region:
            raise InvalidParameterValueError(
                f"Layers are not in the same region as the function. Layers are expected to be in region {region}."
            )
        entry = layers.version(*parsed) if parsed is not None else None
        if entry is None:
            raise InvalidParameterValueError(f"Layer version {arn} does not exist.")
        base = arn.rsplit(":", 1)[0]
        if base in seen:
            raise InvalidParameterValueError(
                "Two different versions of the same layer are not allowed to be referenced in the "
                f"same function. {seen[base]} and {arn} are versions of the same layer."
            )
        seen[base] = arn
        out.append({"Arn": arn, "CodeSize": entry["config"]["Content"]["CodeSize"]})
        total += int(entry.get("unzipped_size") or 0)
    if out:
        total += code_unzipped_size
    if total > limit:
        raise InvalidParameterValueError(
            f"Function code combined with layers exceeds the maximum allowed size of {limit} bytes. "
            f"The actual size is {total} bytes."
        )
    return out


class LayersApi:
    """Handlers for the layer operations."""

    def __init__(self, plane: ControlPlane, layers: LayerStore, *, released: Callable[[], None] | None = None) -> None:
        """``released`` is called when stored code may have lost its last reference (the
        factory passes the code collector's ``request``; ``None``: nobody is told)."""
        self.plane = plane
        self._store = layers
        self._layers = layers.docs
        self._released = released or (lambda: None)

    def code_size(self, region: str) -> int:
        """Bytes stored by the layer versions of a region (GetAccountSettings' TotalCodeSize)."""
        return self._store.code_size(region)

    def _location(self, ctx: RequestContext, sha_hex: str) -> str:
        host = ctx.headers.get("host") or f"127.0.0.1:{self.plane.settings.port}"
        return f"http://{host}/_aws/lambda/code/{sha_hex}.zip"

    def _view(self, ctx: RequestContext, entry: dict[str, Any]) -> dict[str, Any]:
        """GetLayerVersion's answer: the stored configuration plus the download location."""
        out = dict(entry["config"])
        out["Content"] = {"Location": self._location(ctx, entry["sha_hex"]), **entry["config"]["Content"]}
        return out

    @staticmethod
    def _list_item(entry: dict[str, Any]) -> dict[str, Any]:
        """A LayerVersionsListItem: the configuration without content and layer ARN."""
        return {k: v for k, v in entry["config"].items() if k not in ("Content", "LayerArn")}

    @staticmethod
    def _matches(entry: dict[str, Any], runtime: str | None, architecture: str | None) -> bool:
        cfg = entry["config"]
        if runtime is not None and runtime not in (cfg.get("CompatibleRuntimes") or []):
            return False
        return not (architecture is not None and architecture not in (cfg.get("CompatibleArchitectures") or []))

    def _live_versions(self, ref: LayerRef) -> list[dict[str, Any]]:
        return self._store.live_versions(ref)

    def _for_policy(self, ctx: RequestContext, p: dict[str, Any]) -> tuple[LayerRef, dict[str, Any]]:
        """The layer version a permission operation names. Raises ``ResourceNotFoundError``."""
        ref = parse_layer_name(p["LayerName"], ctx.region, ctx.account_id)
        number = int(p["VersionNumber"])
        entry = self._store.version(ref, str(number))
        if entry is None:
            raise ResourceNotFoundError(f"Layer version {ref.version_arn(number)} does not exist.")
        return ref, entry

    async def _content_zip(self, content: dict[str, Any]) -> bytes:
        """The layer's zip: given inline (within the zipped limit) or read from the embedded S3.
        Raises AWS's errors (``RequestEntityTooLargeError``, ``InvalidParameterValueError``)."""
        s = self.plane.settings
        zip_file = content.get("ZipFile")
        if zip_file is not None:
            if len(zip_file) > s.limits_code_size_zipped:
                raise RequestEntityTooLargeError(f"Zipped size must be smaller than {s.limits_code_size_zipped} bytes")
            return bytes(zip_file)
        bucket = content.get("S3Bucket")
        if bucket is not None:
            if bucket == s.bucket_marker_local:
                # Hot reloading would need /opt to follow a live directory; not offered for layers.
                raise InvalidParameterValueError("Hot reloading is not supported for layers by locallambda.")
            return await self.plane.s3_object(bucket, content.get("S3Key", ""), content.get("S3ObjectVersion"))
        raise InvalidParameterValueError("Please provide a source for layer code.")

    # -- operations ---------------------------------------------------------------------------

    @operation("PublishLayerVersion")
    async def publish_layer_version(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        ref = parse_layer_name(p["LayerName"], ctx.region, ctx.account_id)
        content = p.get("Content") or {}
        zip_file = await self._content_zip(content)
        s = self.plane.settings
        stored = await self.plane.run_blocking(self.plane.code.put_zip, zip_file, s.limits_code_size_unzipped)
        # The number is taken only now: a concurrent publish may have taken one while we unzipped.
        doc = self._layers.get(ref.key) or {"next_version": 1, "versions": {}}
        number = int(doc["next_version"])
        doc["next_version"] = number + 1
        cfg: dict[str, Any] = {
            "LayerArn": ref.arn,
            "LayerVersionArn": ref.version_arn(number),
            "Description": p.get("Description", ""),
            "CreatedDate": aws_timestamp(),
            "Version": number,
            "Content": {"CodeSha256": stored.sha256_b64, "CodeSize": stored.size},
        }
        # Absent and empty lists are both valid and answered back as given.
        for key in ("CompatibleArchitectures", "CompatibleRuntimes"):
            if key in p:
                cfg[key] = list(p[key] or [])
        if "LicenseInfo" in p:
            cfg["LicenseInfo"] = p["LicenseInfo"]
        entry = {
            "config": cfg,
            "sha_hex": stored.sha256_hex,
            "unzipped_size": stored.unzipped_size,
            "deleted": False,
            "policy": None,
        }
        doc["versions"][str(number)] = entry
        self._layers.put(ref.key, doc)
        return self._view(ctx, entry)

    @operation("GetLayerVersion")
    async def get_layer_version(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        ref = parse_layer_name(p["LayerName"], ctx.region, ctx.account_id)
        number = int(p["VersionNumber"])
        if number < 1:
            raise InvalidParameterValueError(_VERSION_TOO_LOW)
        entry = self._store.version(ref, str(number))
        if entry is None:
            raise ResourceNotFoundError(_NOT_FOUND)
        return self._view(ctx, entry)

    @operation("GetLayerVersionByArn")
    async def get_layer_version_by_arn(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        entry = self._store.version_by_arn(p["Arn"])
        if entry is None:
            raise ResourceNotFoundError(_NOT_FOUND)
        return self._view(ctx, entry)

    @operation("ListLayers")
    async def list_layers(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        runtime, arch = p.get("CompatibleRuntime"), p.get("CompatibleArchitecture")
        _check_runtime_filter(runtime)
        items: list[dict[str, Any]] = []
        prefix = f"{ctx.region}/{ctx.account_id}/"
        for key, _doc in self._layers.items():
            if not key.startswith(prefix):
                continue
            ref = LayerRef(ctx.region, ctx.account_id, key[len(prefix) :])
            # Each layer with its newest version that passes the filters; none passing: not listed.
            latest = next((e for e in self._live_versions(ref) if self._matches(e, runtime, arch)), None)
            if latest is not None:
                items.append(
                    {"LayerName": ref.name, "LayerArn": ref.arn, "LatestMatchingVersion": self._list_item(latest)}
                )
        items.sort(key=lambda i: i["LayerName"])
        page, marker = paginate(items, p.get("Marker"), p.get("MaxItems"), key=lambda i: i["LayerName"])
        out: dict[str, Any] = {"Layers": page}
        if marker:
            out["NextMarker"] = marker
        return out

    @operation("ListLayerVersions")
    async def list_layer_versions(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        ref = parse_layer_name(p["LayerName"], ctx.region, ctx.account_id)
        runtime, arch = p.get("CompatibleRuntime"), p.get("CompatibleArchitecture")
        _check_runtime_filter(runtime)
        # An unknown layer lists no versions (AWS: 200 with an empty list).
        items = [self._list_item(e) for e in self._live_versions(ref) if self._matches(e, runtime, arch)]
        # Newest first; the marker key grows along the list as paginate expects.
        page, marker = paginate(
            items, p.get("Marker"), p.get("MaxItems"), key=lambda i: f"{10**12 - int(i['Version']):013d}"
        )
        out: dict[str, Any] = {"LayerVersions": page}
        if marker:
            out["NextMarker"] = marker
        return out

    @operation("DeleteLayerVersion")
    async def delete_layer_version(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        number = int(p["VersionNumber"])
        if number < 1:
            raise InvalidParameterValueError(_VERSION_TOO_LOW)
        ref = parse_layer_name(p["LayerName"], ctx.region, ctx.account_id)
        doc = self._layers.get(ref.key)
        entry = doc["versions"].get(str(number)) if doc is not None else None
        # AWS answers 204 for a layer or version that does not exist (deleting is idempotent).
        if doc is not None and entry is not None and not entry.get("deleted"):
            entry["deleted"] = True
            entry["policy"] = None
            self._layers.put(ref.key, doc)
            self._released()  # its archive goes once no function uses the version any more
        return {}

    # -- permissions --------------------------------------------------------------------------

    @operation("AddLayerVersionPermission")
    async def add_layer_version_permission(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        ref, entry = self._for_policy(ctx, p)
        policy = entry.get("policy")
        sid = p["StatementId"]
        if policy is not None and any(s["Sid"] == sid for s in policy["statements"]):
            raise ResourceConflictError(
                f"The statement id ({sid}) provided already exists. Please provide a new statement id, "
                "or remove the existing statement."
            )
        _check_policy_revision(p.get("RevisionId"), policy)
        statement = _statement(
            sid, p["Action"], p["Principal"], p.get("OrganizationId"), entry["config"]["LayerVersionArn"]
        )
        revision = new_revision_id()
        statements = [*(policy or {}).get("statements", []), statement]
        entry["policy"] = {"revision_id": revision, "statements": statements}
        self._layers.put(ref.key, self._layers.get(ref.key))
        return {"Statement": json.dumps(statement, separators=(",", ":")), "RevisionId": revision}

    @operation("RemoveLayerVersionPermission")
    async def remove_layer_version_permission(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        ref, entry = self._for_policy(ctx, p)
        policy = entry.get("policy")
        _check_policy_revision(p.get("RevisionId"), policy)
        sid = p["StatementId"]
        if policy is None or not any(s["Sid"] == sid for s in policy["statements"]):
            raise ResourceNotFoundError(f"Statement {sid} is not found in resource policy.")
        remaining = [s for s in policy["statements"] if s["Sid"] != sid]
        entry["policy"] = {"revision_id": new_revision_id(), "statements": remaining} if remaining else None
        self._layers.put(ref.key, self._layers.get(ref.key))
        return {}

    @operation("GetLayerVersionPolicy")
    async def get_layer_version_policy(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        _ref, entry = self._for_policy(ctx, p)
        policy = entry.get("policy")
        if not policy:
            raise ResourceNotFoundError("No policy is associated with the given resource.")
        document = {"Version": "2012-10-17", "Id": "default", "Statement": policy["statements"]}
        return {"Policy": json.dumps(document, separators=(",", ":")), "RevisionId": policy["revision_id"]}


def _check_policy_revision(given: str | None, policy: dict[str, Any] | None) -> None:
    if given is not None and (policy is None or policy["revision_id"] != given):
        raise PreconditionFailedError(
            "The Revision Id provided does not match the latest Revision Id. "
            "Call the GetLayerPolicy API to retrieve the latest Revision Id"
        )


def _statement(sid: str, action: str, principal: str, organization_id: str | None, resource: str) -> dict[str, Any]:
    """A layer policy statement as AWS writes it: an account ID becomes its root ARN, an
    organization restriction a PrincipalOrgID condition."""
    who: Any = principal
    if re.fullmatch(r"\d{12}", principal):
        who = {"AWS": f"arn:aws:iam::{principal}:root"}
    elif principal.startswith("arn:"):
        who = {"AWS": principal}
    statement: dict[str, Any] = {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": who,
        "Action": action,
        "Resource": resource,
    }
    if organization_id:
        statement["Condition"] = {"StringEquals": {"aws:PrincipalOrgID": organization_id}}
    return statement
