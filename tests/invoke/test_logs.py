"""Function logs: the platform lines AWS writes around each invocation, and where logs go.

``START RequestId: <id> Version: <v>``, the function's output, ``END RequestId: <id>``, then
``REPORT RequestId: <id>\\tDuration: X ms\\tBilled Duration: Y ms\\tMemory Size: M MB\\tMax Memory
Used: Z MB\\t`` with ``Init Duration: W ms\\t`` on a cold start only. The same lines reach the
function's log history (``locallambda logs``), and its output the server console.
"""

from __future__ import annotations

import math
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from tests.conftest import Server
from tests.invoke.conftest import Functions

REPORT = re.compile(
    r"REPORT RequestId: (?P<rid>[0-9a-f-]{36})\tDuration: (?P<duration>\d+\.\d\d) ms\t"
    r"Billed Duration: (?P<billed>\d+) ms\tMemory Size: (?P<memory>\d+) MB\tMax Memory Used: (?P<used>\d+) MB\t"
    r"(Init Duration: (?P<init>\d+\.\d\d) ms\t)?"
)

PRINTER = """\
import time

def handler(event, context):
    print("hello from the function")
    if event.get("sleep"):
        time.sleep(event["sleep"])
    if event.get("partial"):
        print("no newline at the end", end="")
    return "ok"
"""


def report_of(log: str) -> re.Match[str]:
    lines = [line for line in log.split("\n") if line.startswith("REPORT ")]
    assert len(lines) == 1, log
    match = REPORT.fullmatch(lines[0])
    assert match, repr(lines[0])
    return match


def test_report_line(functions: Functions) -> None:
    name = functions.python(PRINTER, memory=512)
    cold = functions.invoke(name, {}, LogType="Tail")
    warm = functions.invoke(name, {"sleep": 0.05}, LogType="Tail")
    first, second = report_of(cold["Log"]), report_of(warm["Log"])
    assert first["rid"] == cold["ResponseMetadata"]["RequestId"]
    assert second["rid"] == warm["ResponseMetadata"]["RequestId"]
    assert first["memory"] == second["memory"] == "512"
    assert first["init"] is not None and float(first["init"]) > 0
    assert second["init"] is None  # only the cold start reports Init Duration
    duration = float(second["duration"])
    assert duration >= 50  # the 50 ms the function slept are in it
    # billed per millisecond, rounded up, from the duration before it was rounded to two decimals
    # (51.004 ms reads "51.00 ms" and bills 52)
    assert int(second["billed"]) in {max(1, math.ceil(duration - 0.005)), max(1, math.ceil(duration + 0.005))}
    assert 0 < int(second["used"]) < 1024
    # the order of a cold start's log
    lines = cold["Log"].split("\n")
    assert lines[0] == f"START RequestId: {first['rid']} Version: $LATEST"
    assert lines[1:3] == ["hello from the function", f"END RequestId: {first['rid']}"]
    assert lines[3].startswith("REPORT RequestId: ") and lines[4:] == [""]


def test_init_output_is_in_the_first_invocations_log(functions: Functions) -> None:
    name = functions.python("print('loading the module')\n\ndef handler(event, context):\n    return 1\n")
    cold = functions.invoke(name, {}, LogType="Tail")["Log"]
    warm = functions.invoke(name, {}, LogType="Tail")["Log"]
    assert cold.startswith("loading the module\nSTART RequestId: ")  # however fast the init was
    assert "loading the module" not in warm


def test_start_line_names_the_version(functions: Functions) -> None:
    name = functions.python(PRINTER)
    functions.client.publish_version(FunctionName=name)
    functions.client.create_alias(FunctionName=name, Name="prod", FunctionVersion="1")
    for qualifier in ("1", "prod"):
        out = functions.invoke(name, {}, Qualifier=qualifier, LogType="Tail")
        assert out["Log"].startswith(f"START RequestId: {out['ResponseMetadata']['RequestId']} Version: 1\n")


def test_output_without_newline_stays_with_its_invocation(functions: Functions) -> None:
    name = functions.python(PRINTER)
    out = functions.invoke(name, {"partial": True}, LogType="Tail")
    lines = out["Log"].split("\n")
    assert lines[1:4] == [
        "hello from the function",
        "no newline at the end",
        f"END RequestId: {out['ResponseMetadata']['RequestId']}",
    ]
    nxt = functions.invoke(name, {}, LogType="Tail")
    assert "no newline at the end" not in nxt["Log"]


def test_function_output_on_the_server_console(functions: Functions) -> None:
    name = functions.python("def handler(event, context):\n    print('console line', event['n'])\n")
    functions.invoke(name, {"n": 42})
    assert f"[{name}] console line 42" in functions.server.log()


def test_console_truncation(spawn_server: Callable[..., Server]) -> None:
    server = spawn_server(LAMBDA_TRUNCATE_STDOUT="20")
    fns = Functions(server)
    name = fns.python("def handler(event, context):\n    print('0123456789' * 10)\n")
    out = fns.invoke(name, {}, LogType="Tail")
    assert "0123456789" * 10 in out["Log"]  # the log itself is whole
    assert f"[{name}] 01234567890123456789...\n" in server.log()


def test_log_history_through_the_cli(functions: Functions) -> None:
    name = functions.python(PRINTER)
    out = functions.invoke(name, {})
    rid = out["ResponseMetadata"]["RequestId"]
    logs = subprocess.run(
        [sys.executable, "-m", "locallambda", "logs", name, "--endpoint", functions.server.url],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=Path(__file__).parent,
    )
    assert logs.returncode == 0, logs.stderr
    lines = logs.stdout.split("\n")
    start = lines.index(f"START RequestId: {rid} Version: $LATEST")
    assert lines[start + 1 : start + 3] == ["hello from the function", f"END RequestId: {rid}"]
    assert REPORT.fullmatch(lines[start + 3])


def test_log_follow_through_the_cli(functions: Functions) -> None:
    name = functions.python(PRINTER)
    follower = subprocess.Popen(
        [sys.executable, "-m", "locallambda", "logs", name, "--follow", "--endpoint", functions.server.url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parent,
    )
    try:
        time.sleep(0.3)
        rid = functions.invoke(name, {})["ResponseMetadata"]["RequestId"]
        assert follower.stdout is not None
        seen: list[str] = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and f"END RequestId: {rid}" not in seen:
            seen.append(follower.stdout.readline().rstrip("\n"))
        assert f"START RequestId: {rid} Version: $LATEST" in seen
        assert "hello from the function" in seen
        assert f"END RequestId: {rid}" in seen
    finally:
        follower.kill()
        follower.wait(5)
