"""Lambda Debug Mode in the docker executor: tests/invoke/test_debugging.py's tests, in containers.

The same clients as there (DAP spoken directly to debugpy, a CDP client to Node.js's inspector, the
JDWP handshake and commands to the JVM), reaching the debuggers on the host's loopback: containers
are on the host's network (``LAMBDA_DOCKER_NETWORK=host``; this machine's daemon has no bridge).

No registry is reachable in the test run: python3.11 runs in the Python test image
(scripts/build-test-images.sh), whose interpreter gets the server's debugpy mounted
(``runtimes/debuggers.py``). nodejs20.x and java21 run in two images built here on top of it,
whose ``/var/runtime/bootstrap`` starts locallambda's own runtime clients with this machine's
``node`` and JDK, mounted through ``LAMBDA_DOCKER_FLAGS``; the debuggers come in as in AWS's
images, through ``NODE_OPTIONS`` and ``JAVA_TOOL_OPTIONS``. One more test has the bundle and the
code copied into the container (``LAMBDA_DOCKER_CODE=copy``), as for a remote engine.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from locallambda.runtimes.commands import NODE_BOOTSTRAP
from locallambda.runtimes.java_bootstrap import MAIN_CLASS, ensure_java_bootstrap
from locallambda.settings import Settings
from tests.conftest import Server
from tests.executors.test_docker import PYTHON_IMAGE, require_docker
from tests.invoke.conftest import CLI_ENV, HOST_PYTHON_RUNTIME, stop_checked, unique
from tests.invoke.test_debugging import (
    BREAK_LINE,
    WAIT_S,
    Functions,
    attach,
    debug_port,
    stopped_locals,
    test_a_breakpoint_stops_the_invocation_and_continue_returns_its_result,
    test_a_debugged_function_runs_one_invocation_at_a_time,
    test_java_waits_for_a_jdwp_debugger,
    test_the_config_file_is_watched,
    test_the_node_inspector_is_reached_with_a_cdp_client,
    test_two_functions_are_debugged_at_once,
    write_config,
)

pytestmark = pytest.mark.docker

__all__ = [
    "test_a_breakpoint_stops_the_invocation_and_continue_returns_its_result",
    "test_a_debugged_function_runs_one_invocation_at_a_time",
    "test_java_waits_for_a_jdwp_debugger",
    "test_the_config_file_is_watched",
    "test_the_node_inspector_is_reached_with_a_cdp_client",
    "test_two_functions_are_debugged_at_once",
]

NODE_IMAGE = "locallambda-test/debug-node:latest"
JAVA_IMAGE = "locallambda-test/debug-java:latest"
JAVA_HOME = Path("/usr/lib/jvm/java-17-openjdk-amd64")
NODE_DIR = "/var/runtime/locallambda-node"
JAVA_JAR = "/var/runtime/locallambda-java.jar"

BOOTSTRAPS = {
    NODE_IMAGE: f'#!/bin/sh\nexec /usr/local/bin/node {NODE_DIR}/{NODE_BOOTSTRAP.name} --esm-node-path "$@"\n',
    JAVA_IMAGE: (
        f"#!/bin/sh\nexec {JAVA_HOME}/bin/java -XX:+TieredCompilation -XX:TieredStopAtLevel=1 "
        f'-cp "{JAVA_JAR}:/var/task:/var/task/lib/*" {MAIN_CLASS} "$@"\n'
    ),
}


def build_runtime_images(root: Path) -> None:
    """The Node.js and Java images: the Python test image with another ``/var/runtime/bootstrap``."""
    for image, bootstrap in BOOTSTRAPS.items():
        context = root / image.rpartition("/")[2].partition(":")[0]
        context.mkdir()
        (context / "bootstrap").write_text(bootstrap)
        (context / "Dockerfile").write_text(
            f"FROM {PYTHON_IMAGE}\nCOPY bootstrap /var/runtime/bootstrap\nRUN chmod 755 /var/runtime/bootstrap\n"
        )
        subprocess.run(
            ["docker", "build", "-q", "--network", "host", "-t", image, str(context)],
            check=True,
            capture_output=True,
            timeout=300,
            env={**os.environ, "DOCKER_BUILDKIT": "0"},
        )


@pytest.fixture(scope="module")
def docker_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A docker server's variables: the images built, this machine's runtimes mounted."""
    require_docker()
    build_runtime_images(tmp_path_factory.mktemp("docker-images"))
    node, java = shutil.which("node"), shutil.which("javac")
    assert node is not None and java is not None and JAVA_HOME.is_dir(), "Node.js and a JDK 17 are needed here"
    jar = ensure_java_bootstrap(Settings().cache_dir, cds=False)
    flags = [
        f"-v {os.path.realpath(node)}:/usr/local/bin/node:ro",
        f"-v {NODE_BOOTSTRAP.parent}:{NODE_DIR}:ro",
        f"-v {JAVA_HOME}:{JAVA_HOME}:ro",
        "-v /etc/java-17-openjdk:/etc/java-17-openjdk:ro",  # the JDK's conf/ links there
        f"-v {jar}:{JAVA_JAR}:ro",
    ]
    return {
        "LAMBDA_EXECUTOR": "docker-reuse",
        "LAMBDA_DOCKER_NETWORK": "host",
        "LAMBDA_RUNTIME_IMAGE_MAPPING": json.dumps(
            {HOST_PYTHON_RUNTIME: PYTHON_IMAGE, "nodejs20.x": NODE_IMAGE, "java21": JAVA_IMAGE}
        ),
        "LAMBDA_DOCKER_FLAGS": " ".join(flags),
    }


@pytest.fixture()
def executor_env(docker_env: dict[str, str]) -> tuple[dict[str, str], str | None]:
    return docker_env, "/var/task"


@pytest.fixture(scope="module")
def fns(tmp_path_factory: pytest.TempPathFactory, docker_env: dict[str, str]) -> Iterator[Functions]:
    code, config = write_config(tmp_path_factory.mktemp("docker-debugging"))
    server = Server(
        env={
            "LAMBDA_SYNCHRONOUS_CREATE": "1",
            **docker_env,
            "LAMBDA_DEBUG_MODE": "1",
            "LAMBDA_DEBUG_MODE_CONFIG_PATH": str(config),
            **CLI_ENV,
        }
    ).start()
    try:
        yield Functions(server, code, task_root="/var/task")
    finally:
        stop_checked(server)


def test_python_under_debugpy_with_everything_copied(tmp_path: Path, docker_env: dict[str, str]) -> None:
    """As for a remote engine (``LAMBDA_DOCKER_CODE=copy``): nothing of this machine is mounted,
    the debugpy bundle is copied into the container with the code, and the breakpoint stops."""
    code, _ = write_config(tmp_path)
    name, port = unique("debug-copied"), debug_port()
    config = tmp_path / "copied.yaml"
    config.write_text(f"functions:\n  {name}:\n    debug-port: {port}\n")
    server = Server(
        env={
            "LAMBDA_SYNCHRONOUS_CREATE": "1",
            **docker_env,
            "LAMBDA_DOCKER_CODE": "copy",
            "LAMBDA_DEBUG_MODE": "1",
            "LAMBDA_DEBUG_MODE_CONFIG_PATH": str(config),
            **CLI_ENV,
        }
    ).start()
    try:
        fns = Functions(server, code, task_root="/var/task")
        fns.create(name)
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            invocation = pool.submit(fns.invoke, name, {"a": 8})
            dap = attach(port, fns.handler_path(), BREAK_LINE)
            try:
                thread, frame, local_vars = stopped_locals(dap)
                assert frame["source"]["path"] == "/var/task/handler.py", frame
                assert local_vars["answer"] == "16", local_vars
                dap.request("continue", threadId=thread)
                out = invocation.result(WAIT_S)
            finally:
                dap.close()
        assert out["Payload"]["answer"] == 16, out
        assert f"waits for a debugger on 127.0.0.1:{port} (debugpy (DAP))" in out["Log"], out["Log"]
    finally:
        stop_checked(server)
