"""The embedded SQS as this server's own SQS pollers read it: moto's backend called in the
poller's thread, without HTTP.

Through the API, one ReceiveMessage of 10 messages cost the server ~3 ms of botocore (sign,
serialize, parse), the HTTP round trip, the edge and moto's Flask dispatch, around 0.3 ms of moto's
SQS model; a DeleteMessageBatch the same again. An SQS mapping reading a backlog spends most of
its time there, so event source mappings on the embedded SQS call the model directly: the same
``SQSBackend.receive_message`` and ``delete_message_batch`` that moto's responses call, so
visibility timeouts, receive counts, redrive to the dead-letter queue, FIFO groups and long polls
are moto's (as patched by ``sqs_speed``). What the API would answer is built here as moto's
``SQSResponse.receive_message`` builds it (every system attribute and message attribute asked,
as the pollers ask for ``All``), in boto3's shape; moto's errors become botocore's
``ClientError`` with the code and message the API would give. With persistence on, each call
that changes the queue is followed by the snapshot the API path would make
(``Neighbours.changed_directly``). Pollers of a queue at another endpoint
(``LOCALLAMBDA_EVENT_SOURCE_ENDPOINT``) use boto3 as before.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from locallambda.neighbours.embedded import Neighbours

__all__ = ["EmbeddedSqs"]


class EmbeddedSqs:
    """ReceiveMessage and DeleteMessageBatch on the embedded SQS (blocking: call from a worker
    thread). Queues are named by ARN; the account is the server's, as for the API path."""

    def __init__(self, neighbours: Neighbours, account_id: str) -> None:
        self._neighbours = neighbours
        self._account_id = account_id

    def _queue(self, queue_arn: str, operation: str) -> tuple[Any, str]:
        if not self._neighbours.serves("sqs"):
            raise ClientError(
                {"Error": {"Code": "InternalFailure", "Message": "Service 'sqs' is not enabled."}}, operation
            )
        self._neighbours.load()
        from moto.sqs.models import sqs_backends

        parts = queue_arn.split(":")
        return sqs_backends[self._account_id][parts[3]], parts[5]

    def receive(self, queue_arn: str, count: int, wait_seconds: int) -> list[dict[str, Any]]:
        """Up to ``count`` (1-10) messages, waiting up to ``wait_seconds`` for the first, with the
        queue's visibility timeout; as ReceiveMessage with every attribute asked for."""
        from moto.core.exceptions import ServiceException

        backend, name = self._queue(queue_arn, "ReceiveMessage")
        try:
            queue = backend.get_queue(name)
            messages = backend.receive_message(name, count, wait_seconds, int(queue.visibility_timeout), ["All"])
        except ServiceException as exc:
            raise _client_error(exc, "ReceiveMessage") from None
        self._neighbours.changed_directly("sqs", "AmazonSQS.ReceiveMessage")
        return [_message(m) for m in messages]

    def delete(self, queue_arn: str, receipt_handles: list[str]) -> list[str]:
        """DeleteMessageBatch of up to 10 receipt handles; the handles that failed."""
        from moto.core.exceptions import ServiceException

        backend, name = self._queue(queue_arn, "DeleteMessageBatch")
        entries = [{"Id": str(n), "ReceiptHandle": handle} for n, handle in enumerate(receipt_handles)]
        try:
            _, errors = backend.delete_message_batch(name, entries)
        except ServiceException as exc:
            raise _client_error(exc, "DeleteMessageBatch") from None
        self._neighbours.changed_directly("sqs", "AmazonSQS.DeleteMessageBatch")
        return [receipt_handles[int(error["Id"])] for error in errors]


def _client_error(exc: Any, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": str(exc.code), "Message": str(exc.message)}}, operation)


def _message(message: Any) -> dict[str, Any]:
    """One message as boto3 returns it from ReceiveMessage (``AttributeNames=["All"]``,
    ``MessageAttributeNames=["All"]``), built as moto's ``SQSResponse.receive_message`` does."""
    out: dict[str, Any] = {
        "MessageId": message.id,
        "ReceiptHandle": message.receipt_handle,
        "MD5OfBody": message.body_md5,
        "Body": message.body,
    }
    if message.message_attributes:
        out["MessageAttributes"] = message.message_attributes
        out["MD5OfMessageAttributes"] = message.attribute_md5
    attributes = {
        "SenderId": message.sender_id,
        "SentTimestamp": str(message.sent_timestamp),
        "ApproximateReceiveCount": str(message.approximate_receive_count),
        "ApproximateFirstReceiveTimestamp": str(message.approximate_first_receive_timestamp),
    }
    if message.deduplication_id is not None:
        attributes["MessageDeduplicationId"] = message.deduplication_id
    if message.group_id is not None:
        attributes["MessageGroupId"] = message.group_id
    trace = (message.system_attributes or {}).get("AWSTraceHeader")
    if trace and trace.get("StringValue"):
        attributes["AWSTraceHeader"] = trace["StringValue"]
    if message.sequence_number is not None:
        attributes["SequenceNumber"] = message.sequence_number
    out["Attributes"] = attributes
    return out
