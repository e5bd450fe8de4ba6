"""Python cold starts from zygotes (``executors/zygotes.py``; in the local executor, and in the
sandbox executor's spare sandboxes, ``executors/sandbox/zygotes.py``): a function started by a
zygote sees what it would see in a fresh interpreter, and a function whose code holds a module
the zygote imported ahead gets a fresh interpreter."""

from __future__ import annotations

import base64
import json
import os
import signal
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.conftest import ROLE, Server, make_zip
from tests.invoke.conftest import EXECUTOR, HOST_PYTHON_RUNTIME, _descendants

pytestmark = pytest.mark.skipif(
    EXECUTOR not in ("local", "sandbox"), reason="zygotes are the local and sandbox executors'"
)

SNAPSHOT = """
import locale, logging, os, sys, time
import awslambdaric.bootstrap as _bootstrap

def _state():
    volatile = {"AWS_LAMBDA_RUNTIME_API", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                "AWS_LAMBDA_LOG_STREAM_NAME", "_X_AMZN_TRACE_ID", "_AWS_XRAY_DAEMON_ADDRESS"}
    return {
        "environ": {k: (v if k not in volatile else "*") for k, v in os.environ.items()},
        "path": sys.path,
        "argv": sys.argv,
        "cwd": os.getcwd(),
        "flags": repr(sys.flags),
        "dont_write_bytecode": sys.dont_write_bytecode,
        "pycache_prefix": sys.pycache_prefix,
        "encodings": [sys.stdout.encoding, sys.stderr.encoding, sys.getfilesystemencoding()],
        "locale": repr(locale.getlocale()),
        "tzname": list(time.tzname),
        "log_format": repr(_bootstrap._AWS_LAMBDA_LOG_FORMAT),
        "log_level": repr(_bootstrap._AWS_LAMBDA_LOG_LEVEL),
        "root_logger": [logging.getLogger().level, [type(h).__name__ for h in logging.getLogger().handlers]],
        "main": sorted(k for k in vars(sys.modules["__main__"]) if not k.startswith("__")),
        "modules": sorted(m for m in sys.modules if not m.startswith(("encodings.", "_"))),
        # The modules the zygote kept and those imported after its job refer to each other.
        "wired": [
            sys.modules["awslambdaric"].bootstrap is sys.modules["awslambdaric.bootstrap"],
            sys.modules["awslambdaric.lambda_runtime_client"].runtime_client is sys.modules["runtime_client"],
            _bootstrap.FaultException is sys.modules["awslambdaric.lambda_runtime_exception"].FaultException,
            _bootstrap.LambdaRuntimeClient is sys.modules["awslambdaric.lambda_runtime_client"].LambdaRuntimeClient,
        ],
    }

AT_IMPORT = _state()

def handler(event, context):
    if event.get("fail"):
        raise ValueError("asked to fail")
    return {"zygote": "_zygote" in sys.orig_argv[4], "at_import": AT_IMPORT, "now": _state()}
"""


def _function(srv: Server, name: str, files: dict[str, str], runtime: str = HOST_PYTHON_RUNTIME, **kw: Any) -> None:
    lam = srv.client()
    lam.create_function(
        FunctionName=name,
        Runtime=runtime,
        Role=ROLE,
        Handler="handler.handler",
        Code={"ZipFile": make_zip(files)},
        **kw,
    )


def _invoke(srv: Server, name: str, payload: dict[str, Any]) -> tuple[dict[str, Any], str]:
    out = srv.client().invoke(FunctionName=name, Payload=json.dumps(payload), LogType="Tail")
    return json.loads(out["Payload"].read()), base64.b64decode(out["LogResult"]).decode()


def test_a_zygote_becomes_what_a_fresh_interpreter_is(spawn_server: Any) -> None:
    srv = spawn_server(LAMBDA_KEEPALIVE_MS="0")
    _function(
        srv,
        "snap",
        {"handler.py": SNAPSHOT},
        Environment={"Variables": {"TZ": ":UTC", "GREETING": "héllo"}},
        LoggingConfig={"LogFormat": "JSON", "ApplicationLogLevel": "DEBUG", "SystemLogLevel": "INFO"},
    )
    answers = [_invoke(srv, "snap", {})[0] for _ in range(4)]
    fresh = [a for a in answers if not a["zygote"]]
    made = [a for a in answers if a["zygote"]]
    assert fresh and made, [a["zygote"] for a in answers]  # the first cold start makes the zygote
    for key in fresh[0]["at_import"]:
        assert made[0]["at_import"][key] == fresh[0]["at_import"][key], key
        assert made[0]["now"][key] == fresh[0]["now"][key], key
    # Errors are the runtime client's, the same either way.
    errors = [_invoke(srv, "snap", {"fail": True})[0] for _ in range(3)]
    for error in errors:
        assert error["errorType"] == "ValueError" and error["errorMessage"] == "asked to fail"
        assert error["stackTrace"] == errors[0]["stackTrace"]


def test_an_import_error_reads_the_same_from_a_zygote(spawn_server: Any) -> None:
    srv = spawn_server(LAMBDA_KEEPALIVE_MS="0")
    _function(srv, "broken", {"handler.py": "import not_there\n"})
    answers = [_invoke(srv, "broken", {})[0] for _ in range(3)]
    assert all(a == answers[0] for a in answers), answers
    assert answers[0]["errorType"] == "Runtime.ImportModuleError"


# A module of the function's own named as one the zygote imported ahead (awslambdaric imports
# decimal): a fresh interpreter imports this one, so the zygote must not serve the function.
OWN_DECIMAL = """
import importlib.util, os
MARK = "the function's own decimal"
_spec = importlib.util.spec_from_file_location("_std_decimal", os.path.join(os.path.dirname(os.__file__), "decimal.py"))
_std = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_std)
globals().update({k: v for k, v in vars(_std).items() if not k.startswith("__")})
"""

MARKED = """
import sys

def handler(event, context):
    return {"zygote": "_zygote" in sys.orig_argv[4], "mark": getattr(sys.modules["decimal"], "MARK", None)}
"""


def test_a_module_imported_ahead_by_the_zygote_is_the_functions_own(spawn_server: Any) -> None:
    srv = spawn_server(LAMBDA_KEEPALIVE_MS="0")
    _function(srv, "own", {"handler.py": MARKED, "decimal.py": OWN_DECIMAL})
    answers = [_invoke(srv, "own", {})[0] for _ in range(3)]
    assert answers == [{"zygote": False, "mark": "the function's own decimal"}] * 3
    # The zygote served others meanwhile: the same server, a function without such a module.
    _function(srv, "plain", {"handler.py": MARKED})
    plain = [_invoke(srv, "plain", {})[0] for _ in range(3)]
    assert any(p["zygote"] for p in plain) and all(p["mark"] is None for p in plain)


RAISES = """
import sys

def handler(event, context):
    raise ValueError("zygote" if "_zygote" in sys.orig_argv[4] else "fresh")
"""


def test_a_zygote_runs_another_program_than_the_one_it_compiled_ahead(spawn_server: Any) -> None:
    # python3.8 runs on the host's interpreter too (same zygotes), with another bootstrap program
    # (its error payloads have no requestId): the zygote compiles that one instead of its own.
    srv = spawn_server(LAMBDA_KEEPALIVE_MS="0")
    _function(srv, "first", {"handler.py": RAISES})
    _function(srv, "older", {"handler.py": RAISES}, runtime="python3.8")
    first = [_invoke(srv, "first", {})[0] for _ in range(3)]
    older = [_invoke(srv, "older", {})[0] for _ in range(3)]
    assert {e["errorMessage"] for e in first} == {"fresh", "zygote"}
    assert "zygote" in {e["errorMessage"] for e in older}
    assert all("requestId" in e for e in first) and not any("requestId" in e for e in older)


# -- fork servers (executors/forkserver.py): cold starts that find no spare ready ------------------

local_only = pytest.mark.skipif(EXECUTOR != "local", reason="fork servers are the local executor's")

FORKED = (
    SNAPSHOT.replace("def handler(event, context):", "def _handler(event, context):")
    + """
def handler(event, context):
    if event.get("exit") is not None:
        os._exit(event["exit"])
    if event.get("kill"):
        os.kill(os.getpid(), 9)
    answer = _handler(event, context)
    answer["forked"] = len(sys.orig_argv) > 7 and sys.orig_argv[7] == "fork"
    return answer
"""
)


def _burst(srv: Server, name: str, payload: dict[str, Any], count: int) -> list[tuple[dict[str, Any], str]]:
    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(lambda _: _invoke(srv, name, payload), range(count)))


def _fork_servers(srv: Server) -> list[int]:
    """The server's zygote fork servers: their children have the same command line, but their
    stdin is a job's pipe (or /dev/null), not the fork server's socket."""
    assert srv.proc is not None
    found = []
    for pid, cmdline in _descendants(srv.proc.pid).items():
        try:
            if " fork " in cmdline and os.readlink(f"/proc/{pid}/fd/0").startswith("socket:"):
                found.append(pid)
        except OSError:
            continue
    return found


@local_only
def test_a_burst_of_cold_starts_is_forked_and_each_is_a_fresh_interpreter(spawn_server: Any) -> None:
    srv = spawn_server(LAMBDA_KEEPALIVE_MS="0")
    _function(srv, "burst", {"handler.py": FORKED}, Environment={"Variables": {"TZ": ":UTC"}})
    fresh, _ = _invoke(srv, "burst", {})  # the first cold start: a fresh interpreter
    assert not fresh["zygote"]
    answers = [a for round_ in range(3) for a, _ in _burst(srv, "burst", {}, 6)]
    forked = [a for a in answers if a["forked"]]
    assert forked, [(a["zygote"], a["forked"]) for a in answers]
    for answer in answers:
        for key in fresh["at_import"]:
            assert answer["at_import"][key] == fresh["at_import"][key], key
            assert answer["now"][key] == fresh["now"][key], key
    assert len(_fork_servers(srv)) == 1


@local_only
def test_a_forked_runtime_ends_as_a_fresh_one(spawn_server: Any) -> None:
    # Its exit is reported by the fork server that reaped it: the same status, the same error.
    srv = spawn_server(LAMBDA_KEEPALIVE_MS="0")
    _function(srv, "ends", {"handler.py": FORKED})
    for payload, message in (({"exit": 3}, "exit status 3"), ({"kill": True}, "signal: killed")):
        first, _ = _invoke(srv, "ends", payload)
        assert first["errorType"] == "Runtime.ExitError" and message in first["errorMessage"], first
        for answer, _ in _burst(srv, "ends", payload, 6):
            assert answer["errorType"] == "Runtime.ExitError" and message in answer["errorMessage"], answer
    assert _fork_servers(srv)


@local_only
def test_cold_starts_go_on_when_the_fork_server_is_killed(spawn_server: Any) -> None:
    srv = spawn_server(LAMBDA_KEEPALIVE_MS="0")
    _function(srv, "killed", {"handler.py": FORKED})
    _invoke(srv, "killed", {})
    assert any(a["forked"] for a, _ in _burst(srv, "killed", {}, 6))
    for pid in _fork_servers(srv):
        os.kill(pid, signal.SIGKILL)
    for _ in range(2):
        answers = _burst(srv, "killed", {}, 6)
        assert all("errorType" not in a for a, _ in answers), answers
    assert any(a["forked"] for a, _ in _burst(srv, "killed", {}, 6))  # another one was started
