"""The pytest plugin (entry point ``pytest11: locallambda``): test your own functions against a
real locallambda server with ``pytest`` and nothing else.

Fixtures:

- ``locallambda_server`` (session): a server started as ``python -m locallambda start --port
  <free> --data-dir <tmp>`` in its own process group, ready once ``/_localstack/health``
  answers; at the end of the session it is stopped (SIGTERM: it stops the runtimes it started)
  and whatever is left of its process group killed. ``--locallambda-endpoint URL`` uses a
  server that is already running instead (nothing is started or stopped).
- ``locallambda_endpoint`` (session): its URL.
- ``lambda_client``: a boto3 Lambda client bound to it (credentials ``test``, one attempt).
- ``deploy_function``: a factory, ``deploy_function(code, *, name=None, handler=None,
  runtime=None, **create_function_params) -> DeployedFunction``; ``code`` is inline source (a
  ``str``), a directory or a file (a ``Path``; a ``.zip`` is uploaded as it is) or a mapping of
  file names to contents. It waits until the function is ``Active`` (``DeployError`` if it
  becomes ``Failed``) and deletes it at teardown.
- ``locallambda_reset``: not autouse; after the test, deletes the functions, layer versions and
  event source mappings created during it.

ini options: ``locallambda_env`` (lines of ``NAME=VALUE``, the server's settings, e.g.
``LAMBDA_EXECUTOR=local``), ``locallambda_region`` (``us-east-1``).

The handler, when not given: ``lambda_function.lambda_handler``, ``app.lambda_handler``,
``index.handler``, ``handler.handler`` (Python: the module's ``lambda_handler`` if it defines
one, else ``handler``), ``index.handler`` for ``index.mjs``/``index.js``, ``bootstrap`` for
``provided.al2023``. The runtime, when not given: Python of the interpreter running pytest (so
that the server runs it on this very interpreter), ``nodejs22.x``, or ``provided.al2023``.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from locallambda.settings import child_environment
from locallambda.testing.deploy import DeployedFunction, DeployError, InvokeResult, package

__all__ = ["DeployError", "DeployedFunction", "InvokeResult", "LocalLambdaServer"]

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}


class LocalLambdaServer:
    """A locallambda server: started here (``start``/``stop``) or one already running (``url``)."""

    def __init__(
        self, data_dir: Path, *, env: Mapping[str, str] | None = None, region: str = "us-east-1", url: str = ""
    ) -> None:
        self.data_dir = data_dir
        self.region = region
        self.url = url.rstrip("/")
        self.log_path = data_dir / "server.log"
        self._extra_env = {**CREDENTIALS, "AWS_DEFAULT_REGION": region, **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def env(self) -> dict[str, str]:
        """What a client process (the AWS CLI, a script) needs to reach this server."""
        return {**CREDENTIALS, "AWS_DEFAULT_REGION": self.region, "AWS_ENDPOINT_URL": self.url}

    def start(self, timeout: float = 60) -> LocalLambdaServer:
        """Start the server on a free port; return once it answers. Raises ``RuntimeError``
        when it exits or does not answer within ``timeout`` seconds (its log in the message)."""
        for _attempt in range(3):  # a port taken between choosing and binding: choose again
            port = _free_port()
            self.url = f"http://127.0.0.1:{port}"
            with open(self.log_path, "ab") as log:
                self.proc = subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "locallambda",
                        "start",
                        "--port",
                        str(port),
                        "--data-dir",
                        str(self.data_dir),
                    ],
                    env=child_environment(self._extra_env, drop=("AWS_ENDPOINT_URL",)),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
            if self._wait_healthy(timeout):
                return self
            if "address already in use" not in self.log().lower():
                break
        log_text = self.log()
        self.stop()
        raise RuntimeError(f"locallambda did not start (log {self.log_path}):\n{log_text[-4000:]}")

    def _wait_healthy(self, timeout: float) -> bool:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(f"{self.url}/_localstack/health", timeout=2) as resp:
                    if resp.status == 200:
                        return True
            except OSError:
                pass
            time.sleep(0.05)
        return False

    def stop(self, timeout: float = 20) -> None:
        """Stop the server, then kill whatever its process group still holds."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # its session: start_new_session made pgid == pid
        except (ProcessLookupError, PermissionError):
            pass

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def client(self, service: str = "lambda", **config: Any) -> Any:
        """A boto3 client of ``service`` bound to this server (one attempt, long reads)."""
        import boto3
        from botocore.config import Config

        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=self.region,
            aws_access_key_id="test",
            aws_secret_access_key="test",
            config=Config(retries={"max_attempts": 1}, read_timeout=930, **config),
        )


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("locallambda", "locallambda server for Lambda function tests")
    group.addoption(
        "--locallambda-endpoint",
        default=None,
        metavar="URL",
        help="test against this running locallambda server instead of starting one",
    )
    parser.addini("locallambda_env", "NAME=VALUE settings of the server the plugin starts", type="linelist", default=[])
    parser.addini("locallambda_region", "the region of the plugin's clients", default="us-east-1")


@pytest.fixture(scope="session")
def locallambda_server(
    pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalLambdaServer]:
    """A locallambda server for the session (see the module's docstring)."""
    env: dict[str, str] = {}
    for line in pytestconfig.getini("locallambda_env"):
        name, sep, value = str(line).partition("=")
        if not sep:
            raise pytest.UsageError(f"locallambda_env: {line!r} is not NAME=VALUE")
        env[name.strip()] = value.strip()
    region = str(pytestconfig.getini("locallambda_region") or "us-east-1")
    data_dir = tmp_path_factory.mktemp("locallambda")
    endpoint = pytestconfig.getoption("locallambda_endpoint")
    if endpoint:
        yield LocalLambdaServer(data_dir, region=region, url=str(endpoint))
        return
    server = LocalLambdaServer(data_dir, env=env, region=region).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def locallambda_endpoint(locallambda_server: LocalLambdaServer) -> str:
    return locallambda_server.url


@pytest.fixture()
def lambda_client(locallambda_server: LocalLambdaServer) -> Any:
    return locallambda_server.client("lambda")


@pytest.fixture()
def deploy_function(
    locallambda_server: LocalLambdaServer, request: pytest.FixtureRequest
) -> Iterator[Callable[..., DeployedFunction]]:
    """``deploy_function(code, *, name=None, handler=None, runtime=None, timeout=120,
    **create_function_params)``: the function, Active; deleted after the test."""
    client = locallambda_server.client("lambda")
    created: list[str] = []
    prefix = re.sub(r"[^A-Za-z0-9-]+", "-", request.node.name).strip("-")[:40] or "fn"

    def deploy(
        code: str | os.PathLike[str] | Mapping[str, str | bytes],
        *,
        name: str | None = None,
        handler: str | None = None,
        runtime: str | None = None,
        timeout: float = 120,
        **params: Any,
    ) -> DeployedFunction:
        zipped, handler, runtime = package(code, handler=handler, runtime=runtime)
        fn_name = name or f"{prefix}-{uuid.uuid4().hex[:8]}"
        params.setdefault("Role", "arn:aws:iam::000000000000:role/lambda-role")
        client.create_function(
            FunctionName=fn_name, Runtime=runtime, Handler=handler, Code={"ZipFile": zipped}, **params
        )
        created.append(fn_name)
        return DeployedFunction.when_active(client, fn_name, timeout)

    yield deploy
    for fn_name in reversed(created):
        try:
            client.delete_function(FunctionName=fn_name)
        except client.exceptions.ResourceNotFoundException:
            pass


@pytest.fixture()
def locallambda_reset(locallambda_server: LocalLambdaServer) -> Iterator[None]:
    """After the test, delete the functions, layer versions and event source mappings it made."""
    client = locallambda_server.client("lambda")
    before = _resources(client)
    yield
    functions, layers, mappings = (now - then for now, then in zip(_resources(client), before, strict=True))
    for uuid_ in mappings:
        try:
            client.delete_event_source_mapping(UUID=uuid_)
        except client.exceptions.ResourceNotFoundException:
            pass
    for fn_name in functions:
        try:
            client.delete_function(FunctionName=fn_name)
        except client.exceptions.ResourceNotFoundException:
            pass
    for arn in layers:
        layer, _, version = arn.rpartition(":")
        client.delete_layer_version(LayerName=layer, VersionNumber=int(version))


def _resources(client: Any) -> tuple[set[str], set[str], set[str]]:
    """Function names, layer version ARNs and mapping UUIDs of the client's region."""
    functions = {
        fn["FunctionName"] for page in client.get_paginator("list_functions").paginate() for fn in page["Functions"]
    }
    layers = {
        version["LayerVersionArn"]
        for page in client.get_paginator("list_layers").paginate()
        for layer in page["Layers"]
        for vpage in client.get_paginator("list_layer_versions").paginate(LayerName=layer["LayerName"])
        for version in vpage["LayerVersions"]
    }
    mappings = {
        m["UUID"]
        for page in client.get_paginator("list_event_source_mappings").paginate()
        for m in page["EventSourceMappings"]
    }
    return functions, layers, mappings


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
