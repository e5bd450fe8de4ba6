"""The one typed settings object.

Settings are read once, from LocalStack's environment variables (same names, same meanings) and
then from command-line overrides. Nothing else in the package reads ``os.environ``.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["ExecutorMode", "Settings", "child_environment", "client_endpoint_url", "parse_bool"]

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def parse_bool(value: str | None, default: bool) -> bool:
    """LocalStack's truthiness: ``1``/``true``/``yes``/``on`` (any case) are true."""
    if value is None:
        return default
    v = value.strip().lower()
    if v in _TRUE:
        return True
    if v in _FALSE:
        return False
    return default


class ExecutorMode(enum.Enum):
    """Values of ``LAMBDA_EXECUTOR``; ``AUTO`` (unset or empty) means choose automatically."""

    LOCAL = "local"
    SANDBOX = "sandbox"
    DOCKER = "docker"
    DOCKER_REUSE = "docker-reuse"
    AUTO = ""


def client_endpoint_url(env: Mapping[str, str] | None = None) -> str:
    """Where a client (the CLI) finds a running server: ``AWS_ENDPOINT_URL`` (the variable the
    AWS SDKs and CLI read), else ``http://127.0.0.1:4566``."""
    env = os.environ if env is None else env
    return (env.get("AWS_ENDPOINT_URL") or "").strip().rstrip("/") or "http://127.0.0.1:4566"


def child_environment(extra: Mapping[str, str] | None = None, drop: tuple[str, ...] = ()) -> dict[str, str]:
    """This process's environment without ``drop`` and with ``extra``, for a child process (the
    server the pytest plugin starts)."""
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(extra or {})
    return env


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from exc


def _count(env: Mapping[str, str], name: str, default: int) -> int:
    value = _int(env, name, default)
    if value < 0:
        raise ValueError(f"{name} must not be negative, got {value}")
    return value


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be a number, got {raw!r}") from exc
    if value < 0:
        raise ValueError(f"{name} must not be negative, got {raw!r}")
    return value


def _split_listen(value: str) -> tuple[str, int]:
    # GATEWAY_LISTEN may hold several comma-separated addresses; the first one wins.
    first = value.split(",", maxsplit=1)[0].strip()
    host, _, port = first.rpartition(":")
    if not host:
        return "127.0.0.1", int(port)
    return host.strip("[]"), int(port)


def _split_host(value: str) -> tuple[str, int | None]:
    """``host``, ``host:port``, ``[v6]`` or ``[v6]:port``. Raises ``ValueError`` for a port that
    is not a number."""
    value = value.strip()
    host, sep, port = value.rpartition(":")
    if not sep or (host.count(":") and not host.endswith("]")):  # no port, or a bare IPv6 address
        return value, None
    if not port.isdigit():
        raise ValueError(f"LOCALSTACK_HOST must be <hostname>[:<port>], got {value!r}")
    return host, int(port)


@dataclasses.dataclass(frozen=True, slots=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 4566
    data_dir: Path | None = None
    persistence: bool = False
    region: str = "us-east-1"
    account_id: str = "000000000000"

    executor: ExecutorMode = ExecutorMode.AUTO
    keepalive_ms: int = 600_000
    stay_open: bool = True
    synchronous_create: bool = False
    truncate_stdout: int = 2000
    limits_concurrent_executions: int = 1000
    limits_minimum_unreserved_concurrency: int = 100
    limits_code_size_zipped: int = 52_428_800
    limits_code_size_unzipped: int = 262_144_000
    limits_create_function_request_size: int = 70_167_211
    limits_total_code_size: int = 80_530_636_800
    limits_max_function_envvar_size_bytes: int = 4 * 1024
    limits_max_function_payload_size_bytes: int = 6 * 1024 * 1024 + 100
    disable_aws_endpoint_url: bool = False
    runtime_image_mapping: Mapping[str, str] = dataclasses.field(default_factory=dict)
    runtime_image_pattern: str = ""
    docker_network: str = ""
    docker_dns: str = ""
    docker_flags: str = ""
    remove_containers: bool = True
    # LAMBDA_DOCKER_CODE (ours; LocalStack has none): how the docker executor puts the code,
    # layers and runtime files into a container: ``mount`` (bind mounts of this machine's
    # paths), ``copy`` (into the created container through the Docker API, for an engine on
    # another machine), ``auto`` (mount for an engine on this machine's unix socket, else copy).
    docker_code: str = "auto"
    hostname_from_lambda: str = ""
    bucket_marker_local: str = "hot-reload"
    # Seconds an environment may take to start and, when pre-started (provisioned concurrency),
    # to initialize. On-demand inits follow AWS's rule instead: 10 s, then within the invocation.
    lambda_runtime_environment_timeout: int = 20
    debug: bool = False
    # Builds of our own runtime clients (the Java bootstrap jar, its startup archive): not user
    # state, so kept across runs even with persistence off.
    cache_dir: Path = dataclasses.field(default_factory=lambda: Path.home() / ".cache" / "locallambda")
    host_path: str = "/usr/local/bin:/usr/bin:/bin"
    java_home: Path | None = None
    # LOCALLAMBDA_NODEJS_RUNTIME_DIR: what Node.js functions see as /var/runtime; its node_modules
    # holds the AWS SDK for JavaScript v3 that AWS's nodejs18.x and later bundle, installed by
    # scripts/bootstrap.sh (scripts/node-runtime/package.json) into the server's virtualenv
    # (.venv/node-runtime). Missing: functions run without it.
    nodejs_runtime_dir: Path = dataclasses.field(default_factory=lambda: Path(sys.prefix) / "node-runtime")
    # LOCALLAMBDA_HOT_RELOAD_ROOTS: the directories hot-reloaded code may come from (empty: any
    # directory of this machine, for callers on this machine; never for code inside a function).
    hot_reload_roots: tuple[Path, ...] = ()
    # SERVICES (LocalStack's): the comma-separated services served besides Lambda; empty: all.
    services: str = ""
    # LOCALLAMBDA_EVENT_SOURCE_ENDPOINT: where event source pollers read SQS, Kinesis and DynamoDB
    # Streams (empty: this server); LOCALLAMBDA_SQS_WAIT_SECONDS: their long-poll wait (≤ 20).
    event_source_endpoint: str = ""
    event_source_sqs_wait_seconds: int = 20
    # LAMBDA_RETRY_BASE_DELAY (LocalStack's, seconds): the wait before an Event invoke's first
    # retry after a function error; the second waits twice as long (AWS: 1 and 2 minutes).
    lambda_retry_base_delay: float = 60.0
    # LOCALSTACK_HOST (LocalStack's, ``<hostname>[:<port>]``): the host and port written into the
    # addresses this server returns (function URLs). Empty host: ``localhost.localstack.cloud``;
    # no port: the port the client reached this server on.
    # docs.localstack.cloud/aws/customization/configuration-options ("interpolated into URLs and
    # addresses that are returned by LocalStack. It has the form <hostname>:<port>").
    localstack_host: str = ""
    localstack_port: int | None = None
    # LOCALLAMBDA_JOURNAL_SIZE: how many invocations the journal keeps (0: none, the journal is
    # off); LOCALLAMBDA_JOURNAL_PAYLOAD_BYTES: of each request and response, the bytes kept.
    journal_size: int = 1000
    journal_payload_bytes: int = 65536
    # LAMBDA_DEBUG_MODE (LocalStack's): functions named in LAMBDA_DEBUG_MODE_CONFIG_PATH's file
    # start under their runtime's debugger on the port it gives them (``invoke/debugging.py``).
    lambda_debug_mode: bool = False
    lambda_debug_mode_config_path: Path | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Build settings from LocalStack's variables, then apply explicit overrides.

        Raises ``ValueError`` for a malformed value (for example a non-numeric port).
        """
        env = os.environ if env is None else env
        values: dict[str, Any] = {}

        if "GATEWAY_LISTEN" in env:
            values["host"], values["port"] = _split_listen(env["GATEWAY_LISTEN"])
        elif "EDGE_PORT" in env:
            values["port"] = _int(env, "EDGE_PORT", 4566)
        if env.get("LOCALLAMBDA_DATA_DIR") or env.get("DATA_DIR"):
            values["data_dir"] = Path(env.get("LOCALLAMBDA_DATA_DIR") or env["DATA_DIR"])
        values["persistence"] = parse_bool(env.get("PERSISTENCE"), False)
        if env.get("DEFAULT_REGION"):
            values["region"] = env["DEFAULT_REGION"]

        executor = env.get("LAMBDA_EXECUTOR", "").strip()
        try:
            values["executor"] = ExecutorMode(executor)
        except ValueError:
            raise ValueError(
                f"LAMBDA_EXECUTOR must be one of local, sandbox, docker, docker-reuse; got {executor!r}"
            ) from None
        values["keepalive_ms"] = _int(env, "LAMBDA_KEEPALIVE_MS", 600_000)
        values["stay_open"] = parse_bool(env.get("LAMBDA_STAY_OPEN_MODE"), True)
        values["synchronous_create"] = parse_bool(env.get("LAMBDA_SYNCHRONOUS_CREATE"), False)
        values["truncate_stdout"] = _int(env, "LAMBDA_TRUNCATE_STDOUT", 2000)
        values["limits_concurrent_executions"] = _int(env, "LAMBDA_LIMITS_CONCURRENT_EXECUTIONS", 1000)
        values["limits_minimum_unreserved_concurrency"] = _int(env, "LAMBDA_LIMITS_MINIMUM_UNRESERVED_CONCURRENCY", 100)
        values["limits_code_size_zipped"] = _int(env, "LAMBDA_LIMITS_CODE_SIZE_ZIPPED", 52_428_800)
        values["limits_code_size_unzipped"] = _int(env, "LAMBDA_LIMITS_CODE_SIZE_UNZIPPED", 262_144_000)
        values["limits_create_function_request_size"] = _int(
            env, "LAMBDA_LIMITS_CREATE_FUNCTION_REQUEST_SIZE", 70_167_211
        )
        values["limits_total_code_size"] = _int(env, "LAMBDA_LIMITS_TOTAL_CODE_SIZE", 80_530_636_800)
        values["limits_max_function_envvar_size_bytes"] = _int(
            env, "LAMBDA_LIMITS_MAX_FUNCTION_ENVVAR_SIZE_BYTES", 4 * 1024
        )
        values["limits_max_function_payload_size_bytes"] = _int(
            env, "LAMBDA_LIMITS_MAX_FUNCTION_PAYLOAD_SIZE_BYTES", 6 * 1024 * 1024 + 100
        )
        values["disable_aws_endpoint_url"] = parse_bool(env.get("LAMBDA_DISABLE_AWS_ENDPOINT_URL"), False)

        mapping = env.get("LAMBDA_RUNTIME_IMAGE_MAPPING", "").strip()
        if mapping.startswith("{"):
            try:
                loaded = json.loads(mapping)
            except json.JSONDecodeError as exc:
                raise ValueError(f"LAMBDA_RUNTIME_IMAGE_MAPPING is not valid JSON: {exc}") from exc
            values["runtime_image_mapping"] = {str(k): str(v) for k, v in loaded.items()}
        elif mapping:
            values["runtime_image_pattern"] = mapping
        values["docker_network"] = env.get("LAMBDA_DOCKER_NETWORK", "")
        values["docker_dns"] = env.get("LAMBDA_DOCKER_DNS", "")
        values["docker_flags"] = env.get("LAMBDA_DOCKER_FLAGS", "")
        values["remove_containers"] = parse_bool(env.get("LAMBDA_REMOVE_CONTAINERS"), True)
        docker_code = env.get("LAMBDA_DOCKER_CODE", "").strip().lower() or "auto"
        if docker_code not in ("auto", "copy", "mount"):
            raise ValueError(f"LAMBDA_DOCKER_CODE must be one of auto, copy, mount; got {docker_code!r}")
        values["docker_code"] = docker_code
        values["hostname_from_lambda"] = env.get("HOSTNAME_FROM_LAMBDA", "")
        values["bucket_marker_local"] = env.get("BUCKET_MARKER_LOCAL", "hot-reload") or "hot-reload"
        values["lambda_runtime_environment_timeout"] = _int(env, "LAMBDA_RUNTIME_ENVIRONMENT_TIMEOUT", 20)
        values["debug"] = parse_bool(env.get("DEBUG"), False)
        if env.get("LOCALLAMBDA_CACHE_DIR"):
            values["cache_dir"] = Path(env["LOCALLAMBDA_CACHE_DIR"])
        elif env.get("XDG_CACHE_HOME"):
            values["cache_dir"] = Path(env["XDG_CACHE_HOME"]) / "locallambda"
        if env.get("PATH"):
            values["host_path"] = env["PATH"]
        roots = env.get("LOCALLAMBDA_HOT_RELOAD_ROOTS", "")
        if roots.strip():
            values["hot_reload_roots"] = tuple(Path(r).expanduser() for r in roots.split(os.pathsep) if r.strip())
        values["services"] = env.get("SERVICES", "")
        values["event_source_endpoint"] = env.get("LOCALLAMBDA_EVENT_SOURCE_ENDPOINT", "")
        values["event_source_sqs_wait_seconds"] = _int(env, "LOCALLAMBDA_SQS_WAIT_SECONDS", 20)
        values["lambda_retry_base_delay"] = _float(env, "LAMBDA_RETRY_BASE_DELAY", 60.0)
        if env.get("LOCALSTACK_HOST", "").strip():
            values["localstack_host"], values["localstack_port"] = _split_host(env["LOCALSTACK_HOST"])
        if env.get("JAVA_HOME"):
            values["java_home"] = Path(env["JAVA_HOME"])
        values["journal_size"] = _count(env, "LOCALLAMBDA_JOURNAL_SIZE", 1000)
        values["journal_payload_bytes"] = _count(env, "LOCALLAMBDA_JOURNAL_PAYLOAD_BYTES", 65536)
        values["lambda_debug_mode"] = parse_bool(env.get("LAMBDA_DEBUG_MODE"), False)
        if env.get("LAMBDA_DEBUG_MODE_CONFIG_PATH", "").strip():
            values["lambda_debug_mode_config_path"] = Path(env["LAMBDA_DEBUG_MODE_CONFIG_PATH"].strip()).expanduser()
        if env.get("LOCALLAMBDA_NODEJS_RUNTIME_DIR"):
            values["nodejs_runtime_dir"] = Path(env["LOCALLAMBDA_NODEJS_RUNTIME_DIR"])

        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    @property
    def endpoint_url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{host}:{self.port}"
