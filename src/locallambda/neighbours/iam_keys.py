"""Access keys issued by the embedded IAM and STS, for verifying signatures made with them.

A user who creates an IAM user and an access key (``iam create-access-key``), or assumes a role
through STS (``sts assume-role``), signs with that key; AWS verifies such a signature with the
key's secret and names the signer after its owner. ``iam_key`` looks the key up in moto's
backends as they are: an IAM user's ``Active`` key (the user as caller:
``arn:aws:iam::<account>:user/<name>``, the user id ``AIDA…``), or an assumed role's temporary
key, good with its session token until it expires (``arn:aws:sts::<account>:assumed-role/<role>/<session>``,
the user id ``<role id>:<session>``).

It never loads moto: keys can only have been issued once moto is loaded (``sys.modules`` is
asked), so before that no key is found. It reads moto's dictionaries without creating backends
(``dict.items`` of a ``BackendDict``) and runs on the caller's thread: a scan of the users' keys,
which a local server holds few of.
"""

from __future__ import annotations

import datetime as dt
import sys
from typing import Any, NamedTuple

__all__ = ["IssuedKey", "iam_key"]


class IssuedKey(NamedTuple):
    secret_key: str
    account_id: str
    user_arn: str
    user_id: str
    session_token: str | None  # a temporary key's, None for a long-term one


def iam_key(access_key: str) -> IssuedKey | None:
    """The IAM user's or assumed role's key ``access_key``; None when none has it."""
    iam = sys.modules.get("moto.iam.models")
    if iam is not None:
        found = _user_key(iam, access_key)
        if found is not None:
            return found
    sts = sys.modules.get("moto.sts.models")
    return _session_key(sts, access_key) if sts is not None else None


def _backends(backend_dict: Any) -> list[Any]:
    """Every backend a ``BackendDict`` holds (account → partition or region → backend)."""
    out: list[Any] = []
    for _, per_account in dict.items(backend_dict):
        out.extend(backend for _, backend in dict.items(per_account))
    return out


def _user_key(iam: Any, access_key: str) -> IssuedKey | None:
    for backend in _backends(iam.iam_backends):
        for user in list(getattr(backend, "users", {}).values()):
            for key in list(getattr(user, "access_keys", ())):
                if key.access_key_id == access_key and key.status == "Active":
                    return IssuedKey(key.secret_access_key, backend.account_id, user.arn, user.id, None)
    return None


def _session_key(sts: Any, access_key: str) -> IssuedKey | None:
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    for backend in _backends(sts.sts_backends):
        for role in list(getattr(backend, "assumed_roles", ())):
            if role.access_key_id != access_key:
                continue
            expiration = role.expiration
            if expiration.tzinfo is not None:
                expiration = expiration.astimezone(dt.UTC).replace(tzinfo=None)
            if expiration <= now:
                return None
            try:
                user_id = role.user_id
            except Exception:  # moto looks the role up in IAM: a role deleted since
                user_id = f"AROA:{role.session_name}"
            return IssuedKey(role.secret_access_key, role.account_id, role.arn, user_id, role.session_token)
    return None
