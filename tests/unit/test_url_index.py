"""The URL index of control/urls.py in process: a URL id is found without walking the functions,
and the index follows configurations created, deleted, changed with their alias, or left stale."""

from __future__ import annotations

from typing import Any

import pytest

from locallambda.control.urls import UrlIndex
from locallambda.store.documents import DocumentStore
from locallambda.store.functions import Change, FunctionRecord, FunctionRegistry, VersionRecord


class NoScans(FunctionRegistry):
    """A registry that fails any walk over all functions once the index is built."""

    walks_allowed = True

    def all(self) -> list[FunctionRecord]:
        assert self.walks_allowed, "the index walked every function"
        return super().all()

    def in_region(self, region: str) -> list[FunctionRecord]:
        raise AssertionError("the index walked a region's functions")


def record(name: str, urls: dict[str, str]) -> FunctionRecord:
    fn = FunctionRecord(name, "us-east-1", "000000000000", VersionRecord({"Version": "$LATEST"}))
    fn.url_configs = {key: {"_UrlId": url_id, "AuthType": "NONE"} for key, url_id in urls.items()}
    return fn


@pytest.fixture()
def registry() -> Any:
    functions = NoScans(DocumentStore(None))
    functions.add(record("stored", {"$LATEST": "storedid"}))
    return functions


def test_built_from_stored_functions_then_looked_up_without_walks(registry: NoScans) -> None:
    index = UrlIndex(registry)
    registry.walks_allowed = False
    target = index.find("STOREDID", "us-east-1")  # host names are case-insensitive
    assert target is not None and target.record.name == "stored" and target.qualifier is None
    assert index.find("storedid", "eu-west-1") is None  # another region's host
    assert index.find("nosuchid", "us-east-1") is None and not index.existed("nosuchid")


def test_follows_creates_alias_deletes_and_function_deletes(registry: NoScans) -> None:
    index = UrlIndex(registry)
    registry.walks_allowed = False
    fn = record("fn", {"$LATEST": "latestid", "live": "liveid"})
    registry.add(fn)
    index.sync(fn)
    live = index.find("liveid", "us-east-1")
    assert live is not None and live.qualifier == "live"
    fn.url_configs.pop("live")  # DeleteAlias takes the alias's URL, then tells the listeners
    index.changed(fn, Change.UPDATED)
    assert index.find("liveid", "us-east-1") is None and index.existed("liveid")
    assert index.find("latestid", "us-east-1") is not None
    registry.remove(fn)
    index.changed(fn, Change.DELETED)
    assert index.find("latestid", "us-east-1") is None and index.existed("latestid")
    # Created again: found again, and no longer counted as deleted.
    again = record("fn", {"$LATEST": "latestid"})
    registry.add(again)
    index.sync(again)
    found = index.find("latestid", "us-east-1")
    assert found is not None and found.record is again and not index.existed("latestid")


def test_a_stale_entry_answers_nothing(registry: NoScans) -> None:
    index = UrlIndex(registry)
    registry.walks_allowed = False
    stored = registry.get("us-east-1", "stored")
    assert stored is not None
    stored.url_configs.clear()  # changed without telling the index
    assert index.find("storedid", "us-east-1") is None
    assert index.existed("storedid")


def test_a_custom_id_taken_over_by_another_function(registry: NoScans) -> None:
    index = UrlIndex(registry)
    first, second = record("first", {"$LATEST": "shared"}), record("second", {"$LATEST": "shared"})
    for fn in (first, second):
        registry.add(fn)
        index.sync(fn)
    first.url_configs.clear()
    index.sync(first)  # the first one's URL goes; the id stays the second one's
    target = index.find("shared", "us-east-1")
    assert target is not None and target.record is second
