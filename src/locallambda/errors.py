"""The one error hierarchy.

Three families, each saying who is at fault:

- ``LambdaError``: an answer of the Lambda API. Code, HTTP status and fault side ("User" or
  "Service") are class attributes; the core raises them and exactly one place
  (``locallambda.edge.errors``) renders them as AWS does.
- ``Fault``: why an invocation failed when the function itself did not answer (it timed out, its
  runtime exited or ran out of memory, its entrypoint is bad). AWS reports these as the
  invocation's result, a JSON error payload with ``errorType`` and ``errorMessage``, not as an API
  error; ``side`` says whether the function, its runtime or the sandbox is to blame.
- ``PlatformError``: this server could not do its part (start an environment, write its state).
  ``ExecutorError`` is the one executors raise; foreign errors (docker, subprocess, sqlite) are
  translated into these at the boundary where they occur.

Nothing here knows about HTTP.
"""

from __future__ import annotations

import json
import signal
from typing import Any, ClassVar, Literal

__all__ = [
    "AccessDeniedError",
    "AuthorizationDeniedError",
    "CodeSigningConfigNotFoundError",
    "CodeStorageExceededError",
    "EC2AccessDeniedError",
    "ExecutorError",
    "Fault",
    "FaultSide",
    "FunctionInitError",
    "InvalidEntrypoint",
    "InvalidEntrypointError",
    "InvalidParameterValueError",
    "InvalidRequestContentError",
    "InvalidRuntimeError",
    "InvalidZipFileError",
    "LambdaError",
    "NotImplementedOperationError",
    "ObjectUnavailable",
    "PlatformError",
    "PolicyLengthExceededError",
    "PreconditionFailedError",
    "ProvisionedConcurrencyConfigNotFoundError",
    "RequestEntityTooLargeError",
    "RequestTimeoutError",
    "RequestTooLargeError",
    "ResourceConflictError",
    "ResourceInUseError",
    "ResourceNotFoundError",
    "ResourceNotReadyError",
    "ResponseTooLarge",
    "RuntimeExit",
    "RuntimeOutOfMemory",
    "SandboxTimeout",
    "SerializationError",
    "ServiceError",
    "StoreError",
    "TooManyRequestsError",
    "UnknownOperationError",
    "UnsupportedMediaTypeError",
    "UnsupportedOperationError",
    "ValidationError",
]


class ObjectUnavailable(Exception):
    """An object of the embedded S3 could not be read: ``code`` is S3's (NoSuchBucket,
    NoSuchKey, NoSuchVersion), ``message`` S3's text."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class LambdaError(Exception):
    """Base of every error the API can answer with.

    ``code`` becomes the ``x-amzn-ErrorType`` header and the exception name boto3 raises,
    ``status`` the HTTP status, ``fault`` is ``"User"`` (client's fault) or ``"Service"``.
    ``extra`` holds additional members of the error shape (for example ``Reason``).
    """

    code: ClassVar[str] = "ServiceException"
    status: ClassVar[int] = 500
    fault: ClassVar[str] = "Service"
    # True for the errors AWS answers with a null message and no other member.
    bare: ClassVar[bool] = False

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra
        # Set by the dispatcher so that the rendered answer carries the request's own id.
        self.request_id: str | None = None

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


class AuthorizationDeniedError(AccessDeniedError):
    """Refused by AWS's authorization layer before Lambda looks at the request: the answer has
    no body members at all (recorded against AWS: ``Message`` null, no ``Type``)."""

    bare = True


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


class RequestTimeoutError(LambdaError):
    """The request's body stopped arriving before its Content-Length was reached; the edge
    answers this and closes the connection. No answer of Lambda's is recorded; the wording is
    S3's for the same case (its ``RequestTimeout``), the status HTTP's (408 Request Timeout)."""

    code = "RequestTimeoutException"
    status = 408
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


# -- faults: an invocation's failure, reported as its result ------------------------------------

FaultSide = Literal["function", "runtime", "sandbox"]


class Fault(Exception):
    """An invocation that ended without the function's own answer.

    ``error_type`` and the message form the payload AWS returns (with ``X-Amz-Function-Error:
    Unhandled``); ``side`` says who is at fault. Docs: lambda-runtime-environment.html and the
    errors recorded in LocalStack's parity snapshots (``Sandbox.Timedout``, ``Runtime.ExitError``).
    """

    error_type: ClassVar[str] = "Runtime.Unknown"
    side: ClassVar[FaultSide] = "runtime"

    def __init__(self, request_id: str, message: str) -> None:
        super().__init__(message)
        self.request_id = request_id
        self.message = message

    @property
    def error_message(self) -> str:
        """AWS prefixes the request id: ``RequestId: <id> Error: <message>``."""
        return f"RequestId: {self.request_id} Error: {self.message}"

    def payload(self) -> bytes:
        return json.dumps({"errorType": self.error_type, "errorMessage": self.error_message}).encode()


class SandboxTimeout(Fault):
    """The invocation (or an init continuing within it) ran past the function's timeout."""

    error_type = "Sandbox.Timedout"
    side = "function"

    def __init__(self, request_id: str, timeout_s: float) -> None:
        super().__init__(request_id, f"Task timed out after {timeout_s:.2f} seconds")
        self.timeout_s = timeout_s


class RuntimeExit(Fault):
    """The runtime process ended during an invocation (or before its first one)."""

    error_type = "Runtime.ExitError"
    side = "runtime"

    def __init__(self, request_id: str, reason: str | None) -> None:
        text = f"Runtime exited with error: {reason}" if reason else "Runtime exited without providing a reason"
        super().__init__(request_id, text)

    @classmethod
    def for_status(cls, request_id: str, status: int) -> RuntimeExit:
        """From an exit status as ``wait`` gives it (negative: killed by that signal), worded as
        AWS words it (Go's ``exit status 1``, ``signal: killed``)."""
        if status == 0:
            return cls(request_id, None)
        if status > 0:
            return cls(request_id, f"exit status {status}")
        return cls(request_id, f"signal: {_signal_name(-status)}")


class RuntimeOutOfMemory(Fault):
    """The environment was killed for exceeding the function's memory size."""

    error_type = "Runtime.OutOfMemory"
    side = "function"

    def __init__(self, request_id: str) -> None:
        super().__init__(request_id, "Runtime exited with error: signal: killed")


class InvalidEntrypoint(Fault):
    """The function's entrypoint cannot be started (AWS: ``Runtime.InvalidEntrypoint``)."""

    error_type = "Runtime.InvalidEntrypoint"
    side = "function"


class ResponseTooLarge(Fault):
    """The function answered more than the synchronous response limit."""

    error_type = "Function.ResponseSizeTooLarge"
    side = "function"

    def __init__(self, request_id: str, limit: int) -> None:
        super().__init__(request_id, f"Response payload size exceeded maximum allowed payload size ({limit} bytes).")

    @property
    def error_message(self) -> str:
        return self.message  # AWS words this one without the request id


class FunctionInitError(Fault):
    """The function's init failed and its runtime reported why (``/runtime/init/error``).

    The runtime's own error document is the payload, untouched (its shape differs per runtime).
    """

    error_type = "Runtime.Unknown"
    side = "function"

    def __init__(self, request_id: str, document: bytes) -> None:
        super().__init__(request_id, "init failed")
        self.document = document

    def payload(self) -> bytes:
        return self.document


def _signal_name(number: int) -> str:
    names = {
        signal.SIGKILL: "killed",
        signal.SIGSEGV: "segmentation fault",
        signal.SIGTERM: "terminated",
        signal.SIGABRT: "aborted",
    }
    try:
        sig = signal.Signals(number)
    except ValueError:
        return str(number)
    return names.get(sig, sig.name.lower())


# -- platform errors: this server could not do its part -----------------------------------------


class PlatformError(Exception):
    """Something this server needs failed; the message says what and reaches the user."""


class ExecutorError(PlatformError):
    """An execution environment could not be started."""


class InvalidEntrypointError(ExecutorError):
    """The function's entrypoint cannot be started (no bootstrap, not executable, bad format).

    AWS reports this as the invocation's result (``Runtime.InvalidEntrypoint``, see
    ``InvalidEntrypoint``), with messages such as ``Couldn't find valid bootstrap(s):
    [/var/task/bootstrap /opt/bootstrap]`` or ``fork/exec /var/task/bootstrap: permission denied``.
    """


class StoreError(PlatformError):
    """The state store could not read or write (translated from sqlite and file system errors)."""
