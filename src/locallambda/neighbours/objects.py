"""Objects of the embedded S3 read by the server itself: function and layer code given as
``S3Bucket``/``S3Key``/``S3ObjectVersion``.

Read from moto's S3 backend directly (no HTTP round trip), in a worker thread; moto is loaded
first if no neighbour was used yet. A missing bucket, key or version raises
``ObjectUnavailable`` with S3's own error code, which the Lambda API words as AWS does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from locallambda.errors import ObjectUnavailable

if TYPE_CHECKING:
    from locallambda.neighbours.embedded import Neighbours

__all__ = ["ObjectReader"]

# S3's messages for the codes Lambda quotes (the AWS-recorded CreateFunction/UpdateFunctionCode
# errors: "S3 Error Message: The specified bucket does not exist", "... key does not exist.").
_MESSAGES = {
    "NoSuchBucket": "The specified bucket does not exist",
    "NoSuchKey": "The specified key does not exist.",
    "NoSuchVersion": "The specified version does not exist.",
}


class ObjectReader:
    def __init__(self, neighbours: Neighbours, account_id: str) -> None:
        self._neighbours = neighbours
        self._account_id = account_id

    async def read(self, bucket: str, key: str, version: str | None) -> bytes:
        """The object's bytes. Raises ``ObjectUnavailable`` (NoSuchBucket, NoSuchKey,
        NoSuchVersion); NoSuchBucket too when S3 is not served (``SERVICES``)."""
        if not self._neighbours.serves("s3"):
            raise ObjectUnavailable("NoSuchBucket", _MESSAGES["NoSuchBucket"])
        return await self._neighbours.run(self._read, bucket, key, version)

    def _read(self, bucket: str, key: str, version: str | None) -> bytes:
        from moto.s3.exceptions import MissingBucket, MissingKey, MissingVersion
        from moto.s3.models import s3_backends

        backend = s3_backends[self._account_id]["aws"]
        try:
            backend.get_bucket(bucket)
            found = backend.get_object(bucket, key, version_id=version)
        except MissingBucket:
            raise ObjectUnavailable("NoSuchBucket", _MESSAGES["NoSuchBucket"]) from None
        except MissingVersion:
            raise ObjectUnavailable("NoSuchVersion", _MESSAGES["NoSuchVersion"]) from None
        except MissingKey:
            raise ObjectUnavailable("NoSuchKey", _MESSAGES["NoSuchKey"]) from None
        if found is None:
            raise ObjectUnavailable("NoSuchVersion" if version else "NoSuchKey", _MESSAGES["NoSuchKey"])
        return bytes(found.value)
