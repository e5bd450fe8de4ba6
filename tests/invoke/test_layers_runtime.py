"""Layers at run time: the merged /opt every runtime searches, and extensions started from it.

The first test is LocalStack's layers walkthrough (docs: user-guide/aws/lambda, "Lambda Layers"),
command for command with the AWS CLI: a Python layer ``layer1`` with ``python/testlayer.py``,
a function ``func1`` importing it, and the layer's output in the function's log.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import stat
import time
import uuid
import zipfile
from pathlib import Path

import pytest

from locallambda.model.spec import FunctionSpec
from locallambda.runtimes.commands import RuntimeCommands, extension_commands
from locallambda.store.layers import merge_trees
from tests.conftest import Server, make_zip
from tests.invoke.conftest import Functions, decode_tail, stop_checked

ROLE = "arn:aws:iam::000000000000:role/lambda-role"


def publish(functions: Functions, name: str, files: dict[str, str], modes: dict[str, int] | None = None) -> str:
    out = functions.client.publish_layer_version(LayerName=name, Content={"ZipFile": make_zip(files, modes)})
    return str(out["LayerVersionArn"])


# -- LocalStack's walkthrough -------------------------------------------------------------------


def test_localstack_layers_walkthrough(functions: Functions, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "python").mkdir()
    (tmp_path / "python" / "testlayer.py").write_text(
        'def util():\n  print("Output from Lambda layer util function")\n'
    )
    with zipfile.ZipFile("layer.zip", "w") as zf:
        zf.write("python/testlayer.py")
    (tmp_path / "handler.py").write_text(
        "def handler(*args, **kwargs):\n"
        "  import testlayer; testlayer.util()\n"
        '  print("Debug output from Lambda function")\n'
    )
    with zipfile.ZipFile("function.zip", "w") as zf:
        zf.write("handler.py")
    server = functions.server

    layer = server.cli_json(
        "lambda", "publish-layer-version", "--layer-name", "layer1", "--zip-file", "fileb://layer.zip"
    )
    layer_arn = layer["LayerVersionArn"]
    assert layer_arn == "arn:aws:lambda:us-east-1:000000000000:layer:layer1:1"
    functions.names.append("func1")
    created = server.cli_json(
        "lambda",
        "create-function",
        "--function-name",
        "func1",
        "--runtime",
        "python3.12",
        "--role",
        ROLE,
        "--handler",
        "handler.handler",
        "--timeout",
        "30",
        "--zip-file",
        "fileb://function.zip",
        "--layers",
        layer_arn,
    )
    assert created["Layers"] == [{"Arn": layer_arn, "CodeSize": layer["Content"]["CodeSize"]}]
    server.cli("lambda", "wait", "function-active-v2", "--function-name", "func1")
    out = server.cli_json(
        "lambda", "invoke", "--function-name", "func1", str(tmp_path / "out.json"), "--log-type", "Tail"
    )
    log = decode_tail(out["LogResult"])
    assert "Output from Lambda layer util function" in log
    assert "Debug output from Lambda function" in log
    assert "FunctionError" not in out


# -- each runtime's search paths ------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_node_module_from_layer(functions: Functions) -> None:
    arn = publish(
        functions,
        "node-modules",
        {
            "nodejs/node_modules/greeter/index.js": "exports.greet = (n) => `hello ${n} from nodejs/node_modules`;\n",
            # nodejs/node20/node_modules comes first on NODE_PATH for nodejs20.x
            "nodejs/node20/node_modules/versioned/index.js": "module.exports = 'node20 modules';\n",
            "nodejs/node_modules/versioned/index.js": "module.exports = 'generic modules';\n",
        },
    )
    name = functions.create(
        {
            "index.js": "const g = require('greeter');\nconst v = require('versioned');\n"
            "exports.handler = async (e) => ({greeting: g.greet(e.who), versioned: v});\n"
        },
        runtime="nodejs20.x",
        handler="index.handler",
        Layers=[arn],
    )
    assert functions.invoke_json(name, {"who": "node"}) == {
        "greeting": "hello node from nodejs/node_modules",
        "versioned": "node20 modules",
    }


def test_later_layer_overrides_earlier(functions: Functions) -> None:
    first = publish(
        functions,
        "override-a",
        {
            "python/shared.py": "VALUE = 'from a'\n",
            "python/only_a.py": "VALUE = 'only in a'\n",
        },
    )
    second = publish(functions, "override-b", {"python/shared.py": "VALUE = 'from b'\n"})
    source = "import shared, only_a\ndef handler(e, c):\n    return [shared.VALUE, only_a.VALUE]\n"
    name = functions.python(source, Layers=[first, second])
    assert functions.invoke_json(name) == ["from b", "only in a"]

    # The order is the function's: reversed, the first layer wins, and the new /opt is used at once.
    functions.client.update_function_configuration(FunctionName=name, Layers=[second, first])
    functions.client.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.2})
    assert functions.invoke_json(name) == ["from a", "only in a"]


def test_site_packages_bin_and_lib(functions: Functions) -> None:
    arn = publish(
        functions,
        "paths",
        {
            "python/lib/python3.12/site-packages/sitepkg/__init__.py": "WHERE = 'site-packages'\n",
            "bin/layer-tool": "#!/bin/sh\necho tool-from-layer\n",
            "lib/libdummy.so.txt": "not really a library\n",
        },
        modes={"bin/layer-tool": 0o755},
    )
    source = (
        "import os, subprocess, sitepkg\n"
        "def handler(e, c):\n"
        "    tool = subprocess.run(['layer-tool'], capture_output=True, text=True).stdout.strip()\n"
        "    return {'site': sitepkg.WHERE, 'tool': tool,\n"
        "            'path': os.environ['PATH'], 'ld': os.environ.get('LD_LIBRARY_PATH', '')}\n"
    )
    name = functions.python(source, runtime="python3.12", Layers=[arn])
    out = functions.invoke_json(name)
    assert out["site"] == "site-packages" and out["tool"] == "tool-from-layer"
    assert out["path"].split(os.pathsep)[-1].endswith("/bin")  # /opt/bin comes last, as on AWS
    assert "/usr/bin" in out["path"].split(os.pathsep)
    assert out["ld"].split(os.pathsep)[-1].endswith("/lib")


BOOTSTRAP = """\
#!/usr/bin/env python3
import json, os, urllib.request
api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime/invocation/"
while True:
    with urllib.request.urlopen(api + "next") as r:
        rid = r.headers["Lambda-Runtime-Aws-Request-Id"]
        event = json.loads(r.read() or b"null")
    body = json.dumps({"bootstrap": "from layer", "handler": os.environ["_HANDLER"], "event": event}).encode()
    urllib.request.urlopen(urllib.request.Request(api + rid + "/response", data=body, method="POST")).read()
"""


def test_provided_bootstrap_from_layer(functions: Functions) -> None:
    arn = publish(functions, "custom-runtime", {"bootstrap": BOOTSTRAP}, modes={"bootstrap": 0o755})
    name = functions.create(
        {"function.txt": "the function has no bootstrap of its own\n"},
        runtime="provided.al2023",
        handler="function.handler",
        Layers=[arn],
    )
    assert functions.invoke_json(name, {"n": 1}) == {
        "bootstrap": "from layer",
        "handler": "function.handler",
        "event": {"n": 1},
    }


# -- external extensions --------------------------------------------------------------------------

EXTENSION = """\
#!/usr/bin/env python3
import json, os, urllib.request
api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2020-01-01/extension/"
register = urllib.request.Request(api + "register", data=json.dumps({"events": ["INVOKE"]}).encode(),
                                  headers={"Lambda-Extension-Name": "my-ext"}, method="POST")
with urllib.request.urlopen(register) as r:
    ext_id = r.headers["Lambda-Extension-Identifier"]
print("[my-ext] registered", flush=True)
open(os.environ["EXT_OUT"] + ".registered", "w").close()
while True:
    nxt = urllib.request.Request(api + "event/next", headers={"Lambda-Extension-Identifier": ext_id})
    with urllib.request.urlopen(nxt) as r:
        event = json.loads(r.read())
    print("[my-ext] " + event["eventType"] + " " + event.get("requestId", ""), flush=True)
    with open(os.environ["EXT_OUT"], "a") as out:
        out.write(json.dumps(event) + "\\n")
"""

# AWS ends the Init phase only once every extension has registered and asked for its first event,
# so the first INVOKE reaches the extension however slowly it starts (no wait in the handler).
# The files live in the environment's /tmp (private in the sandbox executor, shared by the runtime
# and its extensions): the second invocation waits for its own INVOKE event and returns them all.
EXTENSION_FUNCTION = """\
import json, os, time
_marker = os.environ["EXT_OUT"] + ".registered"

def _events():
    try:
        with open(os.environ["EXT_OUT"]) as fh:
            return [json.loads(line) for line in fh if line.strip()]
    except FileNotFoundError:
        return []

def handler(event, context):
    deadline = time.time() + 5
    while len(_events()) < event["wait_for"] and time.time() < deadline:
        time.sleep(0.01)
    return {"request_id": context.aws_request_id, "events": _events(),
            "registered": os.path.exists(_marker)}
"""


def test_external_extension_receives_invoke_events(functions: Functions) -> None:
    arn = publish(functions, "my-extension", {"extensions/my-ext": EXTENSION}, modes={"extensions/my-ext": 0o755})
    out_file = Path("/tmp") / f"locallambda-ext-{uuid.uuid4().hex}.jsonl"
    try:
        name = functions.python(EXTENSION_FUNCTION, Layers=[arn], env={"EXT_OUT": str(out_file)}, timeout=10)
        first = functions.invoke_json(name, {"wait_for": 1})
        assert first["registered"]
        second = functions.invoke_json(name, {"wait_for": 2})
    finally:
        for path in (out_file, Path(f"{out_file}.registered")):
            path.unlink(missing_ok=True)
    events = second["events"]
    assert [e["eventType"] for e in events] == ["INVOKE", "INVOKE"]
    assert [e["requestId"] for e in events] == [first["request_id"], second["request_id"]]
    assert events[0]["invokedFunctionArn"].endswith(f":function:{name}")
    assert events[0]["deadlineMs"] > time.time() * 1000 - 60_000


# -- building blocks --------------------------------------------------------------------------------


def test_merge_trees_later_wins(tmp_path: Path) -> None:
    a, b, c, out = (tmp_path / n for n in ("a", "b", "c", "out"))
    (a / "python").mkdir(parents=True)
    (a / "python" / "x.py").write_text("a")
    (a / "python" / "keep.py").write_text("a")
    (a / "thing").mkdir()
    (a / "thing" / "inside").write_text("a")
    (a / "tool").write_text("#!/bin/sh\n")
    os.chmod(a / "tool", 0o755)
    os.symlink("python/x.py", a / "link")
    (b / "python").mkdir(parents=True)
    (b / "python" / "x.py").write_text("b")
    (b / "thing").write_text("now a file")  # a file replaces an earlier directory
    (c / "python").mkdir(parents=True)
    (c / "python" / "keep.py").mkdir()  # and a directory replaces an earlier file
    merge_trees([a, b, c], out)
    assert (out / "python" / "x.py").read_text() == "b"
    assert (out / "python" / "keep.py").is_dir()
    assert (out / "thing").read_text() == "now a file"
    assert os.readlink(out / "link") == "python/x.py" and (out / "link").read_text() == "b"
    assert stat.S_IMODE(os.stat(out / "tool").st_mode) & 0o111
    # Sources are left as they were.
    assert (a / "python" / "x.py").read_text() == "a" and (a / "thing" / "inside").is_file()


def _spec(runtime: str, opt: Path) -> FunctionSpec:
    return FunctionSpec(
        key="us-east-1/f",
        name="f",
        arn="arn",
        version="$LATEST",
        generation=1,
        incarnation="test",
        region="us-east-1",
        account_id="000000000000",
        runtime=runtime,
        handler="h.handler",
        package_type="Zip",
        code_dir=opt.parent / "task",
        image_uri=None,
        image_config={},
        memory_mb=128,
        timeout_s=3,
        ephemeral_mb=512,
        environment={},
        layers=(opt,),
        architectures=("x86_64",),
        log_group="g",
        log_format="Text",
    )


def test_java_classpath_and_extension_discovery(tmp_path: Path) -> None:
    opt = tmp_path / "opt"
    (opt / "extensions").mkdir(parents=True)
    for name, mode in (("b-ext", 0o755), ("a-ext", 0o755), ("not-executable", 0o644)):
        (opt / "extensions" / name).write_text("#!/bin/sh\n")
        os.chmod(opt / "extensions" / name, mode)
    assert [p.name for p in extension_commands([opt])] == ["a-ext", "b-ext"]
    assert extension_commands([tmp_path / "nothing"]) == []

    commands = RuntimeCommands(tmp_path / "cache")
    commands._java_bootstrap = tmp_path / "bootstrap.jar"  # skip compiling the real bootstrap
    argv, _env = asyncio.run(commands.command(_spec("java21", opt), tmp_path / "task"))
    classpath = argv[argv.index("-cp") + 1].split(os.pathsep)
    assert classpath[-1] == str(opt / "java" / "lib" / "*")

    argv, env = asyncio.run(
        commands.command(_spec("python3.12", opt), tmp_path / "task", base_env={"PATH": "/usr/bin"})
    )
    assert env["PYTHONPATH"].split(os.pathsep) == [
        str(tmp_path / "task"),
        str(opt / "python"),
        str(opt / "python" / "lib" / "python3.12" / "site-packages"),
    ]
    assert "PATH" not in env  # no /opt/bin in this layer: PATH is left as it is


def test_layers_survive_a_restart(tmp_path: Path) -> None:
    """With persistence on, layer versions (and deleted ones still in use) outlive the server."""
    env = {"PERSISTENCE": "1", "DATA_DIR": str(tmp_path / "data"), "LAMBDA_SYNCHRONOUS_CREATE": "1"}
    first = Server(env=env).start()
    try:
        fns = Functions(first)
        arn = publish(fns, "persisted", {"python/persisted.py": "VALUE = 'kept'\n"})
        name = fns.python("import persisted\ndef handler(e, c):\n    return persisted.VALUE\n", Layers=[arn])
        assert fns.invoke_json(name) == "kept"
        fns.client.delete_layer_version(LayerName="persisted", VersionNumber=1)
    finally:
        stop_checked(first)
    second = Server(env=env).start()
    try:
        fns = Functions(second)
        # The deleted version still serves the function that uses it; numbering goes on.
        assert fns.invoke_json(name) == "kept"
        assert publish(fns, "persisted", {"python/persisted.py": "VALUE = 'new'\n"}).endswith(":persisted:2")
        assert [v["Version"] for v in fns.client.list_layer_versions(LayerName="persisted")["LayerVersions"]] == [2]
    finally:
        stop_checked(second)


SHUTDOWN_EXTENSION = """\
#!/usr/bin/env python3
import json, os, urllib.request
api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2020-01-01/extension/"
register = urllib.request.Request(api + "register", data=json.dumps({"events": ["INVOKE", "SHUTDOWN"]}).encode(),
                                  headers={"Lambda-Extension-Name": "shutdown-ext"}, method="POST")
with urllib.request.urlopen(register) as r:
    ext_id = r.headers["Lambda-Extension-Identifier"]
while True:
    nxt = urllib.request.Request(api + "event/next", headers={"Lambda-Extension-Identifier": ext_id})
    with urllib.request.urlopen(nxt) as r:
        event = json.loads(r.read())
    if event["eventType"] == "SHUTDOWN":
        with open(os.environ["EXT_OUT"], "w") as out:
            out.write(json.dumps(event))
        break
"""


def test_extension_receives_shutdown_before_the_environment_is_killed(functions: Functions) -> None:
    from tests.invoke.conftest import EXECUTOR

    if EXECUTOR != "local":
        pytest.skip("the extension's marker file lives in the environment's private /tmp")
    arn = publish(
        functions,
        "shutdown-ext",
        {"extensions/shutdown-ext": SHUTDOWN_EXTENSION},
        modes={"extensions/shutdown-ext": 0o755},
    )
    out_file = Path("/tmp") / f"locallambda-shutdown-{uuid.uuid4().hex}.json"
    try:
        name = functions.python(
            "def handler(event, context):\n    return 1\n", Layers=[arn], env={"EXT_OUT": str(out_file)}
        )
        assert functions.invoke_json(name, {}) == 1
        functions.client.delete_function(FunctionName=name)  # retires the environment
        deadline = time.monotonic() + 5
        while not out_file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        event = json.loads(out_file.read_text())
    finally:
        out_file.unlink(missing_ok=True)
    assert event["eventType"] == "SHUTDOWN"
    assert event["shutdownReason"] == "spindown"
