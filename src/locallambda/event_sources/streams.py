"""The stream poller of one mapping (Kinesis, DynamoDB Streams): each shard in order.

AWS's behaviour ("Using AWS Lambda with Amazon Kinesis" and "... with Amazon DynamoDB", Lambda
developer guide; the AWS-recorded answers of LocalStack's parity snapshots):
- a shard is read from its checkpoint (kept across restarts and reconfigurations) or
  ``StartingPosition``; batches of up to ``BatchSize`` records, gathered for up to
  ``MaximumBatchingWindowInSeconds``, and of at most 6 MB ("until it has gathered a full batch,
  the batching window expires, or the batch reaches the payload limit of 6 MB");
- a failed batch is retried, in order, blocking the shard, until it succeeds, its retries
  (``MaximumRetryAttempts``) are used up or its records are older than
  ``MaximumRecordAgeInSeconds`` (-1: forever); retries back off (AWS-recorded: eight
  invocations in the minute before a record expired). A batch that did not reach the function
  (throttled, the function missing or not active) is retried until its records expire, without
  counting: "This doesn't apply to service errors or throttles where the batch didn't reach the
  function";
- ``BisectBatchOnFunctionError`` splits a batch that failed with a function error in two, and
  "Splitting a batch does not count towards the retry quota";
- discarded records go to ``DestinationConfig.OnFailure`` (SQS or SNS) as AWS's invocation
  record with ``KinesisBatchInfo``/``DDBStreamBatchInfo``; a record past its maximum age has no
  ``responseContext`` (AWS-recorded, ``test_kinesis_maximum_record_age_exceeded``);
- ``ReportBatchItemFailures`` (``responses.failed_items``): the checkpoint moves to the lowest
  reported sequence number and the retry starts there;
- ``ParallelizationFactor``: up to that many batches of one shard at once, the records of one
  key (partition key, item key) always in the same one, in order;
- ``TumblingWindowInSeconds`` (``windows.py``): records grouped by windows of arrival time, the
  function's ``state`` answer passed to the next invocation of the window, a last invocation with
  ``isFinalInvokeForWindow`` when it ends;
- records that match no filter are skipped (the checkpoint moves past them).
Resharding is not followed: the shards are those listed when the poller starts.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from locallambda.event_sources.clients import Clients, SourceClosed, region_of
from locallambda.event_sources.filtering import Filter
from locallambda.event_sources.responses import ALL_FAILED, failed_items
from locallambda.event_sources.sqs import Invoke, queue_url_of
from locallambda.event_sources.stream_sources import DynamoDBSource, KinesisSource, StreamSource
from locallambda.event_sources.windows import STATE_LIMIT, Window, WindowState
from locallambda.model.spec import InvocationResult
from locallambda.store.documents import DocumentStore
from locallambda.store.functions import Registry

__all__ = ["Checkpoints", "StreamPoller", "dynamodb_source", "kinesis_source"]

log = logging.getLogger(__name__)

_POLL_INTERVAL = 0.25  # seconds between reads of an idle shard (AWS: Kinesis once a second, DynamoDB four times)
_RETRY_BASE = 0.25  # the first retry's delay, doubled at each retry up to _RETRY_MAX
_RETRY_MAX = 8.0
_READ_ERROR_MAX = 30.0  # the longest wait before a shard is read again after read errors
_PAYLOAD_LIMIT = 6 * 1024 * 1024  # a synchronous invocation's request limit
_ENVELOPE = len('{"Records": []}')
_READ_LIMIT = 10_000  # records one read may return (Kinesis's GetRecords limit)


def kinesis_source(mapping: dict[str, Any], clients: Clients, role: str | None) -> StreamSource:
    return KinesisSource(mapping, clients, role)


def dynamodb_source(mapping: dict[str, Any], clients: Clients) -> StreamSource:
    return DynamoDBSource(mapping, clients)


class Checkpoints:
    """The last processed sequence number (and tumbling-window state) of each mapping's shard."""

    def __init__(self, store: DocumentStore) -> None:
        self._registry = Registry(store, "esm_checkpoint")

    def get(self, mapping: str, shard: str) -> dict[str, Any]:
        return dict(self._registry.get(f"{mapping}/{shard}") or {})

    def put(self, mapping: str, shard: str, doc: dict[str, Any]) -> None:
        self._registry.put(f"{mapping}/{shard}", doc)


def _now_iso() -> str:
    moment = datetime.datetime.now(datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class StreamPoller:
    """Polls every shard of one stream for one mapping until cancelled."""

    def __init__(
        self,
        mapping: dict[str, Any],
        source: StreamSource,
        clients: Clients,
        invoke: Invoke,
        report: Callable[[str, str], None],
        checkpoints: Checkpoints,
    ) -> None:
        self.uuid = str(mapping["UUID"])
        self.function_arn = str(mapping["FunctionArn"])
        self.source = source
        self.clients = clients
        self.invoke = invoke
        self.report = report
        self.checkpoints = checkpoints
        self.batch_size = int(mapping.get("BatchSize") or 100)
        self.window = float(mapping.get("MaximumBatchingWindowInSeconds") or 0)
        self.max_retries = int(mapping.get("MaximumRetryAttempts", -1))
        self.max_age = int(mapping.get("MaximumRecordAgeInSeconds", -1))
        self.bisect = bool(mapping.get("BisectBatchOnFunctionError"))
        self.parallel = max(1, int(mapping.get("ParallelizationFactor") or 1))
        tumbling = int(mapping.get("TumblingWindowInSeconds") or 0)
        self.windows = WindowState(tumbling, source) if tumbling else None
        self.report_failures = "ReportBatchItemFailures" in (mapping.get("FunctionResponseTypes") or [])
        self.on_failure = ((mapping.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
        self.filter = Filter(mapping.get("FilterCriteria"), str(mapping["_Kind"]))

    async def run(self) -> None:
        while True:
            try:
                shards = await self.source.shards()
                break
            except SourceClosed:
                return
            except (ClientError, BotoCoreError) as exc:
                self.report(self.uuid, "PROBLEM: Function call failed")
                log.warning("event source mapping %s: listing shards failed: %s", self.uuid, exc)
                await asyncio.sleep(1.0)
        async with asyncio.TaskGroup() as group:
            for shard in shards:
                group.create_task(self._shard(str(shard["ShardId"])))

    # -- one shard --------------------------------------------------------------------------

    async def _shard(self, shard_id: str) -> None:
        """Read the shard until it ends; after a read error, again from its checkpoint."""
        errors = 0
        while True:
            state = self.checkpoints.get(self.uuid, shard_id)
            began = time.monotonic()
            try:
                await self._read(shard_id, state)
                return
            except SourceClosed:
                return
            except (ClientError, BotoCoreError) as exc:
                # an expired iterator after a long retry, the stream gone for a moment: read again
                errors = 1 if time.monotonic() - began > _READ_ERROR_MAX else errors + 1
                (log.warning if errors == 1 else log.debug)(
                    "event source mapping %s: reading shard %s failed: %s", self.uuid, shard_id, exc
                )
                await asyncio.sleep(min(_READ_ERROR_MAX, 0.5 * 2**errors))

    async def _read(self, shard_id: str, state: dict[str, Any]) -> None:
        iterator: str | None = await self.source.iterator(shard_id, state.get("seq"))
        # up to ParallelizationFactor batches are read at once, and delivered side by side
        limit = min(_READ_LIMIT, self.batch_size * self.parallel)
        buffer: list[dict[str, Any]] = []
        size = 0  # of the buffer's records as an event
        deadline = 0.0
        while iterator is not None:
            records, iterator = await self.source.records(iterator, limit - len(buffer), shard_id)
            if records and not buffer:
                deadline = time.monotonic() + self.window
            buffer.extend(records)
            size += sum(_size(r) for r in records)
            full = len(buffer) >= limit or size >= _PAYLOAD_LIMIT * self.parallel
            if buffer and (full or time.monotonic() >= deadline or iterator is None):
                await self._round(shard_id, buffer, state)
                buffer, size = [], 0
            elif not buffer and self.windows is not None and self.windows.over(state):
                # nothing more of the window to come (records of it held by the batching window
                # are delivered first)
                await self._close_window(shard_id, state, self.windows)
                self._save(shard_id, state, None)
            if not records:
                await asyncio.sleep(_POLL_INTERVAL)

    def _save(self, shard_id: str, state: dict[str, Any], last: dict[str, Any] | None) -> None:
        if last is not None:
            state["seq"] = self.source.sequence(last)
        self.checkpoints.put(self.uuid, shard_id, state)

    async def _round(self, shard_id: str, records: list[dict[str, Any]], state: dict[str, Any]) -> None:
        """Deliver what one read gathered, then checkpoint past it."""
        kept = [r for r in records if self.filter.keeps(r)]
        if self.windows is not None:
            await self._windowed(shard_id, kept, state, self.windows)
        elif kept:
            try:
                async with asyncio.TaskGroup() as lanes:
                    for lane in self._lanes(kept):
                        lanes.create_task(self._lane(shard_id, lane))
            except* SourceClosed:
                raise SourceClosed() from None
        self._save(shard_id, state, records[-1])

    def _lanes(self, records: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
        """The records in up to ``ParallelizationFactor`` lanes: all of one key in the same lane,
        in order; the keys dealt to the lanes in the order they first appear."""
        lanes: list[list[dict[str, Any]]] = [[] for _ in range(self.parallel)]
        lane_of: dict[str, int] = {}
        for record in records:
            index = lane_of.setdefault(self.source.key(record), len(lane_of) % self.parallel)
            lanes[index].append(record)
        return [lane for lane in lanes if lane]

    async def _lane(self, shard_id: str, records: list[dict[str, Any]]) -> None:
        for batch in self._batches(records):
            await self._deliver(shard_id, batch)

    def _batches(self, records: list[dict[str, Any]], reserved: int = 0) -> list[list[dict[str, Any]]]:
        """``records`` in batches of at most ``BatchSize`` records and 6 MB of event."""
        out: list[list[dict[str, Any]]] = []
        batch: list[dict[str, Any]] = []
        size = _ENVELOPE + reserved
        for record in records:
            grows = _size(record)
            if batch and (len(batch) >= self.batch_size or size + grows > _PAYLOAD_LIMIT):
                out.append(batch)
                batch, size = [], _ENVELOPE + reserved
            batch.append(record)
            size += grows
        if batch:
            out.append(batch)
        return out

    # -- tumbling windows -------------------------------------------------------------------

    async def _windowed(
        self, shard_id: str, records: list[dict[str, Any]], state: dict[str, Any], windows: WindowState
    ) -> None:
        """Records into their windows, in order: a window ends (its final invocation) before the
        first record of a later one is delivered."""
        pending: list[dict[str, Any]] = []
        for record in records:
            if windows.opens_later(state, record):
                await self._aggregate(shard_id, pending, state, windows)
                pending = []
                await self._close_window(shard_id, state, windows)
            windows.open(state, record)
            pending.append(record)
        await self._aggregate(shard_id, pending, state, windows)

    async def _aggregate(
        self, shard_id: str, records: list[dict[str, Any]], state: dict[str, Any], windows: WindowState
    ) -> None:
        if not records:
            return
        window = windows.current(state)
        # room for the window's members and a state of up to its limit
        for batch in self._batches(records, reserved=STATE_LIMIT + 1024):
            await self._deliver(shard_id, batch, window)
            if window.too_big():
                # "Your state can be a maximum of 1 MB per shard. If it exceeds that size, Lambda
                # terminates the window early" (its state ends; the window goes on, afresh).
                await self._deliver(shard_id, [], window.closing(early=True))
                window.state = {}
        windows.keep(state, window)

    async def _close_window(self, shard_id: str, state: dict[str, Any], windows: WindowState) -> None:
        window = windows.current(state)
        windows.drop(state)
        await self._deliver(shard_id, [], window.closing(early=False))

    # -- delivering one batch ---------------------------------------------------------------

    async def _deliver(
        self, shard_id: str, records: list[dict[str, Any]], window: Window | None = None, retries: int = 0
    ) -> None:
        """Invoke until the batch succeeds or is discarded (``retries``: used up before, by the
        batch this one was split from). With a window, each success updates its state."""
        attempts = 0  # invocations of this batch that reached the function
        stalls = 0  # invocations that did not
        result: InvocationResult | None = None
        final = window is not None and window.final
        while True:
            records, expired = self._split_expired(records)
            if expired:
                await self._discard(shard_id, expired, "RecordAgeExceeded", max(1, attempts), result)
            if not records and not final:
                return
            payload = json.dumps({"Records": records, **(window.event(shard_id) if window else {})}).encode()
            try:
                result = await self.invoke(self.function_arn, payload)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # it did not reach the function: retried until the records expire
                log.info("event source mapping %s: invoking %s failed: %s", self.uuid, self.function_arn, exc)
                self.report(self.uuid, "PROBLEM: Function call failed")
                stalls += 1
                await self._pause(_delay(stalls), records)
                continue
            attempts += 1
            answer = _answer(result)
            failed_from = self._first_failure(result, answer, records, window)
            if failed_from is None:
                self.report(self.uuid, "OK")
                if window is not None and not final:
                    window.state = answer["state"] if isinstance(answer["state"], dict) else {}
                return
            self.report(self.uuid, "PROBLEM: Function call failed")
            retry = records[failed_from:]
            if self.bisect and len(retry) > 1 and result.function_error:
                half = len(retry) // 2
                await self._deliver(shard_id, retry[:half], window, retries)
                await self._deliver(shard_id, retry[half:], window, retries)
                return
            if self.max_retries != -1 and retries >= self.max_retries:
                await self._discard(shard_id, retry, "RetryAttemptsExhausted", attempts, result)
                return
            retries += 1
            records = retry
            await self._pause(_delay(attempts), records)

    def _split_expired(self, records: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """(records still young enough, records past ``MaximumRecordAgeInSeconds``)."""
        if self.max_age == -1 or not records:
            return records, []
        now = time.time()
        young = [r for r in records if now - self.source.arrival(r) <= self.max_age]
        old = [r for r in records if now - self.source.arrival(r) > self.max_age]
        return young, old

    async def _pause(self, delay: float, records: list[dict[str, Any]]) -> None:
        """Wait before a retry, no longer than until the oldest record expires."""
        if self.max_age != -1 and records:
            expires = min(self.source.arrival(r) for r in records) + self.max_age
            delay = min(delay, max(0.0, expires - time.time()) + 0.05)
        await asyncio.sleep(delay)

    def _first_failure(
        self, result: InvocationResult, answer: Any, records: list[dict[str, Any]], window: Window | None
    ) -> int | None:
        """None: success; else the index of the first record to retry from."""
        if result.function_error:
            return 0
        if window is not None and not window.final and not (isinstance(answer, dict) and "state" in answer):
            # "If the response does not contain a state property, Lambda considers this a failed
            # invocation" (with-kinesis, "Time windows").
            return 0
        if not self.report_failures or not records:
            return None
        sequences = [self.source.sequence(r) for r in records]
        failed = failed_items(result.payload, set(sequences))
        if not failed:
            return None
        if failed is ALL_FAILED:
            return 0
        # "Lambda uses the record with the lowest sequence number as the checkpoint"
        return min(sequences.index(s) for s in failed)

    async def _discard(
        self,
        shard_id: str,
        records: list[dict[str, Any]],
        condition: str,
        attempts: int,
        result: InvocationResult | None,
    ) -> None:
        if not self.on_failure or not records:
            return
        message: dict[str, Any] = {
            "requestContext": {
                "requestId": result.request_id if result else str(uuid.uuid4()),
                "functionArn": self.function_arn,
                "condition": condition,
                "approximateInvokeCount": attempts,
            },
        }
        if condition != "RecordAgeExceeded":  # recorded: an expired record has no responseContext
            message["responseContext"] = {
                "statusCode": 200,
                "executedVersion": result.executed_version if result else "$LATEST",
                "functionError": result.function_error if result else None,
            }
        message["version"] = "1.0"
        message["timestamp"] = _now_iso()
        message[self.source.batch_info_key] = self.source.batch_info(shard_id, records)
        await send_failure(self.clients, str(self.on_failure), message)


def _size(record: dict[str, Any]) -> int:
    """What a record adds to an event's JSON."""
    return len(json.dumps(record)) + 2


def _delay(count: int) -> float:
    """The wait before the next try after ``count`` failed ones: doubling, up to a limit."""
    return float(min(_RETRY_MAX, _RETRY_BASE * 2 ** (count - 1)))


def _answer(result: InvocationResult) -> Any:
    try:
        return json.loads(result.payload) if result.payload.strip() else None
    except ValueError:
        return None


async def send_failure(clients: Clients, destination: str, message: dict[str, Any]) -> None:
    """An on-failure record to an SQS queue or SNS topic (the destinations AWS allows for streams)."""
    body = json.dumps(message)
    region = region_of(destination, clients.default_region)
    service = destination.split(":")[2] if destination.count(":") >= 5 else ""
    try:
        if service == "sqs":
            sqs = clients.client("sqs", region)
            url = queue_url_of(destination, clients.endpoint_url)
            await clients.call(sqs.send_message, QueueUrl=url, MessageBody=body)
        elif service == "sns":
            sns = clients.client("sns", region)
            await clients.call(sns.publish, TopicArn=destination, Message=body)
        else:
            log.warning("on-failure destination %s is not supported here", destination)
    except (ClientError, BotoCoreError) as exc:
        log.warning("sending to the on-failure destination %s failed: %s", destination, exc)
