"""Where finished Event invocations are reported: destinations and dead-letter queues.

Docs: invocation-async-retain-records.html. When an event succeeds, its ``OnSuccess``
destination receives an invocation record; when it fails for good (retries exhausted, too old,
or the function's reserved concurrency is 0) its ``OnFailure`` destination receives one, and the
function's ``DeadLetterConfig`` target receives the original event. The destinations come from
the event invoke configuration of the qualifier the event was invoked with (an alias's own,
not its version's); the dead-letter target from the configuration of the version that ran.

The record's shape is AWS's, as recorded in LocalStack's parity snapshots
(``test_lambda_destinations``): ``version``, ``timestamp``, ``requestContext`` (``requestId``,
``functionArn`` qualified, ``condition``, ``approximateInvokeCount``), ``requestPayload``, and for
an event that ran ``responseContext`` (``statusCode``, ``executedVersion``, ``functionError``) and
``responsePayload``. EventBridge receives it as the ``detail`` of an event from source ``lambda``
with detail-type ``Lambda Function Invocation Result - Success``/``- Failure`` and resources the
bus and the function; SNS as the message; SQS as the body; Lambda as an Event invoke's payload.
A dead-letter message is the original payload with the attributes ``RequestID``, ``ErrorCode``
(the status code, 200 for a function error) and ``ErrorMessage`` (the first 1 KB of the error).

Delivery goes through the AWS API of this server's own endpoint (the embedded services and our
own Invoke), with botocore in a worker thread, off the event loop. A delivery that fails is
logged, never retried: the event is finished either way.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Callable
from typing import Any

import botocore.session
from botocore.config import Config

from locallambda.invoke.async_queue import Condition, Outcome
from locallambda.invoke.journal import TRIGGER_HEADER
from locallambda.model.clock import iso_millis
from locallambda.model.refs import LATEST, FunctionRef
from locallambda.store.functions import FunctionRegistry

__all__ = ["Destinations", "invocation_record"]

log = logging.getLogger(__name__)

_ERROR_MESSAGE_LIMIT = 1024  # "ErrorMessage – The first 1 KB of the error message."
_DETAIL_TYPES = {
    True: "Lambda Function Invocation Result - Success",
    False: "Lambda Function Invocation Result - Failure",
}


def _json_or_text(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")


def invocation_record(outcome: Outcome, when: float | None = None) -> dict[str, Any]:
    """The invocation record AWS sends to a destination, in AWS's member order."""
    event, response = outcome.event, outcome.response
    record: dict[str, Any] = {
        "version": "1.0",
        "timestamp": iso_millis(when),
        "requestContext": {
            "requestId": event.request_id,
            "functionArn": event.ref.arn(event.ref.qualifier or LATEST),
            "condition": outcome.condition.value,
            "approximateInvokeCount": outcome.invoke_count,
        },
        "requestPayload": _json_or_text(event.payload),
    }
    # A function blocked by zero reserved concurrency never ran: AWS's record has no response
    # (recorded: TestLambdaConcurrency::test_reserved_concurrency_async_queue).
    if response is not None and outcome.condition is not Condition.ZERO_RESERVED_CONCURRENCY:
        context: dict[str, Any] = {"statusCode": 200, "executedVersion": response.executed_version}
        if response.function_error:
            context["functionError"] = response.function_error
        record["responseContext"] = context
        record["responsePayload"] = _json_or_text(response.payload)
    return record


def _arn_parts(arn: str) -> tuple[str, str, str, str]:
    """(service, region, account, resource) of an ARN; empty strings for what is missing."""
    parts = arn.split(":", 5) + [""] * 6
    return parts[2], parts[3], parts[4], parts[5]


class Destinations:
    """Sends the outcome of finished Event invocations to their destinations and DLQs.

    ``endpoint_url`` is this server's own; ``functions`` gives the dead-letter configuration and
    the reserved concurrency (``blocked``)."""

    def __init__(self, functions: FunctionRegistry, endpoint_url: str, region: str) -> None:
        self._functions = functions
        self._endpoint_url = endpoint_url
        self._region = region
        self._session = botocore.session.Session()
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    def blocked(self, ref: FunctionRef) -> bool:
        """Whether the function's reserved concurrency is 0: throttles that never end."""
        record = self._functions.get(ref.region, ref.name)
        return record is not None and record.reserved_concurrency == 0

    async def deliver(self, outcome: Outcome) -> None:
        """Send the record to the destination of the outcome and the event to the DLQ on failure.
        Never raises: a failed delivery is logged."""
        sends: list[tuple[str, Callable[[], None]]] = []
        success = outcome.condition is Condition.SUCCESS
        part = ((outcome.config.get("DestinationConfig") or {}).get("OnSuccess" if success else "OnFailure")) or {}
        if part.get("Destination"):
            target = str(part["Destination"])
            record = invocation_record(outcome)
            sends.append((target, lambda: self._send_record(target, record, success, outcome)))
        if not success:
            dlq = self._dead_letter_arn(outcome)
            if dlq:
                sends.append((dlq, lambda: self._send_dead_letter(dlq, outcome)))
        for target, send in sends:
            try:
                await asyncio.to_thread(send)
            except Exception as exc:  # botocore's errors, sockets: logged, the event is finished anyway
                log.warning("event %s: delivery to %s failed: %s", outcome.event.request_id, target, exc)
            else:
                log.info("event %s: %s sent to %s", outcome.event.request_id, outcome.condition.value, target)

    # -- targets (in a worker thread) ---------------------------------------------------------

    def _client(self, service: str, region: str) -> Any:
        with self._lock:
            client = self._clients.get((service, region))
            if client is None:
                client = self._session.create_client(
                    service,
                    region_name=region or self._region,
                    endpoint_url=self._endpoint_url,
                    aws_access_key_id="test",
                    aws_secret_access_key="test",
                    config=Config(connect_timeout=5, read_timeout=30, retries={"total_max_attempts": 1}),
                )
                if service == "lambda":  # the invocation journal's trigger of what it invokes
                    client.meta.events.register("before-sign.lambda.Invoke", _destination_header)
                self._clients[(service, region)] = client
            return client

    def _send_record(self, target: str, record: dict[str, Any], success: bool, outcome: Outcome) -> None:
        service, region, account, resource = _arn_parts(target)
        body = json.dumps(record)
        if service == "sqs":
            self._client("sqs", region).send_message(QueueUrl=self._queue_url(account, resource), MessageBody=body)
        elif service == "sns":
            self._client("sns", region).publish(TopicArn=target, Message=body)
        elif service == "lambda":
            self._client("lambda", region).invoke(FunctionName=target, InvocationType="Event", Payload=body.encode())
        elif service == "events":
            bus = resource.split("/", 1)[1] if "/" in resource else resource
            entry = {
                "EventBusName": bus,
                "Source": "lambda",
                "DetailType": _DETAIL_TYPES[success],
                "Detail": body,
                "Resources": [target, record["requestContext"]["functionArn"]],
            }
            answer = self._client("events", region).put_events(Entries=[entry])
            if answer.get("FailedEntryCount"):
                raise RuntimeError(f"PutEvents refused the record: {answer.get('Entries')}")
        else:
            raise ValueError(f"{service or target!r} cannot be a destination")

    def _dead_letter_arn(self, outcome: Outcome) -> str | None:
        ref = outcome.event.ref
        record = self._functions.get(ref.region, ref.name)
        if record is None:
            return None
        executed = outcome.response.executed_version if outcome.response is not None else None
        if executed is not None:
            version = record.latest if executed == LATEST else record.versions.get(executed)
        else:
            resolved = record.resolve(ref.qualifier)
            version = resolved[0] if resolved is not None else None
        if version is None:
            return None
        target = (version.config.get("DeadLetterConfig") or {}).get("TargetArn")
        return str(target) if target else None

    def _send_dead_letter(self, target: str, outcome: Outcome) -> None:
        response = outcome.response
        code, message = "429", outcome.condition.value  # never ran: throttled until it was given up
        if response is not None and outcome.condition is not Condition.ZERO_RESERVED_CONCURRENCY:
            code = "200"  # a function error is answered with status 200
            error = _json_or_text(response.payload)
            message = str(error.get("errorMessage", "")) if isinstance(error, dict) else str(error or "")
        attributes = {
            "RequestID": {"DataType": "String", "StringValue": outcome.event.request_id},
            "ErrorCode": {"DataType": "Number", "StringValue": code},
            "ErrorMessage": {"DataType": "String", "StringValue": message[:_ERROR_MESSAGE_LIMIT] or "Unhandled"},
        }
        body = outcome.event.payload.decode("utf-8", "replace")
        service, region, account, resource = _arn_parts(target)
        if service == "sqs":
            self._client("sqs", region).send_message(
                QueueUrl=self._queue_url(account, resource), MessageBody=body, MessageAttributes=attributes
            )
        elif service == "sns":
            self._client("sns", region).publish(TopicArn=target, Message=body, MessageAttributes=attributes)
        else:
            raise ValueError(f"{service or target!r} cannot be a dead-letter queue")

    def _queue_url(self, account: str, name: str) -> str:
        return f"{self._endpoint_url}/{account}/{name}"


def _destination_header(request: Any, **_: Any) -> None:
    request.headers[TRIGGER_HEADER] = "destination"
