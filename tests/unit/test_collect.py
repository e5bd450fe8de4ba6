"""The code collector (store/collect.py) in process: reachability over functions, versions and
layers, tombstones dropped with their counter kept, guarded and in-use entries kept for now,
links never followed, staging removed only when an earlier server left it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from locallambda.model.tasks import TaskScope
from locallambda.store.code import CodeStore
from locallambda.store.collect import Collection, Collector
from locallambda.store.documents import DocumentStore
from locallambda.store.functions import FunctionRecord, FunctionRegistry, VersionRecord
from locallambda.store.layers import LayerStore
from locallambda.testing import ManualClock, async_test
from tests.conftest import make_zip

LAYER = "arn:aws:lambda:us-east-1:000000000000:layer:lib"


class Rig:
    def __init__(self, root: Path) -> None:
        self.store = DocumentStore(None)
        self.code = CodeStore(root / "code")
        self.functions = FunctionRegistry(self.store)
        self.layers = LayerStore(self.store, self.code)
        self.clock = ManualClock()
        self.tasks = TaskScope("test")
        self.using: list[Path] = []
        self.collector = Collector(
            self.code,
            self.functions,
            self.layers,
            self.store,
            self.tasks,
            self.clock,
            in_use=self.in_use,
        )

    def in_use(self) -> Iterable[Path]:
        return list(self.using)

    def archive(self, tag: str) -> str:
        return self.code.put_zip(make_zip({"f.py": tag}), 10_000_000).sha256_hex

    def function(self, name: str, sha: str, versions: dict[str, str] | None = None, layers: Any = ()) -> None:
        def version(number: str, digest: str) -> VersionRecord:
            cfg: dict[str, Any] = {"Version": number, "Layers": [{"Arn": arn} for arn in layers]}
            return VersionRecord(cfg, code_sha256_hex=digest)

        record = FunctionRecord(name, "us-east-1", "000000000000", version("$LATEST", sha))
        record.versions = {n: version(n, d) for n, d in (versions or {}).items()}
        self.functions.add(record)

    def layer(self, shas: dict[int, tuple[str, bool]]) -> None:
        """Layer ``lib`` with versions number → (archive, deleted)."""
        versions = {
            str(n): {"config": {"LayerVersionArn": f"{LAYER}:{n}", "Version": n}, "sha_hex": sha, "deleted": deleted}
            for n, (sha, deleted) in shas.items()
        }
        self.layers.docs.put("us-east-1/000000000000/lib", {"next_version": max(shas) + 1, "versions": versions})

    def stored(self, sha: str) -> bool:
        return self.code.zip_path(sha).exists() or self.code.tree_path(sha).exists()

    def names(self, kind: str) -> set[str]:
        return {p.name for p in (self.code.root / kind).iterdir()}


@async_test
async def test_what_nothing_references_goes_and_shared_archives_stay(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    shared, v1, live, used_tomb, free_tomb, orphan = (rig.archive(t) for t in "abcdef")
    rig.layer({1: (live, False), 2: (used_tomb, True), 3: (free_tomb, True), 4: (shared, True)})
    rig.function("one", shared, {"1": v1}, layers=[f"{LAYER}:2"])
    rig.function("two", shared)
    opt = rig.layers.opt_tree([f"{LAYER}:2"])
    assert opt is not None

    outcome = await rig.collector.collect()

    assert outcome == Collection(removed=2)
    assert [rig.stored(s) for s in (shared, v1, live, used_tomb, free_tomb, orphan)] == [1, 1, 1, 1, 0, 0]
    assert opt.is_dir()
    doc = rig.layers.docs.get("us-east-1/000000000000/lib")
    assert sorted(doc["versions"]) == ["1", "2"]  # unused tombstones dropped (4 shared its archive)
    assert doc["next_version"] == 5

    # Version 1 goes: its code and its /opt go, the tombstone it used with them.
    record = rig.functions.get("us-east-1", "one")
    assert record is not None
    del record.versions["1"]
    record.latest.config["Layers"] = []
    assert (await rig.collector.collect()).removed == 3
    assert not rig.stored(v1) and not rig.stored(used_tomb) and not opt.exists()
    assert rig.stored(shared) and rig.stored(live)
    assert sorted(rig.layers.docs.get("us-east-1/000000000000/lib")["versions"]) == ["1"]
    assert not any(name.startswith(".") for kind in ("zips", "trees", "opt") for name in rig.names(kind))


@async_test
async def test_guarded_and_in_use_entries_are_kept_for_now(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    mark = rig.code.mark()
    fresh = rig.archive("stored after the run began, for a record not saved yet")
    assert await rig.collector.collect(mark) == Collection(held=1)
    assert rig.stored(fresh)

    with rig.code.guard(rig.code.tree_path(fresh)):  # being stored right now
        assert await rig.collector.collect() == Collection(held=1)
    assert rig.stored(fresh)

    rig.using.append(rig.code.tree_path(fresh))  # a live environment runs it
    assert await rig.collector.collect() == Collection(held=1)
    rig.using.clear()
    assert await rig.collector.collect() == Collection(removed=1)
    assert not rig.stored(fresh)


@async_test
async def test_links_are_removed_never_followed(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    outside = tmp_path / "outside"
    (outside / ("e" * 40)).mkdir(parents=True)
    (outside / "precious").write_text("keep")
    (rig.code.root / "trees" / ("c" * 64)).symlink_to(outside, target_is_directory=True)
    (rig.code.root / "opt").symlink_to(outside, target_is_directory=True)  # a directory of the root elsewhere

    assert await rig.collector.collect() == Collection(removed=1)
    assert rig.names("trees") == set()
    assert (outside / "precious").read_text() == "keep" and (outside / ("e" * 40)).is_dir()


@async_test
async def test_staging_goes_only_when_an_earlier_server_left_it(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    (rig.code.root / "trees" / ".staging-crashed").mkdir()
    (rig.code.root / "zips" / ".staging-crashed").write_bytes(b"half")
    await rig.collector.start()
    (rig.code.root / "trees" / ".staging-writing-now").mkdir()
    await rig.clock.advance(1.0)
    for _ in range(500):  # the run's sweep is in a worker thread: up to 5 real seconds
        if ".staging-crashed" not in rig.names("trees") | rig.names("zips"):
            break
        await asyncio.sleep(0.01)
    assert rig.names("trees") == {".staging-writing-now"} and rig.names("zips") == set()
    rig.collector.close()
    await rig.tasks.close()
