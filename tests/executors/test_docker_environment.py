"""The environment of a docker executor's function is AWS's: no HOME (docker adds one to every
container), and in a Node.js runtime's image that is not AWS's own, what AWS's has: NODE_PATH,
the bundled SDK at /var/runtime/node_modules (nodejs18.x and later), the CA bundle at
/var/runtime/ca-cert.pem named by NODE_EXTRA_CA_CERTS (nodejs16.x and nodejs18.x).

No Node.js image can be had in the test run (no registry), so the Node.js runtimes are mapped to
the Python test image (LAMBDA_RUNTIME_IMAGE_MAPPING): its entrypoint runs a Python handler,
which reports the container's environment and files as a Node.js function would see them. How
Node.js resolves modules with them is proved in the process and sandbox executors
(tests/invoke/test_function_environment.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from locallambda.executors.docker.config import container_config
from locallambda.executors.docker.flags import parse_docker_flags
from locallambda.executors.docker.images import ImageInfo
from locallambda.runtimes.catalogue import default_image
from locallambda.settings import Settings
from tests.conftest import ROLE, Server, make_zip, wait_active
from tests.executors.test_docker import PYTHON_IMAGE, require_docker
from tests.invoke.conftest import stop_checked
from tests.unit.test_docker_config import IDENTITY, spec

pytestmark = pytest.mark.docker

RUNTIMES = ("python3.11", "nodejs16.x", "nodejs18.x", "nodejs20.x")
AWS_NODE_PATH = (
    "/opt/nodejs/node{major}/node_modules:/opt/nodejs/node_modules:/var/runtime/node_modules:/var/runtime:/var/task"
)

REPORT = """\
import os

def handler(event, context):
    ca = os.environ.get("NODE_EXTRA_CA_CERTS")
    return {
        "has_home": "HOME" in os.environ,
        "node_path": os.environ.get("NODE_PATH"),
        "ca": ca,
        "ca_certificates": bool(ca) and "-----BEGIN CERTIFICATE-----" in open(ca).read(),
        "sdk": os.path.isfile("/var/runtime/node_modules/@aws-sdk/client-s3/package.json"),
        "runtime_dir": sorted(os.listdir("/var/runtime")),
    }
"""


@pytest.fixture(scope="module")
def docker_server() -> Iterator[Server]:
    require_docker()
    server = Server(
        env={
            "LAMBDA_EXECUTOR": "docker-reuse",
            "LAMBDA_SYNCHRONOUS_CREATE": "1",
            "LAMBDA_RUNTIME_IMAGE_MAPPING": json.dumps(dict.fromkeys(RUNTIMES, PYTHON_IMAGE)),
            "LAMBDA_DOCKER_NETWORK": "host",
        }
    ).start()
    try:
        yield server
    finally:
        stop_checked(server)


def report(server: Server, name: str, runtime: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    client = server.client()
    client.create_function(
        FunctionName=name,
        Runtime=runtime,
        Role=ROLE,
        Handler="handler.handler",
        Code={"ZipFile": make_zip({"handler.py": REPORT})},
        Timeout=10,
        Environment={"Variables": env or {}},
    )
    wait_active(client, name)
    out = client.invoke(FunctionName=name)
    body: dict[str, Any] = json.loads(out["Payload"].read())
    assert "FunctionError" not in out, body
    return body


def test_docker_functions_have_no_home(docker_server: Server, fn_name: str) -> None:
    assert report(docker_server, fn_name, "python3.11")["has_home"] is False


@pytest.mark.parametrize("runtime", ["nodejs16.x", "nodejs18.x", "nodejs20.x"])
def test_node_runtime_directory_is_awss(docker_server: Server, fn_name: str, runtime: str) -> None:
    major = runtime.removeprefix("nodejs").removesuffix(".x")
    out = report(docker_server, fn_name, runtime)
    assert out["has_home"] is False
    assert out["node_path"] == AWS_NODE_PATH.format(major=major)
    # The image's own /var/runtime (its bootstrap) is still there beside what is mounted.
    assert "bootstrap" in out["runtime_dir"]
    if runtime in ("nodejs16.x", "nodejs18.x"):
        assert out["ca"] == "/var/runtime/ca-cert.pem" and out["ca_certificates"] is True
    else:
        assert out["ca"] is None and "ca-cert.pem" not in out["runtime_dir"]
    # The SDK v3 is what nodejs18.x and later bundle (nodejs16.x has v2, not bundled here).
    assert out["sdk"] is (runtime != "nodejs16.x")


def test_a_functions_own_node_variables_are_kept(docker_server: Server, fn_name: str) -> None:
    out = report(docker_server, fn_name, "nodejs18.x", env={"NODE_PATH": "/var/task/x", "NODE_EXTRA_CA_CERTS": ""})
    assert out["node_path"] == "/var/task/x" and out["ca"] == ""


# -- without a daemon: what the configuration mounts --------------------------------------------


def node_config(image: str, *, local: bool, runtime: str = "nodejs18.x") -> dict[str, Any]:
    sdk = Settings().nodejs_runtime_dir / "node_modules"
    assert sdk.is_dir(), "scripts/bootstrap.sh installs the SDK"
    config = container_config(
        spec(runtime=runtime, handler="index.handler"),
        {"AWS_LAMBDA_FUNCTION_NAME": "f"},
        image=image,
        info=ImageInfo(entrypoint=("/lambda-entrypoint.sh",)),
        name="locallambda-f-0123abcd",
        flags=parse_docker_flags(""),
        settings=Settings(),
        labels=IDENTITY,
        network="host",
        runtime_api="127.0.0.1:9001",
        api_host="",
        local=local,
    )
    return config.arguments


def test_awss_own_image_keeps_its_runtime_directory() -> None:
    arguments = node_config(default_image("nodejs18.x"), local=True)
    assert not [v for v in arguments["volumes"].values() if v["bind"].startswith("/var/runtime")]
    # Its bootstrap sets NODE_EXTRA_CA_CERTS (and would set this same NODE_PATH) itself.
    assert arguments["environment"]["NODE_PATH"] == AWS_NODE_PATH.format(major=18)
    assert "NODE_EXTRA_CA_CERTS" not in arguments["environment"]


def test_another_image_gets_the_sdk_and_certificates_mounted_from_this_machine() -> None:
    binds = {v["bind"] for v in node_config(PYTHON_IMAGE, local=True)["volumes"].values()}
    assert {"/var/runtime/node_modules", "/var/runtime/ca-cert.pem"} <= binds
    # A remote daemon sees nothing of this machine: nothing is mounted, the same files are copied
    # in (tests/executors/test_docker_remote.py runs them).
    remote = node_config(PYTHON_IMAGE, local=False)
    assert not [v for v in remote["volumes"].values() if v["bind"].startswith("/var/runtime")]
    assert remote["environment"]["NODE_EXTRA_CA_CERTS"] == "/var/runtime/ca-cert.pem"
