"""The neighbours' resources a Lambda user touches, read-only, for the dashboard's resources page.

The browser could not ask the embedded services itself: moto picks the service of a request by
its SigV4 scope, and an unsigned request from a page would be taken for S3. So the server asks
them, through the same entry the edge uses (``Neighbours.handle``), each service's own list
operation with a scope naming the service and the region (moto does not check signatures):

- SQS ``ListQueues`` (+ ``GetQueueAttributes``: message counts, FIFO, ARN),
- S3 ``ListBuckets`` (buckets are global: every region's are listed),
- DynamoDB ``ListTables`` (+ ``DescribeTable``: status, items, size, keys, stream),
- Kinesis ``ListStreams`` (+ ``DescribeStreamSummary``: status, open shards, ARN),
- CloudWatch Logs ``DescribeLogGroups``.

Lists are followed page by page up to ``LISTED`` resources of each kind; details are read for
the first ``DETAILED``, a few requests at a time, the rest are listed by name. A service left out of ``SERVICES`` or answering an error is named
in ``Errors`` (``{service: message}``) and its list is empty; nothing here raises for them.
"""

from __future__ import annotations

import asyncio
import json
import xml.etree.ElementTree as ET
from typing import Any

from locallambda.neighbours.embedded import Neighbours

__all__ = ["DETAILED", "LISTED", "list_resources"]

LISTED = 1000  # resources of each kind listed
DETAILED = 50  # of those, the ones whose details are read
_PARALLEL = 8  # detail requests in flight at once
_S3_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


class _Failed(Exception):
    """A neighbour answered an error: its message."""


class _Caller:
    def __init__(self, neighbours: Neighbours, region: str, host: str) -> None:
        self._neighbours = neighbours
        self._region = region
        self._host = host
        self._slots = asyncio.Semaphore(_PARALLEL)

    def _headers(self, service: str, signing: str) -> list[tuple[str, str]]:
        scope = f"dashboard/20000101/{self._region}/{signing}/aws4_request"
        return [
            ("host", self._host),
            ("authorization", f"AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders=host, Signature=0"),
        ]

    async def json(self, service: str, target: str, version: str, body: dict[str, Any]) -> Any:
        headers = [
            *self._headers(service, service),
            ("x-amz-target", target),
            ("content-type", f"application/x-amz-json-{version}"),
        ]
        async with self._slots:
            answer = await self._neighbours.handle(service, "POST", "/", "", headers, json.dumps(body).encode(), None)
        doc = json.loads(answer.body or b"{}")
        if answer.status >= 400:
            raise _Failed(str(doc.get("message") or doc.get("Message") or doc.get("__type") or answer.status))
        return doc

    async def s3_buckets(self) -> list[dict[str, Any]]:
        async with self._slots:
            answer = await self._neighbours.handle("s3", "GET", "/", "", self._headers("s3", "s3"), b"", None)
        if answer.status >= 400:
            raise _Failed(f"ListBuckets answered {answer.status}")
        root = ET.fromstring(answer.body)
        return [
            {"Name": b.findtext(f"{_S3_NS}Name"), "CreationDate": b.findtext(f"{_S3_NS}CreationDate")}
            for b in root.iter(f"{_S3_NS}Bucket")
        ]


async def _pages(call: _Caller, service: str, target: str, version: str, spec: tuple[str, str, str]) -> list[Any]:
    """Every item of a paged list operation, up to ``LISTED``: ``spec`` is (the member of the
    items, the member naming the next page in the answer, the member asking for it)."""
    items_key, next_key, ask_key = spec
    items: list[Any] = []
    body: dict[str, Any] = {}
    while len(items) < LISTED:
        doc = await call.json(service, target, version, body)
        items.extend(doc.get(items_key, []))
        token = doc.get(next_key)
        if not token or (next_key == "HasMoreStreams" and not items):
            break
        body = {ask_key: items[-1] if next_key == "HasMoreStreams" else token}
    return items[:LISTED]


async def _queues(call: _Caller) -> list[dict[str, Any]]:
    urls = await _pages(call, "sqs", "AmazonSQS.ListQueues", "1.0", ("QueueUrls", "NextToken", "NextToken"))

    async def one(url: str, detailed: bool) -> dict[str, Any]:
        row: dict[str, Any] = {"Name": url.rsplit("/", 1)[-1], "Url": url}
        if detailed:
            attrs = (
                await call.json(
                    "sqs", "AmazonSQS.GetQueueAttributes", "1.0", {"QueueUrl": url, "AttributeNames": ["All"]}
                )
            ).get("Attributes", {})
            row.update(
                Arn=attrs.get("QueueArn"),
                Messages=int(attrs.get("ApproximateNumberOfMessages", 0)),
                InFlight=int(attrs.get("ApproximateNumberOfMessagesNotVisible", 0)),
                Delayed=int(attrs.get("ApproximateNumberOfMessagesDelayed", 0)),
                Fifo=attrs.get("FifoQueue") == "true",
            )
        return row

    return list(await asyncio.gather(*(one(u, i < DETAILED) for i, u in enumerate(sorted(urls)))))


async def _tables(call: _Caller) -> list[dict[str, Any]]:
    names = await _pages(
        call,
        "dynamodb",
        "DynamoDB_20120810.ListTables",
        "1.0",
        ("TableNames", "LastEvaluatedTableName", "ExclusiveStartTableName"),
    )

    async def one(name: str, detailed: bool) -> dict[str, Any]:
        row: dict[str, Any] = {"Name": name}
        if detailed:
            table = (await call.json("dynamodb", "DynamoDB_20120810.DescribeTable", "1.0", {"TableName": name}))[
                "Table"
            ]
            row.update(
                Arn=table.get("TableArn"),
                Status=table.get("TableStatus"),
                Items=table.get("ItemCount"),
                SizeBytes=table.get("TableSizeBytes"),
                Keys=" ".join(f"{k['AttributeName']} ({k['KeyType']})" for k in table.get("KeySchema", [])),
                StreamArn=table.get("LatestStreamArn"),
            )
        return row

    return list(await asyncio.gather(*(one(n, i < DETAILED) for i, n in enumerate(names))))


async def _streams(call: _Caller) -> list[dict[str, Any]]:
    # Kinesis pages by the last name seen (HasMoreStreams, ExclusiveStartStreamName).
    names = await _pages(
        call,
        "kinesis",
        "Kinesis_20131202.ListStreams",
        "1.1",
        ("StreamNames", "HasMoreStreams", "ExclusiveStartStreamName"),
    )

    async def one(name: str, detailed: bool) -> dict[str, Any]:
        row: dict[str, Any] = {"Name": name}
        if detailed:
            summary = (
                await call.json("kinesis", "Kinesis_20131202.DescribeStreamSummary", "1.1", {"StreamName": name})
            )["StreamDescriptionSummary"]
            row.update(
                Arn=summary.get("StreamARN"),
                Status=summary.get("StreamStatus"),
                Shards=summary.get("OpenShardCount"),
                RetentionHours=summary.get("RetentionPeriodHours"),
            )
        return row

    return list(await asyncio.gather(*(one(n, i < DETAILED) for i, n in enumerate(names))))


async def _log_groups(call: _Caller) -> list[dict[str, Any]]:
    groups = await _pages(
        call, "logs", "Logs_20140328.DescribeLogGroups", "1.1", ("logGroups", "nextToken", "nextToken")
    )
    return [
        {
            "Name": g.get("logGroupName"),
            "Arn": g.get("arn"),
            "StoredBytes": g.get("storedBytes"),
            "CreationTime": g.get("creationTime"),
            "RetentionInDays": g.get("retentionInDays"),
        }
        for g in groups
    ]


_KINDS = {
    "Queues": ("sqs", _queues),
    "Tables": ("dynamodb", _tables),
    "Streams": ("kinesis", _streams),
    "LogGroups": ("logs", _log_groups),
}


async def list_resources(neighbours: Neighbours | None, region: str, host: str) -> dict[str, Any]:
    """Every kind's resources in ``region`` (requests sent with ``host`` as their Host, which
    moto writes into queue URLs); a kind whose service fails is empty, its error in ``Errors``."""
    doc: dict[str, Any] = {"Region": region, "Buckets": [], **{kind: [] for kind in _KINDS}, "Errors": {}}
    if neighbours is None:
        doc["Errors"] = {service: "no neighbour services on this server" for service, _ in _KINDS.values()}
        return doc
    call = _Caller(neighbours, region, host)

    async def fill(kind: str, service: str, read: Any) -> None:
        if not neighbours.serves(service):
            doc["Errors"][service] = f"{service} is not enabled (SERVICES)"
            return
        try:
            doc[kind] = await read()
        except (_Failed, KeyError, ValueError, ET.ParseError) as exc:
            doc["Errors"][service] = str(exc) or type(exc).__name__

    await asyncio.gather(
        fill("Buckets", "s3", call.s3_buckets),
        *(fill(kind, service, lambda read=read: read(call)) for kind, (service, read) in _KINDS.items()),
    )
    return doc
