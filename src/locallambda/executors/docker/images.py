"""The image an environment starts from, and what the executor needs to know of it.

A zip function runs in its runtime's image: AWS's official base images
(``public.ecr.aws/lambda/<repo>:<tag>``, from the runtime catalogue), remapped by LocalStack's
``LAMBDA_RUNTIME_IMAGE_MAPPING`` (a JSON map runtime → image, other runtimes keeping their
default, or a pattern whose ``<runtime>`` is replaced by the runtime). A container image
function (``PackageType=Image``) runs its own ``ImageUri``.

Of an image the executor needs its ``ENTRYPOINT`` and ``CMD`` (an image function runs them,
under ImageConfig's overrides) and whether it has a ``/bin/sh`` (the output FIFO needs one to
redirect the entrypoint's output; the official images always do). An image the daemon lacks is
pulled, as ``docker run`` would.

A pull can take minutes (an official image is a few hundred MB), and the function stays Pending
meanwhile: the server's log says what is pulled, how far it is every ``PROGRESS_EVERY_S``
(layers done, bytes downloaded of those known, from the daemon's own progress events), and when
it is done (``PullProgress``).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from locallambda.errors import ExecutorError
from locallambda.executors.docker.daemon import tolerated, translated
from locallambda.model.spec import FunctionSpec
from locallambda.runtimes.catalogue import IMAGE_TAGS, default_image
from locallambda.settings import Settings

__all__ = ["PROGRESS_EVERY_S", "ImageInfo", "PullProgress", "image_for", "inspect_image", "pull"]

log = logging.getLogger(__name__)

PROGRESS_EVERY_S = 5.0
_DONE = ("Pull complete", "Already exists")


@dataclasses.dataclass(frozen=True, slots=True)
class ImageInfo:
    """What the executor knows of an image: its ENTRYPOINT, its CMD, whether it has ``/bin/sh``."""

    entrypoint: tuple[str, ...] = ()
    command: tuple[str, ...] = ()
    has_shell: bool = True


def image_for(spec: FunctionSpec, settings: Settings) -> str:
    """The image of an environment: the function's own, or its runtime's (remapped).

    Raises ``ExecutorError`` for an image function without an ImageUri or a runtime without an
    image.
    """
    if spec.package_type == "Image":
        if not spec.image_uri:
            raise ExecutorError("The function has no ImageUri.")
        return spec.image_uri
    runtime = spec.runtime or ""
    if runtime not in IMAGE_TAGS:
        raise ExecutorError(f"The runtime {runtime or '(none)'} has no container image.")
    mapped = settings.runtime_image_mapping.get(runtime)
    if mapped:
        return mapped
    if settings.runtime_image_pattern:
        return settings.runtime_image_pattern.replace("<runtime>", runtime)
    return default_image(runtime)


def inspect_image(client: Any, image: str, *, probe_shell: bool, labels: dict[str, str]) -> ImageInfo:
    """Blocking: the image's entrypoint and command, pulling it unless the daemon has it.

    ``probe_shell`` looks whether it has ``/bin/sh`` (in a container, carrying ``labels``, that
    never starts); otherwise a shell is assumed, as runtime images have. Raises
    ``ExecutorError`` when the image can be neither found nor pulled.
    """
    found = _find(client, image)
    if found is None:
        with translated(f"The image {image} is not available and could not be pulled"):
            found = pull(client, image)
    config = found.attrs.get("Config") or {}
    return ImageInfo(
        entrypoint=tuple(config.get("Entrypoint") or ()),
        command=tuple(config.get("Cmd") or ()),
        has_shell=_has_shell(client.api, image, labels) if probe_shell else True,
    )


class PullProgress:
    """How far a pull is, from the daemon's progress events (``{"status", "id",
    "progressDetail": {"current", "total"}}`` per layer; ``{"error"}`` for a failure)."""

    def __init__(self, image: str) -> None:
        self.image = image
        self._layers: dict[str, tuple[int, int]] = {}  # id → (bytes downloaded, of bytes)
        self._done: set[str] = set()

    def update(self, event: Mapping[str, Any]) -> None:
        """One event of the daemon. Raises ``ExecutorError`` for an error event."""
        if event.get("error"):
            detail = event.get("errorDetail") or {}
            raise ExecutorError(
                f"The image {self.image} could not be pulled: {detail.get('message') or event['error']}"
            )
        layer, status = event.get("id"), str(event.get("status") or "")
        if not layer or status.startswith(("Pulling from", "Digest", "Status")):
            return  # about the image, not a layer
        current, total = self._layers.get(str(layer), (0, 0))
        detail = event.get("progressDetail") or {}
        if status == "Downloading" and detail.get("total"):
            current, total = int(detail.get("current") or 0), int(detail["total"])
        elif status in ("Download complete", "Verifying Checksum", "Extracting", *_DONE):
            current = total
        self._layers[str(layer)] = (current, total)
        if status in _DONE:
            self._done.add(str(layer))

    def summary(self) -> str:
        """``3 of 7 layers done, 45.2 of 120.0 MB downloaded`` (bytes of the layers whose size is known yet)."""
        downloaded = sum(current for current, _ in self._layers.values()) / 1e6
        known = sum(total for _, total in self._layers.values()) / 1e6
        return f"{len(self._done)} of {len(self._layers)} layers done, {downloaded:.1f} of {known:.1f} MB downloaded"


def pull(
    client: Any, image: str, *, every_s: float = PROGRESS_EVERY_S, clock: Callable[[], float] = time.monotonic
) -> Any:
    """Blocking: pull ``image`` (tag ``latest`` when it names none), its progress in the log at
    the start, every ``every_s`` and at the end; the image pulled. Raises ``ExecutorError`` for
    a failure the daemon reports in its events, and what the SDK raises."""
    from docker.utils import parse_repository_tag

    repository, tag = parse_repository_tag(image)
    started = shown = clock()
    progress = PullProgress(image)
    log.info("docker executor: pulling %s", image)
    events: Iterable[Mapping[str, Any]] = client.api.pull(repository, tag=tag or "latest", stream=True, decode=True)
    for event in events:
        progress.update(event)
        now = clock()
        if now - shown >= every_s:
            shown = now
            log.info("docker executor: pulling %s: %s (%.0f s)", image, progress.summary(), now - started)
    log.info("docker executor: pulled %s: %s in %.1f s", image, progress.summary(), clock() - started)
    return client.images.get(image if tag or "@" in image else f"{image}:latest")


def _find(client: Any, image: str) -> Any | None:
    """The daemon's image of that name, or None when it has none. Raises ``ExecutorError``."""
    import docker.errors

    with translated(f"The image {image} could not be inspected"):
        try:
            return client.images.get(image)
        except docker.errors.ImageNotFound:
            return None


def _has_shell(api: Any, image: str, labels: dict[str, str]) -> bool:
    """Whether ``image`` holds ``/bin/sh``, looked up in a created container that never starts."""
    container: dict[str, Any] | None = None
    try:
        with tolerated(f"looking for /bin/sh in {image}"):
            container = api.create_container(image, entrypoint=["/bin/sh"], labels=dict(labels))
            api.get_archive(container["Id"], "/bin/sh")
            return True
        return False
    finally:
        if container is not None:
            with tolerated(f"removing the probe container of {image}"):
                api.remove_container(container["Id"], force=True)
