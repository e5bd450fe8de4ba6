"""The pytest plugin the package ships (entry point ``pytest11: locallambda``): a user's own test
file, in a directory of its own with no conftest, uses only the plugin's fixtures.

Each run is a separate pytest process (``runpytest_subprocess``), which finds the plugin through
its entry point as a user's pytest does.
"""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import Server
from tests.invoke.conftest import EXECUTOR, runtime_processes, stop_checked

pytest_plugins = ["pytester"]

USER_TESTS = """
import json
from pathlib import Path

import pytest

from locallambda.testing.plugin import DeployedFunction


def test_inline_source(deploy_function):
    fn = deploy_function("def handler(event, context):\\n    print('hello', event)\\n    return {'got': event}\\n")
    assert isinstance(fn, DeployedFunction) and fn.configuration["State"] == "Active"
    result = fn.invoke({"a": 1})
    assert result.payload == {"got": {"a": 1}}
    assert result.function_error is None and result.status_code == 200
    assert "hello {'a': 1}" in result.logs


def test_a_directory(deploy_function, tmp_path):
    (tmp_path / "lambda_function.py").write_text(
        "import os\\nimport helper\\n\\ndef lambda_handler(event, context):\\n    return [helper.VALUE, os.environ['GREETING']]\\n"
    )
    (tmp_path / "helper.py").write_text("VALUE = 42\\n")
    fn = deploy_function(tmp_path, Environment={"Variables": {"GREETING": "from the test"}})
    assert fn.configuration["Handler"] == "lambda_function.lambda_handler"
    assert fn.invoke().payload == [42, "from the test"]


def test_node_inline(deploy_function):
    fn = deploy_function("export const handler = async (event) => ({ n: event.n + 1 });\\n", runtime="nodejs22.x")
    assert fn.invoke({"n": 1}).payload == {"n": 2}


def test_a_function_error(deploy_function):
    result = deploy_function("def handler(event, context):\\n    raise RuntimeError('no')\\n").invoke({})
    assert result.function_error == "Unhandled"
    assert result.payload["errorType"] == "RuntimeError"


def test_the_client(lambda_client, deploy_function, locallambda_endpoint, locallambda_server):
    deploy_function("def handler(event, context):\\n    return 1\\n", name="named-by-the-test")
    assert lambda_client.meta.endpoint_url == locallambda_endpoint == locallambda_server.url
    names = [f["FunctionName"] for f in lambda_client.list_functions()["Functions"]]
    assert names == ["named-by-the-test"]
    Path(RECORD).write_text(json.dumps({"pid": locallambda_server.proc.pid, "url": locallambda_server.url}))


def test_deployed_functions_are_gone(lambda_client):
    assert lambda_client.list_functions()["Functions"] == []


def test_reset_removes_what_a_test_made(lambda_client, locallambda_reset):
    lambda_client.create_function(
        FunctionName="left-behind",
        Runtime="python3.12",
        Handler="index.handler",
        Role="arn:aws:iam::000000000000:role/lambda-role",
        Code={"ZipFile": ZIP},
    )
    lambda_client.publish_layer_version(LayerName="left-layer", Content={"ZipFile": ZIP})


def test_after_the_reset(lambda_client):
    assert lambda_client.list_functions()["Functions"] == []
    assert lambda_client.list_layers()["Layers"] == []
"""

ZIP_SOURCE = """
import io, zipfile
_buf = io.BytesIO()
with zipfile.ZipFile(_buf, "w") as _zf:
    _zf.writestr("index.py", "def handler(event, context):\\n    return 1\\n")
ZIP = _buf.getvalue()
"""


def test_a_users_tests_with_only_the_plugin(pytester: pytest.Pytester, tmp_path: Path) -> None:
    record = tmp_path / "server.json"
    pytester.makeini(f"[pytest]\nlocallambda_env =\n    LAMBDA_EXECUTOR={EXECUTOR}\n")
    pytester.makepyfile(test_my_functions=f"RECORD = {str(record)!r}\n{ZIP_SOURCE}\n{USER_TESTS}")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-v", timeout=240)
    result.assert_outcomes(passed=8)

    # The session's server is stopped, and with it every runtime it started.
    seen = json.loads(record.read_text())
    pid, url = seen["pid"], seen["url"]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
        time.sleep(0.05)
    assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split(") ")[1][:1]
    with pytest.raises(OSError):
        urllib.request.urlopen(f"{url}/_localstack/health", timeout=2)
    assert runtime_processes(Server(port=int(url.rsplit(":", 1)[1]))) == {}


def test_the_fixtures_are_listed(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--fixtures", "-p", "no:cacheprovider")
    for name in ("locallambda_server", "locallambda_endpoint", "lambda_client", "deploy_function", "locallambda_reset"):
        result.stdout.fnmatch_lines([f"{name}*"])
    assert "--locallambda-endpoint" in pytester.runpytest_subprocess("--help").stdout.str()


def test_a_running_server_instead(pytester: pytest.Pytester) -> None:
    server = Server(env={"LAMBDA_EXECUTOR": EXECUTOR}).start()
    try:
        pytester.makepyfile(
            test_against_it=f"""
def test_it(deploy_function, locallambda_server):
    assert locallambda_server.url == {server.url!r} and locallambda_server.proc is None
    assert deploy_function("def handler(event, context):\\n    return event\\n").invoke([1]).payload == [1]
"""
        )
        result = pytester.runpytest_subprocess("-p", "no:cacheprovider", f"--locallambda-endpoint={server.url}")
        result.assert_outcomes(passed=1)
        assert server.proc is not None and server.proc.poll() is None  # left running
        assert server.client().list_functions()["Functions"] == []  # what the test deployed, deleted
    finally:
        stop_checked(server)
