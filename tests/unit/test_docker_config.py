"""Unit tests of the docker executor's container configuration (executors/docker/config.py), without a daemon.

What a container is created with: the memory limit, the environment (the Runtime API, the task
root, a rewritten AWS_ENDPOINT_URL), the code and layers mounted for a local daemon or copied for
a remote one, the network, DNS and LAMBDA_DOCKER_FLAGS, the labels naming the server and the
function, what runs (a runtime image's entrypoint and handler, a provided bootstrap, an image's
ENTRYPOINT/CMD under ImageConfig) and the output FIFO's redirection.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from locallambda.errors import ExecutorError
from locallambda.executors.docker.config import (
    PROVIDED_ENTRYPOINT,
    WITHOUT_HOME,
    ContainerConfig,
    container_config,
    container_name,
    network_mode,
)
from locallambda.executors.docker.flags import DockerFlags, parse_docker_flags
from locallambda.executors.docker.images import ImageInfo
from locallambda.executors.docker.output import OUTPUT_TARGET
from locallambda.model.spec import FunctionSpec
from locallambda.settings import Settings

ARN = "arn:aws:lambda:us-east-1:000000000000:function:f"
IDENTITY = {"locallambda.server": "abc123", "locallambda.pid": "42", "locallambda.host": "h", "locallambda.pidns": ""}
RUNTIME_IMAGE = ImageInfo(entrypoint=("/lambda-entrypoint.sh",), command=())
CODE = Path("/store/code/f")


def spec(**kw: Any) -> FunctionSpec:
    base: dict[str, Any] = dict(
        key="us-east-1/f", name="f", arn=ARN, version="$LATEST", generation=1, incarnation="test",
        region="us-east-1", account_id="000000000000", runtime="python3.12", handler="handler.handler",
        package_type="Zip", code_dir=CODE, image_uri=None, image_config={}, memory_mb=128, timeout_s=3,
        ephemeral_mb=512, environment={}, layers=(), architectures=("x86_64",), log_group="/aws/lambda/f",
        log_format="Text",
    )  # fmt: skip
    base.update(kw)
    return FunctionSpec(**base)


def build(
    function: FunctionSpec | None = None,
    environment: dict[str, str] | None = None,
    *,
    info: ImageInfo = RUNTIME_IMAGE,
    flags: DockerFlags | str = "",
    settings: Settings | None = None,
    network: str = "host",
    api_host: str = "",
    local: bool = True,
    output_fifo: Path | None = None,
) -> ContainerConfig:
    return container_config(
        function or spec(),
        environment if environment is not None else {"AWS_LAMBDA_FUNCTION_NAME": "f"},
        image="public.ecr.aws/lambda/python:3.12",
        info=info,
        name="locallambda-f-0123abcd",
        flags=parse_docker_flags(flags) if isinstance(flags, str) else flags,
        settings=settings or Settings(),
        labels=IDENTITY,
        network=network,
        runtime_api="127.0.0.1:9001",
        api_host=api_host,
        local=local,
        output_fifo=output_fifo,
    )


def argv(config: ContainerConfig) -> list[str]:
    return [*config.arguments["entrypoint"], *config.arguments["command"]]


# -- the basics -------------------------------------------------------------------------------


def test_a_runtime_image_container_is_named_detached_and_without_optional_settings() -> None:
    arguments = build().arguments
    assert arguments["image"] == "public.ecr.aws/lambda/python:3.12"
    assert arguments["name"] == "locallambda-f-0123abcd"
    assert arguments["detach"] is True
    assert arguments["privileged"] is False
    # Empty options are left out, so the daemon's defaults hold.
    for absent in ("dns", "cap_add", "security_opt", "user", "platform", "ports", "ulimits", "working_dir"):
        assert absent not in arguments


def test_the_memory_limit_is_memory_size_without_swap() -> None:
    arguments = build(spec(memory_mb=200)).arguments
    assert arguments["mem_limit"] == 200 * 1024 * 1024
    assert arguments["memswap_limit"] == 200 * 1024 * 1024


def test_container_names_are_docker_safe_and_fresh() -> None:
    name = container_name("My Function:Prod/1")
    assert (
        name.startswith("locallambda-my-function-prod-1-") and len(name) == len("locallambda-my-function-prod-1-") + 8
    )
    assert container_name("f") != container_name("f")
    assert container_name("---").startswith("locallambda-fn-")
    assert len(container_name("x" * 100)) == len("locallambda-") + 40 + 1 + 8


# -- the environment --------------------------------------------------------------------------


def test_the_environment_points_at_the_runtime_api_and_the_paths_inside() -> None:
    env = build(environment={"A": "function", "LAMBDA_TASK_ROOT": "/store/code/f"}, flags="-e A=flag -e B=flag")
    environment = env.arguments["environment"]
    assert environment["AWS_LAMBDA_RUNTIME_API"] == "127.0.0.1:9001"  # host networking: unchanged
    assert environment["LAMBDA_TASK_ROOT"] == "/var/task"  # the host's path means nothing inside
    assert environment["LAMBDA_RUNTIME_DIR"] == "/var/runtime"
    # The function's own variables win over LAMBDA_DOCKER_FLAGS' -e.
    assert environment["A"] == "function" and environment["B"] == "flag"


def test_off_the_host_network_the_runtime_api_and_a_loopback_endpoint_use_the_api_host() -> None:
    environment = build(
        environment={"AWS_ENDPOINT_URL": "http://localhost:4566"}, network="bridge", api_host="172.17.0.1"
    ).arguments["environment"]
    assert environment["AWS_LAMBDA_RUNTIME_API"] == "172.17.0.1:9001"
    assert environment["AWS_ENDPOINT_URL"] == "http://172.17.0.1:4566"
    elsewhere = build(
        environment={"AWS_ENDPOINT_URL": "https://lambda.example.com"}, network="bridge", api_host="172.17.0.1"
    ).arguments["environment"]
    assert elsewhere["AWS_ENDPOINT_URL"] == "https://lambda.example.com"
    on_host = build(environment={"AWS_ENDPOINT_URL": "http://127.0.0.1:4566"}).arguments["environment"]
    assert on_host["AWS_ENDPOINT_URL"] == "http://127.0.0.1:4566"


# -- code and layers --------------------------------------------------------------------------


def test_a_local_daemon_mounts_the_code_and_a_single_layer_read_only() -> None:
    config = build(spec(layers=(Path("/store/layers/one"),)))
    assert config.arguments["volumes"] == {
        "/store/code/f": {"bind": "/var/task", "mode": "ro"},
        "/store/layers/one": {"bind": "/opt", "mode": "ro"},
    }
    assert config.copies == ()


def test_several_layers_are_copied_in_order_even_for_a_local_daemon() -> None:
    layers = (Path("/store/layers/one"), Path("/store/layers/two"))
    config = build(spec(layers=layers))
    assert config.arguments["volumes"] == {"/store/code/f": {"bind": "/var/task", "mode": "ro"}}
    assert config.copies == ((layers[0], "/opt"), (layers[1], "/opt"))  # the later one wins


def test_a_remote_daemon_gets_copies_of_the_code_and_layers() -> None:
    layer = Path("/store/layers/one")
    config = build(spec(layers=(layer,)), local=False)
    assert config.arguments["volumes"] == {}
    assert config.copies == ((CODE, "/var/task"), (layer, "/opt"))


def test_a_zip_function_without_code_on_this_machine_is_refused() -> None:
    with pytest.raises(ExecutorError, match="no code on this machine"):
        build(spec(code_dir=None))


def test_flag_volumes_are_mounted_beside_the_code() -> None:
    volumes = build(flags="-v /data:/mnt/data:ro -v /cache:/cache").arguments["volumes"]
    assert volumes["/data"] == {"bind": "/mnt/data", "mode": "ro"}
    assert volumes["/cache"] == {"bind": "/cache", "mode": "rw"}
    assert volumes["/store/code/f"] == {"bind": "/var/task", "mode": "ro"}


# -- network, DNS and LAMBDA_DOCKER_FLAGS ------------------------------------------------------


def test_the_network_comes_from_the_flags_then_the_settings_then_where_the_daemon_is() -> None:
    assert network_mode(DockerFlags(), Settings(), local=True) == "host"
    assert network_mode(DockerFlags(), Settings(), local=False) == "bridge"
    assert network_mode(DockerFlags(), Settings(docker_network=" lambdas , other"), local=True) == "lambdas"
    assert network_mode(DockerFlags(network="mine"), Settings(docker_network="lambdas"), local=True) == "mine"


def test_host_networking_publishes_no_ports_and_adds_no_gateway_alias() -> None:
    arguments = build(flags="-p 5050:5050").arguments
    assert arguments["network_mode"] == "host"
    assert "ports" not in arguments
    assert arguments["extra_hosts"] == {}


def test_a_bridge_network_publishes_ports_and_maps_the_gateway_alias() -> None:
    arguments = build(flags="-p 5050:5050", network="bridge", api_host="host.docker.internal").arguments
    assert arguments["network_mode"] == "bridge"
    assert arguments["ports"] == {"5050/tcp": 5050}
    assert arguments["extra_hosts"] == {"host.docker.internal": "host-gateway"}
    assert arguments["environment"]["AWS_LAMBDA_RUNTIME_API"] == "host.docker.internal:9001"
    # A gateway address needs no alias; a flag's own mapping of the alias is kept.
    assert build(network="bridge", api_host="172.17.0.1").arguments["extra_hosts"] == {}
    kept = build(flags="--add-host host.docker.internal:10.0.0.1", network="bridge", api_host="host.docker.internal")
    assert kept.arguments["extra_hosts"] == {"host.docker.internal": "10.0.0.1"}


def test_dns_servers_come_from_lambda_docker_dns_then_the_flags() -> None:
    arguments = build(flags="--dns 9.9.9.9", settings=Settings(docker_dns="1.1.1.1, 8.8.8.8")).arguments
    assert arguments["dns"] == ["1.1.1.1", "8.8.8.8", "9.9.9.9"]


def test_the_other_flags_reach_the_create_arguments() -> None:
    arguments = build(
        flags="--add-host h.example:1.2.3.4 --cap-add SYS_PTRACE --security-opt seccomp=unconfined "
        "-u 1000 --platform linux/amd64 --privileged --ulimit nofile=1024:2048"
    ).arguments
    assert arguments["extra_hosts"] == {"h.example": "1.2.3.4"}
    assert arguments["cap_add"] == ["SYS_PTRACE"]
    assert arguments["security_opt"] == ["seccomp=unconfined"]
    assert arguments["user"] == "1000" and arguments["platform"] == "linux/amd64"
    assert arguments["privileged"] is True
    assert [dict(u) for u in arguments["ulimits"]] == [{"Name": "nofile", "Soft": 1024, "Hard": 2048}]


# -- labels -----------------------------------------------------------------------------------


def test_labels_name_the_server_and_the_function_over_the_flags_labels() -> None:
    labels = build(spec(version="3"), flags="-l team=lambda -l locallambda.server=forged").arguments["labels"]
    assert labels == {
        "team": "lambda",
        **IDENTITY,  # the server's identity wins: the sweep at shutdown relies on it
        "locallambda.function": ARN,
        "locallambda.version": "3",
    }


# -- what runs --------------------------------------------------------------------------------


def test_a_runtime_image_runs_its_entrypoint_with_the_handler() -> None:
    # Through a shell that drops the HOME docker adds (AWS's runtimes have none).
    assert argv(build()) == [*WITHOUT_HOME, "/lambda-entrypoint.sh", "handler.handler"]
    # An image without an ENTRYPOINT is run as the official images are.
    assert argv(build(info=ImageInfo())) == [*WITHOUT_HOME, "/lambda-entrypoint.sh", "handler.handler"]


def test_a_provided_runtime_runs_the_functions_own_bootstrap() -> None:
    assert argv(build(spec(runtime="provided.al2023", handler="bootstrap"))) == [*WITHOUT_HOME, *PROVIDED_ENTRYPOINT]


def test_an_image_function_runs_its_entrypoint_and_command_without_mounting_code() -> None:
    image = ImageInfo(entrypoint=("/lambda-entrypoint.sh",), command=("app.handler",), has_shell=False)
    config = build(spec(package_type="Image", image_uri="x/y:1", code_dir=None, runtime=None, handler=None), info=image)
    assert argv(config) == ["/lambda-entrypoint.sh", "app.handler"]
    assert config.arguments["entrypoint"] == ["/lambda-entrypoint.sh"]  # set explicitly, never inherited
    assert config.arguments["volumes"] == {} and config.copies == ()
    assert "working_dir" not in config.arguments


def test_image_config_overrides_command_entrypoint_and_working_directory() -> None:
    image = ImageInfo(entrypoint=("/entry",), command=("app.handler",))

    def run(image_config: dict[str, Any]) -> ContainerConfig:
        return build(spec(package_type="Image", code_dir=None, image_config=image_config), info=image)

    assert argv(run({"Command": ["app.other"]})) == ["/entry", "app.other"]
    # An EntryPoint override keeps the image's CMD, unlike `docker run --entrypoint`.
    assert argv(run({"EntryPoint": ["/other", "-x"]})) == ["/other", "-x", "app.handler"]
    overridden = run({"EntryPoint": ["/other"], "Command": ["a", "b"], "WorkingDirectory": "/tmp"})
    assert argv(overridden) == ["/other", "a", "b"]
    assert overridden.arguments["working_dir"] == "/tmp"


def test_an_image_with_neither_entrypoint_nor_command_is_refused() -> None:
    with pytest.raises(ExecutorError, match="neither an entrypoint nor a command"):
        build(spec(package_type="Image", code_dir=None), info=ImageInfo())


def test_the_output_fifo_is_mounted_and_the_entrypoint_redirected_to_it() -> None:
    config = build(output_fifo=Path("/tmp/pipes/locallambda-f-0123abcd/output"))
    assert config.arguments["volumes"]["/tmp/pipes/locallambda-f-0123abcd/output"] == {
        "bind": OUTPUT_TARGET,
        "mode": "rw",
    }
    assert argv(config) == [
        "/bin/sh", "-c", f'exec "$@" >>{OUTPUT_TARGET} 2>&1', "locallambda",
        *WITHOUT_HOME, "/lambda-entrypoint.sh", "handler.handler",
    ]  # fmt: skip
