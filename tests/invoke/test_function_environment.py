"""The environment inside a function is AWS's: no HOME, Node.js's NODE_PATH and
NODE_EXTRA_CA_CERTS, and the AWS SDK for JavaScript v3 that nodejs18.x and later bundle.

AWS's recorded introspection (test_introspection_invoke in LocalStack's test_lambda_common
snapshots) has no HOME in any runtime; NODE_PATH is
``/opt/nodejs/nodeXX/node_modules:/opt/nodejs/node_modules:/var/runtime/node_modules:/var/runtime:/var/task``
and nodejs16.x and nodejs18.x (not nodejs20.x and later) have
``NODE_EXTRA_CA_CERTS=/var/runtime/ca-cert.pem``. The sandbox executor shows those very values; the
process executor, where the code, the layers and the runtime directory are host directories, the
same directories at their host paths, in the same order.

The SDK (scripts/node-runtime/package.json, installed by scripts/bootstrap.sh) is found after the
function's own node_modules and its layers, by ``require`` and by ``import`` alike; inside a
function it reaches this server through ``AWS_ENDPOINT_URL``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, Server, make_zip
from tests.invoke.conftest import EXECUTOR, HOST_PYTHON_RUNTIME, Functions

AWS_NODE_PATH = (
    "/opt/nodejs/node{major}/node_modules:/opt/nodejs/node_modules:/var/runtime/node_modules:/var/runtime:/var/task"
)
SDK_MANIFEST = REPO / "scripts" / "node-runtime" / "package.json"
BUNDLED = sorted(json.loads(SDK_MANIFEST.read_text())["dependencies"])

NODE_REPORT = """\
const fs = require('fs');
const os = require('os');
exports.handler = async () => {
  const ca = process.env.NODE_EXTRA_CA_CERTS;
  let caText = null;
  try { caText = ca ? fs.readFileSync(ca, 'utf8') : null; } catch (e) { caText = 'unreadable: ' + e.message; }
  return {
    has_home: 'HOME' in process.env,
    homedir: os.homedir(),
    node_path: process.env.NODE_PATH ?? null,
    has_ca: 'NODE_EXTRA_CA_CERTS' in process.env,
    ca: ca ?? null,
    ca_certificates: caText && caText.includes('-----BEGIN CERTIFICATE-----'),
    task_root: process.env.LAMBDA_TASK_ROOT,
  };
};
"""


def publish(functions: Functions, name: str, files: dict[str, str]) -> str:
    out = functions.client.publish_layer_version(LayerName=name, Content={"ZipFile": make_zip(files)})
    return str(out["LayerVersionArn"])


def node(functions: Functions, runtime: str, files: dict[str, str], handler: str = "index.handler", **kw: Any) -> str:
    return functions.create(files, runtime=runtime, handler=handler, timeout=30, **kw)


# -- HOME ---------------------------------------------------------------------------------------


def test_python_has_no_home_and_its_sdk_still_works(functions: Functions) -> None:
    source = (
        "import os, boto3\n"
        "def handler(event, context):\n"
        "    names = [f['FunctionName'] for f in boto3.client('lambda').list_functions()['Functions']]\n"
        "    return {'has_home': 'HOME' in os.environ, 'home': os.path.expanduser('~'), 'names': names}\n"
    )
    name = functions.python(source, timeout=30)
    out = functions.invoke_json(name)
    assert out["has_home"] is False
    assert out["home"].startswith("/")  # the passwd entry's, HOME being unset
    # botocore looked for ~/.aws/config without HOME, and the call reached this server.
    assert name in out["names"]


@pytest.mark.parametrize("runtime", ["nodejs18.x", "nodejs20.x"])
def test_node_has_no_home(functions: Functions, runtime: str) -> None:
    out = functions.invoke_json(node(functions, runtime, {"index.js": NODE_REPORT}))
    assert out["has_home"] is False
    assert out["homedir"].startswith("/")  # os.homedir() falls back to the passwd entry


JAVA_HANDLER = """\
package example;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import java.util.LinkedHashMap;
import java.util.Map;

public class Env implements RequestHandler<Map<String, Object>, Map<String, Object>> {
    @Override
    public Map<String, Object> handleRequest(Map<String, Object> event, Context context) {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("has_home", System.getenv().containsKey("HOME"));
        out.put("user_home", System.getProperty("user.home"));
        return out;
    }
}
"""


@pytest.mark.skipif(not (shutil.which("java") and shutil.which("javac")), reason="needs a JDK (java and javac)")
def test_java_has_no_home(functions: Functions, tmp_path: Path) -> None:
    from locallambda.runtimes.java_bootstrap import SOURCE_DIR

    src = tmp_path / "example" / "Env.java"
    src.parent.mkdir(parents=True)
    src.write_text(JAVA_HANDLER)
    classes = tmp_path / "classes"
    subprocess.run(
        ["javac", "--release", "17", "-sourcepath", str(SOURCE_DIR), "-d", str(classes), str(src)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    files = {str(p.relative_to(classes)): p.read_bytes() for p in (classes / "example").glob("*.class")}
    name = functions.create(make_zip(files), runtime="java17", handler="example.Env::handleRequest", timeout=30)
    out = functions.invoke_json(name)
    assert out["has_home"] is False
    assert str(out["user_home"]).startswith("/")


# -- NODE_PATH ----------------------------------------------------------------------------------


@pytest.mark.parametrize("runtime", ["nodejs16.x", "nodejs18.x", "nodejs20.x", "nodejs22.x"])
def test_node_path_is_aws(functions: Functions, runtime: str) -> None:
    major = runtime.removeprefix("nodejs").removesuffix(".x")
    layer = publish(functions, f"np-{major}", {"nodejs/node_modules/marker.js": "module.exports = 1;\n"})
    out = functions.invoke_json(node(functions, runtime, {"index.js": NODE_REPORT}, Layers=[layer]))
    entries = out["node_path"].split(":")
    if EXECUTOR == "sandbox":
        assert out["node_path"] == AWS_NODE_PATH.format(major=major)
        return
    # The process executor: the same directories where they are on this host, in AWS's order.
    opt = entries[0].removesuffix(f"/nodejs/node{major}/node_modules")
    assert entries[:2] == [f"{opt}/nodejs/node{major}/node_modules", f"{opt}/nodejs/node_modules"]
    assert Path(opt, "nodejs", "node_modules", "marker.js").is_file()  # the layers' /opt
    if major == "16":  # AWS's nodejs16.x bundles SDK v2 in /var/runtime: nothing to name here
        assert entries[2:] == [out["task_root"]]
    else:
        runtime_dir = entries[3]
        assert entries[2:] == [f"{runtime_dir}/node_modules", runtime_dir, out["task_root"]]
        assert Path(runtime_dir, "node_modules", "@aws-sdk", "client-s3", "package.json").is_file()


def test_a_functions_own_node_path_is_kept(functions: Functions) -> None:
    # AWS's bootstrap sets NODE_PATH only when the configuration leaves it empty.
    layer = publish(functions, "np-own", {"nodejs/node_modules/marker.js": "module.exports = 1;\n"})
    name = node(functions, "nodejs20.x", {"index.js": NODE_REPORT}, env={"NODE_PATH": "/var/task/lib"}, Layers=[layer])
    assert functions.invoke_json(name)["node_path"] == "/var/task/lib"


LAYER_PACKAGES = {
    "nodejs/node_modules/greeter/package.json": '{"name": "greeter", "main": "lib/main.js"}\n',
    "nodejs/node_modules/greeter/lib/main.js": "exports.greet = (n) => `hello ${n}`;\n",
    "nodejs/node18/node_modules/versioned/index.js": "module.exports = 'node18 modules';\n",
    "nodejs/node_modules/versioned/index.js": "module.exports = 'generic modules';\n",
    # An ES module package with "exports": found by import() through NODE_PATH too.
    "nodejs/node_modules/esm-only/package.json": (
        '{"name": "esm-only", "type": "module", "exports": {".": {"import": "./index.js"}, "./extra": "./extra.js"}}\n'
    ),
    "nodejs/node_modules/esm-only/index.js": "export const kind = 'esm from a layer';\n",
    "nodejs/node_modules/esm-only/extra.js": "export default 'extra export';\n",
}


def test_layer_packages_are_found_through_node_path(functions: Functions) -> None:
    layer = publish(functions, "np-packages", LAYER_PACKAGES)
    source = """\
const { execFileSync } = require('child_process');
exports.handler = async () => {
  const greeter = require('greeter');
  const versioned = require('versioned');
  // A node started by the function, with nothing but the environment, finds them too.
  const child = execFileSync(process.execPath, ['-e', "process.stdout.write(require('versioned'))"],
    { cwd: '/tmp', encoding: 'utf8' });
  return { greeting: greeter.greet('layer'), versioned, child };
};
"""
    name = node(functions, "nodejs18.x", {"index.js": source}, Layers=[layer])
    assert functions.invoke_json(name) == {
        "greeting": "hello layer",
        "versioned": "node18 modules",
        "child": "node18 modules",
    }


def test_es_module_handler_imports_from_a_layer(functions: Functions) -> None:
    layer = publish(functions, "np-esm", LAYER_PACKAGES)
    source = """\
import { greet } from 'greeter';
import versioned from 'versioned';
import { kind } from 'esm-only';
export const handler = async () => {
  const extra = (await import('esm-only/extra')).default;
  return { greeting: greet('esm'), versioned, kind, extra };
};
"""
    name = node(functions, "nodejs20.x", {"index.mjs": source}, Layers=[layer])
    assert functions.invoke_json(name) == {
        "greeting": "hello esm",
        "versioned": "generic modules",
        "kind": "esm from a layer",
        "extra": "extra export",
    }


def test_nodejs16_es_modules_do_not_search_node_path(functions: Functions) -> None:
    # AWS: only nodejs18.x and later search NODE_PATH for ES modules; require() always does.
    layer = publish(functions, "np-16", LAYER_PACKAGES)
    source = """\
import { createRequire } from 'module';
const require = createRequire(import.meta.url);
export const handler = async () => {
  let imported;
  try { await import('esm-only'); imported = 'found'; } catch (e) { imported = e.code; }
  return { required: require('greeter').greet('16'), imported };
};
"""
    name = node(functions, "nodejs16.x", {"index.mjs": source}, Layers=[layer])
    assert functions.invoke_json(name) == {"required": "hello 16", "imported": "ERR_MODULE_NOT_FOUND"}


# -- NODE_EXTRA_CA_CERTS ------------------------------------------------------------------------


@pytest.mark.parametrize("runtime", ["nodejs16.x", "nodejs18.x"])
def test_node_16_and_18_name_extra_ca_certificates(functions: Functions, runtime: str) -> None:
    out = functions.invoke_json(node(functions, runtime, {"index.js": NODE_REPORT}))
    if EXECUTOR == "sandbox":
        assert out["ca"] == "/var/runtime/ca-cert.pem"
    assert out["ca"].startswith("/")
    assert out["ca_certificates"] is True, out  # a real bundle, readable by the function


@pytest.mark.parametrize("runtime", ["nodejs20.x", "nodejs22.x", "nodejs24.x"])
def test_newer_node_runtimes_have_no_extra_ca_certificates(functions: Functions, runtime: str) -> None:
    out = functions.invoke_json(node(functions, runtime, {"index.js": NODE_REPORT}))
    assert out["has_ca"] is False


def test_a_functions_own_extra_ca_certificates_are_kept(functions: Functions) -> None:
    # AWS's bootstrap leaves NODE_EXTRA_CA_CERTS alone when the configuration sets it, even empty.
    name = node(functions, "nodejs18.x", {"index.js": NODE_REPORT}, env={"NODE_EXTRA_CA_CERTS": ""})
    out = functions.invoke_json(name)
    assert out["has_ca"] is True and out["ca"] == ""


# -- the bundled AWS SDK for JavaScript v3 ------------------------------------------------------

LIST_FUNCTIONS_ESM = """\
import { LambdaClient, ListFunctionsCommand } from '@aws-sdk/client-lambda';
import { S3Client } from '@aws-sdk/client-s3';
export const handler = async () => {
  new S3Client({});
  const out = await new LambdaClient({}).send(new ListFunctionsCommand({}));
  return { count: out.Functions.length, names: out.Functions.map((f) => f.FunctionName) };
};
"""


@pytest.mark.parametrize("runtime", ["nodejs18.x", "nodejs20.x", "nodejs22.x"])
def test_es_module_imports_the_bundled_sdk_and_calls_this_server(functions: Functions, runtime: str) -> None:
    name = node(functions, runtime, {"index.mjs": LIST_FUNCTIONS_ESM})
    out = functions.invoke_json(name)
    assert name in out["names"] and out["count"] >= 1


def test_commonjs_requires_the_bundled_sdk(functions: Functions) -> None:
    source = """\
const { LambdaClient, GetFunctionCommand } = require('@aws-sdk/client-lambda');
const { DynamoDBDocumentClient } = require('@aws-sdk/lib-dynamodb');
const { DynamoDBClient } = require('@aws-sdk/client-dynamodb');
const { fromIni } = require('@aws-sdk/credential-providers');
exports.handler = async (event, context) => {
  DynamoDBDocumentClient.from(new DynamoDBClient({}));
  const out = await new LambdaClient({}).send(new GetFunctionCommand({ FunctionName: context.functionName }));
  // The shared config and credentials files are looked for without HOME, and not found.
  let profile;
  try { await fromIni({ profile: 'not-configured' })(); profile = 'resolved'; } catch (e) { profile = e.name; }
  return { runtime: out.Configuration.Runtime, profile };
};
"""
    name = node(functions, "nodejs18.x", {"index.js": source})
    assert functions.invoke_json(name) == {"runtime": "nodejs18.x", "profile": "CredentialsProviderError"}


def test_every_bundled_package_loads(functions: Functions) -> None:
    source = """\
export const handler = async (event) => {
  const failed = {};
  for (const name of event.packages) {
    try { await import(name); } catch (e) { failed[name] = String(e); }
  }
  return { failed };
};
"""
    name = node(functions, "nodejs20.x", {"index.mjs": source}, memory=512)
    assert functions.invoke_json(name, {"packages": BUNDLED}) == {"failed": {}}


FAKE_S3 = {
    "package.json": '{"name": "@aws-sdk/client-s3", "version": "0.0.0-own", "main": "index.js"}\n',
    "index.js": "exports.S3Client = class S3Client {}; exports.whose = 'WHOSE';\n",
}
WHICH_S3 = """\
const cjs = require('@aws-sdk/client-s3').whose ?? 'bundled';
export const handler = async () => ({ cjs, esm: (await import('@aws-sdk/client-s3')).whose ?? 'bundled' });
"""


def test_a_functions_own_sdk_wins_over_its_layers_and_the_bundled_one(functions: Functions) -> None:
    layer_files = {
        f"nodejs/node_modules/@aws-sdk/client-s3/{k}": v.replace("WHOSE", "layer") for k, v in FAKE_S3.items()
    }
    layer = publish(functions, "np-own-sdk", layer_files)
    files = {f"node_modules/@aws-sdk/client-s3/{k}": v.replace("WHOSE", "own") for k, v in FAKE_S3.items()}
    # An ES module that requires too: createRequire, as bundlers emit it.
    prelude = "import { createRequire } from 'module';\nconst require = createRequire(import.meta.url);\n"
    files["index.mjs"] = prelude + WHICH_S3
    own = node(functions, "nodejs20.x", files, Layers=[layer])
    assert functions.invoke_json(own) == {"cjs": "own", "esm": "own"}
    from_layer = node(functions, "nodejs20.x", {"index.mjs": prelude + WHICH_S3}, Layers=[layer])
    assert functions.invoke_json(from_layer) == {"cjs": "layer", "esm": "layer"}
    bundled = node(functions, "nodejs20.x", {"index.mjs": prelude + WHICH_S3})
    assert functions.invoke_json(bundled) == {"cjs": "bundled", "esm": "bundled"}


def test_nodejs16_does_not_bundle_sdk_v3(functions: Functions) -> None:
    # AWS's nodejs16.x bundles the SDK v2 (aws-sdk), not the v3 clients.
    source = "exports.handler = async () => { require('@aws-sdk/client-s3'); };\n"
    out = functions.invoke(node(functions, "nodejs16.x", {"index.js": source}))
    assert out.get("FunctionError") == "Unhandled"
    assert "Cannot find module '@aws-sdk/client-s3'" in json.loads(out["Payload"])["errorMessage"]


def test_without_the_sdk_installed_functions_run_and_imports_fail_as_node_says(
    spawn_server: Callable[..., Server], tmp_path: Path
) -> None:
    server = spawn_server(LOCALLAMBDA_NODEJS_RUNTIME_DIR=str(tmp_path / "not-installed"))
    functions = Functions(server)
    try:
        plain = node(functions, "nodejs20.x", {"index.js": NODE_REPORT})
        assert functions.invoke_json(plain)["has_home"] is False
        out = functions.invoke(node(functions, "nodejs20.x", {"index.mjs": LIST_FUNCTIONS_ESM}))
        assert out.get("FunctionError") == "Unhandled"
        error = json.loads(out["Payload"])
        assert "Cannot find package '@aws-sdk/client-lambda'" in error["errorMessage"], error
    finally:
        functions.cleanup()


def test_python_functions_use_the_python_runtime_unaffected(functions: Functions) -> None:
    # The Node.js runtime directory is no concern of other runtimes: their environment has no
    # NODE_PATH or NODE_EXTRA_CA_CERTS.
    source = "import os\ndef handler(e, c):\n    return sorted(k for k in os.environ if k.startswith('NODE_'))\n"
    assert functions.invoke_json(functions.python(source, runtime=HOST_PYTHON_RUNTIME)) == []
