"""The docker executor's pulls say in the log what they pull and how far they are.

No registry is reachable in the test run, so the test serves one: a small image (a layer of 3 MB
of random bytes, built ``FROM scratch``) is saved with ``docker save`` and served over the
Registry HTTP API v2 (``/v2/``, manifests, blobs) on loopback, which the daemon trusts without
TLS. The daemon pulls it for real, and its own progress events are what ``images.pull`` reads.
"""

from __future__ import annotations

import gzip
import hashlib
import http.server
import json
import logging
import os
import re
import subprocess
import tarfile
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from locallambda.errors import ExecutorError
from locallambda.executors.docker.images import inspect_image, pull
from tests.executors.test_docker import require_docker

pytestmark = pytest.mark.docker

MANIFEST_TYPE = "application/vnd.docker.distribution.manifest.v2+json"
PROGRESS = re.compile(r"(\d+) of (\d+) layers done, ([0-9.]+) of ([0-9.]+) MB downloaded")


def saved_image(root: Path) -> dict[str, bytes]:
    """Blobs by digest (the config, the gzipped layer) and the manifest (key ``manifest``) of a
    freshly built one-layer image."""
    context = root / "context"
    context.mkdir()
    (context / "blob.bin").write_bytes(os.urandom(3_000_000))
    (context / "Dockerfile").write_text("FROM scratch\nCOPY blob.bin /blob.bin\n")
    tag = f"locallambda-test/pull-probe:{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "DOCKER_BUILDKIT": "0"}
    subprocess.run(
        ["docker", "build", "-q", "-t", tag, str(context)], check=True, capture_output=True, timeout=120, env=env
    )
    try:
        subprocess.run(
            ["docker", "save", "-o", str(root / "image.tar"), tag], check=True, capture_output=True, timeout=60
        )
    finally:
        subprocess.run(["docker", "rmi", "-f", tag], capture_output=True, timeout=60)
    with tarfile.open(root / "image.tar") as tar:
        tar.extractall(root / "saved", filter="data")
    (entry,) = json.loads((root / "saved" / "manifest.json").read_text())
    config = (root / "saved" / entry["Config"]).read_bytes()
    layers = [gzip.compress((root / "saved" / name).read_bytes(), compresslevel=1) for name in entry["Layers"]]

    def digest(data: bytes) -> str:
        return "sha256:" + hashlib.sha256(data).hexdigest()

    manifest = {
        "schemaVersion": 2,
        "mediaType": MANIFEST_TYPE,
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "size": len(config),
            "digest": digest(config),
        },
        "layers": [
            {"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": len(b), "digest": digest(b)}
            for b in layers
        ],
    }
    return {digest(config): config, **{digest(b): b for b in layers}, "manifest": json.dumps(manifest).encode()}


class Registry(http.server.ThreadingHTTPServer):
    """The Registry HTTP API v2, read-only, of one image under any name and tag."""

    def __init__(self, blobs: dict[str, bytes]) -> None:
        self.blobs = blobs
        super().__init__(("127.0.0.1", 0), _Handler)


class _Handler(http.server.BaseHTTPRequestHandler):
    server: Registry

    def do_HEAD(self) -> None:
        self._answer(body=False)

    def do_GET(self) -> None:
        self._answer(body=True)

    def _answer(self, *, body: bool) -> None:
        data: bytes | None = None
        kind = "application/json"
        if self.path.rstrip("/") == "/v2":
            data = b"{}"
        elif "/manifests/" in self.path:
            data, kind = self.server.blobs["manifest"], MANIFEST_TYPE
        elif "/blobs/" in self.path:
            data, kind = self.server.blobs.get(self.path.rpartition("/")[2]), "application/octet-stream"
        if data is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Docker-Content-Digest", "sha256:" + hashlib.sha256(data).hexdigest())
        self.send_header("Docker-Distribution-API-Version", "registry/2.0")
        self.end_headers()
        if body:
            self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    require_docker()
    server = Registry(saved_image(tmp_path_factory.mktemp("registry")))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture()
def client() -> Iterator[Any]:
    import docker

    client = docker.from_env(timeout=60)
    try:
        yield client
    finally:
        client.close()


def test_a_pull_logs_what_it_pulls_and_how_far_it_is(
    registry: str, client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    image = f"{registry}/probe-{uuid.uuid4().hex[:8]}:1"
    caplog.set_level(logging.INFO, logger="locallambda.executors.docker.images")
    try:
        pulled = pull(client, image, every_s=0)  # a line per event of the daemon
        assert image in pulled.tags
        lines = [r.getMessage() for r in caplog.records]
        assert lines[0] == f"docker executor: pulling {image}", lines
        progress = [tuple(float(n) for n in PROGRESS.search(line).groups()) for line in lines[1:]]  # type: ignore[union-attr]
        assert len(progress) >= 3, lines
        # Downloaded bytes only grow; the last line: the one layer done, every byte of it.
        downloaded = [p[2] for p in progress]
        assert downloaded == sorted(downloaded), lines
        done, layers, got, known = progress[-1]
        assert (done, layers) == (1, 1) and got == known and 2.9 < known < 3.2, lines[-1]
        assert lines[-1].startswith(f"docker executor: pulled {image}: 1 of 1 layers done"), lines[-1]
    finally:
        client.images.remove(image, force=True)


def test_an_image_that_is_missing_is_pulled_by_inspect_image(registry: str, client: Any) -> None:
    """What the executor calls: an image the daemon lacks is pulled; one no registry has fails."""
    image = f"{registry}/probe-{uuid.uuid4().hex[:8]}:2"
    try:
        assert inspect_image(client, image, probe_shell=False, labels={}).command == ()
    finally:
        client.images.remove(image, force=True)
    with pytest.raises(ExecutorError, match="is not available and could not be pulled"):
        inspect_image(client, "127.0.0.1:9/none:latest", probe_shell=False, labels={})
