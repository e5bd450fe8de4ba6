"""This server's own Lambda API, called over loopback by the resources CloudFormation creates.

The resource models of ``cfn_functions.py`` and ``cfn_access.py`` run inside moto's worker
threads; they call the Lambda API with boto3 at the server's own URL while the event loop serves
it, so every property a template gives is checked by the same validation, with the same errors,
as a direct call.

A failed call becomes ``ResourceFailed``, worded as CloudFormation reports a resource handler's
failure in ``ResourceStatusReason`` (troubleshooting.html, "Resource handler returned message:
"<message>" (RequestToken: <id>, HandlerErrorCode: <code>)").

CloudFormation completes a function resource only once the function is ``Active``, and an update
only once ``LastUpdateStatus`` is ``Successful`` (functions-states.html: automation must wait for
the state before it operates on the function; the compute blog "Tracking the state of AWS Lambda
functions": CloudFormation and SAM wait for it), so ``settle`` polls the configuration until
then, or until its deadline.
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

__all__ = ["LoopbackLambda", "ResourceFailed"]

# Lambda's error codes → CloudFormation's handler error codes (resource-type-test-contract
# HandlerErrorCode: InvalidRequest, NotFound, AlreadyExists, ResourceConflict, Throttling,
# ServiceLimitExceeded, GeneralServiceException).
_HANDLER_CODES = {
    "InvalidParameterValueException": "InvalidRequest",
    "ValidationException": "InvalidRequest",
    "InvalidRequestContentException": "InvalidRequest",
    "RequestTooLargeException": "InvalidRequest",
    "CodeStorageExceededException": "ServiceLimitExceeded",
    "ResourceNotFoundException": "NotFound",
    "ResourceConflictException": "AlreadyExists",
    "ResourceInUseException": "ResourceConflict",
    "PreconditionFailedException": "ResourceConflict",
    "TooManyRequestsException": "Throttling",
    "AccessDeniedException": "AccessDenied",
}


class ResourceFailed(Exception):
    """A resource could not be created, updated or deleted; ``reason`` is what CloudFormation
    shows as the resource's ``ResourceStatusReason``."""

    def __init__(self, reason: str, *, code: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code
        # where it happened, filled in by the resource model
        self.logical_id = ""
        self.resource_type = ""


class LoopbackLambda:
    """boto3 clients of this server's Lambda API, one per region, shared by moto's threads."""

    def __init__(self, endpoint: str, *, settle_timeout: float = 600.0, poll_interval: float = 0.1) -> None:
        self.endpoint = endpoint
        self._settle_timeout = settle_timeout
        self._poll_interval = poll_interval
        self._lock = threading.Lock()
        self._clients: dict[str, Any] = {}

    def client(self, region: str) -> Any:
        with self._lock:
            found = self._clients.get(region)
            if found is None:
                import boto3
                from botocore.config import Config

                # A session of its own: boto3's default session is not safe to share between threads.
                found = boto3.session.Session().client(
                    "lambda",
                    endpoint_url=self.endpoint,
                    region_name=region,
                    aws_access_key_id="test",
                    aws_secret_access_key="test",
                    config=Config(retries={"total_max_attempts": 1}, read_timeout=900, connect_timeout=10),
                )
                self._clients[region] = found
            return found

    def call(self, region: str, operation: str, **params: Any) -> dict[str, Any]:
        """``operation`` (boto3's snake_case name) with ``params``. Raises ``ResourceFailed``
        with Lambda's message."""
        from botocore.exceptions import BotoCoreError, ClientError

        method = getattr(self.client(region), operation)
        try:
            answer: dict[str, Any] = method(**params)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = str(error.get("Code", ""))
            raise ResourceFailed(_handler_message(str(error.get("Message", "")), code), code=code) from None
        except BotoCoreError as exc:
            raise ResourceFailed(_handler_message(str(exc), "")) from None
        answer.pop("ResponseMetadata", None)
        return answer

    def call_absent_ok(self, region: str, operation: str, **params: Any) -> None:
        """``call`` for a deletion: a resource already gone counts as deleted (CloudFormation's
        delete handlers succeed on NotFound)."""
        try:
            self.call(region, operation, **params)
        except ResourceFailed as exc:
            if exc.code != "ResourceNotFoundException":
                raise

    def settle(self, region: str, name: str, qualifier: str | None = None) -> dict[str, Any]:
        """Wait until the function (or version) is ``Active`` and its last update
        ``Successful``; its configuration. Raises ``ResourceFailed`` when it becomes ``Failed``
        or the deadline passes."""
        params: dict[str, Any] = {"FunctionName": name}
        if qualifier is not None:
            params["Qualifier"] = qualifier
        deadline = time.monotonic() + self._settle_timeout
        while True:
            config = self.call(region, "get_function_configuration", **params)
            state = config.get("State")
            update = config.get("LastUpdateStatus")
            if state == "Failed":
                raise ResourceFailed(
                    _handler_message(
                        f"Lambda function {name} reached terminal FAILED state due to {config.get('StateReasonCode', '')}"
                        f" ({config.get('StateReason', '')})",
                        "",
                    )
                )
            if update == "Failed":
                raise ResourceFailed(
                    _handler_message(
                        f"Lambda function {name} update failed: {config.get('LastUpdateStatusReason', '')}", ""
                    )
                )
            if state in (None, "Active") and update in (None, "Successful"):
                return config
            if time.monotonic() >= deadline:
                raise ResourceFailed(
                    _handler_message(
                        f"Lambda function {name} did not stabilize within {self._settle_timeout:.0f} s"
                        f" (State {state}, LastUpdateStatus {update})",
                        "",
                    )
                )
            time.sleep(self._poll_interval)


def _handler_message(message: str, code: str) -> str:
    handler_code = _HANDLER_CODES.get(code, "GeneralServiceException")
    return f'Resource handler returned message: "{message}" (RequestToken: {uuid.uuid4()}, HandlerErrorCode: {handler_code})'
