"""``locallambda`` as a user runs it against a running server: status, functions, layers,
invoke, logs (tracebacks one line each, colours only on a terminal), journal and replay.

Every command runs as its own process (``python -m locallambda``), as from a shell.
"""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from locallambda import __version__
from tests.conftest import Server, free_port, make_zip
from tests.invoke.conftest import EXECUTOR, HOST_PYTHON_RUNTIME, Functions, stop_checked, unique

ANSI = re.compile(r"\x1b\[[0-9;]*m")

HANDLER = """\
import json

def handler(event, context):
    print("got", json.dumps(event, sort_keys=True))
    if event.get("fail"):
        raise ValueError("boom")
    return {"echo": event, "version": context.function_version}
"""


@pytest.fixture(scope="module")
def srv() -> Iterator[Server]:
    # Image functions fail to prepare ("Docker not available") wherever this runs: the Docker
    # host named here does not exist.
    server = Server(
        env={
            "LAMBDA_SYNCHRONOUS_CREATE": "0",
            "LAMBDA_EXECUTOR": EXECUTOR,
            "DOCKER_HOST": "unix:///nonexistent/locallambda-test/docker.sock",
        }
    ).start()
    try:
        yield server
    finally:
        stop_checked(server)


@pytest.fixture()
def functions(srv: Server) -> Iterator[Functions]:
    fns = Functions(srv)
    yield fns
    fns.cleanup()


def cli(
    srv: Server | None, *args: str, env: dict[str, str] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m locallambda ARGS`` (with ``--endpoint-url`` of ``srv``), its output captured."""
    endpoint = ["--endpoint-url", srv.url] if srv is not None else []
    base = srv.env if srv is not None else {**os.environ}
    return subprocess.run(
        [sys.executable, "-m", "locallambda", *args, *endpoint],
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        input=stdin,
        timeout=120,
    )


def on_a_terminal(srv: Server, *args: str) -> str:
    """What ``locallambda ARGS`` writes when its stdout and stderr are a terminal."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "locallambda", *args, "--endpoint-url", srv.url],
        env=srv.env,
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=follower,
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:  # EIO: the terminal's other end is closed
            break
        if not data:
            break
        chunks.append(data)
    os.close(leader)
    assert proc.wait(60) == 0
    return b"".join(chunks).decode(errors="replace").replace("\r\n", "\n")


def test_version() -> None:
    out = cli(None, "--version")
    assert (out.returncode, out.stdout.strip()) == (0, f"locallambda {__version__}")


def test_status_shows_executor_services_functions_and_warm_environments(srv: Server, functions: Functions) -> None:
    name = functions.python(HANDLER)
    functions.invoke(name, {})  # one warm environment
    out = cli(srv, "status")
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert ANSI.search(text) is None  # not a terminal: no colours
    health = json.loads(cli(srv, "status", "--json").stdout)
    executor = health["health"]["executor"]
    assert re.search(rf"^executor\s+{executor}$", text, re.M)
    assert re.search(r"^functions\s+\d+ in us-east-1 \(.*\d+ Active.*\)$", text, re.M)
    assert re.search(r"^environments\s+\d+ warm \(.*idle.*\)$", text, re.M)
    assert re.search(r"^services running\s+lambda", text, re.M)
    assert re.search(r"^services available\s+.*\bs3\b.*\bsqs\b", text, re.M)
    assert re.search(rf"^\s+us-east-1/{name}: 1 warm$", text, re.M)
    assert health["health"]["environments"]["functions"][f"us-east-1/{name}"] == 1
    assert health["functions"]["Active"] >= 1


def test_functions_table(srv: Server, functions: Functions) -> None:
    name = functions.python(HANDLER, memory=256)
    image = unique("image")
    functions.client.create_function(
        FunctionName=image,
        PackageType="Image",
        Code={"ImageUri": "public.ecr.aws/lambda/python:3.12"},
        Role="arn:aws:iam::000000000000:role/lambda-role",
    )
    functions.names.append(image)
    functions.client.get_waiter("function_active_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 100}
    )
    out = cli(srv, "functions")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert re.fullmatch(r"NAME\s+RUNTIME\s+STATE\s+LAST MODIFIED \(UTC\)\s+MEMORY", lines[0])
    row = next(line for line in lines if line.startswith(name + " "))
    assert re.fullmatch(
        rf"{name}\s+{re.escape(HOST_PYTHON_RUNTIME)}\s+Active\s+\d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d\s+256 MB", row
    )
    image_row = next(line for line in lines if line.startswith(image + " "))
    assert re.fullmatch(rf"{image}\s+image\s+Failed\s+\S+ \S+\s+128 MB", image_row)
    listed = json.loads(cli(srv, "functions", "--json").stdout)
    assert {f["FunctionName"]: f["State"] for f in listed}[name] == "Active"


def test_layers_table(srv: Server) -> None:
    client = srv.client()
    layer = unique("layer")
    client.publish_layer_version(
        LayerName=layer,
        Content={"ZipFile": make_zip({"python/util.py": "X = 1\n"})},
        CompatibleRuntimes=["python3.12"],
        Description="a helper",
    )
    version = client.publish_layer_version(LayerName=layer, Content={"ZipFile": make_zip({"python/util.py": "X=2"})})
    try:
        out = cli(srv, "layers")
        assert out.returncode == 0, out.stderr
        lines = out.stdout.splitlines()
        assert re.fullmatch(r"NAME\s+LATEST\s+RUNTIMES\s+CREATED \(UTC\)\s+DESCRIPTION", lines[0])
        row = next(line for line in lines if line.startswith(layer + " "))
        assert re.fullmatch(rf"{layer}\s+2\s+-\s+\S+ \S+", row)  # the latest version: no runtimes, no text
    finally:
        for number in (1, version["Version"]):
            client.delete_layer_version(LayerName=layer, VersionNumber=number)


def test_invoke_prints_the_result_and_the_log_tail(srv: Server, functions: Functions, tmp_path: Path) -> None:
    name = functions.python(HANDLER)
    out = cli(srv, "invoke", name, "--payload", '{"n": 1}')
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"echo": {"n": 1}, "version": "$LATEST"}
    err = out.stderr.splitlines()
    start = next(i for i, line in enumerate(err) if line.startswith("START RequestId: "))
    assert err[start + 1] == 'got {"n": 1}'
    assert err[start + 2].startswith("END RequestId: ") and err[start + 3].startswith("REPORT RequestId: ")

    event = tmp_path / "event.json"
    event.write_text('{"from": "a file"}')
    assert json.loads(cli(srv, "invoke", name, "--payload", f"@{event}", "--no-logs").stdout)["echo"] == {
        "from": "a file"
    }
    piped = cli(srv, "invoke", name, "--payload", "@-", "--no-logs", stdin='{"from": "stdin"}')
    assert json.loads(piped.stdout)["echo"] == {"from": "stdin"} and piped.stderr == ""


def test_invoke_a_qualifier(srv: Server, functions: Functions) -> None:
    name = functions.python(HANDLER)
    version = functions.client.publish_version(FunctionName=name)["Version"]
    functions.client.create_alias(FunctionName=name, Name="live", FunctionVersion=version)
    for qualifier in (version, "live"):
        out = cli(srv, "invoke", name, "--qualifier", qualifier, "--no-logs")
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout)["version"] == version


def test_invoke_a_function_error_exits_1_with_the_traceback_on_lines(srv: Server, functions: Functions) -> None:
    name = functions.python(HANDLER)
    out = cli(srv, "invoke", name, "--payload", '{"fail": true}')
    assert out.returncode == 1
    assert json.loads(out.stdout)["errorType"] == "ValueError"
    err = out.stderr.splitlines()
    assert "\r" not in out.stderr
    at = err.index("[ERROR] ValueError: boom")
    assert err[at + 1] == "Traceback (most recent call last):"
    assert "line 6, in handler" in err[at + 2]
    assert err[-1] == "function error (Unhandled)"


def test_invoke_event_and_dry_run(srv: Server, functions: Functions) -> None:
    name = functions.python(HANDLER)
    out = cli(srv, "invoke", name, "--type", "Event", "--payload", "{}")
    assert out.returncode == 0, out.stderr
    assert out.stdout == ""
    assert re.fullmatch(r"accepted \(202\), request id [0-9a-f-]{36}\n", out.stderr)
    dry = cli(srv, "invoke", name, "--type", "DryRun")
    assert (dry.returncode, dry.stdout) == (0, "")
    assert dry.stderr.startswith("allowed (204)")


def test_invoke_waits_for_a_pending_function(srv: Server, functions: Functions) -> None:
    # The server prepares functions in the background: right after CreateFunction the function
    # is Pending, and invoke waits (saying so) until it is Active.
    name = functions.python(HANDLER, wait=False)
    out = cli(srv, "invoke", name, "--payload", '{"k": "v"}', "--no-logs")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["echo"] == {"k": "v"}
    if out.stderr:  # still Pending when the command looked
        assert re.fullmatch(
            rf"waiting for {name} \(Pending\) to become Active…\n{name} is ready after \d+\.\d s\n", out.stderr
        )


def test_invoke_a_failed_or_missing_function(srv: Server, functions: Functions) -> None:
    image = unique("image")
    functions.client.create_function(
        FunctionName=image,
        PackageType="Image",
        Code={"ImageUri": "public.ecr.aws/lambda/python:3.12"},
        Role="arn:aws:iam::000000000000:role/lambda-role",
    )
    functions.names.append(image)
    out = cli(srv, "invoke", image)
    assert out.returncode == 1
    assert out.stderr.endswith(f"locallambda: {image} is Failed: Docker not available\n")
    missing = cli(srv, "invoke", "no-such-function")
    assert missing.returncode == 1
    assert missing.stderr == (
        "locallambda: ResourceNotFoundException: Function not found: "
        "arn:aws:lambda:us-east-1:000000000000:function:no-such-function\n"
    )
    bad_file = cli(srv, "invoke", image, "--payload", "@/nonexistent/event.json")
    assert bad_file.returncode == 2 and "cannot read the payload file /nonexistent/event.json" in bad_file.stderr


def test_logs_print_a_traceback_line_by_line(srv: Server, functions: Functions) -> None:
    name = functions.python(HANDLER)
    functions.invoke(name, {"fail": True})
    out = cli(srv, "logs", name)
    assert out.returncode == 0, out.stderr
    assert "\r" not in out.stdout and ANSI.search(out.stdout) is None
    lines = out.stdout.splitlines()
    at = lines.index("[ERROR] ValueError: boom")
    assert lines[at - 1] == 'got {"fail": true}'
    assert lines[at + 1] == "Traceback (most recent call last):"
    assert re.fullmatch(r'\s+File ".*/handler.py", line 6, in handler', lines[at + 2])  # /var/task in a sandbox
    assert lines[at + 3].strip() == 'raise ValueError("boom")'
    assert lines[at + 4].startswith("END RequestId: ")


def test_logs_in_colour_on_a_terminal_only(srv: Server, functions: Functions) -> None:
    name = functions.python(HANDLER)
    functions.invoke(name, {"fail": True})
    shown = on_a_terminal(srv, "logs", name)
    lines = shown.splitlines()
    assert any(line.startswith("\x1b[2mSTART RequestId: ") for line in lines)  # dim
    assert "\x1b[31m[ERROR] ValueError: boom\x1b[0m" in lines  # red, and so is its traceback
    assert "\x1b[31mTraceback (most recent call last):\x1b[0m" in lines
    assert "\x1b[" not in next(line for line in lines if line.startswith("got "))
    plain = on_a_terminal(srv, "logs", name, "--no-color")
    assert ANSI.search(plain) is None and "[ERROR] ValueError: boom\n" in plain
    forced = cli(srv, "logs", name, "--color", "always")
    assert "\x1b[31m[ERROR] ValueError: boom\x1b[0m" in forced.stdout.splitlines()


def test_the_endpoint_comes_from_aws_endpoint_url(srv: Server, functions: Functions) -> None:
    name = functions.python(HANDLER)
    out = cli(None, "functions", env={**srv.env, "AWS_ENDPOINT_URL": srv.url})
    assert out.returncode == 0, out.stderr
    assert any(line.startswith(name + " ") for line in out.stdout.splitlines())
    before = cli(None, "--endpoint-url", srv.url, "invoke", name, "--no-logs", env=srv.env)  # option before the command
    assert before.returncode == 0 and json.loads(before.stdout)["version"] == "$LATEST"


def test_an_unreachable_server(srv: Server) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    for args in (("status",), ("functions",), ("logs", "f")):
        out = cli(None, *args, "--endpoint-url", url, env=srv.env)
        assert out.returncode == 1
        assert out.stderr.startswith(f"locallambda: cannot reach {url}"), out.stderr
        assert "Traceback" not in out.stderr


def _journal_served(srv: Server) -> bool:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"{srv.url}/_aws/lambda/invocations?limit=1", timeout=10) as resp:
            return resp.status == 200
    except urllib.error.HTTPError:
        return False


def test_journal_and_replay(srv: Server, functions: Functions) -> None:
    if not _journal_served(srv):
        out = cli(srv, "journal")
        assert out.returncode == 1
        assert out.stderr == f"locallambda: {srv.url} keeps no invocation journal (GET /_aws/lambda/invocations: 404)\n"
        return
    name = functions.python(HANDLER)
    functions.invoke(name, {"n": 1})
    functions.invoke(name, {"fail": True})
    out = cli(srv, "journal", "--function", name)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert re.fullmatch(r"ID\s+START \(UTC\)\s+FUNCTION\s+TRIGGER\s+DURATION\s+STATUS\s+ERROR", lines[0])
    assert len(lines) == 3 and all(name in line for line in lines[1:])
    assert "ValueError: boom" in lines[1]  # newest first
    entries = json.loads(cli(srv, "journal", "--function", name, "--json", "--limit", "1").stdout)
    assert len(entries) == 1 and entries[0]["FunctionName"] == name
    replayed = cli(srv, "replay", entries[0]["Id"])
    assert replayed.returncode == 1  # the same failing request again
    assert json.loads(replayed.stdout)["errorType"] == "ValueError"
    err = replayed.stderr.splitlines()
    assert "[ERROR] ValueError: boom" in err and "Traceback (most recent call last):" in err
    assert re.fullmatch(rf"replayed {entries[0]['Id']} as [0-9a-f-]{{36}}: status 200", err[-2])
    newest = json.loads(cli(srv, "journal", "--function", name, "--json", "--limit", "1").stdout)[0]
    assert (newest["Trigger"], newest["Status"]) == ("replay", "Error")
    verbose = cli(srv, "journal", "--function", name, "--limit", "1", "--verbose").stdout.splitlines()
    assert 'request:  {"fail": true}' in verbose and "[ERROR] ValueError: boom" in verbose


def test_start_on_a_busy_port_says_so_and_never_listening(srv: Server, tmp_path: Path) -> None:
    """The port is bound before "listening" is printed: a port another server holds is a
    one-line error and exit code 1, not a banner followed by a traceback."""
    out = subprocess.run(
        [sys.executable, "-m", "locallambda", "start", "--port", str(srv.port), "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 1, out
    assert "listening" not in out.stdout
    assert f"cannot listen on 127.0.0.1:{srv.port}" in out.stderr
    assert "Traceback" not in out.stderr


def test_start_says_ready_once_it_answers(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "locallambda", "start", "--port", str(port), "--data-dir", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "SERVICES": "sqs,s3", "LAMBDA_EXECUTOR": "local"},
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline(), proc.stdout.readline()]
        assert lines[0].startswith(f"locallambda {__version__} listening on http://127.0.0.1:{port}")
        # the banner says which executor and which services run
        assert lines[0].rstrip().endswith("(executor: process, persistence: off; services: lambda, s3, sqs)"), lines[0]
        url = f"http://127.0.0.1:{port}"
        assert lines[1].strip() == f"locallambda ready on {url} — dashboard {url}/_dashboard/ (Ctrl-C to stop)"
        # "ready" means it answers
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_localstack/health", timeout=10) as answer:
            assert json.load(answer)["edition"] == "locallambda"
    finally:
        proc.terminate()
        assert proc.wait(timeout=30) in (0, -15)  # uvicorn re-raises the SIGTERM it handled
