"""The AWS CDK deploys to this server: ``cdklocal bootstrap`` (the CDKToolkit stack: an S3
bucket, an ECR repository, IAM roles and policies, an SSM parameter), ``cdklocal deploy`` of a
one-function JavaScript app (its template published to the bootstrap bucket, deployed through a
change set), the function it made runs, and ``cdklocal destroy`` removes it.

The CDK comes from scripts/cdk/package.json, installed into ``.venv/cdk`` by
scripts/bootstrap.sh under ``LOCALLAMBDA_WITH_TEST_TOOLS=1``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import REPO, Server
from tests.invoke.conftest import HOST_PYTHON_RUNTIME

CDK = REPO / ".venv" / "cdk" / "node_modules"

APP = """\
const cdk = require('aws-cdk-lib');
const lambda = require('aws-cdk-lib/aws-lambda');

class HelloStack extends cdk.Stack {
  constructor(scope, id, props) {
    super(scope, id, props);
    const fn = new lambda.Function(this, 'Hello', {
      runtime: new lambda.Runtime('%s', lambda.RuntimeFamily.PYTHON, { supportsInlineCode: true }),
      handler: 'index.handler',
      code: lambda.Code.fromInline('def handler(event, context):\\n    return {"hello": "cdk", "event": event}\\n'),
      environment: { STAGE: 'local' },
    });
    new cdk.CfnOutput(this, 'FunctionName', { value: fn.functionName });
    new cdk.CfnOutput(this, 'FunctionArn', { value: fn.functionArn });
  }
}

const app = new cdk.App();
new HelloStack(app, 'CdkHello', { env: { account: '000000000000', region: 'us-east-1' } });
"""


def cdklocal() -> str:
    found = CDK / ".bin" / "cdklocal"
    if not found.exists() or shutil.which("node") is None:
        message = "the AWS CDK is missing: scripts/bootstrap.sh installs it with LOCALLAMBDA_WITH_TEST_TOOLS=1"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return str(found)


def _cdk(server: Server, app: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **server.env,
        "AWS_ENDPOINT_URL": server.url,
        "AWS_ENDPOINT_URL_S3": server.url,
        "AWS_REGION": "us-east-1",
        "NODE_PATH": str(CDK),
        "CDK_DISABLE_VERSION_CHECK": "1",
        "CDK_DISABLE_CLI_TELEMETRY": "true",
        "HOME": str(app.parent),  # the CDK's caches and notices stay in the test's directory
    }
    proc = subprocess.run(
        [cdklocal(), *args, "--no-notices"], cwd=app, env=env, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, (
        f"cdklocal {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    )
    return proc


def test_cdk_bootstrap_deploy_and_destroy(srv: Server, tmp_path: Path) -> None:
    app = tmp_path / "app"
    app.mkdir()
    (app / "app.js").write_text(APP % HOST_PYTHON_RUNTIME)
    (app / "cdk.json").write_text(json.dumps({"app": "node app.js"}))

    _cdk(srv, app, "bootstrap", "aws://000000000000/us-east-1")
    cfn = srv.client("cloudformation")
    assert cfn.describe_stacks(StackName="CDKToolkit")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"

    _cdk(srv, app, "deploy", "--require-approval", "never", "--outputs-file", "outputs.json")
    outputs = json.loads((app / "outputs.json").read_text())["CdkHello"]
    stack = cfn.describe_stacks(StackName="CdkHello")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]} == outputs
    lam = srv.client("lambda")
    config = lam.get_function_configuration(FunctionName=outputs["FunctionName"])
    assert config["FunctionArn"] == outputs["FunctionArn"]
    assert config["Environment"]["Variables"] == {"STAGE": "local"}
    out: Any = lam.invoke(FunctionName=outputs["FunctionArn"], Payload=b'{"n": 1}')
    assert json.loads(out["Payload"].read()) == {"hello": "cdk", "event": {"n": 1}}

    _cdk(srv, app, "destroy", "--force")
    with pytest.raises(ClientError) as err:
        lam.get_function(FunctionName=outputs["FunctionName"])
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"
