"""Lambda Debug Mode in process: the config file (invoke/debugging.py), the specs it gives, the
single lease, and the runtimes' command lines under their debuggers (runtimes/commands.py)."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from locallambda.errors import TooManyRequestsError
from locallambda.invoke.debugging import DEBUG_TIMEOUT_S, DebugMode, parse_config
from locallambda.model.lifecycle import EnvState
from locallambda.model.spec import DebugTarget, FunctionSpec
from locallambda.runtimes.commands import RuntimeCommands
from locallambda.runtimes.debuggers import DEBUG_PORT_VARIABLE, debug_notice, jdwp_agent
from locallambda.settings import Settings
from locallambda.testing import async_test
from locallambda.testing.executor import function_spec

ARN = "arn:aws:lambda:us-east-1:000000000000:function:"

CONFIG = f"""
functions:
  {ARN}one:
    debug-port: 19891
  {ARN}two:3:
    debug-port: 19892
    enforce-timeouts: true
  three:
    debug-port: 19893
  {ARN}four:
    enforce-timeouts: false
"""


def mode(text: str = CONFIG) -> DebugMode:
    return DebugMode(True, parse_config(text))


def test_settings_name_localstacks_variables() -> None:
    settings = Settings.from_env({"LAMBDA_DEBUG_MODE": "1", "LAMBDA_DEBUG_MODE_CONFIG_PATH": "/tmp/d.yaml"})
    assert settings.lambda_debug_mode is True
    assert settings.lambda_debug_mode_config_path == Path("/tmp/d.yaml")
    assert Settings.from_env({}).lambda_debug_mode is False


def test_an_unqualified_arn_means_latest_and_its_timeout_is_lifted() -> None:
    spec = function_spec("one", timeout_s=3)
    applied = mode().apply(spec)
    assert applied.debug == DebugTarget(port=19891, timeout_s=3, enforce_timeouts=False)
    assert applied.timeout_s == DEBUG_TIMEOUT_S == 3600
    assert mode().apply(function_spec("one", version="1")).debug is None  # another version


def test_a_qualified_arn_names_its_version_and_may_keep_the_timeout() -> None:
    m = mode()
    assert m.apply(function_spec("two")).debug is None
    applied = m.apply(function_spec("two", version="3", timeout_s=5))
    assert applied.debug == DebugTarget(19892, 5, enforce_timeouts=True) and applied.timeout_s == 5


def test_a_name_matches_in_any_region_an_arn_only_in_its_own() -> None:
    m = mode()
    assert m.apply(function_spec("three", region="eu-west-1", key="eu-west-1/three")).debug is not None
    assert m.apply(function_spec("one", region="eu-west-1", key="eu-west-1/one")).debug is None
    assert m.apply(function_spec("one", account_id="111111111111")).debug is None


def test_no_port_lifts_the_timeout_only_and_unnamed_functions_are_untouched() -> None:
    m = mode()
    four = m.apply(function_spec("four", timeout_s=2))
    assert four.debug is None and four.timeout_s == DEBUG_TIMEOUT_S
    other = function_spec("other")
    assert m.apply(other) is other


def test_without_a_file_every_timeout_is_lifted_and_off_nothing_changes() -> None:
    spec = function_spec("any", timeout_s=3)
    assert DebugMode(True).apply(spec).timeout_s == DEBUG_TIMEOUT_S
    assert DebugMode(True).apply(spec).debug is None
    assert DebugMode(False, parse_config(CONFIG)).apply(function_spec("one")).debug is None


def test_the_applied_spec_is_cached_per_spec_object() -> None:
    m = mode()
    spec = function_spec("one")
    assert m.apply(spec) is m.apply(spec)
    newer = function_spec("one", generation=1)
    assert m.apply(newer) is not m.apply(spec) and m.apply(newer).generation == 1


def test_json_is_a_config_too() -> None:
    entries = parse_config(json.dumps({"functions": {"one": {"debug-port": 5050}}}))
    assert DebugMode(True, entries).apply(function_spec("one")).debug == DebugTarget(5050, 3)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("functions:\n  a:\n    debug-port: 1\n  b:\n    debug-port: 1\n", "debug-port 1 is given to both a and b"),
        (f"functions:\n  {ARN}a:\n    debug-port: 1\n  {ARN}a:$LATEST:\n    debug-port: 2\n", "configured twice"),
        ("functions:\n  arn:aws:lambda:us-east-1:000000000000:function:\n    debug-port: 1\n", "not a function ARN"),
        ("functions:\n  a:\n    debug-port: http\n", "debug-port must be a port number"),
        ("functions:\n  a:\n    debug-port: 70000\n", "debug-port must be a port number"),
        ("functions:\n  a:\n    port: 1\n", "expected 'debug-port' and 'enforce-timeouts' only"),
        ("functions:\n  a:\n    enforce-timeouts: maybe\n", "enforce-timeouts must be true or false"),
        ("functions: [a, b]\n", "expected a mapping"),
        ("functions: {a: [\n", "is not valid YAML"),
    ],
)
def test_an_invalid_file_is_refused_with_its_reason(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("$", r"\$")):
        parse_config(text)


def test_an_unreadable_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot read"):
        DebugMode.from_settings(True, tmp_path / "missing.yaml")
    (tmp_path / "ok.yaml").write_text(CONFIG)
    assert DebugMode.from_settings(True, tmp_path / "ok.yaml").apply(function_spec("one")).debug is not None
    assert DebugMode.from_settings(False, tmp_path / "missing.yaml").enabled is False


def test_a_debugged_version_runs_one_invocation_at_a_time() -> None:
    m = mode()
    spec = m.apply(function_spec("one"))
    with m.lease(spec):
        with pytest.raises(TooManyRequestsError) as caught, m.lease(spec):
            pass
        assert caught.value.message == "Rate Exceeded."
        assert caught.value.extra == {"Reason": "SingleLeaseEnforcement", "Type": "User"}
        with m.lease(m.apply(function_spec("three"))), m.lease(function_spec("other")), m.lease(function_spec("other")):
            pass  # other functions, and functions not debugged, are not held back
    with m.lease(spec):
        pass  # released


# -- command lines ----------------------------------------------------------------------------


def debugged(runtime: str, **changes: Any) -> FunctionSpec:
    return function_spec("fn", runtime=runtime, timeout_s=DEBUG_TIMEOUT_S, debug=DebugTarget(19891, 3), **changes)


def test_python_starts_under_debugpy(tmp_path: Path) -> None:
    commands = RuntimeCommands(tmp_path)
    runtime = f"python{sys.version_info.major}.{sys.version_info.minor}"
    spec = debugged(runtime, handler="handler.handler")
    argv, env = asyncio.run(commands.command(spec, tmp_path))
    assert argv[:6] == [sys.executable, "-u", "-S", "-X", "frozen_modules=off", "-c"]
    program = argv[6]
    assert 'debugpy.listen(("127.0.0.1", 19891))' in program and "debugpy.wait_for_client()" in program
    assert program.index("wait_for_client") < program.index('run_module("awslambdaric"')
    assert env[DEBUG_PORT_VARIABLE] == "19891"
    plain, plain_env = asyncio.run(commands.command(function_spec("fn", runtime=runtime), tmp_path))
    assert "debugpy" not in plain[4] and DEBUG_PORT_VARIABLE not in plain_env


def test_node_starts_under_its_inspector_and_java_under_jdwp(tmp_path: Path) -> None:
    commands = RuntimeCommands(tmp_path)
    argv, env = asyncio.run(commands.command(debugged("nodejs20.x"), tmp_path))
    assert argv[0] == "node" and argv[1] in ("--inspect-wait=127.0.0.1:19891", "--inspect-brk=127.0.0.1:19891")
    assert env[DEBUG_PORT_VARIABLE] == "19891"
    assert jdwp_agent(5050) == "-agentlib:jdwp=transport=dt_socket,server=y,suspend=y,address=127.0.0.1:5050"


def test_the_log_says_where_the_debugger_listens_and_what_became_of_the_timeout(tmp_path: Path) -> None:
    spec = debugged("python3.12")
    assert debug_notice(spec) == (
        "locallambda: debug mode: fn waits for a debugger on 127.0.0.1:19891 (debugpy (DAP)) before its init; "
        "timeout not enforced (3 s lifted to 3600 s)"
    )
    kept = function_spec("fn", runtime="provided.al2023", timeout_s=3, debug=DebugTarget(7, 3, enforce_timeouts=True))
    assert debug_notice(kept) == (
        "locallambda: debug mode: fn has no debugger of ours for provided.al2023; LDM_DEBUG_PORT=7 is set for "
        "one of its own; timeout 3 s enforced"
    )
    assert RuntimeCommands(tmp_path).notice(spec) == debug_notice(spec)


# -- the docker executor: the image's own runtime, through the variables it honours -----------


def test_docker_starts_the_images_runtime_under_its_debugger() -> None:
    from tests.unit.test_docker_config import build
    from tests.unit.test_docker_config import spec as docker_spec

    target = DebugTarget(19891, 3)
    node = build(docker_spec(runtime="nodejs20.x", debug=target), {"NODE_OPTIONS": "--enable-source-maps"})
    env = node.arguments["environment"]
    assert env["NODE_OPTIONS"] == "--enable-source-maps --inspect-brk=127.0.0.1:19891"
    assert env[DEBUG_PORT_VARIABLE] == "19891" and "ports" not in node.arguments  # host networking
    java = build(docker_spec(runtime="java21", debug=target), network="bridge", api_host="172.17.0.1")
    assert java.arguments["environment"]["JAVA_TOOL_OPTIONS"] == jdwp_agent(19891, "*")
    assert java.arguments["ports"] == {"19891/tcp": ("127.0.0.1", 19891)}  # published on loopback only
    python = build(docker_spec(debug=target)).arguments["environment"]
    assert python[DEBUG_PORT_VARIABLE] == "19891" and "NODE_OPTIONS" not in python
    assert DEBUG_PORT_VARIABLE not in build(docker_spec()).arguments["environment"]


# -- the pool: a debugged environment stays, and is never another's -----------------------------


@async_test
async def test_a_debugged_environment_outlives_the_keep_alive_and_serves_only_its_debugged_spec() -> None:
    from tests.unit.test_pool import rig

    async with rig(keepalive_ms=1000, stay_open=True) as r:
        debugged_spec = function_spec(debug=DebugTarget(19891, 3))
        env = await r.invoke(debugged_spec)
        plain = await r.invoke(function_spec())
        assert plain is not env  # the same function and version, not debugged: not its environment
        await r.clock.advance(5)
        r.pool.reap()
        assert env.state is not EnvState.STOPPED and plain.state is EnvState.STOPPED
        assert await r.invoke(debugged_spec) is env
