"""The control plane's shared services, built once by the app factory.

Resource modules (functions, aliases, permissions, ...) receive a ``ControlPlane`` and declare
their operation handlers with ``@operation``. Everything the plane needs from outside the control
package arrives through its constructor (the seams of ``control/seams.py``); the tables other
resource modules fill (code size sources, tag resolvers, change listeners) are plain attributes
created here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from locallambda.control.seams import ChangeListener, CodeSizeSource, ObjectSource, Preparer, Provisioner, TagResolver
from locallambda.errors import InvalidParameterValueError, ObjectUnavailable, ResourceNotFoundError
from locallambda.model.refs import FunctionRef, parse_function_name
from locallambda.model.tasks import TaskScope
from locallambda.settings import Settings
from locallambda.store.code import CodeStore
from locallambda.store.documents import DocumentStore
from locallambda.store.functions import Change, FunctionRecord, FunctionRegistry, Registry

__all__ = ["ControlPlane"]

log = logging.getLogger(__name__)

T = TypeVar("T")


class ControlPlane:
    def __init__(
        self,
        settings: Settings,
        store: DocumentStore,
        code: CodeStore,
        functions: FunctionRegistry,
        tasks: TaskScope,
        *,
        preparer: Preparer,
        provisioner: Provisioner,
        objects: ObjectSource | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.code = code
        self.functions = functions
        self.preparer = preparer
        self.provisioner = provisioner
        self.objects = objects
        self.listeners: list[ChangeListener] = []
        self.code_size_sources: list[CodeSizeSource] = []
        self.tag_resolvers: dict[str, TagResolver] = {}
        self._tasks = tasks
        self._registries: dict[str, Registry] = {}

    def registry(self, kind: str) -> Registry:
        """A write-through document map for resources that live outside functions."""
        if kind not in self._registries:
            self._registries[kind] = Registry(self.store, kind)
        return self._registries[kind]

    def ref(self, region: str, account_id: str, function_name: str, qualifier: str | None = None) -> FunctionRef:
        """The caller's function a FunctionName parameter names (every operation's goes here).

        Raises what ``parse_function_name`` raises, and ``AccessDeniedError`` for an ARN of
        another account: its functions are not reachable from here, and it must not reach the
        caller's function of the same name.
        """
        ref = parse_function_name(function_name, region, account_id, qualifier)
        ref.require_own()
        return ref

    def get_function(self, ref: FunctionRef) -> FunctionRecord:
        """The function a reference names. Raises ``ResourceNotFoundError`` with AWS's text,
        ``AccessDeniedError`` for another account's."""
        ref.require_own()
        record = self.functions.get(ref.region, ref.name)
        if record is None or record.account_id != ref.account_id:
            raise ResourceNotFoundError(f"Function not found: {ref.unqualified_arn}")
        return record

    def notify(self, record: FunctionRecord, change: Change) -> None:
        for listener in self.listeners:
            try:
                listener(record, change)
            except Exception:  # a listener's bug must not fail the API call
                log.exception("change listener failed")

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run a background step (a state transition); cancelled at shutdown."""
        return self._tasks.spawn(coro)

    async def s3_object(self, bucket: str, key: str, version: str | None) -> bytes:
        """Code given as S3Bucket/S3Key/S3ObjectVersion, from the embedded S3. Raises
        ``InvalidParameterValueError`` with AWS's text when it cannot be read (the AWS-recorded
        CreateFunction/UpdateFunctionCode errors: "Error occurred while GetObject. S3 Error Code:
        NoSuchKey. S3 Error Message: The specified key does not exist.")."""
        try:
            if self.objects is None:
                raise ObjectUnavailable("NoSuchBucket", "The specified bucket does not exist")
            return await self.objects(bucket, key, version)
        except ObjectUnavailable as missing:
            raise InvalidParameterValueError(
                f"Error occurred while GetObject. S3 Error Code: {missing.code}. S3 Error Message: {missing.message}"
            ) from None

    async def run_blocking(self, fn: Callable[..., T], *args: Any) -> T:
        """Run blocking work (unzipping, walking trees) in a worker thread."""
        return await asyncio.to_thread(fn, *args)
