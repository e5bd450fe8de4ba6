"""Filter criteria of event source mappings: AWS's documented examples, validation with AWS's
text, and properties of the matcher. Pure functions, no server.

Sources of the cases:
- [LF] Lambda developer guide, invocation-eventfiltering.html ("Filter rule syntax", "Filtering
  examples", "Properly filtering Amazon SQS messages", "... Kinesis and DynamoDB messages");
- [SQS] with-sqs-filtering.html, [DDB] with-ddb-filtering.html, [KIN] with-kinesis-filtering.html;
- [EB] EventBridge user guide, eb-event-patterns-content-based-filtering.html;
- [REC] answers recorded against AWS in LocalStack's parity tests
  (tests/aws/services/lambda_/event_source_mapping/test_lambda_integration_{sqs,dynamodbstreams}.py).
"""

from __future__ import annotations

import base64
import json
import string
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from locallambda.errors import InvalidParameterValueError
from locallambda.event_sources.filters import (
    MAX_FILTERS,
    matches,
    matches_any,
    parse_patterns,
    record_view,
    validate_filter_criteria,
)

INVALID = "Invalid filter pattern definition."


def criteria(*patterns: Any) -> dict[str, Any]:
    return {"Filters": [{"Pattern": p if isinstance(p, str) else json.dumps(p)} for p in patterns]}


def match(pattern: Any, record: dict[str, Any]) -> bool:
    (parsed,) = parse_patterns(criteria(pattern))
    return matches(parsed, record)


def sqs(body: Any, **extra: Any) -> dict[str, Any]:
    text = body if isinstance(body, str) else json.dumps(body)
    return record_view("sqs", {"messageId": "m-1", "body": text, "eventSource": "aws:sqs", **extra})


def kinesis(data: bytes, partition_key: str = "1") -> dict[str, Any]:
    record = {
        "kinesis": {"partitionKey": partition_key, "data": base64.b64encode(data).decode(), "sequenceNumber": "49"},
        "eventSource": "aws:kinesis",
        "eventName": "aws:kinesis:record",
    }
    return record_view("kinesis", record)


def dynamodb(new_image: dict[str, Any], event_name: str = "INSERT") -> dict[str, Any]:
    record = {
        "eventName": event_name,
        "eventSource": "aws:dynamodb",
        "dynamodb": {"ApproximateCreationDateTime": 1678831218.0, "NewImage": new_image, "StreamViewType": "NEW_IMAGE"},
    }
    return record_view("dynamodb", record)


# -- the documented examples ----------------------------------------------------------------

CASES: list[tuple[str, Any, dict[str, Any], bool]] = [
    # [LF] the comparison operators table
    ("LF null", {"UserID": [None]}, {"UserID": None}, True),
    ("LF null is not absent", {"UserID": [None]}, {}, False),
    ("LF null is not empty", {"UserID": [None]}, {"UserID": ""}, False),
    ("LF empty", {"LastName": [""]}, {"LastName": ""}, True),
    ("LF empty is not null", {"LastName": [""]}, {"LastName": None}, False),
    ("LF equals", {"Name": ["Alice"]}, {"Name": "Alice"}, True),
    ("LF equals is case-sensitive", {"Name": ["Alice"]}, {"Name": "alice"}, False),
    ("LF equals ignore case", {"Name": [{"equals-ignore-case": "alice"}]}, {"Name": "ALICE"}, True),
    ("LF and", {"Location": ["New York"], "Day": ["Monday"]}, {"Location": "New York", "Day": "Monday"}, True),
    (
        "LF and, one fails",
        {"Location": ["New York"], "Day": ["Monday"]},
        {"Location": "New York", "Day": "Friday"},
        False,
    ),
    ("LF or", {"PaymentType": ["Credit", "Debit"]}, {"PaymentType": "Debit"}, True),
    ("LF or, none", {"PaymentType": ["Credit", "Debit"]}, {"PaymentType": "Cash"}, False),
    ("LF or multiple fields", {"$or": [{"Location": ["New York"]}, {"Day": ["Monday"]}]}, {"Day": "Monday"}, True),
    (
        "LF or multiple fields, none",
        {"$or": [{"Location": ["New York"]}, {"Day": ["Monday"]}]},
        {"Day": "Friday"},
        False,
    ),
    ("LF not", {"Weather": [{"anything-but": ["Raining"]}]}, {"Weather": "Sunny"}, True),
    ("LF not, the value", {"Weather": [{"anything-but": ["Raining"]}]}, {"Weather": "Raining"}, False),
    ("LF not, absent", {"Weather": [{"anything-but": ["Raining"]}]}, {}, False),
    ("LF numeric equals", {"Price": [{"numeric": ["=", 100]}]}, {"Price": 100}, True),
    ("LF numeric equals compares values", {"Price": [{"numeric": ["=", 100]}]}, {"Price": 100.0}, True),
    ("LF numeric range", {"Price": [{"numeric": [">", 10, "<=", 20]}]}, {"Price": 20}, True),
    ("LF numeric range, lower bound open", {"Price": [{"numeric": [">", 10, "<=", 20]}]}, {"Price": 10}, False),
    ("LF numeric never matches a string", {"Price": [{"numeric": [">", 10]}]}, {"Price": "15"}, False),
    ("LF exists", {"ProductName": [{"exists": True}]}, {"ProductName": "x"}, True),
    ("LF exists, absent", {"ProductName": [{"exists": True}]}, {}, False),
    ("LF does not exist", {"ProductName": [{"exists": False}]}, {}, True),
    ("LF does not exist, present", {"ProductName": [{"exists": False}]}, {"ProductName": "x"}, False),
    ("LF begins with", {"Region": [{"prefix": "us-"}]}, {"Region": "us-east-1"}, True),
    ("LF begins with, other", {"Region": [{"prefix": "us-"}]}, {"Region": "eu-west-1"}, False),
    ("LF ends with", {"FileName": [{"suffix": ".png"}]}, {"FileName": "cat.png"}, True),
    ("LF ends with, other", {"FileName": [{"suffix": ".png"}]}, {"FileName": "cat.jpg"}, False),
    # [LF] "For numbers, Lambda also uses string representation. For example, 300, 300.0, and
    # 3.0e2 are not considered equal."
    ("LF 300 is not 300.0", '{"n": [300]}', {"n": Decimal("300.0")}, False),
    ("LF 300.0 is not 3.0e2", '{"n": [300.0]}', {"n": Decimal("3.0e2")}, False),
    ("LF 300 is 300", '{"n": [300]}', {"n": 300}, True),
    # [LF] console example {"a": [1, 2]}
    ("LF console example", {"a": [1, 2]}, {"a": 2}, True),
    ("LF console example, string is not number", {"a": [1, 2]}, {"a": "1"}, False),
    # [LF] multi-level filtering, DynamoDB Keys
    (
        "LF multi-level",
        {"dynamodb": {"Keys": {"Id": {"N": ["101"]}}}},
        {"dynamodb": {"Keys": {"Id": {"N": "101"}}, "SequenceNumber": "111"}},
        True,
    ),
    # [EB] prefix / suffix while ignoring case
    ("EB prefix ignore case", {"s": [{"prefix": {"equals-ignore-case": "EventBridge"}}]}, {"s": "eventbridge-x"}, True),
    ("EB suffix ignore case", {"s": [{"suffix": {"equals-ignore-case": ".PNG"}}]}, {"s": "a.png"}, True),
    ("EB prefix does not apply to numbers", {"n": [{"prefix": "1"}]}, {"n": 12}, False),
    # [EB] anything-but forms
    ("EB anything-but string", {"state": [{"anything-but": "initializing"}]}, {"state": "running"}, True),
    ("EB anything-but number", {"x": [{"anything-but": 100}]}, {"x": 100}, False),
    ("EB anything-but number vs string", {"x": [{"anything-but": 100}]}, {"x": "100"}, True),
    ("EB anything-but list", {"state": [{"anything-but": ["stopped", "overloaded"]}]}, {"state": "stopped"}, False),
    ("EB anything-but prefix", {"state": [{"anything-but": {"prefix": "init"}}]}, {"state": "initializing"}, False),
    ("EB anything-but prefix, other", {"state": [{"anything-but": {"prefix": "init"}}]}, {"state": "running"}, True),
    ("EB anything-but suffix", {"f": [{"anything-but": {"suffix": ".txt"}}]}, {"f": "a.txt"}, False),
    (
        "EB anything-but ignore case",
        {"state": [{"anything-but": {"equals-ignore-case": ["Stopped", "OverLoaded"]}}]},
        {"state": "STOPPED"},
        False,
    ),
    ("EB anything-but wildcard", {"p": [{"anything-but": {"wildcard": "*/lib/*"}}]}, {"p": "/usr/lib/x"}, False),
    ("EB anything-but wildcard, other", {"p": [{"anything-but": {"wildcard": "*/lib/*"}}]}, {"p": "/usr/bin/x"}, True),
    # [EB] wildcard
    (
        "EB wildcard",
        {"EventBusArn": [{"wildcard": "arn:aws:events:us-east-1:*:event-bus/*"}]},
        {"EventBusArn": "arn:aws:events:us-east-1:123:event-bus/b"},
        True,
    ),
    (
        "EB wildcard, other region",
        {"EventBusArn": [{"wildcard": "arn:aws:events:us-east-1:*:event-bus/*"}]},
        {"EventBusArn": "arn:aws:events:eu-west-1:123:event-bus/b"},
        False,
    ),
    ("EB wildcard escaped star", {"s": [{"wildcard": "a\\*b"}]}, {"s": "a*b"}, True),
    ("EB wildcard escaped star is literal", {"s": [{"wildcard": "a\\*b"}]}, {"s": "axxb"}, False),
    # [EB] IP address matching
    ("EB cidr", {"sourceIPAddress": [{"cidr": "10.0.0.0/24"}]}, {"sourceIPAddress": "10.0.0.255"}, True),
    ("EB cidr, outside", {"sourceIPAddress": [{"cidr": "10.0.0.0/24"}]}, {"sourceIPAddress": "10.0.1.1"}, False),
    ("EB cidr v6", {"ip": [{"cidr": "2001:db8::/32"}]}, {"ip": "2001:db8::1"}, True),
    ("EB cidr, not an address", {"ip": [{"cidr": "10.0.0.0/24"}]}, {"ip": "ten"}, False),
    # [EB] arrays: the event's array matches when one element does
    ("EB array in the event", {"resources": ["arn:a"]}, {"resources": ["arn:b", "arn:a"]}, True),
    ("EB array in the event, none", {"resources": ["arn:a"]}, {"resources": ["arn:b"]}, False),
    ("EB empty array does not exist", {"r": [{"exists": True}]}, {"r": []}, False),
    ("EB objects in an array, one at a time", {"a": {"b": ["x"], "c": ["y"]}}, {"a": [{"b": "x"}, {"c": "y"}]}, False),
    (
        "EB objects in an array, one matches",
        {"a": {"b": ["x"], "c": ["y"]}},
        {"a": [{"b": "z"}, {"b": "x", "c": "y"}]},
        True,
    ),
    # [EB] nested $or, ANDed with the members beside it
    (
        "EB $or beside a member",
        {
            "source": ["aws.ec2"],
            "$or": [{"detail": {"state": ["running"]}}, {"detail": {"code": [{"numeric": [">", 1]}]}}],
        },
        {"source": "aws.ec2", "detail": {"code": 2}},
        True,
    ),
    (
        "EB $or beside a member that fails",
        {"source": ["aws.ec2"], "$or": [{"detail": {"state": ["running"]}}, {"detail": {"code": [1]}}]},
        {"source": "aws.s3", "detail": {"state": "running"}},
        False,
    ),
    ("EB booleans are not strings", {"flag": [True]}, {"flag": "true"}, False),
    ("EB booleans are not numbers", {"flag": [True]}, {"flag": 1}, False),
    ("EB booleans", {"flag": [False]}, {"flag": False}, True),
]


@pytest.mark.parametrize(("pattern", "record", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_documented_examples(pattern: Any, record: dict[str, Any], expected: bool) -> None:
    assert match(pattern, record) is expected


def test_sqs_body_filters_as_documented() -> None:
    # [SQS] {"body": {"RequestCode": ["BBBB"]}} and {"body": {"RecordNumber": [{"numeric": [">", 9999]}]}}
    body = {"RecordNumber": 1234, "TimeStamp": "yyyy-mm-ddThh:mm:ss", "RequestCode": "AAAA"}
    assert not match({"body": {"RequestCode": ["BBBB"]}}, sqs(body))
    assert match({"body": {"RequestCode": ["BBBB"]}}, sqs({**body, "RequestCode": "BBBB"}))
    assert not match({"body": {"RecordNumber": [{"numeric": [">", 9999]}]}}, sqs(body))
    assert match({"body": {"RecordNumber": [{"numeric": [">", 9999]}]}}, sqs({**body, "RecordNumber": 10000}))


@pytest.mark.parametrize(
    ("body", "pattern", "expected"),
    [
        # [LF] "Properly filtering Amazon SQS messages", the format table
        ("plain-string", {"body": ["plain-string"]}, True),  # plain string, plain string: filtered
        ("plain-string", {"body": [{"prefix": "plain"}]}, True),
        ("plain-string", {"messageId": ["m-1"]}, True),  # no pattern for the data: metadata only
        ("plain-string", {"body": {"k": ["plain-string"]}}, False),  # plain string, JSON: dropped
        ("plain-string", {"body": {"k": [{"exists": False}]}}, False),
        ({"k": "v"}, {"body": ["plain-string"]}, False),  # JSON, plain string: dropped
        ({"k": "v"}, {"body": [{"exists": False}]}, False),
        ({"k": "v"}, {"body": [{"anything-but": "x"}]}, False),
        ({"k": "v"}, {"messageId": ["m-1"]}, True),  # JSON, no pattern for the data
        ({"k": "v"}, {"body": {"k": ["v"]}}, True),  # JSON, JSON: filtered
        # [REC] test_sqs_event_filter: "valid-json-filter" drops a plain-string body
        ("plain-string", {"body": {"my-key": ["my-value"]}}, False),
        ({"my-key": "any-value-one"}, {"body": {"my-key": [{"exists": True}]}}, True),
        ({"other-key": "any-value-two"}, {"body": {"my-key": [{"exists": True}]}}, False),
        ({"my-number": 100}, {"body": {"my-number": [{"numeric": [">=", 100, "<", 200]}]}}, True),
        ({"my-number": 200}, {"body": {"my-number": [{"numeric": [">=", 100, "<", 200]}]}}, False),
    ],
)
def test_sqs_body_format(body: Any, pattern: Any, expected: bool) -> None:
    assert match(pattern, sqs(body)) is expected


def test_sqs_view_leaves_the_record_alone() -> None:
    record = {"messageId": "m", "body": '{"a": 1}'}
    view = record_view("sqs", record)
    assert view["body"] == {"a": 1}
    assert record["body"] == '{"a": 1}'
    assert record_view("sqs", {"body": "[1, 2]"})["body"] == "[1, 2]"  # only an object is JSON data


def test_kinesis_data_is_decoded() -> None:
    # [LF] "Filtering examples": {"partitionKey": ["1"], "data": {"Location": ["Los Angeles"]}}
    pattern = {"partitionKey": ["1"], "data": {"Location": ["Los Angeles"]}}
    assert match(pattern, kinesis(b'{"Location": "Los Angeles"}'))
    assert not match(pattern, kinesis(b'{"Location": "Seattle"}'))
    assert not match(pattern, kinesis(b'{"Location": "Los Angeles"}', partition_key="2"))
    # [LF] the Temperature example, numeric range on data
    temperature = {"data": {"Temperature": [{"numeric": [">", 50, "<=", 60]}]}}
    assert match(temperature, kinesis(b'{"Temperature": 60}'))
    assert not match(temperature, kinesis(b'{"Temperature": "55"}'))
    # the metadata as the function sees it, under "kinesis", too
    assert match({"kinesis": {"partitionKey": ["1"]}, "eventSource": ["aws:kinesis"]}, kinesis(b"x"))


def test_kinesis_non_json_data() -> None:
    # [LF] "Properly filtering Kinesis and DynamoDB messages": non-JSON data with a JSON pattern
    # for data is dropped; with no pattern for data, the metadata decides.
    assert not match({"data": {"k": [{"exists": False}]}}, kinesis(b"not json"))
    assert match({"partitionKey": ["1"]}, kinesis(b"not json"))
    # A pattern for data that is not JSON is refused at create for streams.
    with pytest.raises(InvalidParameterValueError, match=INVALID):
        validate_filter_criteria(criteria({"data": ["x"]}), source="kinesis")
    with pytest.raises(InvalidParameterValueError, match=INVALID):
        validate_filter_criteria(criteria({"$or": [{"dynamodb": [{"exists": True}]}, {"a": ["b"]}]}), source="dynamodb")
    validate_filter_criteria(criteria({"data": {"k": ["x"]}}), source="kinesis")


@pytest.mark.parametrize(
    ("pattern", "new_image", "expected"),
    [
        # [DDB] "Filtering with table attributes"
        (
            {"dynamodb": {"NewImage": {"AccountManager": {"S": ["Pat Candella", "Shirley Rodriguez"]}}}},
            {"AccountManager": {"S": "Pat Candella"}},
            True,
        ),
        (
            {"dynamodb": {"NewImage": {"AccountManager": {"S": ["Pat Candella"]}}}},
            {"AccountManager": {"S": "Jo"}},
            False,
        ),
        # [REC] test_dynamodb_event_filter: the attribute's type must be named
        (
            {"dynamodb": {"NewImage": {"presentKey": {"S": ["presentValue"]}}}},
            {"presentKey": {"S": "presentValue"}},
            True,
        ),
        ({"dynamodb": {"NewImage": {"presentKey": ["presentValue"]}}}, {"presentKey": {"S": "presentValue"}}, False),
        ({"dynamodb": {"NewImage": {"presentKey": {"S": [{"exists": True}]}}}}, {"presentKey": {"S": "v"}}, True),
        # exists looks at leaves: an attribute's object is not one (exists_false_filter: both match)
        ({"dynamodb": {"NewImage": {"presentKey": [{"exists": True}]}}}, {"presentKey": {"S": "v"}}, False),
        ({"dynamodb": {"NewImage": {"presentKey": [{"exists": False}]}}}, {"presentKey": {"S": "v"}}, True),
        ({"dynamodb": {"NewImage": {"presentKey": [{"exists": False}]}}}, {"id": {"S": "i"}}, True),
        # numeric_filter: N is a string; numeric never matches it, anything-but "101" does
        (
            {"dynamodb": {"NewImage": {"n": {"N": [{"numeric": [">", 100]}, {"anything-but": "101"}]}}}},
            {"n": {"N": "42"}},
            True,
        ),
        (
            {"dynamodb": {"NewImage": {"n": {"N": [{"numeric": [">", 100]}, {"anything-but": "101"}]}}}},
            {"n": {"N": "101"}},
            False,
        ),
        # prefix_filter and date_time_conversion
        ({"dynamodb": {"NewImage": {"p": {"S": [{"prefix": "us-1"}]}}}}, {"p": {"S": "us-1-other"}}, True),
        ({"dynamodb": {"NewImage": {"p": {"S": [{"prefix": "us-1"}]}}}}, {"p": {"S": "other"}}, False),
        ({"dynamodb": {"ApproximateCreationDateTime": [{"numeric": [">", 0]}]}}, {}, True),
    ],
)
def test_dynamodb_records(pattern: Any, new_image: dict[str, Any], expected: bool) -> None:
    assert match(pattern, dynamodb(new_image)) is expected


def test_dynamodb_metadata() -> None:
    # [REC] insert_same_entry_twice / content_or_filter: eventName filters the metadata
    assert match({"eventName": ["INSERT"]}, dynamodb({}))
    assert not match({"eventName": ["INSERT"]}, dynamodb({}, event_name="MODIFY"))
    assert match({"eventName": ["INSERT", "MODIFY"]}, dynamodb({}, event_name="MODIFY"))


def test_filters_are_ored_and_none_keeps_everything() -> None:
    patterns = parse_patterns(criteria({"a": ["1"]}, {"b": ["2"]}))
    assert matches_any(patterns, {"b": "2"})
    assert not matches_any(patterns, {"a": "2"})
    assert matches_any([], {"anything": 1})
    assert parse_patterns({"Filters": []}) == []
    assert parse_patterns({}) == []


def test_unknown_source_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown event source"):
        record_view("mq", {})


# -- validation -----------------------------------------------------------------------------

INVALID_PATTERNS = [
    # [REC] test_sqs_invalid_event_filter and test_dynamodb_invalid_event_filter
    "null",
    "simple string",
    {"eventSource": "aws:sqs"},
    {"eventSource": []},
    "single-string",
    '[{"eventName": ["INSERT"=123}]',
    # [EB] what EventBridge's syntax refuses
    "[]",
    '{"a": ["x"]',
    "{}",
    {"a": {}},
    {"a": [["x"]]},
    {"a": [{"prefix": 1}]},
    {"a": [{"prefix": "x", "suffix": "y"}]},
    {"a": [{"prefix": {"equals-ignore-case": 1}}]},
    {"a": [{"suffix": ["x"]}]},
    {"a": [{"equals-ignore-case": ["x"]}]},
    {"a": [{"unknown-operator": "x"}]},
    {"a": [{"exists": "true"}]},
    {"a": [{"numeric": [">", "1"]}]},
    {"a": [{"numeric": ["!=", 1]}]},
    {"a": [{"numeric": [">", 1, ">", 2]}]},
    {"a": [{"numeric": ["<", 5, ">", 1]}]},
    {"a": [{"numeric": [">", 5, "<", 1]}]},
    {"a": [{"numeric": [">", 1, "<"]}]},
    {"a": [{"numeric": []}]},
    {"a": [{"anything-but": True}]},
    {"a": [{"anything-but": None}]},
    {"a": [{"anything-but": []}]},
    {"a": [{"anything-but": [["x"]]}]},
    {"a": [{"anything-but": {"prefix": ["x"]}}]},
    {"a": [{"anything-but": {"numeric": [">", 1]}}]},
    {"a": [{"wildcard": "a**b"}]},
    {"a": [{"wildcard": "a\\b"}]},
    {"a": [{"wildcard": 1}]},
    {"a": [{"cidr": "10.0.0.0/33"}]},
    {"a": [{"cidr": "not-an-address"}]},
    {"$or": [{"a": ["x"]}]},
    {"$or": {"a": ["x"]}},
    {"$or": [{"a": ["x"]}, "b"]},
    '{"a": [NaN]}',
]


@pytest.mark.parametrize("pattern", INVALID_PATTERNS, ids=[json.dumps(p)[:60] for p in INVALID_PATTERNS])
def test_invalid_patterns_are_refused_with_aws_text(pattern: Any) -> None:
    with pytest.raises(InvalidParameterValueError) as caught:
        validate_filter_criteria(criteria(pattern))
    assert caught.value.message == INVALID
    assert caught.value.code == "InvalidParameterValueException"
    assert caught.value.status == 400


@pytest.mark.parametrize("filters", [[{}], [{"Pattern": None}], [{"Pattern": 1}], ["x"], {"Pattern": "{}"}])
def test_malformed_filters_are_refused(filters: Any) -> None:
    with pytest.raises(InvalidParameterValueError, match=INVALID):
        validate_filter_criteria({"Filters": filters})


def test_at_most_five_filters() -> None:
    validate_filter_criteria(criteria(*[{"a": [str(i)]} for i in range(MAX_FILTERS)]))
    with pytest.raises(InvalidParameterValueError, match="maximum of 5"):
        validate_filter_criteria(criteria(*[{"a": [str(i)]} for i in range(MAX_FILTERS + 1)]))


@pytest.mark.parametrize(
    "pattern",
    [
        {"a": [{"prefix": ""}]},
        {"a": [{"numeric": ["=", 1.5]}]},
        {"a": [{"numeric": [">=", -1e3, "<", 5e9]}]},
        {"a": [{"anything-but": [1, "x"]}]},
        {"a": [{"anything-but": {"wildcard": ["*/lib/*", "*/bin/*"]}}]},
        {"a": [{"anything-but": {"equals-ignore-case": "x"}}]},
        {"a": [{"cidr": "2001:db8::/32"}]},
        {"a": [None, True, 1, "x", {"exists": False}]},
        {"a": {"b": {"$or": [{"c": ["1"]}, {"d": ["2"]}]}}},
    ],
)
def test_valid_patterns_are_accepted(pattern: Any) -> None:
    validate_filter_criteria(criteria(pattern))


# -- properties -----------------------------------------------------------------------------

KEYS = st.text(alphabet=string.ascii_letters + "-_$", min_size=1, max_size=8).filter(lambda k: k != "$or")
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
)
DOCUMENTS = st.recursive(
    st.dictionaries(KEYS, SCALARS, max_size=4),
    lambda children: st.dictionaries(
        KEYS, st.one_of(SCALARS, children, st.lists(SCALARS, min_size=1, max_size=3)), max_size=4
    ),
    max_leaves=12,
)


def own_values(document: dict[str, Any]) -> dict[str, Any]:
    """A pattern made of the document's own values: each leaf an exact match of itself."""
    pattern: dict[str, Any] = {}
    for key, value in document.items():
        if isinstance(value, dict):
            if sub := own_values(value):
                pattern[key] = sub
        elif isinstance(value, list):
            pattern[key] = list(value)
        else:
            pattern[key] = [value]
    return pattern


@given(DOCUMENTS)
def test_a_pattern_of_a_record_own_values_matches_it(document: dict[str, Any]) -> None:
    pattern = own_values(document)
    assume(pattern)
    # through an SQS body, as a poller would see it: numbers keep their written form both sides
    assert match({"body": pattern}, sqs(json.dumps(document)))


@given(st.one_of(st.text(max_size=12), st.integers(), st.floats(allow_nan=False, allow_infinity=False)))
def test_anything_but_a_value_never_matches_it(value: Any) -> None:
    record = sqs({"k": value})
    assert not match({"body": {"k": [{"anything-but": value}]}}, record)
    assert not match({"body": {"k": [{"anything-but": [value]}]}}, record)
    assert match({"body": {"k": [value]}}, record)


@given(st.text(max_size=16), st.integers(min_value=0, max_value=16))
def test_prefix_and_suffix_of_a_string_match_it(text: str, cut: int) -> None:
    record = {"s": text}
    assert match({"s": [{"prefix": text[:cut]}]}, record)
    assert match({"s": [{"suffix": text[cut:]}]}, record)
    assert not match({"s": [{"anything-but": {"prefix": text[:cut]}}]}, record)


@given(st.text(alphabet=string.ascii_letters + string.digits + " -", max_size=16))
def test_equals_ignore_case_ignores_ascii_case(text: str) -> None:
    assert match({"s": [{"equals-ignore-case": text.swapcase()}]}, {"s": text})
    assert match({"s": [{"prefix": {"equals-ignore-case": text.upper()}}]}, {"s": text})


@given(st.text(max_size=16))
def test_wildcards(text: str) -> None:
    escaped = text.replace("\\", "\\\\").replace("*", "\\*")
    assert match({"s": [{"wildcard": escaped}]}, {"s": text})
    assert match({"s": [{"wildcard": "*"}]}, {"s": text})
    assert not match({"s": [{"wildcard": escaped + "x"}]}, {"s": text})


@given(st.integers(-1000, 1000), st.integers(1, 1000), st.integers(-3000, 3000))
def test_numeric_range(low: int, width: int, value: int) -> None:
    high = low + width
    assert match({"n": [{"numeric": [">=", low, "<", high]}]}, {"n": value}) is (low <= value < high)
    assert match({"n": [{"numeric": ["=", value]}]}, {"n": float(value)})


@given(st.text(max_size=80))
def test_any_text_parses_or_is_refused_with_aws_text(text: str) -> None:
    try:
        parse_patterns({"Filters": [{"Pattern": text}]})
    except InvalidParameterValueError as error:
        assert error.message == INVALID


@given(st.recursive(SCALARS, lambda c: st.one_of(st.lists(c, max_size=3), st.dictionaries(KEYS, c, max_size=3))))
def test_any_json_parses_or_is_refused_with_aws_text(document: Any) -> None:
    try:
        (pattern,) = parse_patterns(criteria(json.dumps(document)))
    except InvalidParameterValueError as error:
        assert error.message == INVALID
    else:
        matches(pattern, {"k": 1})  # whatever parses, matches without raising
