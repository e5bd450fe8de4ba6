"""Deleted code is deleted: the archives, extracted trees and merged /opt trees under
``<data-dir>/code`` go once nothing references them, and never while something does.

Through a real server with persistence on: functions, versions and layers sharing archives and
not, deleted in different orders, with assertions on the files left. Removal happens in the
background a little after a deletion, so absence is awaited with a deadline; presence is
asserted once a removal deleted at the same time (a sentinel) was seen, so the collector has run.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROLE, Server, make_zip
from tests.invoke.conftest import CLI_ENV, EXECUTOR, HOST_PYTHON_RUNTIME, stop_checked

DEADLINE_S = 30.0

# A handler that reads a file of its own code and, when there, imports the layer's module.
HANDLER = (
    "import os, time\n"
    "def handler(event, context):\n"
    "    time.sleep(event.get('sleep', 0))\n"
    "    own = open(os.path.join(os.environ['LAMBDA_TASK_ROOT'], 'data.txt')).read()\n"
    "    try:\n"
    "        import shared_layer\n"
    "        layer = shared_layer.VALUE\n"
    "    except ImportError:\n"
    "        layer = None\n"
    "    return {'own': own, 'layer': layer}\n"
)


def code(tag: str) -> bytes:
    return make_zip({"handler.py": HANDLER, "data.txt": tag})


def layer_zip(tag: str) -> bytes:
    return make_zip({"python/shared_layer.py": f"VALUE = {tag!r}\n"})


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def entries(data_dir: Path) -> dict[str, set[str]]:
    """The names in each directory of the code root."""
    root = data_dir / "code"
    return {
        kind: {p.name for p in (root / kind).iterdir()} if (root / kind).is_dir() else set()
        for kind in ("zips", "trees", "opt")
    }


def stored(data_dir: Path, digest: str) -> bool:
    """Whether the archive is stored: its zip or its tree (both go together)."""
    found = entries(data_dir)
    return f"{digest}.zip" in found["zips"] or digest in found["trees"]


def wait_for(what: str, check: Callable[[], bool], timeout: float = DEADLINE_S) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout:.0f}s: {what}")


def wait_gone(data_dir: Path, *digests: str) -> None:
    wait_for(f"{digests} removed", lambda: not any(stored(data_dir, d) for d in digests))


def assert_stored(data_dir: Path, *digests: str) -> None:
    found = entries(data_dir)
    for digest in digests:
        assert f"{digest}.zip" in found["zips"] and digest in found["trees"], (digest, found)


def wait_empty(data_dir: Path) -> None:
    """Nothing at all left under the code root (no trash, no staging either)."""
    wait_for("the code root emptied", lambda: entries(data_dir) == {"zips": set(), "trees": set(), "opt": set()})


class Api:
    def __init__(self, server: Server) -> None:
        self.client = server.client()

    def create(self, name: str, zipped: bytes, **kw: Any) -> dict[str, Any]:
        out: dict[str, Any] = self.client.create_function(
            FunctionName=name,
            Runtime=HOST_PYTHON_RUNTIME,
            Handler="handler.handler",
            Role=ROLE,
            Code={"ZipFile": zipped},
            **kw,
        )
        return out

    def invoke(self, name: str, qualifier: str | None = None, **event: Any) -> Any:
        kw = {"Qualifier": qualifier} if qualifier else {}
        out = self.client.invoke(FunctionName=name, Payload=json.dumps(event), **kw)
        payload = out["Payload"].read()
        assert "FunctionError" not in out, payload
        return json.loads(payload)

    def publish_layer(self, name: str, zipped: bytes) -> str:
        return str(self.client.publish_layer_version(LayerName=name, Content={"ZipFile": zipped})["LayerVersionArn"])


def start(data_dir: Path, **env: str) -> Server:
    return Server(
        args=["--persistence", "on", "--data-dir", str(data_dir)],
        env={"LAMBDA_SYNCHRONOUS_CREATE": "1", "LAMBDA_EXECUTOR": EXECUTOR, **CLI_ENV, **env},
    ).start()


@pytest.fixture()
def server(tmp_path: Path) -> Iterator[tuple[Server, Path]]:
    data_dir = tmp_path / "data"
    srv = start(data_dir)
    try:
        yield srv, data_dir
    finally:
        stop_checked(srv)


def test_shared_archives_stay_while_referenced(tmp_path: Path) -> None:
    # A warm environment of a deleted version keeps its code while it lives (the pool keeps it
    # until its keep-alive ends): a short keep-alive lets that end within the test.
    data = tmp_path / "data"
    srv = start(data, LAMBDA_KEEPALIVE_MS="2000")
    try:
        _shared_archives(srv, data)
    finally:
        stop_checked(srv)


def _shared_archives(srv: Server, data: Path) -> None:
    api = Api(srv)
    shared, solo, solo2, newer = code("shared"), code("solo"), code("solo2"), code("newer")
    api.create("share-a", shared, Publish=True)  # $LATEST and version 1 use `shared`
    api.create("share-b", shared)
    api.create("solo", solo)
    api.create("solo2", solo2)
    api.client.update_function_code(FunctionName="share-a", ZipFile=newer)  # $LATEST: newer; 1: shared
    assert_stored(data, sha(shared), sha(solo), sha(solo2), sha(newer))

    # share-b goes, but version 1 of share-a still uses the shared archive.
    api.client.delete_function(FunctionName="share-b")
    api.client.delete_function(FunctionName="solo")
    wait_gone(data, sha(solo))
    assert_stored(data, sha(shared), sha(newer), sha(solo2))
    assert api.invoke("share-a", "1") == {"own": "shared", "layer": None}

    # The last user of the shared archive goes: its version.
    api.client.delete_function(FunctionName="share-a", Qualifier="1")
    wait_gone(data, sha(shared))
    assert_stored(data, sha(newer), sha(solo2))
    assert api.invoke("share-a") == {"own": "newer", "layer": None}
    assert api.invoke("solo2") == {"own": "solo2", "layer": None}

    api.client.delete_function(FunctionName="share-a")
    api.client.delete_function(FunctionName="solo2")
    wait_empty(data)


def test_a_deleted_layer_version_stays_while_a_function_uses_it(server: tuple[Server, Path]) -> None:
    srv, data = server
    api = Api(srv)
    used, unused, fn_code = layer_zip("used"), layer_zip("unused"), code("fn")
    used_arn = api.publish_layer("lib", used)
    unused_arn = api.publish_layer("other", unused)
    api.create("uses-layer", fn_code, Layers=[used_arn], Publish=True)  # $LATEST and 1 use it
    assert api.invoke("uses-layer") == {"own": "fn", "layer": "used"}
    opt_trees = entries(data)["opt"]
    assert len(opt_trees) == 1

    # Both layer versions deleted: the unused one's archive goes, the used one's stays with /opt.
    layer_name = used_arn.split(":")[6]
    api.client.delete_layer_version(LayerName=layer_name, VersionNumber=1)
    api.client.delete_layer_version(LayerName=unused_arn.split(":")[6], VersionNumber=1)
    wait_gone(data, sha(unused))
    assert_stored(data, sha(used), sha(fn_code))
    assert entries(data)["opt"] == opt_trees
    assert api.invoke("uses-layer", "1") == {"own": "fn", "layer": "used"}
    # A new environment (not a warm one) still gets the deleted version's content.
    api.client.update_function_configuration(FunctionName="uses-layer", Description="fresh environment")
    api.client.get_waiter("function_updated_v2").wait(FunctionName="uses-layer", WaiterConfig={"Delay": 0.2})
    assert api.invoke("uses-layer") == {"own": "fn", "layer": "used"}
    cfg = api.client.get_function_configuration(FunctionName="uses-layer")
    assert [layer["Arn"] for layer in cfg["Layers"]] == [used_arn]

    # $LATEST drops the layer; version 1 still lists it: kept.
    api.client.update_function_configuration(FunctionName="uses-layer", Layers=[])
    api.client.get_waiter("function_updated_v2").wait(FunctionName="uses-layer", WaiterConfig={"Delay": 0.2})
    sentinel = code("sentinel")
    api.create("sentinel", sentinel)
    api.client.delete_function(FunctionName="sentinel")
    wait_gone(data, sha(sentinel))
    assert_stored(data, sha(used))
    assert entries(data)["opt"] == opt_trees
    assert api.invoke("uses-layer", "1") == {"own": "fn", "layer": "used"}

    # Its last user goes: archive and /opt tree too. Numbering goes on where it stopped.
    api.client.delete_function(FunctionName="uses-layer")
    wait_empty(data)
    assert api.publish_layer(layer_name, used).endswith(":2")
    with pytest.raises(api.client.exceptions.ResourceNotFoundException):
        api.client.get_layer_version(LayerName=layer_name, VersionNumber=1)


def test_layer_and_function_share_an_archive(server: tuple[Server, Path]) -> None:
    srv, data = server
    api = Api(srv)
    both = code("both")  # published as a layer and used as a function's code
    arn = api.publish_layer("same", both)
    api.create("same-code", both)
    api.client.delete_layer_version(LayerName=arn.split(":")[6], VersionNumber=1)
    sentinel = code("sentinel")
    api.create("sentinel", sentinel)
    api.client.delete_function(FunctionName="sentinel")
    wait_gone(data, sha(sentinel))
    assert_stored(data, sha(both))
    assert api.invoke("same-code") == {"own": "both", "layer": None}

    # The other way round: a function goes first while a layer version keeps the archive.
    arn2 = api.publish_layer("same2", both)
    api.client.delete_function(FunctionName="same-code")
    api.create("sentinel", sentinel)
    api.client.delete_function(FunctionName="sentinel")
    wait_gone(data, sha(sentinel))
    assert_stored(data, sha(both))
    api.client.delete_layer_version(LayerName=arn2.split(":")[6], VersionNumber=1)
    wait_empty(data)


def test_code_in_use_stays_until_its_invocation_ends(server: tuple[Server, Path]) -> None:
    srv, data = server
    api = Api(srv)
    slow = code("slow")
    api.create("slow", slow, Timeout=30)
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(api.invoke, "slow", sleep=4)
        time.sleep(1.0)  # the environment has started and is sleeping
        api.client.delete_function(FunctionName="slow")
        # The handler reads its code directory after the deletion: it must still be there.
        assert running.result(timeout=60) == {"own": "slow", "layer": None}
    wait_empty(data)


def test_hot_reloaded_code_is_never_deleted(server: tuple[Server, Path], tmp_path: Path) -> None:
    srv, data = server
    api = Api(srv)
    user_dir = tmp_path / "my-code"
    user_dir.mkdir()
    (user_dir / "handler.py").write_text(HANDLER)
    (user_dir / "data.txt").write_text("live")
    api.client.create_function(
        FunctionName="hot",
        Runtime=HOST_PYTHON_RUNTIME,
        Handler="handler.handler",
        Role=ROLE,
        Code={"S3Bucket": "hot-reload", "S3Key": str(user_dir)},
    )
    assert api.invoke("hot") == {"own": "live", "layer": None}
    sentinel = code("sentinel")
    api.create("sentinel", sentinel)
    api.client.delete_function(FunctionName="hot")
    api.client.delete_function(FunctionName="sentinel")
    wait_gone(data, sha(sentinel))
    assert sorted(p.name for p in user_dir.iterdir()) == ["data.txt", "handler.py"]
    assert (user_dir / "data.txt").read_text() == "live"


def test_a_restart_removes_what_a_crash_left_and_keeps_the_rest(tmp_path: Path) -> None:
    data = tmp_path / "data"
    keep, gone = code("keep"), code("gone")
    srv = start(data)
    try:
        api = Api(srv)
        api.create("keep", keep, Publish=True)
        api.create("gone", gone)
        api.client.delete_function(FunctionName="gone")
        wait_gone(data, sha(gone))
    finally:
        stop_checked(srv)

    # What a crash can leave: staging of an unfinished write, an archive stored for a record
    # never saved, trash not yet deleted.
    root = data / "code"
    orphan = "ab" * 32
    (root / "trees" / orphan).mkdir()
    (root / "trees" / orphan / "handler.py").write_text("x")
    (root / "zips" / f"{orphan}.zip").write_bytes(b"zip")
    (root / "trees" / ".staging-crashed").mkdir()
    (root / "trees" / ".staging-crashed" / "half.py").write_text("x")
    (root / "zips" / ".staging-crashed").write_bytes(b"half")
    (root / "trees" / ".trash-crashed").mkdir()
    # A link planted in the root is removed as a link; what it points to is left alone.
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious.txt").write_text("keep me")
    (root / "trees" / ("cd" * 32)).symlink_to(outside, target_is_directory=True)

    srv = start(data)
    try:
        api = Api(srv)
        wait_for(
            "the crash's leftovers removed",
            lambda: entries(data) == {"zips": {f"{sha(keep)}.zip"}, "trees": {sha(keep)}, "opt": set()},
        )
        assert (outside / "precious.txt").read_text() == "keep me"
        assert api.invoke("keep") == {"own": "keep", "layer": None}
        assert api.invoke("keep", "1") == {"own": "keep", "layer": None}
        assert [f["FunctionName"] for f in api.client.list_functions()["Functions"]] == ["keep"]
        api.client.delete_function(FunctionName="keep")
        wait_empty(data)
    finally:
        stop_checked(srv)
    srv = start(data)
    try:
        assert Api(srv).client.list_functions()["Functions"] == []
        assert entries(data) == {"zips": set(), "trees": set(), "opt": set()}
    finally:
        stop_checked(srv)
