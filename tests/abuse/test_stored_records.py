"""A server start never fails on a stored record: unreadable or malformed documents of any kind
are logged and skipped, the rest is served."""

from __future__ import annotations

import copy
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import ROLE, Server, make_zip


def rows(db: Path, kind: str) -> dict[str, str]:
    with sqlite3.connect(db) as conn:
        return dict(conn.execute("SELECT key, body FROM documents WHERE kind = ?", (kind,)).fetchall())


def write(db: Path, kind: str, key: str, body: str) -> None:
    with sqlite3.connect(db) as conn:
        conn.execute(
            "INSERT INTO documents (kind, key, body) VALUES (?, ?, ?) "
            "ON CONFLICT (kind, key) DO UPDATE SET body = excluded.body",
            (kind, key, body),
        )


def variant(doc: dict[str, Any], name: str, change: Any) -> tuple[str, str]:
    bad = copy.deepcopy(doc)
    bad["name"] = name
    bad["latest"]["config"]["FunctionName"] = name
    change(bad)
    return f"us-east-1/{name}", json.dumps(bad)


def set_in(path: list[str], value: Any) -> Any:
    def change(doc: dict[str, Any]) -> None:
        target = doc
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return change


def test_a_start_skips_bad_records_and_serves_the_good_ones(tmp_path: Path) -> None:
    data = tmp_path / "data"
    args = ["--persistence", "on", "--data-dir", str(data)]
    # Synchronous: a start resumes pending functions before it answers, so a record that breaks
    # their preparation breaks the start itself unless it is skipped.
    env = {"LAMBDA_SYNCHRONOUS_CREATE": "1"}
    with Server(args=args, env=env) as srv:
        client = srv.client()
        client.create_function(
            FunctionName="good",
            Runtime="python3.12",
            Role=ROLE,
            Handler="handler.handler",
            Code={"ZipFile": make_zip({"handler.py": "def handler(event, context):\n    return 1\n"})},
        )
        client.publish_layer_version(LayerName="good-layer", Content={"ZipFile": make_zip({"a.txt": "a"})})
    db = data / "state.sqlite3"
    good = json.loads(rows(db, "function")["us-east-1/good"])
    pending = set_in(["latest", "config", "State"], "Pending")
    bad_functions = dict(
        [
            ("us-east-1/not-json", "{not json"),
            ("us-east-1/a-string", '"just a string"'),
            ("us-east-1/empty-object", "{}"),
            variant(good, "name-a-number", set_in(["name"], 5)),
            variant(good, "latest-a-list", set_in(["latest"], [1])),
            variant(good, "config-a-string", set_in(["latest", "config"], "x")),
            variant(good, "reserved-a-string", set_in(["reserved_concurrency"], "abc")),
            variant(good, "versions-a-list", set_in(["versions"], [1, 2])),
            variant(good, "state-unknown", set_in(["latest", "config", "State"], "Bogus")),
            variant(good, "update-unknown", set_in(["latest", "config", "LastUpdateStatus"], 7)),
            variant(
                good, "memory-a-string", lambda d: (pending(d), set_in(["latest", "config", "MemorySize"], "abc")(d))
            ),
            variant(good, "timeout-a-list", lambda d: (pending(d), set_in(["latest", "config", "Timeout"], [1])(d))),
            variant(
                good, "environment-a-list", lambda d: (pending(d), set_in(["latest", "config", "Environment"], [])(d))
            ),
            variant(good, "layers-of-numbers", lambda d: (pending(d), set_in(["latest", "config", "Layers"], [1])(d))),
            ("us-east-1/key-of-another", json.dumps(good)),  # the key does not name the record
        ]
    )
    for key, body in bad_functions.items():
        write(db, "function", key, body)
    bad_layers = {"us-east-1/000000000000/broken": "[1, 2", "us-east-1/000000000000/a-list": "[1, 2]"}
    for key, body in bad_layers.items():
        write(db, "layer", key, body)
    write(db, "code_signing_config", "arn:aws:lambda:us-east-1:000000000000:code-signing-config:csc-1", "{")

    with Server(args=args, env=env) as srv:
        client = srv.client()
        names = [f["FunctionName"] for f in client.list_functions()["Functions"]]
        assert names == ["good"], names
        assert client.get_function(FunctionName="good")["Configuration"]["State"] == "Active"
        assert [layer["LayerName"] for layer in client.list_layers()["Layers"]] == ["good-layer"]
        assert client.list_code_signing_configs()["CodeSigningConfigs"] == []
        for key in bad_functions:
            name = key.split("/", 1)[1]
            with pytest.raises(ClientError) as e:
                client.get_function(FunctionName=name)
            assert e.value.response["Error"]["Code"] == "ResourceNotFoundException", name
        log = srv.log()
    skipped = "\n".join(line for line in log.splitlines() if "skipped" in line)
    for key in [*bad_functions, *bad_layers, "arn:aws:lambda:us-east-1:000000000000:code-signing-config:csc-1"]:
        assert f"'{key}'" in skipped, (key, skipped)


def test_records_using_every_resource_survive_the_checks_of_a_start(tmp_path: Path) -> None:
    # The checks a start makes must refuse only malformed records: one that uses every resource
    # of a function comes back whole.
    data = tmp_path / "data"
    args = ["--persistence", "on", "--data-dir", str(data)]
    env = {"LAMBDA_SYNCHRONOUS_CREATE": "1"}

    def everything(client: Any) -> dict[str, Any]:
        name = "rich"
        got = {
            "function": client.get_function(FunctionName=name),
            "versions": client.list_versions_by_function(FunctionName=name)["Versions"],
            "aliases": client.list_aliases(FunctionName=name)["Aliases"],
            "policy": client.get_policy(FunctionName=name)["Policy"],
            "concurrency": client.get_function_concurrency(FunctionName=name),
            "url": client.get_function_url_config(FunctionName=name),
            "event_config": client.get_function_event_invoke_config(FunctionName=name),
            "recursion": client.get_function_recursion_config(FunctionName=name),
            "layers": client.list_layers()["Layers"],
        }
        for value in got.values():
            if isinstance(value, dict):
                value.pop("ResponseMetadata", None)
        got["function"]["Code"].pop("Location")
        got["url"].pop("FunctionUrl")  # names the server's port
        return got

    with Server(args=args, env=env) as srv:
        client = srv.client()
        layer = client.publish_layer_version(LayerName="rich-layer", Content={"ZipFile": make_zip({"a.txt": "a"})})
        client.create_function(
            FunctionName="rich",
            Runtime="python3.12",
            Role=ROLE,
            Handler="handler.handler",
            Code={"ZipFile": make_zip({"handler.py": "def handler(event, context):\n    return 1\n"})},
            Description="everything",
            Timeout=30,
            MemorySize=256,
            EphemeralStorage={"Size": 1024},
            Environment={"Variables": {"KEY": "value"}},
            Layers=[layer["LayerVersionArn"]],
            Architectures=["arm64"],
            Tags={"team": "a"},
            LoggingConfig={"LogFormat": "JSON", "ApplicationLogLevel": "DEBUG", "SystemLogLevel": "WARN"},
            TracingConfig={"Mode": "Active"},
        )
        version = client.publish_version(FunctionName="rich")["Version"]
        client.create_alias(
            FunctionName="rich",
            Name="live",
            FunctionVersion=version,
            RoutingConfig={"AdditionalVersionWeights": {}},
        )
        client.add_permission(
            FunctionName="rich", StatementId="s1", Action="lambda:InvokeFunction", Principal="s3.amazonaws.com"
        )
        client.put_function_concurrency(FunctionName="rich", ReservedConcurrentExecutions=5)
        client.create_function_url_config(FunctionName="rich", AuthType="NONE")
        client.put_function_event_invoke_config(FunctionName="rich", MaximumRetryAttempts=1)
        client.put_function_recursion_config(FunctionName="rich", RecursiveLoop="Allow")
        before = everything(client)

    with Server(args=args, env=env) as srv:
        assert everything(srv.client()) == before
        assert "skipped" not in srv.log()
