"""The access keys whose signatures this server can verify, and whose they are.

Requests to function URLs with AuthType ``AWS_IAM`` are verified (``edge/sigv4.py``) against:

- LocalStack's default credentials, ``test`` / ``test`` (the README's, and what clients of a local
  server sign with): the account's root user, as ``sts get-caller-identity`` names root
  (``arn:aws:iam::<account>:root``, the account id as user id);
- the credentials of each live execution environment (``LLFN…``, ``invoke/envvars.py``): the
  function's execution role, assumed with the function's name as the session name, as Lambda
  hands a function its role's credentials (``arn:aws:sts::<account>:assumed-role/<role>/<function>``,
  user id ``<role id>:<function>``). They are good while their environment lives, as temporary
  credentials expire, and only with the session token they came with.

- the keys the embedded IAM and STS issued (``issued_keys``, ``neighbours/iam_keys.py``): an IAM
  user's access keys, an assumed role's temporary ones.

``local_keys`` and ``issued_keys`` are the ``KeyLookup``s the app factory gives the function URLs,
joined by ``chain``.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable

from locallambda.edge.sigv4 import Caller, KeyLookup, SigningKey
from locallambda.invoke.environment import ExecutionEnvironment
from locallambda.invoke.pool import EnvironmentPool
from locallambda.model.operations import FUNCTION_KEY_PREFIX
from locallambda.neighbours.iam_keys import iam_key
from locallambda.store.functions import FunctionRegistry

__all__ = ["DEFAULT_ACCESS_KEY", "DEFAULT_SECRET_KEY", "chain", "issued_keys", "local_keys", "role_session"]

DEFAULT_ACCESS_KEY = "test"
DEFAULT_SECRET_KEY = "test"


def role_session(access_key: str, role_arn: str, session: str, fallback_account: str) -> Caller:
    """The caller an assumed role's session is: ``arn:aws:sts::<account>:assumed-role/<name>/<session>``
    with the user id ``<role id>:<session>`` (a role id is ``AROA`` and 17 characters; ours is
    derived from the role's ARN, so it is stable)."""
    parts = role_arn.split(":", 5)
    account = parts[4] if len(parts) == 6 and parts[4].isdigit() else fallback_account
    name = role_arn.rsplit("/", 1)[-1] or "role"
    role_id = "AROA" + base64.b32encode(hashlib.sha256(role_arn.encode()).digest()).decode()[:17]
    user_id = f"{role_id}:{session}"
    return Caller(
        access_key=access_key,
        account_id=account,
        caller_id=user_id,
        user_arn=f"arn:aws:sts::{account}:assumed-role/{name}/{session}",
        user_id=user_id,
    )


def _environment_key(
    access_key: str, environments: Iterable[ExecutionEnvironment], functions: FunctionRegistry
) -> SigningKey | None:
    for env in environments:
        credentials = env.credentials
        if credentials is None or credentials[0] != access_key:
            continue
        spec = env.spec
        record = functions.get(spec.region, spec.name)
        version = record.version(spec.version) if record is not None else None
        if version is None:
            return None  # its function is gone: so are its credentials
        role = str(version.config.get("Role") or f"arn:aws:iam::{spec.account_id}:role/lambda-role")
        caller = role_session(access_key, role, spec.name, spec.account_id)
        return SigningKey(secret_key=credentials[1], caller=caller, session_token=credentials[2])
    return None


def local_keys(account_id: str, pool: EnvironmentPool, functions: FunctionRegistry) -> KeyLookup:
    """The keys of this server: ``test`` (root of ``account_id``) and every live environment's."""
    root = Caller(
        access_key=DEFAULT_ACCESS_KEY,
        account_id=account_id,
        caller_id=account_id,
        user_arn=f"arn:aws:iam::{account_id}:root",
        user_id=account_id,
    )
    default = SigningKey(secret_key=DEFAULT_SECRET_KEY, caller=root)

    def lookup(access_key: str) -> SigningKey | None:
        if access_key == DEFAULT_ACCESS_KEY:
            return default
        if access_key.startswith(FUNCTION_KEY_PREFIX):
            return _environment_key(access_key, pool.environments, functions)
        return None

    return lookup


def issued_keys(access_key: str) -> SigningKey | None:
    """A key the embedded IAM (a user's) or STS (an assumed role's) issued, and its owner."""
    issued = iam_key(access_key)
    if issued is None:
        return None
    caller = Caller(
        access_key=access_key,
        account_id=issued.account_id,
        caller_id=issued.user_id,
        user_arn=issued.user_arn,
        user_id=issued.user_id,
    )
    return SigningKey(secret_key=issued.secret_key, caller=caller, session_token=issued.session_token)


def chain(*lookups: KeyLookup) -> KeyLookup:
    """The first answer of ``lookups``, in order."""

    def lookup(access_key: str) -> SigningKey | None:
        for one in lookups:
            found = one(access_key)
            if found is not None:
                return found
        return None

    return lookup
