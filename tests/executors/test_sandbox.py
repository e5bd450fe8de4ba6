"""The sandbox executor (LAMBDA_EXECUTOR=sandbox): functions run for real inside bubblewrap.

Black-box through boto3 against a real server: what a function can see and write, its private
/tmp sized by EphemeralStorage, Runtime.OutOfMemory past MemorySize, its own pid namespace,
each runtime family, warm reuse, layers under /opt, and nothing left behind on the host.

Skipped with the reason when this machine cannot run sandboxes (no bwrap, no user namespaces),
except under ``CI=true``, where that is a failure.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from locallambda.executors.base import RuntimeProcess
from locallambda.executors.sandbox import SandboxExecutor
from locallambda.invoke.environment import ExecutionEnvironment
from locallambda.model.clock import SystemClock
from locallambda.model.spec import FunctionSpec, Invocation
from locallambda.model.tasks import TaskScope
from locallambda.runtimes.commands import RuntimeCommands
from locallambda.settings import Settings
from tests.conftest import REPO, Server
from tests.invoke.conftest import HOST_PYTHON_RUNTIME, Functions, stop_checked

PROBLEM = SandboxExecutor.supported()


def _require_sandbox() -> None:
    if PROBLEM is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the sandbox executor must work in CI: {PROBLEM}")
        pytest.skip(f"sandbox executor unavailable here: {PROBLEM}")


@pytest.fixture(autouse=True)
def _needs_sandbox() -> None:
    _require_sandbox()


@pytest.fixture(scope="module")
def sbx() -> Iterator[Server]:
    _require_sandbox()
    server = Server(env={"LAMBDA_EXECUTOR": "sandbox", "LAMBDA_SYNCHRONOUS_CREATE": "1"}).start()
    try:
        yield server
    finally:
        stop_checked(server)


@pytest.fixture()
def functions(sbx: Server) -> Iterator[Functions]:
    fns = Functions(sbx)
    yield fns
    fns.cleanup()


def error_of(out: dict[str, Any]) -> dict[str, Any]:
    assert out.get("FunctionError") == "Unhandled", out["Payload"]
    body: dict[str, Any] = json.loads(out["Payload"])
    return body


def host_processes_with(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


# -- what a function sees -----------------------------------------------------------------------

PROBE = """\
import errno, os

def attempt(path):
    try:
        with open(path, "w") as fh:
            fh.write("x")
    except OSError as exc:
        return errno.errorcode.get(exc.errno, str(exc.errno))
    return "written"

def handler(event, context):
    procs = [p for p in os.listdir("/proc") if p.isdigit()]
    cmdlines = []
    for p in procs:
        try:
            cmdlines.append(open(f"/proc/{p}/cmdline", "rb").read().replace(b"\\0", b" ").decode())
        except OSError:
            pass
    st = os.statvfs("/tmp")
    shadow = None
    if os.path.exists("/etc/shadow"):
        try:
            shadow = len(open("/etc/shadow", "rb").read())
        except OSError as exc:
            shadow = errno.errorcode.get(exc.errno)
    return {
        "pid": os.getpid(), "uid": os.getuid(), "gid": os.getgid(), "cwd": os.getcwd(),
        "task_root": os.environ["LAMBDA_TASK_ROOT"], "home": os.environ.get("HOME"),
        "pid1": open("/proc/1/cmdline", "rb").read().split(b"\\0")[0].decode(),
        "processes": len(procs), "cmdlines": cmdlines,
        "write": {p: attempt(p) for p in ("/var/task/new.txt", "/var/task/handler.py", "/etc/new.txt",
                                         "/usr/new.txt", "/new.txt", "/opt/new.txt", "/tmp/ok.txt")},
        "exists": {p: os.path.exists(p) for p in event["paths"]},
        "tmp_size": st.f_blocks * st.f_frsize, "tmp_mode": oct(os.stat("/tmp").st_mode & 0o7777),
        "shadow": shadow, "user": __import__("pwd").getpwuid(os.getuid()).pw_name,
    }
"""


def test_python_function_is_isolated(functions: Functions, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("host only")
    repo_file = REPO / "tests" / "executors" / "test_sandbox.py"
    host_paths = [str(secret), str(repo_file), "/work/shared", str(Path.home() / ".bashrc"), "/var/tmp", "/srv"]
    name = functions.python(PROBE)
    out = functions.invoke_json(name, {"paths": host_paths})

    # /var/task: the code, read-only; the working directory and LAMBDA_TASK_ROOT point there.
    # No HOME: AWS's runtimes set none.
    assert out["cwd"] == "/var/task" and out["task_root"] == "/var/task" and out["home"] is None
    assert out["write"] == {
        "/var/task/new.txt": "EROFS",
        "/var/task/handler.py": "EROFS",
        "/etc/new.txt": "EROFS",
        "/usr/new.txt": "EROFS",
        "/new.txt": "EROFS",
        "/opt/new.txt": "EROFS",
        "/tmp/ok.txt": "written",
    }
    # Nothing of the host outside the mounts is there.
    assert out["exists"] == {p: False for p in host_paths}
    # Files the host keeps from other users stay unreadable (empty) even though bound read-only.
    assert out["shadow"] in (None, 0)
    # AWS's user, not root.
    assert (out["uid"], out["gid"], out["user"]) == (993, 990, "sbx_user1051")
    # Its own pid namespace: a small pid, pid 1 is the sandbox's init, no host process visible.
    assert out["pid"] < 10
    assert out["pid1"].endswith("bwrap")
    assert Path("/proc/1/cmdline").read_bytes().split(b"\0")[0].decode() != out["pid1"]  # not the host's init
    assert out["processes"] < 10
    assert not any("locallambda" in c and " start" in c for c in out["cmdlines"])
    # A private /tmp of EphemeralStorage (512 MB by default), world-writable and sticky as on AWS.
    assert out["tmp_size"] == 512 * 1024 * 1024 and out["tmp_mode"] == "0o1777"


def test_tmp_is_private_and_limited(functions: Functions) -> None:
    name = functions.python(
        "import errno, os\n\n"
        "def handler(event, context):\n"
        "    path = '/tmp/' + event['name']\n"
        "    if event.get('read'):\n"
        "        return os.path.getsize(path)\n"
        "    chunk = b'x' * (1 << 20)\n"
        "    written, error = 0, None\n"
        "    try:\n"
        "        with open(path, 'wb') as fh:\n"
        "            for _ in range(event['mb']):\n"
        "                fh.write(chunk)\n"
        "                written += 1\n"
        "            fh.flush()\n"
        "    except OSError as exc:\n"
        "        error = errno.errorcode.get(exc.errno)\n"
        "    size = os.path.getsize(path)\n"
        "    if event.get('remove'):\n"
        "        os.remove(path)\n"
        "    return {'written_mb': written, 'error': error, 'size': size}\n",
        timeout=30,
        EphemeralStorage={"Size": 512},
    )
    marker = f"sandbox-{uuid.uuid4().hex}"
    small = functions.invoke_json(name, {"name": marker, "mb": 1})
    assert small == {"written_mb": 1, "error": None, "size": 1 << 20}
    assert not (Path(tempfile.gettempdir()) / marker).exists() and not Path("/tmp", marker).exists()
    # The same (warm) environment keeps its /tmp between invocations, as on AWS.
    assert functions.invoke_json(name, {"name": marker, "read": True}) == 1 << 20
    # 600 MB do not fit in 512 MB: ENOSPC, and MemorySize (128 MB) is not what stops it.
    big = functions.invoke_json(name, {"name": "big", "mb": 600, "remove": True})
    assert big["error"] == "ENOSPC"
    assert 500 <= big["written_mb"] < 512 and big["size"] <= 512 * 1024 * 1024


def test_memory_past_memory_size_is_out_of_memory(functions: Functions) -> None:
    name = functions.python(
        "def handler(event, context):\n"
        "    hold = []\n"
        "    for _ in range(event['mb'] // 8):\n"
        "        hold.append(b'\\x01' * (8 << 20))\n"
        "    return len(hold) * 8\n",
        memory=128,
        timeout=30,
    )
    assert functions.invoke_json(name, {"mb": 48}) == 48  # well below the limit: fine
    out = functions.invoke(name, {"mb": 1024})
    rid = out["ResponseMetadata"]["RequestId"]
    assert error_of(out) == {
        "errorType": "Runtime.OutOfMemory",
        "errorMessage": f"RequestId: {rid} Error: Runtime exited with error: signal: killed",
    }
    # The next invocation gets a new environment and works.
    assert functions.invoke_json(name, {"mb": 16}) == 16


def test_timeout_stops_the_whole_sandbox(functions: Functions) -> None:
    marker = f"299.{int(time.time() * 1000) % 1000000}"
    name = functions.python(
        "import subprocess, time\n\n"
        "def handler(event, context):\n"
        f"    subprocess.Popen(['sleep', '{marker}'])\n"
        "    time.sleep(30)\n",
        timeout=1,
    )
    out = functions.invoke(name, {})
    assert error_of(out)["errorType"] == "Sandbox.Timedout"
    deadline = time.monotonic() + 5
    while host_processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not host_processes_with(marker), "a process of the timed-out sandbox is still running"


def test_warm_environment_is_reused(functions: Functions) -> None:
    name = functions.python(
        "import uuid\nTOKEN = uuid.uuid4().hex\nCALLS = 0\n\n"
        "def handler(event, context):\n"
        "    global CALLS\n    CALLS += 1\n    return {'token': TOKEN, 'calls': CALLS}\n"
    )
    first = functions.invoke(name, {}, LogType="Tail")
    second = functions.invoke(name, {}, LogType="Tail")
    a, b = json.loads(first["Payload"]), json.loads(second["Payload"])
    assert a["token"] == b["token"] and (a["calls"], b["calls"]) == (1, 2)
    assert "Init Duration" in first["Log"] and "Init Duration" not in second["Log"]


def test_an_environment_value_never_becomes_a_sandbox_option(functions: Functions) -> None:
    # bwrap reads its options NUL-separated: a NUL in a value must not smuggle in a writable bind.
    name = functions.python(
        "import os\n\ndef handler(event, context):\n    return os.path.exists('/host')\n",
        env={"SMUGGLED": "x\u0000--bind\u0000/\u0000/host"},
    )
    with pytest.raises(ClientError) as exc:
        functions.client.invoke(FunctionName=name, Payload=b"{}")
    assert "embedded null byte" in exc.value.response["Error"]["Message"]


# -- other runtimes -----------------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_nodejs_runs_in_the_sandbox(functions: Functions) -> None:
    name = functions.create(
        {
            "index.js": (
                "const fs = require('fs');\n"
                "exports.handler = async (event) => {\n"
                "  let write;\n"
                "  try { fs.writeFileSync('/var/task/x', 'x'); write = 'written'; } catch (e) { write = e.code; }\n"
                "  fs.writeFileSync('/tmp/n.txt', 'ok');\n"
                "  return { pid: process.pid, uid: process.getuid(), cwd: process.cwd(), write, echo: event };\n"
                "};\n"
            )
        },
        runtime="nodejs20.x",
        handler="index.handler",
    )
    out = functions.invoke_json(name, {"hello": "node"})
    assert out["uid"] == 993 and out["pid"] < 10 and out["cwd"] == "/var/task"
    assert out["write"] == "EROFS" and out["echo"] == {"hello": "node"}


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_provided_runtime_runs_in_the_sandbox(functions: Functions) -> None:
    bootstrap = (
        "#!/bin/sh\n"
        "set -eu\n"
        'API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"\n'
        "while true; do\n"
        '  HEADERS="$(mktemp)"\n'
        '  EVENT=$(curl -sS -D "$HEADERS" "$API/invocation/next")\n'
        "  RID=$(grep -Fi Lambda-Runtime-Aws-Request-Id \"$HEADERS\" | tr -d '[:space:]' | cut -d: -f2)\n"
        "  ROOT=$(touch /var/task/x 2>/dev/null && echo writable || echo read-only)\n"
        '  curl -sS -o /dev/null "$API/invocation/$RID/response" -d "{\\"pid\\": $$, \\"uid\\": $(id -u), \\"task\\": \\"$ROOT\\", \\"event\\": $EVENT}"\n'
        "done\n"
    )
    name = functions.create(
        {"bootstrap": bootstrap}, runtime="provided.al2023", handler="x", modes={"bootstrap": 0o755}
    )
    out = functions.invoke_json(name, {"n": 1})
    # Its own pid namespace: a small pid (bwrap's init is 1, the supervisor that starts it 2).
    assert out.pop("pid") < 10
    assert out == {"uid": 993, "task": "read-only", "event": {"n": 1}}


# -- layers ---------------------------------------------------------------------------------------


def test_layers_are_merged_read_only_under_opt(functions: Functions) -> None:
    from tests.conftest import make_zip

    client = functions.client
    first = client.publish_layer_version(
        LayerName=f"sbx-a-{uuid.uuid4().hex[:6]}",
        Content={
            "ZipFile": make_zip(
                {"python/layer_mod.py": "WHO = 'first'\n", "data/shared.txt": "from a", "data/only-a.txt": "a"}
            )
        },
    )
    second = client.publish_layer_version(
        LayerName=f"sbx-b-{uuid.uuid4().hex[:6]}",
        Content={
            "ZipFile": make_zip(
                {"data/shared.txt": "from b", "bin/tool": "#!/bin/sh\necho tool\n"}, {"bin/tool": 0o755}
            )
        },
    )
    name = functions.python(
        "import os, subprocess, layer_mod\n\n"
        "def handler(event, context):\n"
        "    try:\n        open('/opt/data/new.txt', 'w')\n        write = 'written'\n"
        "    except OSError as exc:\n        write = exc.errno\n"
        "    return {'who': layer_mod.WHO, 'shared': open('/opt/data/shared.txt').read(),\n"
        "            'only_a': open('/opt/data/only-a.txt').read(), 'write': write,\n"
        "            'tool': subprocess.run(['tool'], capture_output=True, text=True).stdout.strip(),\n"
        "            'opt': sorted(os.listdir('/opt'))}\n",
        Layers=[first["LayerVersionArn"], second["LayerVersionArn"]],
    )
    out = functions.invoke_json(name, {})
    assert out["who"] == "first" and out["shared"] == "from b" and out["only_a"] == "a"
    assert out["write"] == 30  # EROFS
    assert out["tool"] == "tool"  # /opt/bin is on PATH
    assert out["opt"] == ["bin", "data", "python"]


# -- the host afterwards ----------------------------------------------------------------------------


def _cgroup_dirs(pid: int) -> list[Path]:
    found = []
    for root in (Path("/sys/fs/cgroup"), *Path("/sys/fs/cgroup").glob("*")):
        try:
            found += [p for p in root.rglob(f"locallambda-{pid}") if p.is_dir()]
        except OSError:
            continue
    return found


def test_server_stop_leaves_no_process_and_no_cgroup() -> None:
    server = Server(env={"LAMBDA_EXECUTOR": "sandbox", "LAMBDA_SYNCHRONOUS_CREATE": "1"}).start()
    try:
        fns = Functions(server)
        name = fns.python("def handler(event, context):\n    return 'ok'\n")
        assert fns.invoke_json(name, {}) == "ok"
        assert server.proc is not None
        pid = server.proc.pid
        assert "executor: sandbox" in server.log()
    finally:
        stop_checked(server)
    assert _cgroup_dirs(pid) == []


# -- without cgroups: the sampling guard alone ------------------------------------------------------


def _spec(code_dir: Path, memory_mb: int) -> FunctionSpec:
    return FunctionSpec(
        key="us-east-1/oom",
        name="oom",
        arn="arn:aws:lambda:us-east-1:000000000000:function:oom",
        version="$LATEST",
        generation=1,
        incarnation="test",
        region="us-east-1",
        account_id="000000000000",
        runtime=HOST_PYTHON_RUNTIME,
        handler="handler.handler",
        package_type="Zip",
        code_dir=code_dir,
        image_uri=None,
        image_config={},
        memory_mb=memory_mb,
        timeout_s=30,
        ephemeral_mb=512,
        environment={},
        layers=(),
        architectures=("x86_64",),
        log_group="/aws/lambda/oom",
        log_format="Text",
    )


def test_out_of_memory_without_cgroups(tmp_path: Path) -> None:
    code = tmp_path / "code"
    code.mkdir()
    (code / "handler.py").write_text(
        "def handler(event, context):\n    hold = [b'\\x01' * (8 << 20) for _ in range(event)]\n    return len(hold)\n"
    )

    async def run() -> list[tuple[bytes, str | None]]:
        executor = SandboxExecutor(RuntimeCommands(tmp_path / "cache"), Settings(), TaskScope(), use_cgroups=False)
        spec = _spec(code, 128)
        assert await executor.prepare(spec) is None
        results = []
        try:
            for chunks in (4, 64):
                env = ExecutionEnvironment(
                    spec,
                    executor,
                    endpoint_url=None,
                    log_line=lambda key, line, *_: None,
                    tasks=TaskScope(),
                    clock=SystemClock(),
                )
                await env.start()
                result = await env.invoke(
                    Invocation(request_id=str(uuid.uuid4()), payload=str(chunks).encode(), invoked_arn=spec.arn)
                )
                results.append((result.payload, result.function_error))
                env.stop()
                await env.wait_stopped()
        finally:
            await executor.close()
        return results

    small, big = asyncio.run(run())
    assert small == (b"4", None)
    assert big[1] == "Unhandled" and json.loads(big[0])["errorType"] == "Runtime.OutOfMemory"


def test_supported_names_a_missing_bwrap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None)
    assert SandboxExecutor.supported() == "bubblewrap (bwrap) is not installed"


def test_prepare_reports_why_it_cannot_run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(SandboxExecutor, "supported", staticmethod(lambda: "bwrap cannot create a sandbox here: test"))
    executor = SandboxExecutor(RuntimeCommands(tmp_path), Settings(), TaskScope())
    assert asyncio.run(executor.prepare(_spec(tmp_path, 128))) == "bwrap cannot create a sandbox here: test"


def test_runtime_process_interface() -> None:
    from locallambda.executors.sandbox import SandboxProcess

    assert issubclass(SandboxProcess, RuntimeProcess)
