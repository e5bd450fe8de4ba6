"""Function and layer names, ARNs and qualifiers as AWS forms and reads them.

A FunctionName parameter may be a name (``my-fn``), a partial ARN (``123456789012:function:my-fn``)
or a full ARN, each optionally ending in ``:qualifier``. The service model's pattern has already
been checked by the validator; this module extracts the parts and applies the cross-checks AWS
makes (derived qualifier vs. Qualifier parameter, region and account of the ARN).

An ARN may name another account than the caller's; the reference keeps that account (and says
so), and whatever looks a function up refuses it with ``require_own`` before looking: none of
another account's functions is reachable here, and a name must never reach the caller's own
function of that name. AWS answers 403 ``AccessDeniedException`` (LocalStack's
test_lambda_api.snapshot.json, ``test_function_arns``: ``function_arn_other_account_exc``,
recorded without a message; AWS's denials otherwise read ``User: <caller> is not authorized to
perform: lambda:<Action> on resource: <arn> because no resource-based policy allows the
lambda:<Action> action``, and the action is not known at this depth).
"""

from __future__ import annotations

import dataclasses
import re

from locallambda.errors import AccessDeniedError, InvalidParameterValueError, ResourceNotFoundError

__all__ = [
    "LATEST",
    "FunctionRef",
    "LayerRef",
    "function_arn",
    "layer_arn",
    "parse_function_name",
    "parse_layer_name",
    "parse_layer_version_arn",
]

LATEST = "$LATEST"

_FN = re.compile(
    r"(?:arn:(?P<partition>aws[a-zA-Z-]*)?:lambda:)?"
    r"(?:(?P<region>(?:eusc-)?[a-z]{2}(?:(?:-gov)|(?:-iso[a-z]?))?-[a-z]+-\d):)?"
    r"(?:(?P<account>\d{12}):)?"
    r"(?:function:)?"
    r"(?P<name>[a-zA-Z0-9-_\.]+)"
    r"(?::(?P<qualifier>\$LATEST(?:\.PUBLISHED)?|[a-zA-Z0-9-_]+))?"
)


@dataclasses.dataclass(frozen=True, slots=True)
class FunctionRef:
    """A resolved reference: name plus the qualifier (explicit or derived), if any."""

    name: str
    qualifier: str | None
    region: str
    account_id: str
    # The caller's account when the name was an ARN of another one (never part of equality).
    caller_account_id: str | None = dataclasses.field(default=None, compare=False)

    def require_own(self) -> None:
        """Raises ``AccessDeniedError`` when the reference names another account's function."""
        caller = self.caller_account_id
        if caller is not None and caller != self.account_id:
            raise AccessDeniedError(
                f"User: arn:aws:iam::{caller}:root is not authorized to access resource: "
                f"{self.arn()} because no resource-based policy allows it"
            )

    @property
    def unqualified_arn(self) -> str:
        return function_arn(self.region, self.account_id, self.name)

    def arn(self, qualifier: str | None = None) -> str:
        q = qualifier if qualifier is not None else self.qualifier
        return function_arn(self.region, self.account_id, self.name, q)


def function_arn(region: str, account_id: str, name: str, qualifier: str | None = None) -> str:
    base = f"arn:aws:lambda:{region}:{account_id}:function:{name}"
    return f"{base}:{qualifier}" if qualifier else base


def layer_arn(region: str, account_id: str, name: str, version: int | None = None) -> str:
    base = f"arn:aws:lambda:{region}:{account_id}:layer:{name}"
    return f"{base}:{version}" if version is not None else base


def parse_function_name(raw: str, region: str, account_id: str, qualifier: str | None = None) -> FunctionRef:
    """Resolve a FunctionName parameter (and an optional Qualifier parameter).

    Raises ``InvalidParameterValueError`` when the ARN's qualifier differs from ``qualifier``
    (AWS: "The derived qualifier from the function name does not match the specified
    qualifier."), and ``ResourceNotFoundError`` for an ARN of another region, or a name that
    cannot exist (AWS answers "Function not found" for over-long names). An ARN of another
    account gives a reference that keeps it; ``FunctionRef.require_own`` refuses those.
    """
    m = _FN.fullmatch(raw)
    if m is None:  # the validator normally refuses these first
        raise ResourceNotFoundError(f"Function not found: {function_arn(region, account_id, raw)}")
    name = m.group("name")
    derived = m.group("qualifier")
    arn_region = m.group("region")
    if derived and qualifier and derived != qualifier:
        raise InvalidParameterValueError(
            "The derived qualifier from the function name does not match the specified qualifier."
        )
    q = qualifier or derived
    if arn_region and arn_region != region:
        raise ResourceNotFoundError(f"Functions from '{arn_region}' are not reachable in this region ('{region}')")
    acct = m.group("account") or account_id
    return FunctionRef(name=name, qualifier=q, region=region, account_id=acct, caller_account_id=account_id)


# A layer ARN, optionally with its version (the service model has already checked the pattern;
# AWS-owned ``arn:aws:lambda:::awslayer:...`` ARNs do not match and so never name a stored layer).
_LAYER_ARN = re.compile(
    r"arn:(?:aws[a-zA-Z-]*)?:lambda:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):layer:"
    r"(?P<name>[a-zA-Z0-9-_]+)(?::(?P<version>[0-9]+))?"
)


@dataclasses.dataclass(frozen=True, slots=True)
class LayerRef:
    """A layer (not a version) by region, account and name."""

    region: str
    account_id: str
    name: str

    @property
    def key(self) -> str:
        return f"{self.region}/{self.account_id}/{self.name}"

    @property
    def arn(self) -> str:
        return layer_arn(self.region, self.account_id, self.name)

    def version_arn(self, version: int | str) -> str:
        return f"{self.arn}:{version}"


def parse_layer_name(raw: str, region: str, account_id: str) -> LayerRef:
    """A LayerName parameter (a name or a layer ARN) as a reference; names are in the caller's
    region and account."""
    m = _LAYER_ARN.fullmatch(raw)
    if m is None:
        return LayerRef(region, account_id, raw)
    return LayerRef(m.group("region"), m.group("account"), m.group("name"))


def parse_layer_version_arn(arn: str) -> tuple[LayerRef, str] | None:
    """(layer, version number as a canonical string) for a layer version ARN, else ``None``."""
    m = _LAYER_ARN.fullmatch(arn)
    if m is None or m.group("version") is None:
        return None
    return LayerRef(m.group("region"), m.group("account"), m.group("name")), str(int(m.group("version")))
