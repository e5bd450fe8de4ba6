"""Reading Kinesis streams and DynamoDB Streams shard by shard, and their records as AWS's events
show them (the sample events of the Lambda developer guide: "Using Lambda with Kinesis",
"Using Lambda with DynamoDB"; the AWS-recorded events of LocalStack's parity snapshots).

What the poller asks of a record besides: its sequence number (the checkpoint, the
``itemIdentifier`` of ``ReportBatchItemFailures``), its arrival time (``MaximumRecordAgeInSeconds``,
tumbling windows; a DynamoDB record's ``ApproximateCreationDateTime``, whole seconds), and its key
(``ParallelizationFactor`` keeps the records of one key in order: Kinesis's partition key, the
item's key for DynamoDB).
"""

from __future__ import annotations

import base64
import datetime
import json
from typing import Any

from locallambda.event_sources.clients import Clients, region_of

__all__ = ["DynamoDBSource", "KinesisSource", "StreamSource"]


def _epoch(value: Any) -> float:
    if isinstance(value, datetime.datetime):
        return value.timestamp()
    return float(value or 0)


def _iso(epoch: float, millis: bool) -> str:
    moment = datetime.datetime.fromtimestamp(epoch, datetime.UTC)
    if millis:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class StreamSource:
    """What the stream poller needs of a source; ``KinesisSource`` and ``DynamoDBSource`` fill it."""

    batch_info_key = ""
    millis = True

    def __init__(self, mapping: dict[str, Any], clients: Clients, service: str) -> None:
        self.arn = str(mapping["EventSourceArn"])
        self.region = region_of(self.arn, clients.default_region)
        self.client = clients.client(service, self.region)
        self.clients = clients
        self.position = str(mapping.get("StartingPosition") or "LATEST")
        self.timestamp = mapping.get("StartingPositionTimestamp")

    async def shards(self) -> list[dict[str, Any]]:
        raise NotImplementedError

    async def iterator(self, shard_id: str, after: str | None) -> str:
        raise NotImplementedError

    async def records(self, iterator: str, limit: int, shard_id: str) -> tuple[list[dict[str, Any]], str | None]:
        raise NotImplementedError

    def sequence(self, record: dict[str, Any]) -> str:
        raise NotImplementedError

    def arrival(self, record: dict[str, Any]) -> float:
        raise NotImplementedError

    def key(self, record: dict[str, Any]) -> str:
        """What orders the record: records of one key are processed in order, always."""
        raise NotImplementedError

    def batch_info(self, shard_id: str, records: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "shardId": shard_id,
            "startSequenceNumber": self.sequence(records[0]),
            "endSequenceNumber": self.sequence(records[-1]),
            "approximateArrivalOfFirstRecord": _iso(self.arrival(records[0]), self.millis),
            "approximateArrivalOfLastRecord": _iso(self.arrival(records[-1]), self.millis),
            "batchSize": len(records),
            "streamArn": self.arn,
        }


class KinesisSource(StreamSource):
    batch_info_key = "KinesisBatchInfo"

    def __init__(self, mapping: dict[str, Any], clients: Clients, role: str | None) -> None:
        super().__init__(mapping, clients, "kinesis")
        self.role = role

    async def shards(self) -> list[dict[str, Any]]:
        answer = await self.clients.call(self.client.list_shards, StreamARN=self.arn)
        return list(answer.get("Shards") or [])

    async def iterator(self, shard_id: str, after: str | None) -> str:
        args: dict[str, Any] = {"StreamARN": self.arn, "ShardId": shard_id}
        if after:
            args.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", StartingSequenceNumber=after)
        elif self.position == "AT_TIMESTAMP":
            args.update(ShardIteratorType="AT_TIMESTAMP", Timestamp=self.timestamp)
        else:
            args.update(ShardIteratorType=self.position)
        answer = await self.clients.call(self.client.get_shard_iterator, **args)
        return str(answer["ShardIterator"])

    async def records(self, iterator: str, limit: int, shard_id: str) -> tuple[list[dict[str, Any]], str | None]:
        answer = await self.clients.call(
            self.client.get_records, ShardIterator=iterator, Limit=max(1, min(10_000, limit)), StreamARN=self.arn
        )
        out = [self._record(r, shard_id) for r in answer.get("Records") or []]
        return out, answer.get("NextShardIterator")

    def _record(self, raw: dict[str, Any], shard_id: str) -> dict[str, Any]:
        return {
            "kinesis": {
                "kinesisSchemaVersion": "1.0",
                "partitionKey": raw["PartitionKey"],
                "sequenceNumber": raw["SequenceNumber"],
                "data": base64.b64encode(raw["Data"]).decode(),
                "approximateArrivalTimestamp": round(_epoch(raw.get("ApproximateArrivalTimestamp")), 3),
            },
            "eventSource": "aws:kinesis",
            "eventVersion": "1.0",
            "eventID": f"{shard_id}:{raw['SequenceNumber']}",
            "eventName": "aws:kinesis:record",
            "invokeIdentityArn": self.role or "",
            "awsRegion": self.region,
            "eventSourceARN": self.arn,
        }

    def sequence(self, record: dict[str, Any]) -> str:
        return str(record["kinesis"]["sequenceNumber"])

    def arrival(self, record: dict[str, Any]) -> float:
        return float(record["kinesis"]["approximateArrivalTimestamp"])

    def key(self, record: dict[str, Any]) -> str:
        return str(record["kinesis"]["partitionKey"])


def _b64_binary(value: Any) -> Any:
    """DynamoDB attribute values with binary members base64-encoded, as the JSON event carries them."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            if k == "B" and isinstance(v, bytes | bytearray):
                out[k] = base64.b64encode(v).decode()
            elif k == "BS" and isinstance(v, list):
                out[k] = [base64.b64encode(b).decode() for b in v]
            else:
                out[k] = _b64_binary(v)
        return out
    if isinstance(value, list):
        return [_b64_binary(v) for v in value]
    return value


class DynamoDBSource(StreamSource):
    batch_info_key = "DDBStreamBatchInfo"
    millis = False

    def __init__(self, mapping: dict[str, Any], clients: Clients) -> None:
        super().__init__(mapping, clients, "dynamodbstreams")

    async def shards(self) -> list[dict[str, Any]]:
        answer = await self.clients.call(self.client.describe_stream, StreamArn=self.arn)
        return list(answer["StreamDescription"].get("Shards") or [])

    async def iterator(self, shard_id: str, after: str | None) -> str:
        args: dict[str, Any] = {"StreamArn": self.arn, "ShardId": shard_id}
        if after:
            args.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", SequenceNumber=after)
        else:
            args.update(ShardIteratorType=self.position)
        answer = await self.clients.call(self.client.get_shard_iterator, **args)
        return str(answer["ShardIterator"])

    async def records(self, iterator: str, limit: int, shard_id: str) -> tuple[list[dict[str, Any]], str | None]:
        answer = await self.clients.call(
            self.client.get_records, ShardIterator=iterator, Limit=max(1, min(1000, limit))
        )
        out = []
        for raw in answer.get("Records") or []:
            change = _b64_binary(dict(raw["dynamodb"]))
            # "in UNIX epoch time format and rounded down to the closest second" (DynamoDB
            # Streams API Reference, StreamRecord); the event shows it as a number.
            created = _epoch(raw["dynamodb"].get("ApproximateCreationDateTime"))
            change["ApproximateCreationDateTime"] = float(int(created))
            out.append(
                {
                    "eventID": raw.get("eventID"),
                    "eventName": raw.get("eventName"),
                    # 1.1 in AWS's recorded events (the endpoint's own value when it gives one)
                    "eventVersion": raw.get("eventVersion") or "1.1",
                    "eventSource": "aws:dynamodb",
                    "awsRegion": raw.get("awsRegion") or self.region,
                    "dynamodb": change,
                    "eventSourceARN": self.arn,
                }
            )
        return out, answer.get("NextShardIterator")

    def sequence(self, record: dict[str, Any]) -> str:
        return str(record["dynamodb"]["SequenceNumber"])

    def arrival(self, record: dict[str, Any]) -> float:
        return float(record["dynamodb"]["ApproximateCreationDateTime"])

    def key(self, record: dict[str, Any]) -> str:
        return json.dumps(record["dynamodb"].get("Keys"), sort_keys=True)
