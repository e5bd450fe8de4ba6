"""The seams of the control plane: what it asks of the rest of the server, and what its
resource modules offer each other. The app factory fills them; nothing here is bolted on later.

- ``Preparer``: what "becoming Active" means (the invoke engine checks an executor can run the
  function and builds its /opt tree); the StateReason of ``Failed`` when it cannot.
- ``Provisioner``: pre-start environments for provisioned concurrency.
- ``ChangeListener``: told when a function's code or configuration changed, or it was deleted.
- ``CodeSizeSource``: bytes of code stored besides functions' own (layers), per region.
- ``TagResolver``: the live tag map of a taggable resource named by its ARN.
- ``ObjectSource``: the bytes of an object of the embedded S3 (code given as S3Bucket/S3Key);
  raises ``ObjectUnavailable`` with S3's error code.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable

from locallambda.store.functions import Change, FunctionRecord

__all__ = [
    "Change",
    "ChangeListener",
    "CodeSizeSource",
    "ObjectSource",
    "Preparer",
    "Provisioner",
    "TagResolver",
    "TagTarget",
    "TaggableArn",
]

# None when the function can run, or the reason it cannot.
Preparer = Callable[[FunctionRecord], Awaitable[str | None]]
# Keep ``count`` environments of (function, qualifier) initialized; 0 releases them. Raises
# ``ExecutorError`` when one cannot start.
Provisioner = Callable[[FunctionRecord, str, int], Awaitable[None]]


ChangeListener = Callable[[FunctionRecord, Change], None]
# (bucket, key, version or None) -> the object's bytes
ObjectSource = Callable[[str, str, str | None], Awaitable[bytes]]
CodeSizeSource = Callable[[str], int]


@dataclasses.dataclass(frozen=True, slots=True)
class TaggableArn:
    """A parsed taggable ARN: ``arn:aws:lambda:<region>:<account>:<kind>:<id>[:<qualifier>]``."""

    arn: str
    region: str
    account_id: str
    kind: str
    resource_id: str
    qualifier: str | None


@dataclasses.dataclass(slots=True)
class TagTarget:
    """A resource's live tag map and how to persist it after a change."""

    tags: dict[str, str]
    save: Callable[[], None]


# Returns the resource's tags; raises ResourceNotFoundError (with AWS's text) when it is absent.
TagResolver = Callable[[TaggableArn], TagTarget]
