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
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from locallambda.errors import ExecutorError
from locallambda.executors.docker.daemon import tolerated, translated
from locallambda.model.spec import FunctionSpec
from locallambda.runtimes.catalogue import IMAGE_TAGS, default_image
from locallambda.settings import Settings

__all__ = ["ImageInfo", "image_for", "inspect_image"]

log = logging.getLogger(__name__)


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
        log.info("docker executor: pulling %s", image)
        with translated(f"The image {image} is not available and could not be pulled"):
            found = client.images.pull(image)
    config = found.attrs.get("Config") or {}
    return ImageInfo(
        entrypoint=tuple(config.get("Entrypoint") or ()),
        command=tuple(config.get("Cmd") or ()),
        has_shell=_has_shell(client.api, image, labels) if probe_shell else True,
    )


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
