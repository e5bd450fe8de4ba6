"""DynamoDB Streams → function: the changes of a table as AWS's records, in order, per view type;
filters on the ``dynamodb`` key.

The record shape is AWS's sample event ("Using AWS Lambda with Amazon DynamoDB", Lambda developer
guide) and LocalStack's AWS-recorded snapshot (``test_dynamodb_event_source_mapping``: eventVersion
1.1, SizeBytes 70 for the item below).
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from tests.conftest import Server
from tests.event_sources.streams import DynamoDBTable, StreamRecorder
from tests.invoke.conftest import Functions


@pytest.fixture()
def recorder(srv: Server, functions: Functions) -> StreamRecorder:
    return StreamRecorder(srv, functions)


def test_put_update_delete_reach_the_function_in_order_as_aws_records(srv: Server, recorder: StreamRecorder) -> None:
    table = DynamoDBTable(srv, view="NEW_AND_OLD_IMAGES")
    ddb = table.client
    before = time.time()
    ddb.put_item(TableName=table.name, Item={"id": {"S": "k1"}, "v": {"N": "1"}})
    ddb.update_item(
        TableName=table.name,
        Key={"id": {"S": "k1"}},
        UpdateExpression="SET v = :v",
        ExpressionAttributeValues={":v": {"N": "2"}},
    )
    ddb.delete_item(TableName=table.name, Key={"id": {"S": "k1"}})
    after = time.time()
    srv.client().create_event_source_mapping(
        EventSourceArn=table.arn, FunctionName=recorder.name, StartingPosition="TRIM_HORIZON", BatchSize=10
    )
    batches = recorder.batches(1, settle=0.5)
    records = [r for b in batches for r in b.records]
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY", "REMOVE"]
    for record in records:
        assert set(record) == {
            "eventID",
            "eventName",
            "eventVersion",
            "eventSource",
            "awsRegion",
            "dynamodb",
            "eventSourceARN",
        }
        assert record["eventVersion"] == "1.1"
        assert record["eventSource"] == "aws:dynamodb"
        assert record["awsRegion"] == "us-east-1"
        assert record["eventSourceARN"] == table.arn
        change = record["dynamodb"]
        assert change["Keys"] == {"id": {"S": "k1"}}
        assert change["StreamViewType"] == "NEW_AND_OLD_IMAGES"
        # "in UNIX epoch time format and rounded down to the closest second" (DynamoDB Streams API)
        assert change["ApproximateCreationDateTime"] == int(change["ApproximateCreationDateTime"])
        assert int(before) <= change["ApproximateCreationDateTime"] <= after
    insert, modify, remove = (r["dynamodb"] for r in records)
    assert insert["NewImage"] == {"id": {"S": "k1"}, "v": {"N": "1"}} and "OldImage" not in insert
    assert modify["OldImage"] == {"id": {"S": "k1"}, "v": {"N": "1"}}
    assert modify["NewImage"] == {"id": {"S": "k1"}, "v": {"N": "2"}}
    assert remove["OldImage"] == {"id": {"S": "k1"}, "v": {"N": "2"}} and "NewImage" not in remove
    sequences = [int(r["dynamodb"]["SequenceNumber"]) for r in records]
    assert sequences == sorted(sequences) and len(set(sequences)) == 3
    # SizeBytes: the item size of Keys and images (2+2 bytes of key, 1+2 of the number)
    assert [r["dynamodb"]["SizeBytes"] for r in records] == [4 + 7, 4 + 7 + 7, 4 + 7]


def test_size_and_binary_members_as_aws_recorded(srv: Server, recorder: StreamRecorder) -> None:
    # LocalStack's AWS-recorded test_dynamodb_event_source_mapping: this item is SizeBytes 70 and
    # its binary member base64 in the event.
    table = DynamoDBTable(srv, view="NEW_IMAGE")
    table.client.delete_table(TableName=table.name)
    table.client.create_table(
        TableName=table.name,
        KeySchema=[{"AttributeName": "my_partition_key", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "my_partition_key", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )
    arn = table.client.describe_table(TableName=table.name)["Table"]["LatestStreamArn"]
    table.client.put_item(
        TableName=table.name, Item={"my_partition_key": {"S": "hello world"}, "binary_key": {"B": b"foobar"}}
    )
    srv.client().create_event_source_mapping(
        EventSourceArn=arn, FunctionName=recorder.name, StartingPosition="TRIM_HORIZON", BatchSize=1
    )
    ((record,),) = [b.records for b in recorder.batches(1)]
    assert record["dynamodb"]["NewImage"] == {
        "binary_key": {"B": "Zm9vYmFy"},
        "my_partition_key": {"S": "hello world"},
    }
    assert record["dynamodb"]["SizeBytes"] == 70
    assert record["dynamodb"]["StreamViewType"] == "NEW_IMAGE"


def test_keys_only_view_carries_no_images(srv: Server, recorder: StreamRecorder) -> None:
    table = DynamoDBTable(srv, view="KEYS_ONLY")
    table.client.put_item(TableName=table.name, Item={"id": {"S": "a"}, "v": {"S": "x"}})
    table.client.delete_item(TableName=table.name, Key={"id": {"S": "a"}})
    srv.client().create_event_source_mapping(
        EventSourceArn=table.arn, FunctionName=recorder.name, StartingPosition="TRIM_HORIZON"
    )
    records = [r for b in recorder.batches(1, settle=0.5) for r in b.records]
    assert [r["eventName"] for r in records] == ["INSERT", "REMOVE"]
    for record in records:
        assert set(record["dynamodb"]) == {
            "ApproximateCreationDateTime",
            "Keys",
            "SequenceNumber",
            "SizeBytes",
            "StreamViewType",
        }
        assert record["dynamodb"]["StreamViewType"] == "KEYS_ONLY"
        assert record["dynamodb"]["SizeBytes"] == 3  # "id" and "a"


def test_an_unchanged_item_writes_no_record(srv: Server, recorder: StreamRecorder) -> None:
    # "If you perform a PutItem or UpdateItem operation that does not change any data in an item,
    # DynamoDB Streams does not write a stream record for that operation." (DynamoDB developer guide)
    table = DynamoDBTable(srv, view="NEW_AND_OLD_IMAGES")
    item = {"id": {"S": "same"}, "v": {"N": "1"}}
    table.client.put_item(TableName=table.name, Item=item)
    table.client.put_item(TableName=table.name, Item=item)
    table.client.put_item(TableName=table.name, Item={**item, "v": {"N": "2"}})
    srv.client().create_event_source_mapping(
        EventSourceArn=table.arn, FunctionName=recorder.name, StartingPosition="TRIM_HORIZON"
    )
    records = [r for b in recorder.batches(1, settle=0.5) for r in b.records]
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY"]


def test_the_region_of_the_table_is_the_records_region(srv: Server, functions: Functions) -> None:
    region = "eu-west-1"
    lam = srv.client(region=region)
    recorder = StreamRecorder(srv, functions, region=region)  # the function lives beside the table
    table = DynamoDBTable(srv, view="NEW_IMAGE", region=region)
    table.put({"n": 1})
    lam.create_event_source_mapping(
        EventSourceArn=table.arn, FunctionName=recorder.name, StartingPosition="TRIM_HORIZON"
    )
    ((record,),) = [b.records for b in recorder.batches(1)]
    assert record["awsRegion"] == region
    assert record["eventSourceARN"] == table.arn and f":{region}:" in table.arn


@pytest.mark.parametrize(
    ("pattern", "kept"),
    [
        ({"eventName": ["INSERT"]}, ["INSERT"]),
        ({"eventName": ["REMOVE"]}, ["REMOVE"]),
        ({"dynamodb": {"NewImage": {"color": {"S": ["red"]}}}}, ["MODIFY"]),
    ],
    ids=["insert", "remove", "new-image-value"],
)
def test_filter_criteria_keep_only_matching_changes(
    srv: Server, recorder: StreamRecorder, pattern: dict[str, Any], kept: list[str]
) -> None:
    table = DynamoDBTable(srv, view="NEW_AND_OLD_IMAGES")
    ddb = table.client
    ddb.put_item(TableName=table.name, Item={"id": {"S": "i"}, "color": {"S": "blue"}})
    ddb.put_item(TableName=table.name, Item={"id": {"S": "i"}, "color": {"S": "red"}})
    ddb.delete_item(TableName=table.name, Key={"id": {"S": "i"}})
    srv.client().create_event_source_mapping(
        EventSourceArn=table.arn,
        FunctionName=recorder.name,
        StartingPosition="TRIM_HORIZON",
        BatchSize=10,
        FilterCriteria={"Filters": [{"Pattern": json.dumps(pattern)}]},
    )
    batches = recorder.batches(1, settle=1.0)
    assert [[r["eventName"] for r in b.records] for b in batches] == [kept]
