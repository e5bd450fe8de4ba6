"""The pollers of every mapping: started, reconfigured and stopped as the control plane says.

``EventSources.changed(uuid, mapping)`` is the control plane's seam: an ``Enabled`` mapping of
SQS, Kinesis or DynamoDB Streams gets a poller (a fresh one after every change), any other state
or ``None`` stops it. ``check_source`` is the existence check AWS makes at CreateEventSourceMapping
(texts of LocalStack's parity snapshots, ``test_esm_with_not_existing_*``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from locallambda.errors import InvalidParameterValueError
from locallambda.event_sources.clients import Clients, region_of
from locallambda.event_sources.filtering import check_filters
from locallambda.event_sources.sqs import DirectQueues, SqsPoller, queue_url_of
from locallambda.event_sources.streams import Checkpoints, StreamPoller, dynamodb_source, kinesis_source
from locallambda.model.spec import InvocationResult
from locallambda.model.tasks import TaskScope
from locallambda.store.documents import DocumentStore

__all__ = ["EventSources"]

log = logging.getLogger(__name__)

# (uuid, LastProcessingResult)
Report = Callable[[str, str], None]
# (function ARN, payload, source kind: sqs, kinesis or dynamodb, the invocation journal's trigger)
SourceInvoke = Callable[[str, bytes, str], Awaitable[InvocationResult]]


class EventSources:
    """Every mapping's poller, in one task scope."""

    def __init__(
        self,
        endpoint_url: str,
        region: str,
        invoke: SourceInvoke,
        report: Report,
        role_of: Callable[[str], str | None],
        store: DocumentStore,
        tasks: TaskScope,
        *,
        sqs_wait_seconds: int = 20,
        direct_sqs: DirectQueues | None = None,
    ) -> None:
        self.clients = Clients(endpoint_url, region)
        self.invoke = invoke
        self.report = report
        self.role_of = role_of
        self.checkpoints = Checkpoints(store)
        self.tasks = tasks
        self.sqs_wait_seconds = sqs_wait_seconds
        self.direct_sqs = direct_sqs  # the embedded SQS read in process (None: through the API)
        self._running: dict[str, asyncio.Task[None]] = {}
        self._pending: dict[str, dict[str, Any] | None] = {}
        self._started = False

    # -- the control plane's seams ------------------------------------------------------------

    def check_filters(self, kind: str, criteria: dict[str, Any]) -> None:
        check_filters(criteria, kind if kind in ("sqs", "kinesis", "dynamodb") else None)

    async def check_source(self, kind: str, arn: str) -> None:
        """Raises ``InvalidParameterValueError`` with AWS's text when the source is missing."""
        region = region_of(arn, self.clients.default_region)
        try:
            if kind == "sqs":
                sqs = self.clients.client("sqs", region)
                url = queue_url_of(arn, self.clients.endpoint_url)
                await self.clients.call(sqs.get_queue_attributes, QueueUrl=url, AttributeNames=["QueueArn"])
            elif kind == "kinesis":
                kinesis = self.clients.client("kinesis", region)
                await self.clients.call(kinesis.describe_stream_summary, StreamARN=arn)
            elif kind == "dynamodb":
                streams = self.clients.client("dynamodbstreams", region)
                await self.clients.call(streams.describe_stream, StreamArn=arn)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = str(error.get("Code", ""))
            if kind == "sqs" and "NonExistentQueue" in code:
                raise InvalidParameterValueError(
                    "Error occurred while ReceiveMessage. SQS Error Code: AWS.SimpleQueueService.NonExistentQueue. "
                    "SQS Error Message: The specified queue does not exist."
                ) from None
            if kind != "sqs" and code == "ResourceNotFoundException":
                raise InvalidParameterValueError(f"Stream not found: {arn}") from None
            raise
        except BotoCoreError as exc:
            log.warning("could not check event source %s: %s", arn, exc)

    def changed(self, uuid: str, mapping: dict[str, Any] | None) -> None:
        """Start, restart or stop the poller of a mapping."""
        if not self._started:
            self._pending[uuid] = mapping
            return
        self._stop(uuid)
        if mapping is None or mapping.get("State") != "Enabled":
            return
        poller = self._poller(mapping)
        if poller is not None:
            self._running[uuid] = self.tasks.spawn(poller, name=f"esm-{uuid}")

    # -- lifetime -----------------------------------------------------------------------------

    def start(self) -> None:
        """Begin polling (the server answers requests by now); mappings announced before start."""
        self._started = True
        pending, self._pending = self._pending, {}
        for uuid, mapping in pending.items():
            self.changed(uuid, mapping)

    async def close(self) -> None:
        for uuid in list(self._running):
            self._stop(uuid)
        self.clients.close()
        await self.tasks.close(timeout=2.0)

    # -- pollers ------------------------------------------------------------------------------

    def _stop(self, uuid: str) -> None:
        task = self._running.pop(uuid, None)
        if task is not None:
            task.cancel()

    def _poller(self, mapping: dict[str, Any]) -> Any:
        kind = mapping.get("_Kind")
        named = str(kind)

        async def invoke(function_arn: str, payload: bytes) -> InvocationResult:
            return await self.invoke(function_arn, payload, named)

        if kind == "sqs":
            return SqsPoller(mapping, self.clients, invoke, self.sqs_wait_seconds, self.direct_sqs).run()
        if kind == "kinesis":
            source = kinesis_source(mapping, self.clients, self.role_of(str(mapping["FunctionArn"])))
        elif kind == "dynamodb":
            source = dynamodb_source(mapping, self.clients)
        else:
            return None  # brokers: the control plane reports them unreachable
        return StreamPoller(mapping, source, self.clients, invoke, self.report, self.checkpoints).run()
