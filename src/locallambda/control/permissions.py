"""Resource-based policies: AddPermission, RemovePermission, GetPolicy.

A function has one policy per qualifier: the unqualified function (also reached as ``$LATEST``),
each published version, each alias. The statements of all of them live in
``FunctionRecord.policy_statements``, each statement in the wire form AWS returns plus two
internal keys stripped on output: ``_qualifier`` (``None`` for the unqualified policy) and
``_revision`` (the RevisionId of the policy it belongs to, the same on all of its statements).

A policy's RevisionId changes on every AddPermission/RemovePermission of that policy. AWS checks a
RevisionId given to AddPermission against the policy's (message: "Call the GetPolicy API ...");
when the policy does not exist yet, AWS accepts the RevisionId of the function version or alias
the policy is for (recorded: AddPermission on a fresh alias with the alias's RevisionId succeeds,
with "wrong" it fails).
"""

from __future__ import annotations

import json
import re
from typing import Any

from locallambda.control.plane import ControlPlane
from locallambda.errors import (
    InvalidParameterValueError,
    PolicyLengthExceededError,
    PreconditionFailedError,
    ResourceConflictError,
    ResourceNotFoundError,
)
from locallambda.model.operations import RequestContext, operation
from locallambda.model.refs import LATEST, FunctionRef
from locallambda.store.functions import Change, FunctionRecord, new_revision_id

__all__ = [
    "PermissionsApi",
    "build_statement",
    "drop_policy",
    "policy_document",
    "policy_statements",
    "prune_orphaned_policies",
    "resolve_policy_qualifier",
]

POLICY_SIZE_LIMIT = 20480

_VERSION = re.compile(r"[0-9]+")
# Alias names (CreateAlias' pattern): not all digits.
_ALIAS = re.compile(r"(?!^[0-9]+$)[a-zA-Z0-9-_]+")
_ACCOUNT = re.compile(r"\d{12}")
_IAM_ARN = re.compile(r"arn:aws[a-zA-Z-]*:iam::")
# Service principals are domain-style identifiers of AWS services (s3.amazonaws.com,
# alexa-appkit.amazon.com, the .cn partition's *.amazonaws.com.cn).
_SERVICE = re.compile(r"[a-zA-Z0-9.-]+\.(amazonaws\.com|amazon\.com|amazonaws\.com\.cn)")

_INTERNAL = ("_qualifier", "_revision")


def _key(qualifier: str | None) -> str | None:
    """Policies of the unqualified function and of ``$LATEST`` are the same policy."""
    return None if qualifier in (None, LATEST) else qualifier


def policy_statements(record: FunctionRecord, qualifier: str | None) -> list[dict[str, Any]]:
    """The stored statements (with internal keys) of the policy for ``qualifier``."""
    q = _key(qualifier)
    return [s for s in record.policy_statements if s.get("_qualifier") == q]


def policy_document(record: FunctionRecord, qualifier: str | None) -> dict[str, Any] | None:
    """The policy document for ``qualifier`` as AWS shows it, or ``None`` when it has no statement."""
    statements = policy_statements(record, qualifier)
    if not statements:
        return None
    return {
        "Version": "2012-10-17",
        "Id": "default",
        "Statement": [{k: v for k, v in s.items() if k not in _INTERNAL} for s in statements],
    }


def _compact(doc: Any) -> str:
    return json.dumps(doc, separators=(",", ":"))


def build_statement(p: dict[str, Any], resource_arn: str) -> dict[str, Any]:
    """One policy statement from AddPermission's parameters, keys in AWS's order.

    Raises ``InvalidParameterValueError`` for a principal that is neither a service, an account
    id, an IAM ARN nor ``*`` (AWS: "The provided principal was invalid ...").
    """
    principal: Any
    raw = p["Principal"]
    if raw == "*":
        principal = "*"
    elif _ACCOUNT.fullmatch(raw):
        principal = {"AWS": f"arn:aws:iam::{raw}:root"}
    elif _IAM_ARN.match(raw):
        principal = {"AWS": raw}
    elif _SERVICE.fullmatch(raw):
        principal = {"Service": raw}
    else:
        raise InvalidParameterValueError(
            "The provided principal was invalid. Please check the principal and try again."
        )
    statement: dict[str, Any] = {
        "Sid": p["StatementId"],
        "Effect": "Allow",
        "Principal": principal,
        "Action": p["Action"],
        "Resource": resource_arn,
    }
    # Condition order as AWS writes it (recorded: SourceAccount, FunctionUrlAuthType,
    # PrincipalOrgID under StringEquals, then ArnLike).
    string_equals: dict[str, str] = {}
    if p.get("SourceAccount"):
        string_equals["AWS:SourceAccount"] = p["SourceAccount"]
    if p.get("FunctionUrlAuthType"):
        string_equals["lambda:FunctionUrlAuthType"] = p["FunctionUrlAuthType"]
    if p.get("PrincipalOrgID"):
        string_equals["aws:PrincipalOrgID"] = p["PrincipalOrgID"]
    if p.get("EventSourceToken"):
        string_equals["lambda:EventSourceToken"] = p["EventSourceToken"]
    condition: dict[str, Any] = {}
    if string_equals:
        condition["StringEquals"] = string_equals
    if p.get("SourceArn"):
        condition["ArnLike"] = {"AWS:SourceArn": p["SourceArn"]}
    if p.get("InvokedViaFunctionUrl"):
        # Since October 2025 function URLs also need lambda:InvokeFunction, granted with this
        # condition (AWS docs, "Control access to Lambda function URLs").
        condition["Bool"] = {"lambda:InvokedViaFunctionUrl": "true"}
    if condition:
        statement["Condition"] = condition
    return statement


def resolve_policy_qualifier(record: FunctionRecord, ref: FunctionRef) -> None:
    """Check that the qualifier of ``ref`` names an existing version or alias.

    Raises ``ResourceNotFoundError``: "Cannot find alias arn: ..." for an alias-shaped qualifier,
    "Function not found: ..." for a version number or anything else (a ``$`` in it).
    """
    q = ref.qualifier
    if q is None or q == LATEST:
        return
    if _ALIAS.fullmatch(q):
        if q not in record.aliases:
            raise ResourceNotFoundError(f"Cannot find alias arn: {ref.arn()}")
        return
    if _VERSION.fullmatch(q) and q in record.versions:
        return
    raise ResourceNotFoundError(f"Function not found: {ref.arn()}")


def _target_revision(record: FunctionRecord, qualifier: str | None) -> str | None:
    """RevisionId of the version or alias a policy belongs to."""
    if qualifier is None or qualifier == LATEST:
        return record.latest.config.get("RevisionId")
    if qualifier in record.aliases:
        return record.aliases[qualifier].get("RevisionId")
    version = record.versions.get(qualifier)
    return version.config.get("RevisionId") if version is not None else None


def _set_revision(record: FunctionRecord, qualifier: str | None) -> str:
    revision = new_revision_id()
    for s in policy_statements(record, qualifier):
        s["_revision"] = revision
    if _key(qualifier) is None:
        record.policy_revision_id = revision
    return revision


def prune_orphaned_policies(record: FunctionRecord) -> bool:
    """Drop the policies of versions and aliases that no longer exist; True when any was dropped.

    Deleting a version or an alias deletes its policy on AWS; a later alias of the same name
    starts without one.
    """
    keep = [
        s
        for s in record.policy_statements
        if s.get("_qualifier") is None or s["_qualifier"] in record.versions or s["_qualifier"] in record.aliases
    ]
    if len(keep) == len(record.policy_statements):
        return False
    record.policy_statements[:] = keep
    return True


def drop_policy(record: FunctionRecord, qualifier: str) -> None:
    """Forget the policy of a version or alias being deleted (call before saving the record)."""
    record.policy_statements[:] = [s for s in record.policy_statements if s.get("_qualifier") != qualifier]


class PermissionsApi:
    """Handlers for a function's resource-based policy."""

    def __init__(self, plane: ControlPlane) -> None:
        self.plane = plane

    def on_change(self, record: FunctionRecord, change: Change) -> None:
        if change is Change.UPDATED:
            self._prune(record)

    def _prune(self, record: FunctionRecord) -> None:
        # Also done on every read: not every deletion of a version or alias notifies listeners.
        if prune_orphaned_policies(record):
            self.plane.functions.save(record)

    @operation("AddPermission")
    async def add_permission(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        """Raises InvalidParameterValue ($LATEST, principal), ResourceNotFound (function, version,
        alias), PreconditionFailed (RevisionId), ResourceConflict (duplicate Sid),
        PolicyLengthExceeded (policy over 20 KB)."""
        ref = self.plane.ref(ctx.region, ctx.account_id, p["FunctionName"], p.get("Qualifier"))
        if ref.qualifier == LATEST:
            raise InvalidParameterValueError("We currently do not support adding policies for $LATEST.")
        record = self.plane.get_function(ref)
        resolve_policy_qualifier(record, ref)
        self._prune(record)
        q = _key(ref.qualifier)
        existing = policy_statements(record, q)
        given = p.get("RevisionId")
        if given is not None:
            current = existing[0]["_revision"] if existing else _target_revision(record, q)
            if given != current:
                raise PreconditionFailedError(
                    "The Revision Id provided does not match the latest Revision Id. "
                    "Call the GetPolicy API to retrieve the latest Revision Id"
                )
        sid = p["StatementId"]
        if any(s["Sid"] == sid for s in existing):
            # Sids are unique per policy: the same Sid may exist on $LATEST, a version and an alias.
            raise ResourceConflictError(
                f"The statement id ({sid}) provided already exists. Please provide a new statement id, "
                "or remove the existing statement."
            )
        statement = build_statement(p, ref.arn(q))
        document = policy_document(record, q) or {"Version": "2012-10-17", "Id": "default", "Statement": []}
        document["Statement"].append(statement)
        size = len(_compact(document))
        if size > POLICY_SIZE_LIMIT:
            raise PolicyLengthExceededError(
                f"The final policy size ({size}) is bigger than the limit ({POLICY_SIZE_LIMIT})."
            )
        record.policy_statements.append({**statement, "_qualifier": q})
        _set_revision(record, q)
        self.plane.functions.save(record)
        return {"Statement": _compact(statement)}

    @operation("RemovePermission")
    async def remove_permission(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        """Raises ResourceNotFound (function: "No policy found for", alias/version, no policy,
        unknown Sid) and PreconditionFailed (RevisionId)."""
        ref = self.plane.ref(ctx.region, ctx.account_id, p["FunctionName"], p.get("Qualifier"))
        record = self.plane.functions.get(ref.region, ref.name)
        if record is None:
            raise ResourceNotFoundError(f"No policy found for: {ref.unqualified_arn}")
        resolve_policy_qualifier(record, ref)
        self._prune(record)
        q = _key(ref.qualifier)
        existing = policy_statements(record, q)
        if not existing:
            raise ResourceNotFoundError("No policy is associated with the given resource.")
        sid = p["StatementId"]
        statement = next((s for s in existing if s["Sid"] == sid), None)
        if statement is None:
            raise ResourceNotFoundError(f"Statement {sid} is not found in resource policy.")
        given = p.get("RevisionId")
        if given is not None and given != existing[0]["_revision"]:
            raise PreconditionFailedError(
                "The Revision Id provided does not match the latest Revision Id. "
                "Call the GetPolicy API to retrieve the latest Revision Id"
            )
        record.policy_statements.remove(statement)
        _set_revision(record, q)
        self.plane.functions.save(record)
        return {}

    @operation("GetPolicy")
    async def get_policy(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        """Raises ResourceNotFound ("The resource you requested does not exist.") when the
        function, its qualifier or the policy does not exist: AWS answers all three alike."""
        ref = self.plane.ref(ctx.region, ctx.account_id, p["FunctionName"], p.get("Qualifier"))
        record = self.plane.functions.get(ref.region, ref.name)
        if record is not None:
            self._prune(record)
        document = policy_document(record, ref.qualifier) if record is not None else None
        if record is None or document is None:
            raise ResourceNotFoundError("The resource you requested does not exist.")
        revision = policy_statements(record, ref.qualifier)[0]["_revision"]
        return {"Policy": _compact(document), "RevisionId": revision}
