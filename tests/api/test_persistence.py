"""Persistence: with it on, a restarted server has every function, version and archive; with it
off, nothing outlives the process and nothing is written outside a temporary directory."""

from __future__ import annotations

import re
import urllib.request
from pathlib import Path
from typing import Any

from tests.conftest import ROLE, Server, make_zip


def code(n: int) -> bytes:
    return make_zip({"handler.py": f"def handler(event, context):\n    return {n}\n"})


def settle(client: Any, name: str) -> None:
    cfg = {"Delay": 0.1, "MaxAttempts": 100}
    client.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig=cfg)
    client.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig=cfg)


def snapshot(client: Any, names: list[str]) -> dict[str, Any]:
    """Everything the API shows about the functions, minus the server's own address."""
    out: dict[str, Any] = {}
    for name in names:
        versions = client.list_versions_by_function(FunctionName=name)["Versions"]
        out[name] = {"versions": versions}
        for v in versions:
            got = client.get_function(FunctionName=name, Qualifier=v["Version"])
            got.pop("ResponseMetadata")
            got["Code"].pop("Location")
            out[name][v["Version"]] = got
    return out


def download(client: Any, name: str, qualifier: str = "$LATEST") -> bytes:
    location = client.get_function(FunctionName=name, Qualifier=qualifier)["Code"]["Location"]
    with urllib.request.urlopen(location, timeout=10) as resp:
        return bytes(resp.read())


def test_state_and_code_survive_a_restart(tmp_path: Path) -> None:
    data = tmp_path / "data"
    args = ["--persistence", "on", "--data-dir", str(data)]
    with Server(args=args) as srv:
        client = srv.client()
        client.create_function(
            FunctionName="keep-a",
            Runtime="python3.12",
            Handler="handler.handler",
            Role=ROLE,
            Code={"ZipFile": code(1)},
            Publish=True,
            Tags={"team": "a"},
        )
        settle(client, "keep-a")
        client.update_function_configuration(
            FunctionName="keep-a", Description="second", MemorySize=256, Environment={"Variables": {"KEY": "value"}}
        )
        settle(client, "keep-a")
        client.update_function_code(FunctionName="keep-a", ZipFile=code(2), Publish=True)
        settle(client, "keep-a")
        client.create_function(
            FunctionName="keep-b", Runtime="nodejs18.x", Handler="index.handler", Role=ROLE, Code={"ZipFile": code(3)}
        )
        settle(client, "keep-b")
        west = srv.client(region="us-west-2")
        west.create_function(
            FunctionName="keep-west",
            Runtime="python3.12",
            Handler="handler.handler",
            Role=ROLE,
            Code={"ZipFile": code(4)},
        )
        settle(west, "keep-west")
        before = snapshot(client, ["keep-a", "keep-b"])
        before_west = snapshot(west, ["keep-west"])
    assert (data / "state.sqlite3").is_file()
    assert len(list((data / "code" / "zips").glob("*.zip"))) == 4

    with Server(args=args) as srv:  # a new process on a new port
        client = srv.client()
        assert snapshot(client, ["keep-a", "keep-b"]) == before
        assert snapshot(srv.client(region="us-west-2"), ["keep-west"]) == before_west
        assert [v["Version"] for v in before["keep-a"]["versions"]] == ["$LATEST", "1", "2"]
        assert before["keep-a"]["$LATEST"]["Configuration"]["Environment"] == {"Variables": {"KEY": "value"}}
        assert before["keep-a"]["$LATEST"]["Tags"] == {"team": "a"}
        assert download(client, "keep-a") == code(2)
        assert download(client, "keep-a", "1") == code(1)
        assert download(client, "keep-b") == code(3)
        assert download(srv.client(region="us-west-2"), "keep-west") == code(4)
        # Numbering continues where it stopped, and changes still persist.
        client.update_function_configuration(FunctionName="keep-a", Description="third")
        settle(client, "keep-a")
        assert client.publish_version(FunctionName="keep-a")["Version"] == "3"
        client.delete_function(FunctionName="keep-b")

    with Server(args=args) as srv:
        names = {f["FunctionName"] for f in srv.client().list_functions()["Functions"]}
        assert names == {"keep-a"}
        assert (
            srv.client().get_function(FunctionName="keep-a", Qualifier="3")["Configuration"]["Description"] == "third"
        )


def test_persistence_from_localstack_variables(tmp_path: Path) -> None:
    env = {"PERSISTENCE": "1", "DATA_DIR": str(tmp_path / "ls-data")}
    with Server(env=env) as srv:
        client = srv.client()
        client.create_function(
            FunctionName="env-persisted",
            Runtime="python3.12",
            Handler="handler.handler",
            Role=ROLE,
            Code={"ZipFile": code(5)},
        )
        settle(client, "env-persisted")
    assert (tmp_path / "ls-data" / "state.sqlite3").is_file()
    with Server(env=env) as srv:
        assert download(srv.client(), "env-persisted") == code(5)


def test_persistence_off_writes_only_a_temporary_directory(tmp_path: Path) -> None:
    given = tmp_path / "given-data-dir"
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    srv = Server(args=["--data-dir", str(given)], env={"TMPDIR": str(scratch)})
    with srv:
        client = srv.client()
        client.create_function(
            FunctionName="ephemeral",
            Runtime="python3.12",
            Handler="handler.handler",
            Role=ROLE,
            Code={"ZipFile": code(6)},
        )
        settle(client, "ephemeral")
        match = re.search(r"\(data: ([^)]+)\)", srv.log())
        assert match, srv.log()
        temp_data = Path(match.group(1))
        assert temp_data.parent == scratch, "persistence off must use a temporary directory"
        assert list((temp_data / "code" / "zips").glob("*.zip"))
        assert not (temp_data / "state.sqlite3").exists()
    assert not temp_data.exists(), "the temporary data directory outlived the server"
    assert list(scratch.iterdir()) == []
    assert not given.exists(), "persistence off wrote into --data-dir"
    with Server(args=["--data-dir", str(given)]) as srv:
        assert srv.client().list_functions()["Functions"] == []
