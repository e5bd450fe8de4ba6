"""The stream poller of one mapping (Kinesis, DynamoDB Streams): each shard in order.

AWS's behaviour ("Using Lambda with Kinesis"/"with DynamoDB", Lambda developer guide):
- a shard is read from its checkpoint (kept here across restarts) or ``StartingPosition``;
  batches of up to ``BatchSize`` records, gathered for up to ``MaximumBatchingWindowInSeconds``;
- a failed batch is retried, in order, blocking the shard, until it succeeds,
  ``MaximumRetryAttempts`` retries were made or its records are older than
  ``MaximumRecordAgeInSeconds`` (-1: forever); ``BisectBatchOnFunctionError`` splits a failing
  batch in two before retrying; discarded batches go to ``DestinationConfig.OnFailure`` (SQS or
  SNS) as AWS's invocation record with ``KinesisBatchInfo``/``DDBStreamBatchInfo``;
- ``ReportBatchItemFailures``: the checkpoint moves to the first failed record, and the retry
  starts there;
- ``ParallelizationFactor``: up to 10 batches per shard at once, records of one partition key
  always in the same one, in order;
- ``TumblingWindowInSeconds``: records are grouped by windows of arrival time; the function's
  ``state`` answer is passed to the next invocation of the window; a last invocation with
  ``isFinalInvokeForWindow`` closes it;
- records that match no filter are skipped (the checkpoint moves past them).
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
from locallambda.model.spec import InvocationResult
from locallambda.store.documents import DocumentStore
from locallambda.store.functions import Registry

__all__ = ["Checkpoints", "StreamPoller", "dynamodb_source", "kinesis_source"]

log = logging.getLogger(__name__)

_POLL_INTERVAL = 0.1  # seconds between reads of an idle shard (AWS: about once a second)
_RETRY_BACKOFF = 0.2


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
        self.tumbling = int(mapping.get("TumblingWindowInSeconds") or 0)
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
        state = self.checkpoints.get(self.uuid, shard_id)
        try:
            iterator: str | None = await self.source.iterator(shard_id, state.get("seq"))
            buffer: list[dict[str, Any]] = []
            deadline = 0.0
            while iterator is not None:
                records, iterator = await self.source.records(iterator, self.batch_size - len(buffer), shard_id)
                if records and not buffer:
                    deadline = time.monotonic() + self.window
                buffer.extend(records)
                full = len(buffer) >= self.batch_size
                if buffer and (full or time.monotonic() >= deadline or iterator is None):
                    await self._batch(shard_id, buffer, state)
                    buffer = []
                elif self.tumbling and state.get("window") is not None:
                    await self._close_window_if_over(shard_id, state)
                if not records:
                    await asyncio.sleep(_POLL_INTERVAL)
        except SourceClosed:
            return
        except (ClientError, BotoCoreError) as exc:
            log.warning("event source mapping %s: reading shard %s failed: %s", self.uuid, shard_id, exc)

    def _save(self, shard_id: str, state: dict[str, Any], last: dict[str, Any] | None) -> None:
        if last is not None:
            state["seq"] = self.source.sequence(last)
        self.checkpoints.put(self.uuid, shard_id, state)

    async def _batch(self, shard_id: str, records: list[dict[str, Any]], state: dict[str, Any]) -> None:
        kept = [r for r in records if self.filter.keeps(r)]
        if self.tumbling:
            await self._windowed(shard_id, kept, state)
        elif kept:
            parts: dict[int, list[dict[str, Any]]] = {}
            for record in kept:
                parts.setdefault(self.source.partition(record, self.parallel), []).append(record)
            await asyncio.gather(*(self._deliver(shard_id, part, None) for part in parts.values()))
        self._save(shard_id, state, records[-1])

    # -- tumbling windows -------------------------------------------------------------------

    def _window_of(self, record: dict[str, Any]) -> float:
        return float(int(self.source.arrival(record) // self.tumbling) * self.tumbling)

    async def _windowed(self, shard_id: str, records: list[dict[str, Any]], state: dict[str, Any]) -> None:
        for record in records:
            start = self._window_of(record)
            window = state.get("window")
            if window is not None and window["start"] != start:
                await self._final(shard_id, state)
            state.setdefault("window", {"start": start, "state": {}, "records": []})
            state["window"]["records"].append(record)
        window = state.get("window")
        if window and window["records"]:
            batch, window["records"] = window["records"], []
            answer = await self._deliver(shard_id, batch, self._window_event(shard_id, window, final=False))
            if isinstance(answer, dict) and isinstance(answer.get("state"), dict):
                window["state"] = answer["state"]

    async def _close_window_if_over(self, shard_id: str, state: dict[str, Any]) -> None:
        if time.time() >= state["window"]["start"] + self.tumbling:
            await self._final(shard_id, state)
            self._save(shard_id, state, None)

    async def _final(self, shard_id: str, state: dict[str, Any]) -> None:
        window = state.pop("window")
        await self._deliver(shard_id, [], self._window_event(shard_id, window, final=True))

    def _window_event(self, shard_id: str, window: dict[str, Any], final: bool) -> dict[str, Any]:
        def iso(epoch: float) -> str:
            return datetime.datetime.fromtimestamp(epoch, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

        return {
            "window": {"start": iso(window["start"]), "end": iso(window["start"] + self.tumbling)},
            "state": window["state"],
            "shardId": shard_id,
            "eventSourceARN": self.source.arn,
            "isFinalInvokeForWindow": final,
            "isWindowTerminatedEarly": False,
        }

    # -- delivering one batch ---------------------------------------------------------------

    async def _deliver(self, shard_id: str, records: list[dict[str, Any]], extra: dict[str, Any] | None) -> Any:
        """Invoke until the batch succeeds or is discarded; the function's answer when it succeeded."""
        attempts = 0
        while True:
            if self.max_age != -1 and records:
                old = [r for r in records if time.time() - self.source.arrival(r) > self.max_age]
                if old:
                    await self._discard(shard_id, old, "RecordAgeExceeded", attempts, None)
                    records = [r for r in records if r not in old]
                    if not records:
                        return None
            attempts += 1
            payload = json.dumps({"Records": records, **(extra or {})}).encode()
            result: InvocationResult | None
            try:
                result = await self.invoke(self.function_arn, payload)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.info("event source mapping %s: invoking %s failed: %s", self.uuid, self.function_arn, exc)
                result = None
            failed_from = self._first_failure(result, records)
            if failed_from is None:
                self.report(self.uuid, "OK")
                return _answer(result)
            self.report(self.uuid, "PROBLEM: Function call failed")
            retry = records[failed_from:]
            if self.bisect and len(retry) > 1 and result is not None and result.function_error:
                half = len(retry) // 2
                await self._deliver(shard_id, retry[:half], extra)
                await self._deliver(shard_id, retry[half:], extra)
                return None
            if self.max_retries != -1 and attempts > self.max_retries:
                await self._discard(shard_id, retry, "RetryAttemptsExhausted", attempts, result)
                return None
            records = retry
            await asyncio.sleep(_RETRY_BACKOFF)

    def _first_failure(self, result: InvocationResult | None, records: list[dict[str, Any]]) -> int | None:
        """None: success; else the index of the first record to retry from."""
        if result is None or result.function_error:
            return 0
        if not self.report_failures or not records:
            return None
        sequences = [self.source.sequence(r) for r in records]
        failed = failed_items(result.payload, set(sequences))
        if not failed:
            return None
        if failed is ALL_FAILED:
            return 0
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
        message = {
            "requestContext": {
                "requestId": result.request_id if result else str(uuid.uuid4()),
                "functionArn": self.function_arn,
                "condition": condition,
                "approximateInvokeCount": attempts,
            },
            "responseContext": {
                "statusCode": 200,
                "executedVersion": result.executed_version if result else "$LATEST",
                "functionError": result.function_error if result else None,
            },
            "version": "1.0",
            "timestamp": _now_iso(),
            self.source.batch_info_key: self.source.batch_info(shard_id, records),
        }
        await send_failure(self.clients, str(self.on_failure), message)


def _answer(result: InvocationResult | None) -> Any:
    try:
        return json.loads(result.payload) if result is not None and result.payload else None
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
