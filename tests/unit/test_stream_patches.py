"""The pure parts of the DynamoDB Streams patches: item sizes by DynamoDB's rules (the examples
AWS documents and records), shard iterators forgotten 15 minutes after they were issued."""

from __future__ import annotations

from typing import Any

import pytest

from locallambda.neighbours.stream_patches import ITERATOR_LIFETIME, _forget_expired, item_size


@pytest.mark.parametrize(
    ("attributes", "size"),
    [
        # the Lambda developer guide's sample DynamoDB event: Keys + NewImage, SizeBytes 26
        ({"Id": {"N": "101"}}, 5),
        ({"Message": {"S": "New item!"}, "Id": {"N": "101"}}, 21),
        # AWS-recorded (LocalStack's parity snapshots): 27 + 43 = 70, 23 + 35 = 58
        ({"my_partition_key": {"S": "hello world"}}, 27),
        ({"my_partition_key": {"S": "hello world"}, "binary_key": {"B": b"foobar"}}, 43),
        ({"my_partition_key": {"S": "testId0"}, "should_fail": {"BOOL": False}}, 35),
    ],
)
def test_item_sizes_as_aws_counts_them(attributes: dict[str, Any], size: int) -> None:
    assert item_size(attributes) == size


def test_numbers_count_their_significant_digits() -> None:
    # one byte per two significant digits, plus one; leading and trailing zeros trimmed
    assert item_size({"n": {"N": "1"}}) == 1 + 2
    assert item_size({"n": {"N": "12345"}}) == 1 + 4
    assert item_size({"n": {"N": "1000"}}) == 1 + 2
    assert item_size({"n": {"N": "-0.0050"}}) == 1 + 2


def test_documents_and_sets() -> None:
    # a list or map: 3 bytes, plus its elements, plus a byte each (map keys count too)
    assert item_size({"l": {"L": []}}) == 1 + 3
    assert item_size({"l": {"L": [{"S": "ab"}, {"BOOL": True}]}}) == 1 + 3 + (2 + 1) + (1 + 1)
    assert item_size({"m": {"M": {"k": {"S": "v"}}}}) == 1 + 3 + (1 + 1 + 1)
    assert item_size({"s": {"SS": ["a", "bc"]}, "b": {"BS": [b"xyz"]}, "z": {"NULL": True}}) == 4 + 4 + 2


class _Iterator:
    def __init__(self, issued: float | None) -> None:
        if issued is not None:
            self._locallambda_issued = issued


def test_iterators_older_than_15_minutes_are_forgotten() -> None:
    now = 10_000.0
    iterators: dict[str, Any] = {
        "old": _Iterator(now - ITERATOR_LIFETIME - 1),
        "young": _Iterator(now - 1),
        "newest": _Iterator(now),
    }
    _forget_expired(iterators, now)
    assert list(iterators) == ["young", "newest"]


def test_restored_iterators_count_from_now() -> None:
    iterators: dict[str, Any] = {"restored": _Iterator(None)}
    _forget_expired(iterators, 50.0)
    assert list(iterators) == ["restored"]
    _forget_expired(iterators, 50.0 + ITERATOR_LIFETIME + 1)
    assert list(iterators) == []
