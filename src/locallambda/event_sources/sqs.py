"""The SQS poller of one mapping: receive, invoke synchronously, delete what succeeded.

AWS's behaviour ("Using Lambda with Amazon SQS", Lambda developer guide):
- batches of up to ``BatchSize`` messages, gathered for up to ``MaximumBatchingWindowInSeconds``
  (0: what one receive returns); long polling, so an idle queue delivers within milliseconds;
- on success the batch is deleted (DeleteMessageBatch); on a function error nothing is deleted and
  the messages become visible again after the queue's visibility timeout; the queue's redrive
  policy moves a message to its dead-letter queue once received ``maxReceiveCount`` times (the
  queue does that on receive);
- ``ReportBatchItemFailures``: only the successes are deleted (``responses.failed_items``);
- records filtered out by FilterCriteria are deleted without invoking;
- FIFO queues: the queue hands out one batch per message group at a time, so order per group
  holds however many batches are in flight;
- concurrency scales out while receives come back full, up to ``ScalingConfig.MaximumConcurrency``
  (the function's own concurrency limits it too: throttled batches are not deleted).

Scaling here differs in one way: AWS adds concurrent batches at its pace for as long as the queue
has a backlog, on machines of its own; here every batch in flight is an environment on the same
few cores, so growth goes on only while it pays: each second the batches finished are counted,
and after a step of growth that did not raise that count by a tenth, growth holds (probing once
more every ``_PROBE_AFTER_HOLD`` seconds). A function that waits on I/O keeps scaling at AWS's
pace; one that is CPU-bound stops where more environments would only share the cores (and pay
their cold starts).
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from locallambda.event_sources.clients import Clients, SourceClosed, region_of
from locallambda.event_sources.filtering import Filter
from locallambda.event_sources.responses import ALL_FAILED, failed_items
from locallambda.model.spec import InvocationResult

__all__ = ["DirectQueues", "Invoke", "SqsPoller", "queue_url_of", "sqs_record"]

log = logging.getLogger(__name__)

Invoke = Callable[[str, bytes], Awaitable[InvocationResult]]


class DirectQueues(Protocol):
    """The embedded SQS read without HTTP (``neighbours.sqs_direct``): blocking calls answering
    as ReceiveMessage (every attribute asked) and DeleteMessageBatch would, errors as botocore's
    ``ClientError``."""

    def receive(self, queue_arn: str, count: int, wait_seconds: int) -> list[dict[str, Any]]: ...

    def delete(self, queue_arn: str, receipt_handles: list[str]) -> list[str]: ...


_MAX_RECEIVE = 10  # ReceiveMessage's limit per call
_LONG_POLL = 20  # seconds, SQS's maximum
_PAYLOAD_LIMIT = 6 * 1024 * 1024  # a synchronous invocation's request limit
_DEFAULT_CONCURRENCY = 1000  # AWS scales an SQS mapping up to 1,250 concurrent invocations
_BACKOFF = 1.0
# AWS starts an SQS mapping with five concurrent batches and adds up to 300 a minute while the
# queue has a backlog ("Scaling behaviour", Using Lambda with Amazon SQS).
_INITIAL_CONCURRENCY = 5
_GROWTH_STEP = 5  # 300 a minute, decided once a second
_MEASURE_S = 1.0
_PAYS = 1.1  # a step pays when the batches finished per second rose by a tenth
_PROBE_AFTER_HOLD = 10.0


def queue_url_of(arn: str, endpoint_url: str) -> str:
    parts = arn.split(":")
    return f"{endpoint_url}/{parts[4]}/{parts[5]}"


def _attribute_values(attrs: dict[str, Any]) -> dict[str, Any]:
    """Message attributes as the Lambda event shows them (lower-camel members, list members)."""
    out: dict[str, Any] = {}
    for name, value in attrs.items():
        entry: dict[str, Any] = {}
        if "StringValue" in value:
            entry["stringValue"] = value["StringValue"]
        if "BinaryValue" in value:
            entry["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode()
        entry["stringListValues"] = list(value.get("StringListValues") or [])
        entry["binaryListValues"] = list(value.get("BinaryListValues") or [])
        entry["dataType"] = value.get("DataType", "String")
        out[name] = entry
    return out


_SYSTEM_ATTRIBUTES = (
    "ApproximateReceiveCount",
    "SentTimestamp",
    "SenderId",
    "ApproximateFirstReceiveTimestamp",
    "SequenceNumber",
    "MessageGroupId",
    "MessageDeduplicationId",
    "AWSTraceHeader",
    "DeadLetterQueueSourceArn",
)


def sqs_record(message: dict[str, Any], queue_arn: str) -> dict[str, Any]:
    """One message as a record of AWS's SQS event (the sample event of the developer guide)."""
    attrs = message.get("Attributes") or {}
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message.get("Body", ""),
        "attributes": {k: attrs[k] for k in _SYSTEM_ATTRIBUTES if k in attrs},
        "messageAttributes": _attribute_values(message.get("MessageAttributes") or {}),
        "md5OfMessageAttributes": message.get("MD5OfMessageAttributes"),
        "md5OfBody": message.get("MD5OfBody"),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": queue_arn.split(":")[3],
    }


class SqsPoller:
    """Polls one queue for one mapping until cancelled."""

    def __init__(
        self,
        mapping: dict[str, Any],
        clients: Clients,
        invoke: Invoke,
        wait_seconds: int,
        direct: DirectQueues | None = None,
    ) -> None:
        self.uuid = str(mapping["UUID"])
        self.queue_arn = str(mapping["EventSourceArn"])
        self.function_arn = str(mapping["FunctionArn"])
        self.batch_size = int(mapping.get("BatchSize") or 10)
        self.window = float(mapping.get("MaximumBatchingWindowInSeconds") or 0)
        self.report_failures = "ReportBatchItemFailures" in (mapping.get("FunctionResponseTypes") or [])
        scaling = mapping.get("ScalingConfig") or {}
        self.max_concurrency = int(scaling.get("MaximumConcurrency") or _DEFAULT_CONCURRENCY)
        self.filter = Filter(mapping.get("FilterCriteria"), "sqs")
        self.sqs = clients.client("sqs", region_of(self.queue_arn, clients.default_region))
        self.clients = clients
        self.direct = direct  # the embedded SQS, read in process; None: through the API
        self.invoke = invoke
        self.wait_seconds = max(0, min(_LONG_POLL, wait_seconds))
        if self.queue_arn.endswith(".fifo"):
            # moto's SQS (unpatched, as at another endpoint) decides which message groups are
            # busy once per receive call, so a long poll begun while a group's batch was in
            # flight would not see that group free up until it ends: short polls keep FIFO
            # groups moving.
            self.wait_seconds = min(self.wait_seconds, 1)
        self.queue_url = queue_url_of(self.queue_arn, clients.endpoint_url)
        self._allowed = min(_INITIAL_CONCURRENCY, self.max_concurrency)
        self._finished = 0  # batches done
        self._measured_at = 0.0  # when the last second of finished batches was counted
        self._finished_then = 0
        self._rate_before = 0.0  # batches per second before the last step of growth
        self._grew = False  # whether the last decision was a step of growth
        self._held_at: float | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._freed = asyncio.Event()  # set when a batch is done

    async def run(self) -> None:
        """One receiver gathers batches (receives are serialized: the embedded SQS once marked
        messages received without a lock, and one gatherer fills whole batches where several
        would split the backlog between them); each batch is processed in a task of its own,
        up to the allowed number at once, so the next batch is gathered while others run."""
        how = "in process" if self.direct is not None else f"through the SQS API at {self.clients.endpoint_url}"
        log.info("event source mapping %s reads %s %s", self.uuid, self.queue_arn, how)
        try:
            while True:
                await self._wait_for_room()
                try:
                    messages = await self._gather()
                except SourceClosed:
                    return
                except (ClientError, BotoCoreError) as exc:
                    log.warning("event source mapping %s: receiving from %s failed: %s", self.uuid, self.queue_arn, exc)
                    await asyncio.sleep(_BACKOFF)
                    continue
                if not messages:
                    continue
                if len(messages) >= min(self.batch_size, _MAX_RECEIVE):
                    self._scale_out()
                task = asyncio.get_running_loop().create_task(self._process(messages))
                self._tasks.add(task)
                task.add_done_callback(self._batch_done)
        finally:
            for task in list(self._tasks):
                task.cancel()

    async def _wait_for_room(self) -> None:
        while len(self._tasks) >= self._allowed:
            self._freed.clear()
            await self._freed.wait()

    def _batch_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._finished += 1
        self._freed.set()
        if not task.cancelled() and task.exception() is not None:
            log.error("event source mapping %s: a batch failed", self.uuid, exc_info=task.exception())

    def _scale_out(self) -> None:
        """Called while receives come back full: once a second, another step of concurrent
        batches when all allowed are in flight and the last step raised the rate of finished
        batches (module docstring), up to the maximum concurrency."""
        now = time.monotonic()
        if self._measured_at == 0.0:  # counted from the first finished batch (past the cold starts)
            if self._finished:
                self._measured_at, self._finished_then = now, self._finished
            return
        elapsed = now - self._measured_at
        if elapsed < _MEASURE_S:
            return
        rate = (self._finished - self._finished_then) / elapsed
        self._measured_at, self._finished_then = now, self._finished
        saturated = len(self._tasks) + 1 >= self._allowed  # with the batch about to start
        if not saturated or self._allowed >= self.max_concurrency:
            return
        if self._grew and rate < self._rate_before * _PAYS:
            self._grew, self._held_at = False, now  # the last step did not pay: hold
            return
        if self._held_at is not None and now - self._held_at < _PROBE_AFTER_HOLD:
            return
        self._held_at = None
        self._rate_before = rate
        self._allowed = min(self.max_concurrency, self._allowed + _GROWTH_STEP)
        self._grew = True

    async def _receive(self, count: int, wait: int) -> list[dict[str, Any]]:
        count = max(1, min(_MAX_RECEIVE, count))
        if self.direct is not None:
            return await self.clients.call(self.direct.receive, self.queue_arn, count, wait)
        answer = await self.clients.call(
            self.sqs.receive_message,
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=count,
            WaitTimeSeconds=wait,
            AttributeNames=["All"],
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        return list(answer.get("Messages") or [])

    async def _gather(self) -> list[dict[str, Any]]:
        """One batch: the first receive waits (long poll); then, with a batching window, more
        receives until the batch is full, the window closed, or the payload limit is near."""
        first = await self._receive(self.batch_size, self.wait_seconds)
        if not first or self.window <= 0:
            return first
        batch = first
        size = sum(len(m.get("Body", "")) for m in batch)
        deadline = time.monotonic() + self.window
        while len(batch) < self.batch_size and size < _PAYLOAD_LIMIT // 2:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            more = await self._receive(self.batch_size - len(batch), min(_LONG_POLL, max(1, int(left))))
            batch.extend(more)
            size += sum(len(m.get("Body", "")) for m in more)
            if not more and time.monotonic() >= deadline:
                break
        return batch

    async def _process(self, messages: list[dict[str, Any]]) -> None:
        records = [sqs_record(m, self.queue_arn) for m in messages]
        kept: list[dict[str, Any]] = []
        dropped: list[dict[str, Any]] = []
        for record in records:
            (kept if self.filter.keeps(record) else dropped).append(record)
        if dropped:  # AWS deletes messages that match no filter
            await self._delete(dropped)
        if not kept:
            return
        payload = json.dumps({"Records": kept}).encode()
        try:
            result = await self.invoke(self.function_arn, payload)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # not found, throttled, not active: the messages come back later
            log.info("event source mapping %s: invoking %s failed: %s", self.uuid, self.function_arn, exc)
            await asyncio.sleep(_BACKOFF)
            return
        if result.function_error:
            return  # visible again after the visibility timeout
        if self.report_failures:
            failed = failed_items(result.payload, {r["messageId"] for r in kept})
            if failed is ALL_FAILED:
                return
            kept = [r for r in kept if r["messageId"] not in failed]
        await self._delete(kept)

    async def _delete(self, records: list[dict[str, Any]]) -> None:
        for start in range(0, len(records), _MAX_RECEIVE):
            chunk = records[start : start + _MAX_RECEIVE]
            try:
                if self.direct is not None:
                    handles = [r["receiptHandle"] for r in chunk]
                    await self.clients.call(self.direct.delete, self.queue_arn, handles)
                    continue
                entries = [{"Id": str(n), "ReceiptHandle": r["receiptHandle"]} for n, r in enumerate(chunk)]
                await self.clients.call(self.sqs.delete_message_batch, QueueUrl=self.queue_url, Entries=entries)
            except (ClientError, BotoCoreError) as exc:
                log.warning("event source mapping %s: deleting from %s failed: %s", self.uuid, self.queue_arn, exc)
