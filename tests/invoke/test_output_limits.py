"""Function output of any size, through boto3 against a real server.

Output is cut into lines in time linear in its length, and never holds the server: a small
function answers while another floods its output. A line longer than a CloudWatch Logs event
(256 KB less PutLogEvents' 26 bytes of overhead: 262,118 bytes) is split into consecutive
events of that size, as Lambda splits it, never tearing a UTF-8 character; the console copy of
each stays cut at ``LAMBDA_TRUNCATE_STDOUT``; ``LogType=Tail`` stays the last 4 KB. The log
history is bounded in bytes per function, and the invocation's own log in memory. The logs
endpoint refuses a ``limit`` below 1.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.conftest import Server
from tests.invoke.conftest import Functions

EVENT = 256 * 1024 - 26  # the largest CloudWatch Logs event, in UTF-8 bytes
FUNCTION_HISTORY = 4 * 1024 * 1024  # the log history kept per function (the server's default)

# ``n`` ASCII characters and ``m`` two-byte ones, on one line; then 1 MB of lines of "p". What
# of the output is still on its way (in the pipe, in the reader's buffer) when the response
# arrives joins the log after END: it is some of these, never the long line.
LONG_LINE = """\
def handler(event, context):
    print("a" * event["n"] + "\\u00e9" * event["m"])
    for _ in range(100):
        print("p" * 10_000)
    return "ok"
"""

# ``mb`` MB of output in 1 MB writes; lines of 1 MB when ``lines``, else one line, no newline.
WRITER = """\
import sys

def handler(event, context):
    block = ("y" * (1024 * 1024 - 1) + "\\n") if event.get("lines") else "x" * (1024 * 1024)
    for _ in range(event["mb"]):
        sys.stdout.write(block)
        sys.stdout.flush()
    return "done"
"""

# Writes one endless line (64 KB at a time, no newline) until the test says stop on a socket,
# or ``seconds`` have passed: {"stopped": true} means it was still writing when told.
FLOOD = """\
import socket, sys, time

def handler(event, context):
    stop = socket.create_connection(("127.0.0.1", event["port"]), timeout=10)
    stop.setblocking(False)
    block = "z" * 65536
    deadline = time.monotonic() + event["seconds"]
    written = 0
    while time.monotonic() < deadline:
        sys.stdout.write(block)
        sys.stdout.flush()
        written += len(block)
        try:
            stop.recv(16)  # data or the end of the connection: told to stop
            return {"stopped": True, "written": written}
        except BlockingIOError:
            pass
    return {"stopped": False, "written": written}
"""

SMALL = "def handler(event, context):\n    print('small and quick')\n    return {'small': True}\n"


def history(server: Server, name: str, query: str = "limit=10000") -> Any:
    url = f"{server.url}/_aws/lambda/logs/us-east-1/{name}?{query}"
    with urllib.request.urlopen(url, timeout=60) as resp:
        return json.loads(resp.read())


def long_line_events(server: Server, name: str, request_id: str) -> list[str]:
    """The history's events between this invocation's START and END, but LONG_LINE's "p" lines."""
    lines = [entry["line"] for entry in history(server, name)["lines"]]
    start = next(i for i, line in enumerate(lines) if line.startswith(f"START RequestId: {request_id} "))
    end = lines.index(f"END RequestId: {request_id}")
    return [line for line in lines[start + 1 : end] if not line.startswith("p")]


def flood_while_small_invoke(functions: Functions, flood: str, small: str) -> tuple[dict[str, Any], Any]:
    """Invoke ``small`` while ``flood`` writes; (the flood's answer, the small one's payload)."""
    answer: dict[str, Any] = {}
    flooder = Functions(functions.server)  # a client of its own, for the other thread
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(60)
        port = listener.getsockname()[1]
        flooding = threading.Thread(
            target=lambda: answer.update(flooder.invoke(flood, {"port": port, "seconds": 30}, LogType="Tail"))
        )
        flooding.start()
        try:
            conn, _ = listener.accept()  # the flood has started writing
            with conn:
                small_answer = functions.invoke_json(small, {})
                conn.sendall(b"stop")
        finally:
            flooding.join(120)
    assert not flooding.is_alive()
    return answer, small_answer


def test_a_long_line_is_split_into_events_as_lambda_does(functions: Functions) -> None:
    name = functions.python(LONG_LINE)
    out = functions.invoke(name, {"n": 600_000, "m": 0})
    assert "FunctionError" not in out
    events = long_line_events(functions.server, name, out["ResponseMetadata"]["RequestId"])
    assert [len(e) for e in events] == [EVENT, EVENT, 600_000 - 2 * EVENT]
    assert "".join(events) == "a" * 600_000
    # the console shows each event cut at LAMBDA_TRUNCATE_STDOUT (2000 by default)
    console = functions.server.log()
    assert f"[{name}] {'a' * 2000}...\n" in console
    assert "a" * 2001 not in console


def test_a_split_never_tears_a_character(functions: Functions) -> None:
    name = functions.python(LONG_LINE)
    # one ASCII byte, then two-byte characters: byte 262,118 is the middle of one
    out = functions.invoke(name, {"n": 1, "m": 200_000})
    events = long_line_events(functions.server, name, out["ResponseMetadata"]["RequestId"])
    sizes = [len(e.encode()) for e in events]
    assert sizes == [EVENT - 1, 400_001 - (EVENT - 1)]
    assert "".join(events) == "a" + "\u00e9" * 200_000
    assert "\ufffd" not in "".join(events)


def test_a_huge_line_without_newline_is_handled_linearly(functions: Functions) -> None:
    # 64 MB on one line: cutting it quadratically took minutes (20 MB took 4-7 s), far past
    # the function's timeout (a false Sandbox.Timedout); linearly it takes well under a second.
    name = functions.python(WRITER, timeout=30, memory=512)
    out = functions.invoke(name, {"mb": 64}, LogType="Tail")
    assert "FunctionError" not in out, out["Payload"]
    assert json.loads(out["Payload"]) == "done"
    rid = out["ResponseMetadata"]["RequestId"]
    # the tail is still the last 4 KB of the log: the line's end, then END and REPORT
    tail = out["Log"].split("\n")
    assert len(out["Log"].encode()) <= 4096 and set(tail[0]) == {"x"}
    assert f"END RequestId: {rid}" in tail and tail[-2].startswith(f"REPORT RequestId: {rid}\t")
    # the history holds the newest events of the line, each one event long at most
    kept = [entry["line"] for entry in history(functions.server, name)["lines"]]
    assert f"END RequestId: {rid}" in kept
    pieces = [line for line in kept if line.startswith("x")]
    assert pieces and all(set(p) == {"x"} and len(p) <= EVENT for p in pieces)


def test_a_small_invoke_answers_while_another_function_floods(functions: Functions) -> None:
    flood = functions.python(FLOOD, timeout=60, memory=256)
    small = functions.python(SMALL)
    functions.invoke_json(small, {})  # warm
    flood_answer, small_answer = flood_while_small_invoke(functions, flood, small)
    assert small_answer == {"small": True}
    assert "FunctionError" not in flood_answer, flood_answer["Payload"]
    result = json.loads(flood_answer["Payload"])
    assert result["stopped"] is True, result  # the flood still ran when the small one answered
    assert flood_answer["Log"].startswith("z" * 100)


def test_the_log_history_is_bounded_in_bytes(functions: Functions) -> None:
    name = functions.python(WRITER, memory=256, timeout=30)
    out = functions.invoke(name, {"mb": 40, "lines": True})
    assert "FunctionError" not in out
    kept = [entry["line"] for entry in history(functions.server, name)["lines"]]
    # 40 MB written: what is kept is the newest few MB, this invocation's END and REPORT with them
    assert sum(len(line) for line in kept) <= FUNCTION_HISTORY
    assert f"END RequestId: {out['ResponseMetadata']['RequestId']}" in kept
    assert kept[-1].startswith("REPORT RequestId: ") or set(kept[-1]) == {"y"}
    assert all(set(line) == {"y"} for line in kept if not line.startswith(("END ", "REPORT ")))


def test_a_flood_of_output_does_not_grow_the_server(spawn_server: Callable[..., Server]) -> None:
    server = spawn_server()
    fns = Functions(server)
    name = fns.python(WRITER, memory=256, timeout=60)
    fns.invoke(name, {"mb": 1})
    # Function logs also go to CloudWatch Logs, whose embedded moto is loaded at the first
    # delivery (~150 MB of its own): load it before measuring, so what is measured is the flood.
    logs = server.client("logs")
    deadline = time.monotonic() + 30
    while not logs.describe_log_groups(logGroupNamePrefix=f"/aws/lambda/{name}")["logGroups"]:
        assert time.monotonic() < deadline, "the first invocation's logs never reached CloudWatch Logs"
        time.sleep(0.1)
    assert server.proc is not None
    before = _status_mb(server.proc.pid, "VmRSS:")
    out = fns.invoke(name, {"mb": 300, "lines": True}, LogType="Tail")
    assert "FunctionError" not in out
    assert out["Log"].endswith("\t\n") and "y" * 100 in out["Log"]
    # Keeping it all took the server past 600 MB for these 300 MB (the history and the
    # invocation's log each held everything); bounded, it stays within a few tens of MB.
    grown = _status_mb(server.proc.pid, "VmHWM:") - before
    assert grown < 150, f"the server grew by {grown:.0f} MB"


def test_the_logs_endpoint_refuses_a_limit_below_one(functions: Functions) -> None:
    name = functions.python(SMALL)
    functions.invoke(name, {})
    for bad in ("0", "-1", "-100000", "many"):
        try:
            history(functions.server, name, f"limit={bad}")
        except urllib.error.HTTPError as exc:
            assert exc.code == 400
            assert "limit" in json.loads(exc.read())["message"]
        else:
            raise AssertionError(f"limit={bad} was answered")
    assert history(functions.server, name, "limit=1")["lines"][0]["line"].startswith("REPORT RequestId: ")
    lines = history(functions.server, name, f"limit={10**12}")["lines"]
    assert lines[-1]["line"].startswith("REPORT RequestId: ") and "small and quick" in [e["line"] for e in lines]


def _status_mb(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no {field} for {pid}")
