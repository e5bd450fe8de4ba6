"""The invocation journal in process: its bound, what an entry keeps, and how it reads as JSON."""

from __future__ import annotations

import base64
from typing import Any

from locallambda.edge.journal import entry_view
from locallambda.invoke.journal import API, LOG_LINES, Journal, Status, Trigger, trigger_named
from locallambda.model.spec import InvocationResult
from locallambda.testing.executor import function_spec

SPEC = function_spec("fn")


def _ran(journal: Journal, payload: bytes, answer: bytes = b"{}", **result: Any) -> None:
    journal.ran(SPEC, "$LATEST", API, payload, 1_700_000_000.25, InvocationResult("rid", answer, "$LATEST", **result))


def test_the_journal_keeps_the_newest_entries_up_to_its_size() -> None:
    journal = Journal(3, 1024)
    for n in range(5):
        _ran(journal, str(n).encode())
    assert [e.request.data for e in journal.newest()] == [b"4", b"3", b"2"]
    assert len(journal) == 3


def test_a_journal_of_size_0_is_off() -> None:
    journal = Journal(0, 1024)
    assert not journal.enabled and len(journal) == 0 and journal.select() == []


def test_payloads_over_the_bound_keep_their_first_bytes() -> None:
    journal = Journal(10, 4)
    _ran(journal, b"abcdefgh", b"xy")
    (entry,) = journal.newest()
    assert (entry.request.data, entry.request.size, entry.request.truncated) == (b"abcd", 8, True)
    assert entry.response is not None and not entry.response.truncated
    view = entry_view(entry)
    assert view["Request"] == {"Payload": "abcd", "Size": 8, "Truncated": True}
    assert view["StartTime"] == "2023-11-14T22:13:20.250Z"


def test_bytes_that_are_not_utf8_read_as_base64() -> None:
    journal = Journal(10, 1024)
    _ran(journal, b"\xff\xfe\x00", b"\x80")
    view = entry_view(next(journal.newest()))
    assert view["Request"] == {
        "Payload": base64.b64encode(b"\xff\xfe\x00").decode(),
        "Size": 3,
        "Truncated": False,
        "Encoding": "base64",
    }
    assert view["Response"]["Encoding"] == "base64"


def test_a_cut_inside_a_character_still_reads_as_text() -> None:
    journal = Journal(10, 3)
    _ran(journal, "aé€".encode())  # a, then é's two bytes, cut in the middle of €
    assert entry_view(next(journal.newest()))["Request"]["Payload"] == "aé"


def test_status_and_error_come_from_the_answer() -> None:
    journal = Journal(10, 1024)
    _ran(journal, b"{}", b'{"errorType": "KeyError", "errorMessage": "x"}', function_error="Unhandled")
    _ran(journal, b"{}", b'{"errorType": "Sandbox.Timedout", "errorMessage": "late"}', function_error="Unhandled")
    journal.not_run(
        SPEC, "$LATEST", API, "rid", b"{}", 0.0, refusal=("TooManyRequestsException", "Rate"), throttled=True
    )
    journal.not_run(SPEC, "$LATEST", API, "rid", b"{}", 0.0, refusal=("ServiceException", "no env"))
    journal.not_run(SPEC, "$LATEST", Trigger("api", "DryRun"), "rid", b"{}", 0.0)
    outcomes = [e.outcome() for e in journal.newest()]
    assert outcomes == [
        (Status.SUCCESS, None),
        (Status.FAILED, ("ServiceException", "no env")),
        (Status.THROTTLED, ("TooManyRequestsException", "Rate")),
        (Status.TIMEOUT, ("Sandbox.Timedout", "late")),
        (Status.ERROR, ("KeyError", "x")),
    ]
    assert [e.outcome()[0] for e in journal.select(status=Status.ERROR)] == [Status.ERROR]


def test_log_lines_are_bounded_and_keep_tracebacks_whole() -> None:
    journal = Journal(10, 1024)
    log = "START\n" + "".join(f"line {n}\n" for n in range(200)) + "Traceback\r  File x\rValueError\nEND\n"
    _ran(journal, b"{}", log=log)
    lines, truncated = next(journal.newest()).log_lines()
    assert truncated and len(lines) == LOG_LINES
    assert lines[-2:] == ["Traceback\r  File x\rValueError", "END"]


def test_trigger_names_from_a_header() -> None:
    assert trigger_named("sns", "event") == "sns"
    assert trigger_named(None, "event") == "event"
    assert trigger_named("Not A Name!", "api") == "api"
