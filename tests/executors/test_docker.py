"""The docker executor against a real Docker daemon.

No registry is reachable in the test run: the images come from scripts/build-test-images.sh
(a debootstrapped Debian with python3 + awslambdaric laid out like public.ecr.aws/lambda/python,
and an image function built on it), and python3.11 is mapped to it with
LAMBDA_RUNTIME_IMAGE_MAPPING. Without a daemon (or the images) the tests that need them skip
with the reason; under CI=true they fail instead.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from locallambda.executors.docker import DockerExecutor, parse_docker_flags
from locallambda.model.spec import FunctionSpec
from locallambda.model.tasks import TaskScope
from locallambda.runtimes.commands import RuntimeCommands
from locallambda.settings import Settings
from tests.conftest import ROLE, Server, make_zip, wait_active
from tests.invoke.conftest import stop_checked

pytestmark = pytest.mark.docker

PYTHON_IMAGE = "locallambda-test/python:3.11"
FUNCTION_IMAGE = "locallambda-test/image-fn:latest"
MAPPING = json.dumps({"python3.11": PYTHON_IMAGE})
FLAGS = "-e FROM_FLAGS=yes --add-host flagged.example:10.1.2.3 -l team=lambda"

# Each environment draws its own id at import: equal ids mean the same warm container.
PROBE = """\
import os, uuid
ENV_ID = uuid.uuid4().hex

def _memory_limit():
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        if os.path.exists(path):
            return open(path).read().strip()
    return None

def handler(event, context):
    print("probe says hello", ENV_ID)
    hosts = open("/etc/hosts").read()
    return {
        "env_id": ENV_ID,
        "in_docker": os.path.exists("/.dockerenv"),
        "task_root": os.environ.get("LAMBDA_TASK_ROOT"),
        "cwd": os.getcwd(),
        "memory_limit": _memory_limit(),
        "from_flags": os.environ.get("FROM_FLAGS"),
        "flagged_host": "flagged.example" in hosts,
        "files": sorted(os.listdir("/var/task")),
        "memory_mb": int(context.memory_limit_in_mb),
    }
"""


# -- availability -----------------------------------------------------------------------------


def _docker_problem() -> str | None:
    try:
        import docker
    except ImportError:
        return "the docker SDK (PyPI 'docker') is not installed"
    try:
        client = docker.from_env(timeout=10)
        client.ping()
    except Exception as exc:
        return f"no Docker daemon answers ({str(exc).splitlines()[0][:200]}); run scripts/docker-up.sh"
    try:
        for image in (PYTHON_IMAGE, FUNCTION_IMAGE):
            client.images.get(image)
    except Exception:
        return f"the test image {image} is missing; run scripts/build-test-images.sh"
    finally:
        client.close()
    return None


def require_docker() -> None:
    """Skip the calling test when no Docker engine (or test image) is usable; under CI=true,
    fail it instead: CI must test the docker executor."""
    problem = _docker_problem()
    if problem is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true and the docker executor cannot be tested: {problem}")
    pytest.skip(problem)


@pytest.fixture(scope="module")
def docker_ready() -> None:
    require_docker()


def containers(label: str) -> list[str]:
    """Ids of the containers (running or not) carrying ``label``, as the docker CLI lists them."""
    out = subprocess.run(
        ["docker", "ps", "-a", "-q", "--filter", f"label={label}"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    return out.split()


def eventually(fn: Any, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


# -- servers ----------------------------------------------------------------------------------


def _docker_server(executor: str, **env: str) -> Server:
    return Server(
        env={
            "LAMBDA_EXECUTOR": executor,
            "LAMBDA_SYNCHRONOUS_CREATE": "1",
            "LAMBDA_RUNTIME_IMAGE_MAPPING": MAPPING,
            "LAMBDA_DOCKER_NETWORK": "host",
            "LAMBDA_DOCKER_FLAGS": FLAGS,
            **env,
        }
    )


@pytest.fixture(scope="module")
def reuse_server(docker_ready: None) -> Iterator[Server]:
    server = _docker_server("docker-reuse").start()
    try:
        yield server
    finally:
        stop_checked(server)


@pytest.fixture(scope="module")
def fresh_server(docker_ready: None) -> Iterator[Server]:
    server = _docker_server("docker").start()
    try:
        yield server
    finally:
        stop_checked(server)


def create_probe(server: Server, name: str, memory: int = 128, source: str = PROBE) -> dict[str, Any]:
    client = server.client()
    client.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=ROLE,
        Handler="handler.handler",
        Code={"ZipFile": make_zip({"handler.py": source})},
        MemorySize=memory,
        Timeout=10,
    )
    return wait_active(client, name)


def invoke(server: Server, name: str, payload: Any = None) -> dict[str, Any]:
    out = server.client().invoke(FunctionName=name, Payload=json.dumps(payload or {}), LogType="Tail")
    out["Payload"] = json.loads(out["Payload"].read())
    import base64

    out["Log"] = base64.b64decode(out.get("LogResult", "")).decode()
    return out


# -- zip functions ----------------------------------------------------------------------------


def test_docker_reuse_keeps_a_warm_container(reuse_server: Server, fn_name: str) -> None:
    cfg = create_probe(reuse_server, fn_name)
    first = invoke(reuse_server, fn_name)
    assert "FunctionError" not in first, first["Payload"]
    body = first["Payload"]
    assert body["in_docker"] is True
    assert body["task_root"] == "/var/task" and body["cwd"] == "/var/task"
    assert body["files"] == ["handler.py"]
    # LAMBDA_DOCKER_FLAGS: -e and --add-host reach the container, -l labels it.
    assert body["from_flags"] == "yes" and body["flagged_host"] is True
    # The function's own output is in its invocation's log, before END (not after it).
    log = first["Log"]
    assert f"probe says hello {body['env_id']}" in log
    assert log.index("probe says hello") < log.index("END RequestId")
    assert "Init Duration" in log
    ids = {invoke(reuse_server, fn_name)["Payload"]["env_id"] for _ in range(3)}
    assert ids == {body["env_id"]}, "consecutive invokes must reuse the warm container"
    running = containers(f"locallambda.function={cfg['FunctionArn']}")
    assert len(running) == 1
    assert containers("team=lambda")


def test_docker_starts_a_fresh_container_per_invoke(fresh_server: Server, fn_name: str) -> None:
    cfg = create_probe(fresh_server, fn_name)
    results = [invoke(fresh_server, fn_name) for _ in range(3)]
    for out in results:
        assert "FunctionError" not in out, out["Payload"]
        assert "Init Duration" in out["Log"], "every invoke is a cold start"
        assert f"probe says hello {out['Payload']['env_id']}" in out["Log"]
    assert len({out["Payload"]["env_id"] for out in results}) == 3
    label = f"locallambda.function={cfg['FunctionArn']}"
    assert eventually(lambda: not containers(label)), "used containers must be removed"


def test_memory_limit_is_the_function_memory_size(reuse_server: Server, fn_name: str) -> None:
    create_probe(reuse_server, fn_name, memory=200)
    body = invoke(reuse_server, fn_name)["Payload"]
    assert body["memory_mb"] == 200
    assert body["memory_limit"] == str(200 * 1024 * 1024)


def test_out_of_memory_is_reported(reuse_server: Server, fn_name: str) -> None:
    source = "def handler(event, context):\n    hog = bytearray(400 * 1024 * 1024)\n    return len(hog)\n"
    create_probe(reuse_server, fn_name, memory=128, source=source)
    out = invoke(reuse_server, fn_name)
    assert out.get("FunctionError") == "Unhandled"
    assert out["Payload"]["errorType"] == "Runtime.OutOfMemory", out["Payload"]


# -- container image functions ----------------------------------------------------------------


def test_image_function_runs_its_image(reuse_server: Server, fn_name: str) -> None:
    client = reuse_server.client()
    client.create_function(FunctionName=fn_name, PackageType="Image", Role=ROLE, Code={"ImageUri": FUNCTION_IMAGE})
    wait_active(client, fn_name)
    body = invoke(reuse_server, fn_name, {"n": 1})["Payload"]
    assert body == {
        "handler": "handler",
        "event": {"n": 1},
        "cwd": "/var/task",
        "task_root": "/var/task",
        "image": True,
    }


def test_image_config_overrides_command_and_working_directory(reuse_server: Server, fn_name: str) -> None:
    client = reuse_server.client()
    client.create_function(
        FunctionName=fn_name,
        PackageType="Image",
        Role=ROLE,
        Code={"ImageUri": FUNCTION_IMAGE},
        ImageConfig={"Command": ["app.other"], "WorkingDirectory": "/tmp", "EntryPoint": ["/lambda-entrypoint.sh"]},
    )
    wait_active(client, fn_name)
    out = invoke(reuse_server, fn_name, {"n": 2})
    assert out["Payload"]["handler"] == "other", out
    assert out["Payload"]["cwd"] == "/tmp"


def test_image_function_with_a_missing_image_fails(reuse_server: Server, fn_name: str) -> None:
    client = reuse_server.client()
    uri = "locallambda-test/no-such-image:latest"
    client.create_function(FunctionName=fn_name, PackageType="Image", Role=ROLE, Code={"ImageUri": uri})
    client.get_waiter("function_exists").wait(FunctionName=fn_name)
    cfg = eventually(
        lambda: (c := client.get_function_configuration(FunctionName=fn_name))["State"] != "Pending" and c, 60
    )
    assert cfg["State"] == "Failed"
    assert uri in cfg["StateReason"]


# -- lifecycle --------------------------------------------------------------------------------


def test_stopping_the_server_leaves_no_container(docker_ready: None, fn_name: str) -> None:
    server = _docker_server("docker-reuse").start()
    try:
        create_probe(server, fn_name)
        assert invoke(server, fn_name)["Payload"]["in_docker"]
        assert server.proc is not None
        label = f"locallambda.pid={server.proc.pid}"
        assert len(containers(label)) == 1
    finally:
        stop_checked(server)  # also fails when a runtime process inside a container survives
    assert containers(label) == []


def test_orphans_of_a_crashed_server_are_removed(docker_ready: None, fn_name: str) -> None:
    crashed = _docker_server("docker-reuse").start()
    try:
        create_probe(crashed, fn_name)
        invoke(crashed, fn_name)
        assert crashed.proc is not None
        label = f"locallambda.pid={crashed.proc.pid}"
        crashed.proc.kill()  # SIGKILL: no shutdown, the container stays behind
        crashed.proc.wait(10)
        assert containers(label), "a killed server cannot clean up"
    finally:
        crashed.stop()
    with _docker_server("docker-reuse") as successor:
        create_probe(successor, fn_name)  # the first use of Docker sweeps the orphans
        assert eventually(lambda: not containers(label))


def test_orphans_are_removed_at_start_even_without_docker_use(docker_ready: None, fn_name: str) -> None:
    crashed = _docker_server("docker-reuse").start()
    try:
        create_probe(crashed, fn_name)
        invoke(crashed, fn_name)
        assert crashed.proc is not None
        label = f"locallambda.pid={crashed.proc.pid}"
        crashed.proc.kill()
        crashed.proc.wait(10)
        assert containers(label)
    finally:
        crashed.stop()
    # The successor runs zip functions in the process executor and never asks Docker for anything.
    with Server(env={"LAMBDA_EXECUTOR": "local"}):
        assert eventually(lambda: not containers(label)), "the orphan waited for a first use of Docker"


# -- no daemon --------------------------------------------------------------------------------


def test_docker_not_available_fails_the_function(tmp_path: Path, fn_name: str) -> None:
    dead = f"unix://{tmp_path / 'no-daemon.sock'}"
    with Server(env={"LAMBDA_EXECUTOR": "docker", "DOCKER_HOST": dead, "LAMBDA_SYNCHRONOUS_CREATE": "1"}) as server:
        client = server.client()
        client.create_function(
            FunctionName=fn_name,
            Runtime="python3.11",
            Role=ROLE,
            Handler="handler.handler",
            Code={"ZipFile": make_zip({"handler.py": PROBE})},
        )
        cfg = client.get_function_configuration(FunctionName=fn_name)
        assert cfg["State"] == "Failed"
        assert cfg["StateReason"] == "Docker not available"
        assert cfg["StateReasonCode"] == "InternalError"
        with pytest.raises(client.exceptions.ResourceConflictException) as err:
            client.invoke(FunctionName=fn_name, Payload=b"{}")
        assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
        assert "Failed" in err.value.response["Error"]["Message"]
        # An image function needs Docker whatever LAMBDA_EXECUTOR says.
        client.create_function(
            FunctionName=fn_name + "-img",
            PackageType="Image",
            Role=ROLE,
            Code={"ImageUri": FUNCTION_IMAGE},
        )
        cfg = client.get_function_configuration(FunctionName=fn_name + "-img")
        assert (cfg["State"], cfg["StateReason"]) == ("Failed", "Docker not available")


# -- units: configuration parsing -------------------------------------------------------------


def _spec(**kw: Any) -> FunctionSpec:
    base: dict[str, Any] = dict(
        key="us-east-1/f",
        name="f",
        arn="arn:aws:lambda:us-east-1:000000000000:function:f",
        version="$LATEST",
        generation=1,
        incarnation="test",
        region="us-east-1",
        account_id="000000000000",
        runtime="python3.12",
        handler="handler.handler",
        package_type="Zip",
        code_dir=None,
        image_uri=None,
        image_config={},
        memory_mb=128,
        timeout_s=3,
        ephemeral_mb=512,
        environment={},
        layers=(),
        architectures=("x86_64",),
        log_group="/aws/lambda/f",
        log_format="Text",
    )
    base.update(kw)
    return FunctionSpec(**base)


def _executor(tmp_path: Path, **env: str) -> DockerExecutor:
    return DockerExecutor(RuntimeCommands(tmp_path), Settings.from_env(env), TaskScope(), reuse=True)


def test_runtime_images_follow_lambda_runtime_image_mapping(tmp_path: Path) -> None:
    assert _executor(tmp_path).image_for(_spec()) == "public.ecr.aws/lambda/python:3.12"
    mapped = _executor(tmp_path, LAMBDA_RUNTIME_IMAGE_MAPPING='{"python3.12": "mine/py:3.12"}')
    assert mapped.image_for(_spec()) == "mine/py:3.12"
    assert mapped.image_for(_spec(runtime="nodejs20.x")) == "public.ecr.aws/lambda/nodejs:20"
    pattern = _executor(tmp_path, LAMBDA_RUNTIME_IMAGE_MAPPING="repo/lambda:<runtime>-custom")
    assert pattern.image_for(_spec()) == "repo/lambda:python3.12-custom"
    assert pattern.image_for(_spec(package_type="Image", image_uri="x/y:1")) == "x/y:1"


def test_docker_flags_parse_the_documented_subset() -> None:
    flags = parse_docker_flags(
        "-e A=1 --env=B=two -v /src:/dst:ro --add-host h.example:1.2.3.4 -l k=v --dns 9.9.9.9 "
        "-p 5050:5050 --ulimit nofile=1024:2048 --privileged --network=bridge -u 1000"
    )
    assert flags.env == {"A": "1", "B": "two"}
    assert flags.volumes == {"/src": {"bind": "/dst", "mode": "ro"}}
    assert flags.extra_hosts == {"h.example": "1.2.3.4"}
    assert flags.labels == {"k": "v"} and flags.dns == ("9.9.9.9",)
    assert flags.ports == {"5050/tcp": 5050} and flags.ulimits == (("nofile", 1024, 2048),)
    assert flags.privileged and flags.network == "bridge" and flags.user == "1000"
    with pytest.raises(ValueError, match="--rm"):
        parse_docker_flags("--rm")
    with pytest.raises(ValueError, match="KEY=VALUE"):
        parse_docker_flags("-e ONLY_A_NAME")


def test_invalid_docker_flags_fail_the_function_with_the_reason(tmp_path: Path) -> None:
    executor = _executor(tmp_path, LAMBDA_DOCKER_FLAGS="--cpus 2")
    reason = asyncio.run(executor.prepare(_spec()))
    assert reason == "LAMBDA_DOCKER_FLAGS is invalid: unsupported flag --cpus"


# -- code and layers: mounted or copied -------------------------------------------------------


def _provided_tree(tmp_path: Path) -> tuple[Path, tuple[Path, Path]]:
    code = tmp_path / "code"
    code.mkdir()
    bootstrap = code / "bootstrap"
    bootstrap.write_text("#!/bin/sh\nls /var/task\ncat /opt/*.txt\n")
    bootstrap.chmod(0o755)
    layers = (tmp_path / "layer1", tmp_path / "layer2")
    for i, layer in enumerate(layers, 1):
        layer.mkdir()
        (layer / "shared.txt").write_text(f"shared from layer {i}\n")
        (layer / ("first.txt" if i == 1 else "second.txt")).write_text(f"only in layer {i}\n")
    return code, layers


async def _run_bootstrap(executor: DockerExecutor, spec: FunctionSpec) -> tuple[int, str]:
    chunks: list[bytes] = []
    try:
        process = await executor.start(spec, "127.0.0.1:9", {"AWS_LAMBDA_FUNCTION_NAME": spec.name}, chunks.append)
        code = await asyncio.wait_for(process.wait(), 30)
        process.kill()
    finally:
        await executor.close()
    return code, b"".join(chunks).decode()


@pytest.mark.parametrize("local", [True, False], ids=["mounted", "copied"])
def test_provided_bootstrap_sees_code_and_merged_layers(docker_ready: None, tmp_path: Path, local: bool) -> None:
    code, layers = _provided_tree(tmp_path)
    executor = _executor(tmp_path, LAMBDA_RUNTIME_IMAGE_MAPPING=json.dumps({"provided.al2023": PYTHON_IMAGE}))
    spec = _spec(runtime="provided.al2023", code_dir=code, layers=layers if not local else layers[:1])

    async def run() -> tuple[int, str]:
        assert await executor.prepare(spec) is None
        # A remote DOCKER_HOST cannot see our directories: the executor then copies them in
        # (and always copies several layers, which must be merged into one /opt).
        executor._local = local
        return await _run_bootstrap(executor, spec)

    status, output = asyncio.run(run())
    assert status == 0, output
    assert "bootstrap" in output
    if local:  # one layer, bind-mounted read-only
        assert "shared from layer 1" in output and "only in layer 1" in output
    else:  # both layers copied in order: the later one wins
        assert "shared from layer 2" in output
        assert "only in layer 1" in output and "only in layer 2" in output


# -- the trust model (README): no host files through the API from inside a container ----------

ESCAPE = """\
import json, os, urllib.error, urllib.request

def handler(event, context):
    body = json.dumps({"FunctionName": event["target"], "Runtime": "python3.11", "Role": event["role"],
                       "Handler": "x.handler", "Code": {"S3Bucket": "hot-reload", "S3Key": "/etc"}}).encode()
    request = urllib.request.Request(os.environ["AWS_ENDPOINT_URL"] + "/2015-03-31/functions", data=body,
                                     headers={"Content-Type": "application/json"}, method="POST")
    try:
        urllib.request.urlopen(request, timeout=10)
        return "created"
    except urllib.error.HTTPError as err:
        return err.headers.get("x-amzn-ErrorType", str(err.code))
"""


def test_a_container_cannot_mount_host_directories(reuse_server: Server, fn_name: str) -> None:
    create_probe(reuse_server, fn_name, source=ESCAPE)
    out = invoke(reuse_server, fn_name, {"target": f"{fn_name}-escape", "role": ROLE})
    assert out["Payload"] == "AccessDeniedException"  # unsigned, over host networking: told by its namespace
    names = {f["FunctionName"] for f in reuse_server.client().list_functions()["Functions"]}
    assert f"{fn_name}-escape" not in names
