"""The one error hierarchy.

Every AWS error is a class whose code, HTTP status and fault side are class attributes.
The core raises them; exactly one place (``locallambda.protocol.errors``) renders them as AWS does.
Nothing here knows about HTTP frameworks.
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "LambdaError",
    "ValidationError",
    "InvalidParameterValueError",
    "InvalidRequestContentError",
    "ResourceNotFoundError",
    "AccessDeniedError",
    "ResourceConflictError",
    "ResourceInUseError",
    "PreconditionFailedError",
    "PolicyLengthExceededError",
    "CodeStorageExceededError",
    "RequestTooLargeError",
    "RequestEntityTooLargeError",
    "TooManyRequestsError",
    "ServiceError",
    "UnsupportedOperationError",
    "NotImplementedOperationError",
    "UnknownOperationError",
    "ProvisionedConcurrencyConfigNotFoundError",
    "CodeSigningConfigNotFoundError",
    "InvalidZipFileError",
    "SerializationError",
    "UnsupportedMediaTypeError",
    "EC2AccessDeniedError",
    "InvalidRuntimeError",
    "ResourceNotReadyError",
]


class LambdaError(Exception):
    """Base of every error the API can answer with.

    ``code`` becomes the ``x-amzn-ErrorType`` header and the exception name boto3 raises,
    ``status`` the HTTP status, ``fault`` is ``"User"`` (client's fault) or ``"Service"``.
    ``extra`` holds additional members of the error shape (for example ``Reason``).
    """

    code: ClassVar[str] = "ServiceException"
    status: ClassVar[int] = 500
    fault: ClassVar[str] = "Service"

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"{type(self).__name__}({self.message!r})"


class ValidationError(LambdaError):
    """Constraint violations found by the service-model validator (``N validation errors detected``)."""

    code = "ValidationException"
    status = 400
    fault = "User"


class InvalidParameterValueError(LambdaError):
    code = "InvalidParameterValueException"
    status = 400
    fault = "User"


class InvalidRequestContentError(LambdaError):
    code = "InvalidRequestContentException"
    status = 400
    fault = "User"


class SerializationError(LambdaError):
    code = "SerializationException"
    status = 400
    fault = "User"


class AccessDeniedError(LambdaError):
    code = "AccessDeniedException"
    status = 403
    fault = "User"


class ResourceNotFoundError(LambdaError):
    code = "ResourceNotFoundException"
    status = 404
    fault = "User"


class CodeSigningConfigNotFoundError(LambdaError):
    """A function was pointed at a code signing configuration that does not exist."""

    code = "CodeSigningConfigNotFoundException"
    status = 404
    fault = "User"


class ProvisionedConcurrencyConfigNotFoundError(LambdaError):
    code = "ProvisionedConcurrencyConfigNotFoundException"
    status = 404
    fault = "User"


class UnknownOperationError(LambdaError):
    code = "UnknownOperationException"
    status = 404
    fault = "User"


class ResourceConflictError(LambdaError):
    code = "ResourceConflictException"
    status = 409
    fault = "User"


class ResourceInUseError(LambdaError):
    code = "ResourceInUseException"
    status = 400
    fault = "User"


class ResourceNotReadyError(LambdaError):
    code = "ResourceNotReadyException"
    status = 502
    fault = "Service"


class PreconditionFailedError(LambdaError):
    code = "PreconditionFailedException"
    status = 412
    fault = "User"


class PolicyLengthExceededError(LambdaError):
    code = "PolicyLengthExceededException"
    status = 400
    fault = "User"


class CodeStorageExceededError(LambdaError):
    code = "CodeStorageExceededException"
    status = 400
    fault = "User"


class RequestTooLargeError(LambdaError):
    code = "RequestTooLargeException"
    status = 413
    fault = "User"


class RequestEntityTooLargeError(LambdaError):
    code = "RequestEntityTooLargeException"
    status = 413
    fault = "User"


class UnsupportedMediaTypeError(LambdaError):
    code = "UnsupportedMediaTypeException"
    status = 415
    fault = "User"


class InvalidZipFileError(LambdaError):
    code = "InvalidZipFileException"
    status = 502
    fault = "User"


class InvalidRuntimeError(LambdaError):
    code = "InvalidRuntimeException"
    status = 502
    fault = "User"


class EC2AccessDeniedError(LambdaError):
    code = "EC2AccessDeniedException"
    status = 502
    fault = "Service"


class TooManyRequestsError(LambdaError):
    """Throttling; ``Reason`` and ``retryAfterSeconds`` travel in ``extra``."""

    code = "TooManyRequestsException"
    status = 429
    fault = "User"


class ServiceError(LambdaError):
    code = "ServiceException"
    status = 500
    fault = "Service"


class UnsupportedOperationError(LambdaError):
    code = "UnsupportedOperationException"
    status = 400
    fault = "User"


class NotImplementedOperationError(LambdaError):
    """An operation of the service model that locallambda does not implement yet.

    AWS has no such error; we answer 501 with a code that names the gap plainly, so that
    clients fail loudly and users know what is missing.
    """

    code = "NotImplementedException"
    status = 501
    fault = "Service"
