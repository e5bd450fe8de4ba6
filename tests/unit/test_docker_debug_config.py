"""Lambda debug mode in a container's create configuration (executors/docker/config.py): the
debugger reachable on the host's loopback (host networking) or published there (any other
network), debugpy's bundle mounted or copied for Python, the variables Node.js and the JVM read.
The containers themselves: tests/executors/test_docker_debugging.py."""

from __future__ import annotations

from pathlib import Path

from locallambda.executors.docker.config import ContainerConfig, container_config
from locallambda.executors.docker.flags import parse_docker_flags
from locallambda.model.spec import DebugTarget
from locallambda.runtimes.debuggers import CONTAINER_DEBUGPY_DIR, DEBUGPY_ADDRESS_VARIABLE, debugpy_bundle
from locallambda.settings import Settings
from tests.unit.test_docker_config import IDENTITY, RUNTIME_IMAGE, spec

BUNDLE = Path("/cache/docker-debugpy/0123/locallambda-debug")
DEBUG = DebugTarget(port=19891, timeout_s=3)


def build(
    *, runtime: str = "python3.12", network: str = "host", local: bool = True, env: dict[str, str] | None = None
) -> ContainerConfig:
    return container_config(
        spec(runtime=runtime, debug=DEBUG),
        {"AWS_LAMBDA_FUNCTION_NAME": "f", **(env or {})},
        image="public.ecr.aws/lambda/python:3.12",
        info=RUNTIME_IMAGE,
        name="locallambda-f-0123abcd",
        flags=parse_docker_flags(""),
        settings=Settings(),
        labels=IDENTITY,
        network=network,
        runtime_api="127.0.0.1:9001",
        api_host="" if network == "host" else "172.17.0.1",
        local=local,
        debugpy=BUNDLE if runtime.startswith("python") else None,
    )


def test_python_gets_the_debugpy_bundle_first_on_its_path_on_the_hosts_loopback() -> None:
    config = build()
    env = config.arguments["environment"]
    assert env[DEBUGPY_ADDRESS_VARIABLE] == "127.0.0.1:19891"
    assert env["LDM_DEBUG_PORT"] == "19891"
    assert env["PYTHONPATH"] == CONTAINER_DEBUGPY_DIR
    assert config.arguments["volumes"][str(BUNDLE)] == {"bind": CONTAINER_DEBUGPY_DIR, "mode": "ro"}
    assert "ports" not in config.arguments  # the host's network: nothing to publish


def test_on_another_network_the_debugger_listens_inside_and_is_published_on_loopback() -> None:
    config = build(network="bridge")
    assert config.arguments["environment"][DEBUGPY_ADDRESS_VARIABLE] == "0.0.0.0:19891"
    assert config.arguments["ports"] == {"19891/tcp": ("127.0.0.1", 19891)}
    node = build(runtime="nodejs20.x", network="bridge").arguments["environment"]
    assert node["NODE_OPTIONS"] == "--inspect-brk=0.0.0.0:19891"
    java = build(runtime="java21", network="bridge").arguments["environment"]
    assert java["JAVA_TOOL_OPTIONS"].endswith("-agentlib:jdwp=transport=dt_socket,server=y,suspend=y,address=*:19891")


def test_a_function_path_is_kept_after_the_bundle_and_a_remote_engine_gets_a_copy() -> None:
    config = build(local=False, env={"PYTHONPATH": "/var/task/vendor"})
    assert config.arguments["environment"]["PYTHONPATH"] == f"{CONTAINER_DEBUGPY_DIR}:/var/task/vendor"
    assert (BUNDLE, CONTAINER_DEBUGPY_DIR) in config.copies
    assert str(BUNDLE) not in config.arguments["volumes"]


def test_the_bundle_holds_debugpy_and_the_sitecustomize_once(tmp_path: Path) -> None:
    import debugpy

    site = str(Path(debugpy.__file__).parent.parent)
    bundle = debugpy_bundle(site, tmp_path)
    assert bundle.name == "locallambda-debug"
    assert (bundle / "debugpy" / "__init__.py").is_file()
    text = (bundle / "sitecustomize.py").read_text()
    assert DEBUGPY_ADDRESS_VARIABLE in text and "wait_for_client" in text
    compile(text, "sitecustomize.py", "exec")
    assert debugpy_bundle(site, tmp_path) == bundle  # made once
    assert [p.name for p in bundle.parent.parent.iterdir()] == [bundle.parent.name]  # nothing staged is left
