"""The docker executor against a remote Docker engine: nothing of this machine is mounted.

The "remote" engine is a second dockerd on a loopback TCP socket with a data root of its own
(scripts/docker-remote-up.sh, called by scripts/docker-up.sh; the test images loaded into it
from the first engine), reached as ``DOCKER_HOST=tcp://127.0.0.1:<port>``
(``LOCALLAMBDA_TEST_DOCKER_REMOTE``, default ``tcp://127.0.0.1:23750``). A ``tcp://`` engine gets
copies (``LAMBDA_DOCKER_CODE=auto``): code, layers and runtime files go in through the Docker
API's archive upload before the container starts, so every assertion on the engine's own
``inspect`` is that no path of this machine is bound into the container. Without that engine
(or its images) the tests skip with the reason; under CI=true they fail instead.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from locallambda.executors.docker.copies import Archives
from locallambda.settings import Settings
from tests.conftest import ROLE, Server, make_zip, wait_active, wait_updated
from tests.executors.test_docker import FUNCTION_IMAGE, PYTHON_IMAGE, containers, eventually, invoke
from tests.executors.test_docker_reset import MARKER
from tests.invoke.conftest import stop_checked

pytestmark = pytest.mark.docker

REMOTE = os.environ.get("LOCALLAMBDA_TEST_DOCKER_REMOTE", "tcp://127.0.0.1:23750")
NODE_RUNTIME = "nodejs18.x"  # no Node.js image without a registry: mapped to the Python image
MAPPING = json.dumps({"python3.11": PYTHON_IMAGE, NODE_RUNTIME: PYTHON_IMAGE})

REPORT = """\
import os, uuid
ENV_ID = uuid.uuid4().hex

def handler(event, context):
    import shared
    print("remote says hello", ENV_ID)
    ca = os.environ.get("NODE_EXTRA_CA_CERTS")
    return {
        "env_id": ENV_ID,
        "version": VERSION,
        "layer": shared.WHERE,
        # Copies are not read-only, as a mount is: Python's bytecode cache is not the code.
        "files": sorted(f for f in os.listdir("/var/task") if f != "__pycache__"),
        "task_root": os.environ.get("LAMBDA_TASK_ROOT"),
        "ca": bool(ca) and "-----BEGIN CERTIFICATE-----" in open(ca).read(),
        "sdk": os.path.isfile("/var/runtime/node_modules/@aws-sdk/client-s3/package.json"),
    }
"""
LAYER = {"python/shared.py": "WHERE = 'from the layer'\n"}


# -- the engine -------------------------------------------------------------------------------


def remote_client() -> Any:
    import docker

    return docker.DockerClient(base_url=REMOTE, timeout=30)


def _remote_problem() -> str | None:
    try:
        client = remote_client()
    except ImportError:
        return "the docker SDK (PyPI 'docker') is not installed"
    try:
        client.ping()
    except Exception as exc:
        return f"no Docker engine answers at {REMOTE} ({str(exc).splitlines()[0][:200]}); run scripts/docker-up.sh"
    try:
        for image in (PYTHON_IMAGE, FUNCTION_IMAGE):
            client.images.get(image)
    except Exception:
        return f"the engine at {REMOTE} lacks {image}; run scripts/docker-remote-up.sh"
    finally:
        client.close()
    return None


@pytest.fixture(scope="module")
def remote_ready() -> None:
    problem = _remote_problem()
    if problem is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true and the docker executor cannot be tested against a remote engine: {problem}")
    pytest.skip(problem)


def remote_containers(label: str) -> list[dict[str, Any]]:
    """The remote engine's ``inspect`` of every container (running or not) carrying ``label``."""
    client = remote_client()
    try:
        return [c.attrs for c in client.containers.list(all=True, filters={"label": label})]
    finally:
        client.close()


def host_binds(attrs: dict[str, Any]) -> list[str]:
    """What of this machine a container has bound into it, as the engine reports it."""
    binds = list(attrs["HostConfig"].get("Binds") or [])
    binds += [m.get("Source", "") for m in attrs.get("Mounts") or [] if m.get("Type") == "bind"]
    return binds


def _remote_server(executor: str = "docker-reuse", **env: str) -> Server:
    return Server(
        env={
            "DOCKER_HOST": REMOTE,
            "LAMBDA_EXECUTOR": executor,
            "LAMBDA_SYNCHRONOUS_CREATE": "1",
            "LAMBDA_RUNTIME_IMAGE_MAPPING": MAPPING,
            "LAMBDA_DOCKER_NETWORK": "host",  # the engine is on this machine: its host network is ours
            **env,
        }
    )


@pytest.fixture(scope="module")
def remote_server(remote_ready: None) -> Iterator[Server]:
    server = _remote_server().start()
    try:
        yield server
    finally:
        stop_checked(server)


def _layer(server: Server, name: str) -> str:
    out = server.client().publish_layer_version(LayerName=name, Content={"ZipFile": make_zip(LAYER)})
    return str(out["LayerVersionArn"])


def create_report(server: Server, name: str, version: int = 1, runtime: str = "python3.11") -> dict[str, Any]:
    client = server.client()
    client.create_function(
        FunctionName=name,
        Runtime=runtime,
        Role=ROLE,
        Handler="handler.handler",
        Code={"ZipFile": make_zip({"handler.py": f"VERSION = {version}\n{REPORT}"})},
        Layers=[_layer(server, f"{name}-layer")],
        Timeout=20,
    )
    return wait_active(client, name)


def answer(server: Server, name: str) -> dict[str, Any]:
    out = invoke(server, name)
    assert "FunctionError" not in out, out["Payload"]
    return dict(out["Payload"])


def only_container(arn: str) -> dict[str, Any]:
    found = remote_containers(f"locallambda.function={arn}")
    running = [c for c in found if c["State"]["Running"]]
    assert len(running) == 1, [c["Name"] for c in found]
    return running[0]


# -- zip functions ----------------------------------------------------------------------------


def test_code_and_layer_are_copied_into_a_container_of_the_remote_engine(remote_server: Server, fn_name: str) -> None:
    cfg = create_report(remote_server, fn_name)
    body = answer(remote_server, fn_name)
    assert body["version"] == 1 and body["layer"] == "from the layer"
    assert body["files"] == ["handler.py"] and body["task_root"] == "/var/task"
    assert answer(remote_server, fn_name)["env_id"] == body["env_id"], "the warm container serves again"
    # The container is the remote engine's, and nothing of this machine is bound into it.
    container = only_container(cfg["FunctionArn"])
    assert container["Config"]["Image"] == PYTHON_IMAGE
    assert host_binds(container) == []
    assert container["HostConfig"]["NetworkMode"] == "host"
    assert containers(f"locallambda.function={cfg['FunctionArn']}") == [], "nothing ran on the first engine"
    # Its output reaches the invocation's log through docker's log stream.
    assert eventually(lambda: f"remote says hello {body['env_id']}" in invoke(remote_server, fn_name)["Log"])


def test_node_runtime_files_are_copied_too(remote_server: Server, fn_name: str) -> None:
    """What a non-AWS Node.js image is given from this machine (the bundled SDK, the CA bundle)
    is copied, not mounted (the Node.js runtime is mapped to the Python image, which reports)."""
    cfg = create_report(remote_server, fn_name, runtime=NODE_RUNTIME)
    body = answer(remote_server, fn_name)
    assert body["sdk"] is True and body["ca"] is True
    assert body["layer"] == "from the layer"
    assert host_binds(only_container(cfg["FunctionArn"])) == []


def test_updated_code_is_copied_into_a_new_container(remote_server: Server, fn_name: str) -> None:
    cfg = create_report(remote_server, fn_name, version=1)
    first = answer(remote_server, fn_name)
    assert first["version"] == 1
    client = remote_server.client()
    client.update_function_code(
        FunctionName=fn_name, ZipFile=make_zip({"handler.py": f"VERSION = 2\n{REPORT}", "extra.txt": "new"})
    )
    wait_updated(client, fn_name)
    second = answer(remote_server, fn_name)
    assert second["version"] == 2 and second["files"] == ["extra.txt", "handler.py"]
    assert second["env_id"] != first["env_id"]
    assert host_binds(only_container(cfg["FunctionArn"])) == []


HOT = """\
import os

def handler(event, context):
    return {{"version": {n}, "files": sorted(f for f in os.listdir(".") if f != "__pycache__")}}
"""


def test_hot_reloaded_code_is_copied_afresh_into_a_new_container(
    remote_server: Server, fn_name: str, tmp_path: Path
) -> None:
    code = tmp_path / "fn"
    code.mkdir()
    (code / "handler.py").write_text(HOT.format(n=1))
    client = remote_server.client()
    cfg = client.create_function(
        FunctionName=fn_name,
        Runtime="python3.11",
        Role=ROLE,
        Handler="handler.handler",
        Code={"S3Bucket": "hot-reload", "S3Key": str(code)},
    )
    assert cfg["CodeSha256"] == "hot-reloading-hash-not-available"
    wait_active(client, fn_name)
    assert answer(remote_server, fn_name) == {"version": 1, "files": ["handler.py"]}
    binds = host_binds(only_container(cfg["FunctionArn"]))
    assert binds == [], f"the hot-reload directory must be copied, not mounted: {binds}"

    (code / "handler.py").write_text(HOT.format(n=2))
    (code / "data.txt").write_text("added")
    seen: Any = None
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        seen = answer(remote_server, fn_name)
        if seen["version"] == 2:
            break
        time.sleep(0.1)
    assert seen == {"version": 2, "files": ["data.txt", "handler.py"]}
    assert host_binds(only_container(cfg["FunctionArn"])) == []


def test_a_reset_container_starts_again_with_its_copies(remote_server: Server, fn_name: str) -> None:
    """After a crash during an invocation the container is kept and started again (AWS's reset,
    test_docker_reset.py): its copied code is still there, its /tmp as it was."""
    client = remote_server.client()
    client.create_function(
        FunctionName=fn_name,
        Runtime="python3.11",
        Role=ROLE,
        Handler="handler.handler",
        Code={"ZipFile": make_zip({"handler.py": MARKER})},
        Timeout=20,
    )
    arn = wait_active(client, fn_name)["FunctionArn"]
    first = invoke(remote_server, fn_name, {"write": "before"})["Payload"]
    container = only_container(arn)["Id"]
    failed = invoke(remote_server, fn_name, {"write": "exit", "how": "exit"})
    assert failed.get("FunctionError") == "Unhandled" and failed["Payload"]["errorType"] == "Runtime.ExitError"
    after = invoke(remote_server, fn_name, {"write": "after"})
    assert "FunctionError" not in after, after["Payload"]
    assert after["Payload"]["marker"] == ["before", "exit", "after"]
    assert after["Payload"]["token"] != first["token"], "a new runtime, importing the copied code again"
    assert only_container(arn)["Id"] == container


# -- container image functions ----------------------------------------------------------------


def test_image_function_runs_on_the_remote_engine(remote_server: Server, fn_name: str) -> None:
    client = remote_server.client()
    cfg = client.create_function(
        FunctionName=fn_name, PackageType="Image", Role=ROLE, Code={"ImageUri": FUNCTION_IMAGE}
    )
    wait_active(client, fn_name)
    body = invoke(remote_server, fn_name, {"n": 1})["Payload"]
    assert body["image"] is True and body["event"] == {"n": 1}
    assert host_binds(only_container(cfg["FunctionArn"])) == []


# -- lifecycle --------------------------------------------------------------------------------


def test_a_fresh_container_per_invoke_gets_copies_each_time(remote_ready: None, fn_name: str) -> None:
    server = _remote_server("docker").start()
    try:
        cfg = create_report(server, fn_name)
        ids = {answer(server, fn_name)["env_id"] for _ in range(3)}
        assert len(ids) == 3
        label = f"locallambda.function={cfg['FunctionArn']}"
        assert eventually(lambda: not remote_containers(label)), "used containers must be removed"
    finally:
        stop_checked(server)


def test_stopping_the_server_removes_its_containers_from_the_remote_engine(remote_ready: None, fn_name: str) -> None:
    server = _remote_server().start()
    try:
        create_report(server, fn_name)
        answer(server, fn_name)
        assert server.proc is not None
        label = f"locallambda.pid={server.proc.pid}"
        assert len(remote_containers(label)) == 1
    finally:
        stop_checked(server)
    assert remote_containers(label) == []


def test_copy_can_be_asked_for_with_a_local_engine(remote_ready: None, fn_name: str) -> None:
    """``LAMBDA_DOCKER_CODE=copy`` copies even for the engine on this machine's unix socket."""
    server = Server(
        env={
            "LAMBDA_EXECUTOR": "docker-reuse",
            "LAMBDA_DOCKER_CODE": "copy",
            "LAMBDA_SYNCHRONOUS_CREATE": "1",
            "LAMBDA_RUNTIME_IMAGE_MAPPING": MAPPING,
            "LAMBDA_DOCKER_NETWORK": "host",
        }
    ).start()
    try:
        cfg = create_report(server, fn_name)
        assert answer(server, fn_name)["layer"] == "from the layer"
        import docker

        local = docker.from_env(timeout=30)
        try:
            (container,) = local.containers.list(filters={"label": f"locallambda.function={cfg['FunctionArn']}"})
            assert host_binds(container.attrs) == []
        finally:
            local.close()
    finally:
        stop_checked(server)


# -- units: the setting, the archive ----------------------------------------------------------


def test_lambda_docker_code_is_auto_copy_or_mount() -> None:
    assert Settings.from_env({}).docker_code == "auto"
    assert Settings.from_env({"LAMBDA_DOCKER_CODE": " Copy "}).docker_code == "copy"
    assert Settings.from_env({"LAMBDA_DOCKER_CODE": "mount"}).docker_code == "mount"
    with pytest.raises(ValueError, match="LAMBDA_DOCKER_CODE must be one of auto, copy, mount"):
        Settings.from_env({"LAMBDA_DOCKER_CODE": "bind"})


def test_the_archive_of_a_changing_tree_is_made_afresh(tmp_path: Path) -> None:
    import io
    import tarfile

    code, layer, ca = tmp_path / "code", tmp_path / "layer", tmp_path / "ca.pem"
    code.mkdir()
    (code / "a.py").write_text("one")
    (layer / "python").mkdir(parents=True)
    (layer / "python" / "lib.py").write_text("lib")
    ca.write_text("certs")
    archives = Archives()

    def names(data: bytes) -> dict[str, bytes]:
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            return {m.name: (tar.extractfile(m) or io.BytesIO(b"<dir>")).read() for m in tar.getmembers()}

    copies = ((code, "/var/task"), (layer, "/opt"), (ca, "/var/runtime/ca-cert.pem"))
    first = names(archives.archive(copies, changing=(code,)))
    assert first == {
        "var/task/a.py": b"one",
        "opt/python": b"<dir>",
        "opt/python/lib.py": b"lib",
        "var/runtime/ca-cert.pem": b"certs",
    }
    (code / "a.py").write_text("two")
    (layer / "python" / "lib.py").write_text("changed behind our back")
    second = names(archives.archive(copies, changing=(code,)))
    assert second["var/task/a.py"] == b"two", "a changing tree is read again"
    assert second["opt/python/lib.py"] == b"lib", "an unchanging tree's archive is kept"
    with tarfile.open(fileobj=io.BytesIO(archives.archive(copies))) as tar:
        assert {(m.uid, m.gid) for m in tar.getmembers()} == {(0, 0)}
