"""Shared fixtures: a real locallambda server on loopback, boto3 clients and the AWS CLI.

Every black-box test talks to a server started as a separate process, exactly as a user runs it.
"""

from __future__ import annotations

import io
import json
import os
import re
import socket
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

REPO = Path(__file__).resolve().parent.parent
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_DEFAULT_REGION": "us-east-1",
}
ROLE = "arn:aws:iam::000000000000:role/lambda-role"

# Under CI=true nothing may be skipped for want of a tool: the test command installs every tool,
# so a skip that says one is missing is that command's failure, reported as the test's.
_MISSING_TOOL = re.compile(r"not installed|needs a JDK|no Docker|docker-up|not available", re.IGNORECASE)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("CI") != "true" or not report.skipped:
        return
    reason = str(report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr)
    if _MISSING_TOOL.search(reason):
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true for a missing tool (scripts/test.sh must install it): {reason}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """A locallambda server process on 127.0.0.1 with its own port and environment."""

    def __init__(
        self, env: dict[str, str] | None = None, args: list[str] | None = None, port: int | None = None
    ) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, **AWS_ENV, **(env or {})}
        self.env.pop("AWS_ENDPOINT_URL", None)
        self.args = args or []
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"locallambda-test-{self.port}.log"

    def start(self, timeout: float = 30) -> Server:
        if self.proc is not None and self.proc.poll() is None:
            raise RuntimeError("this server is already running: a second start would leak the first process")
        log = open(self.log_path, "wb")  # noqa: SIM115 - the server writes to it until it stops
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "locallambda", "start", "--port", str(self.port), *self.args],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log_path.read_text()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"server did not start in {timeout}s:\n{self.log_path.read_text()}")

    def stop(self, timeout: float = 20) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def client(self, service: str = "lambda", region: str = "us-east-1", **kw: Any) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=region,
            aws_access_key_id="test",
            aws_secret_access_key="test",
            config=Config(retries={"max_attempts": 1}, read_timeout=120, **kw),
        )

    def cli(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run the AWS CLI (from PyPI, installed in this environment) against this server."""
        aws = str(Path(sys.executable).parent / "aws")
        proc = subprocess.run(
            [aws, "--endpoint-url", self.url, *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"aws {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
        return proc

    def cli_json(self, *args: str) -> Any:
        out = self.cli(*args).stdout
        return json.loads(out) if out.strip() else None

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@pytest.fixture(scope="session")
def server() -> Iterator[Server]:
    """One shared server for tests that only need the API (state persists between tests)."""
    srv = Server(env={"LAMBDA_SYNCHRONOUS_CREATE": "0"})
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture()
def lambda_client(server: Server) -> Any:
    return server.client()


def make_zip(files: dict[str, str | bytes], modes: dict[str, int] | None = None) -> bytes:
    """A zip archive in memory; ``modes`` sets Unix permissions per file name."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in files.items():
            info = zipfile.ZipInfo(name)
            info.create_system = 3
            info.external_attr = ((modes or {}).get(name, 0o644) | 0o100000) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, content)
    return buf.getvalue()


PY_ECHO = "def handler(event, context):\n    return event\n"


@pytest.fixture()
def echo_zip() -> bytes:
    return make_zip({"handler.py": PY_ECHO})


_counter = iter(range(1, 1_000_000))


@pytest.fixture()
def fn_name(request: pytest.FixtureRequest) -> str:
    """A function name unique within the session."""
    base = "".join(c if c.isalnum() else "-" for c in request.node.name)[:40].strip("-")
    return f"{base}-{next(_counter)}"


def wait_active(client: Any, name: str, qualifier: str | None = None) -> dict[str, Any]:
    kw = {"FunctionName": name}
    if qualifier:
        kw["Qualifier"] = qualifier
    client.get_waiter("function_active_v2").wait(**kw, WaiterConfig={"Delay": 0.2, "MaxAttempts": 150})
    return client.get_function_configuration(**kw)


def wait_updated(client: Any, name: str) -> dict[str, Any]:
    client.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 150})
    return client.get_function_configuration(FunctionName=name)
