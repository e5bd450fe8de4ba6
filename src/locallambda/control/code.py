"""Code intake: a FunctionCode member (zip bytes, the hot-reload bucket, an image) becomes stored
code, and stored code becomes a version's CodeSha256/CodeSize.

Zips are untrusted: ``CodeStore.put_zip`` validates while it extracts (names, methods, declared
and real sizes) in a worker thread, and a refused archive leaves nothing behind. Code given as
``S3Bucket=<BUCKET_MARKER_LOCAL>, S3Key=<directory>`` is LocalStack's hot reloading: the
directory on this machine is used live. Any other bucket is the embedded S3's
(``ControlPlane.s3_object``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from typing import Any

from locallambda.control.plane import ControlPlane
from locallambda.errors import AccessDeniedError, InvalidParameterValueError, RequestEntityTooLargeError
from locallambda.model.operations import Origin, RequestContext
from locallambda.store.code import tree_size
from locallambda.store.functions import VersionRecord

__all__ = ["HOT_RELOAD_SHA", "CodeIntake", "IncomingCode", "within_roots"]

HOT_RELOAD_SHA = "hot-reloading-hash-not-available"


@dataclasses.dataclass(frozen=True, slots=True)
class IncomingCode:
    """Code as stored, before it is attached to a version."""

    sha_b64: str
    size: int
    sha_hex: str | None = None
    unzipped_size: int = 0
    image_uri: str | None = None
    hot_reload_path: str | None = None


class CodeIntake:
    def __init__(self, plane: ControlPlane) -> None:
        self._plane = plane

    async def store(self, code: dict[str, Any], ctx: RequestContext) -> IncomingCode:
        """Store a FunctionCode member. Raises ``RequestEntityTooLargeError`` and
        ``InvalidParameterValueError`` with AWS's texts, and ``AccessDeniedError`` for hot-reloaded
        code asked for from inside a function or from another machine."""
        s = self._plane.settings
        if code.get("ImageUri"):
            image = code["ImageUri"]
            return IncomingCode(sha_b64=hashlib.sha256(image.encode()).hexdigest(), size=0, image_uri=image)
        zip_file = code.get("ZipFile")
        if zip_file is not None and len(zip_file) > s.limits_code_size_zipped:
            raise RequestEntityTooLargeError(f"Zipped size must be smaller than {s.limits_code_size_zipped} bytes")
        bucket = code.get("S3Bucket")
        if zip_file is None and bucket is not None:
            if bucket == s.bucket_marker_local:
                path = code.get("S3Key", "")
                await self._check_hot_reload(path, ctx)
                return IncomingCode(sha_b64=HOT_RELOAD_SHA, size=0, hot_reload_path=path)
            # AWS's 50 MB limit is for zips uploaded directly; from S3 only the unzipped size counts.
            zip_file = await self._plane.s3_object(bucket, code.get("S3Key", ""), code.get("S3ObjectVersion"))
        if zip_file is not None:
            stored = await self._plane.run_blocking(self._plane.code.put_zip, zip_file, s.limits_code_size_unzipped)
            return IncomingCode(
                sha_b64=stored.sha256_b64,
                size=stored.size,
                sha_hex=stored.sha256_hex,
                unzipped_size=stored.unzipped_size,
            )
        raise InvalidParameterValueError("Please provide a source for function code.")

    async def _check_hot_reload(self, path: str, ctx: RequestContext) -> None:
        """Hot reloading mounts a host directory into the function: only the host's own user may
        ask for it (see the trust model in the README), and only below LOCALLAMBDA_HOT_RELOAD_ROOTS
        when that is set."""
        origin = await ctx.origin()
        if origin is not Origin.HOST:
            raise AccessDeniedError(
                f"Hot reloading ({self._plane.settings.bucket_marker_local} bucket) is refused to this caller "
                f"({origin.value}): only clients on this machine, outside any function's sandbox or container, "
                "may give host directories as code."
            )
        roots = self._plane.settings.hot_reload_roots
        if roots and not await self._plane.run_blocking(within_roots, path, roots):
            raise InvalidParameterValueError(
                f"The hot-reload directory {path} is not below any of LOCALLAMBDA_HOT_RELOAD_ROOTS "
                f"({os.pathsep.join(str(r) for r in roots)})."
            )

    @staticmethod
    def apply(version: VersionRecord, code: IncomingCode) -> None:
        """Make ``code`` the version's code (its configuration's CodeSha256 and CodeSize too)."""
        cfg = version.config
        version.image_uri = code.image_uri
        version.code_sha256_hex = code.sha_hex
        version.unzipped_size = code.unzipped_size
        cfg["CodeSha256"] = code.sha_b64
        cfg["CodeSize"] = code.size
        if code.hot_reload_path is not None:
            cfg["_HotReloadPath"] = code.hot_reload_path
        else:
            cfg.pop("_HotReloadPath", None)

    async def unzipped_size(self, version: VersionRecord) -> int:
        """Bytes of the version's extracted code (measured once, off the event loop, for records
        stored before the size was kept)."""
        if version.unzipped_size is None:
            if version.code_sha256_hex is None:
                return 0
            tree = self._plane.code.tree_path(version.code_sha256_hex)
            version.unzipped_size = await self._plane.run_blocking(tree_size, tree)
        return version.unzipped_size


def within_roots(path: str, roots: tuple[os.PathLike[str] | str, ...]) -> bool:
    """Whether ``path``, links resolved, is one of ``roots`` or below one (blocking: resolves)."""
    real = os.path.realpath(path)
    for root in roots:
        top = os.path.realpath(root)
        if real == top or real.startswith(top.rstrip("/") + "/"):
            return True
    return False
