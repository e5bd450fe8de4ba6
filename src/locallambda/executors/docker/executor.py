"""The docker executor: one container per execution environment.

LocalStack's ``LAMBDA_EXECUTOR=docker`` (a fresh container per invoke, ``reuse=False``) and
``docker-reuse`` (warm containers kept under ``LAMBDA_KEEPALIVE_MS``, ``reuse=True``); container
image functions (``PackageType=Image``) always run here.

This class only connects the parts: ``daemon.py`` (the connection, the one boundary for the
daemon's errors), ``images.py`` (which image, what it runs), ``config.py`` (the create
configuration: code and layers mounted or copied, network, limits, labels), ``copies.py`` (the
archive copied in), ``output.py`` (the output FIFO), ``container.py`` (a running container) and
``cleanup.py`` (whose containers are whose, and their removal).

Mounted or copied (``LAMBDA_DOCKER_CODE``): ``mount`` bind-mounts this machine's code, layers and
runtime files, and the output FIFO; ``copy`` mounts nothing of this machine: the container is
created, its files are copied in through the Docker API, then it starts, and its output comes
from docker's log stream; ``auto`` (the default) mounts for a daemon on this machine's unix
socket and copies for any other (a ``tcp://`` ``DOCKER_HOST``, even on loopback). Hot reload
needs nothing more when copying: a change retires the warm environments, and the next one's
container gets the directory as it is then.

The runtime reaches its Runtime API: with host networking (the default for a local daemon,
``LAMBDA_DOCKER_NETWORK=host``) the loopback address is used unchanged; on any other network the
host part becomes ``HOSTNAME_FROM_LAMBDA`` or the network's gateway, and the API must listen
beyond loopback (``runtime_api_host``).

After a timeout or a crash during an invocation, the environment is reset as AWS resets it
(lambda-runtime-environment.html, "Failures during the invoke phase"): the container's processes
are killed (``halt``) and the container kept, with its ``/tmp``; the next invocation starts the
same container again (``container.py``).

Lifetime: the first use connects to the daemon and removes the orphans of a run that died
without cleaning up (``LAMBDA_REMOVE_CONTAINERS=0`` keeps them). Creations and removals run in
the executor's ``TaskScope``; ``close()`` waits for them, then removes whatever carries this
server's label, all within ``CLOSE_TIMEOUT_S``, and logs what did not finish.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import sys
import threading
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from locallambda.errors import ExecutorError
from locallambda.executors.base import Executor, OutputSink, RuntimeProcess
from locallambda.executors.docker.cleanup import (
    identity_labels,
    pipes_directory,
    remove_container,
    remove_orphans,
    sweep,
)
from locallambda.executors.docker.config import (
    GATEWAY_ALIAS,
    ContainerConfig,
    container_config,
    container_name,
    network_mode,
)
from locallambda.executors.docker.container import DockerContainer, create_container
from locallambda.executors.docker.copies import Archives
from locallambda.executors.docker.daemon import connect, finished, tolerated
from locallambda.executors.docker.flags import DockerFlags, parse_docker_flags
from locallambda.executors.docker.images import ImageInfo, image_for, inspect_image
from locallambda.executors.docker.output import OutputPipe
from locallambda.model.spec import FunctionSpec
from locallambda.model.tasks import TaskScope
from locallambda.runtimes.catalogue import family
from locallambda.runtimes.commands import RuntimeCommands
from locallambda.runtimes.debuggers import debug_notice, debugpy_bundle
from locallambda.settings import Settings

__all__ = ["CLOSE_TIMEOUT_S", "DockerExecutor"]

log = logging.getLogger(__name__)

# Bounds the whole of ``close``: half for the creations and removals under way, the rest (at
# least ``_SWEEP_MIN_S``) for removing what is left.
CLOSE_TIMEOUT_S = 10.0
_SWEEP_MIN_S = 1.0
_SHUTTING_DOWN = "The docker executor is shutting down."


class DockerExecutor(Executor):
    name = "docker"

    def __init__(self, commands: RuntimeCommands, settings: Settings, tasks: TaskScope, *, reuse: bool) -> None:
        self._commands = commands
        self._scope = tasks
        self._settings = settings
        self.reuse = reuse
        self.server_id = uuid.uuid4().hex[:12]
        self._client: Any = None
        self._connect_lock = asyncio.Lock()
        self._local = False
        self._socket = False
        self._archives = Archives()
        self._images: dict[str, ImageInfo] = {}
        self._pipes: Path | None = None
        self._gateways: dict[str, str] = {}
        self._closed = False
        self._flags_problem: str | None = None
        try:
            self._flags = parse_docker_flags(settings.docker_flags)
        except ValueError as exc:
            self._flags = DockerFlags()
            self._flags_problem = f"LAMBDA_DOCKER_FLAGS is invalid: {exc}"
            log.error("%s", self._flags_problem)
        self._identity = identity_labels(self.server_id)

    @property
    def runtime_api_host(self) -> str:
        """Where an environment's Runtime API should listen for this executor's containers.

        Loopback is enough with host networking; on any other network the container comes in
        through the network's gateway, so the API must listen beyond loopback.
        """
        return "127.0.0.1" if self._network() == "host" else "0.0.0.0"

    # -- connection -----------------------------------------------------------------------

    async def _connect(self) -> Any:
        """The SDK client, connected on first use. Raises ``ExecutorError("Docker not available")``."""
        if self._client is not None:
            return self._client
        async with self._connect_lock:
            if self._client is None:
                self._client = await asyncio.to_thread(self._connect_blocking)
        return self._client

    def _connect_blocking(self) -> Any:
        client, placement = connect()
        self._local, self._socket = placement.local, placement.socket
        log.info("docker executor: code, layers and runtime files %s", "mounted" if self._mount else "copied")
        if self._settings.remove_containers:
            remove_orphans(client.api, self._identity)
        return client

    # -- Executor -------------------------------------------------------------------------

    def open(self) -> None:
        """Remove a dead server's containers now, not at the first use of Docker (which may never
        come): connect in the background; no daemon is not an error until a function needs one."""
        if self._settings.remove_containers:
            self._scope.spawn(self._connect_quietly(), name="docker orphan sweep")

    async def _connect_quietly(self) -> None:
        try:
            await self._connect()
        except ExecutorError as exc:
            log.debug("docker executor: no orphan sweep at start (%s)", exc)

    async def prepare(self, spec: FunctionSpec) -> str | None:
        if self._flags_problem:
            return self._flags_problem
        try:
            client = await self._connect()
            image = self.image_for(spec)
        except ExecutorError as exc:
            return str(exc)
        # Looked at afresh: a function update may follow a rebuild of its image under one tag.
        self._images.pop(image, None)
        try:
            await asyncio.to_thread(self._image_info, client, image, spec)
        except ExecutorError as exc:
            if spec.package_type == "Image":
                return f"Source image {image} does not exist. Provide a valid source image."
            return str(exc)
        return None

    def image_for(self, spec: FunctionSpec) -> str:
        """The image of an environment: the function's own, or its runtime's (remapped by
        ``LAMBDA_RUNTIME_IMAGE_MAPPING``). Raises ``ExecutorError`` for a runtime without an image."""
        return image_for(spec, self._settings)

    def _image_info(self, client: Any, image: str, spec: FunctionSpec) -> ImageInfo:
        """Blocking: what the image runs, looked at once (an image function's also for ``/bin/sh``)."""
        info = self._images.get(image)
        if info is None:
            info = inspect_image(client, image, probe_shell=spec.package_type == "Image", labels=self._identity)
            self._images[image] = info
        return info

    async def start(
        self, spec: FunctionSpec, runtime_api: str, environment: Mapping[str, str], output: OutputSink
    ) -> RuntimeProcess:
        if self._flags_problem:
            raise ExecutorError(self._flags_problem)
        if self._closed:
            raise ExecutorError(_SHUTTING_DOWN)
        client = await self._connect()
        image = self.image_for(spec)
        info = self._images.get(image)
        if info is None:
            info = await asyncio.to_thread(self._image_info, client, image, spec)
        network = self._network()
        api_host = "" if network == "host" else await asyncio.to_thread(self._host_from_lambda, client, network)
        name = container_name(spec.name)
        # A FIFO works only within one machine, even where the paths are shared (mount).
        pipe = self._open_pipe(name) if self._mount and self._local and info.has_shell else None
        try:
            config = container_config(
                spec,
                environment,
                image=image,
                info=info,
                name=name,
                flags=self._flags,
                settings=self._settings,
                labels=self._identity,
                network=network,
                runtime_api=runtime_api,
                api_host=api_host,
                local=self._mount,
                output_fifo=pipe.path if pipe is not None else None,
                debugpy=await self._debug_mode(spec, output),
            )
            container_id = await self._create(client, config, name)
        except BaseException:
            if pipe is not None:
                pipe.close()
            raise
        log.debug("docker executor: started %s (%s) for %s", name, container_id[:12], spec.key)
        return DockerContainer(
            client.api,
            container_id,
            name,
            output,
            pipe,
            discard=self.discard,
            halt=self.halt,
            start=self._start_again,
            local=self._local,
        )

    async def _create(self, client: Any, config: ContainerConfig, name: str) -> str:
        """Create and start the container in the executor's scope; its id. Raises ``ExecutorError``.

        A cancelled caller leaves the creation running (a thread cannot be stopped): the
        container it makes is then discarded. ``close`` waits for creations under way, so that
        its sweep sees their containers.
        """
        if self._closed:  # checked again: the awaits since start() began may have seen close()
            raise ExecutorError(_SHUTTING_DOWN)
        creating = self._scope.spawn(self._created(client, config), name=f"docker create {name}")
        try:
            outcome = await asyncio.shield(creating)
        except asyncio.CancelledError:
            creating.add_done_callback(self._discard_created)
            current = asyncio.current_task()
            if creating.cancelled() and current is not None and not current.cancelling():
                raise ExecutorError(_SHUTTING_DOWN) from None  # close() cancelled the creation, not our caller
            raise
        if isinstance(outcome, ExecutorError):
            raise outcome
        return outcome

    async def _created(self, client: Any, config: ContainerConfig) -> str | ExecutorError:
        # The error is returned, not raised: it is the caller's to raise (the scope would log
        # it as a background task's crash).
        try:
            return await finished(create_container, client, config, self._archives)
        except ExecutorError as exc:
            return exc

    async def _debug_mode(self, spec: FunctionSpec, output: OutputSink) -> Path | None:
        """Lambda debug mode: the log line saying where the debugger listens, and the debugpy
        bundle a Python function's container gets (``runtimes/debuggers.py``), made once; None
        for any other function. Raises ``ExecutorError`` where the server has no debugpy."""
        if spec.debug is None:
            return None
        output(debug_notice(spec).encode() + b"\n")
        if spec.package_type == "Image" or family(spec.runtime or "") != "python":
            return None
        site = await asyncio.to_thread(self._commands.debuggers.debugpy_site, sys.executable)
        if not site:
            raise ExecutorError("Lambda debug mode: debugpy is not installed for the server (pip install debugpy)")
        try:
            return await asyncio.to_thread(debugpy_bundle, site, self._settings.cache_dir)
        except OSError as exc:
            raise ExecutorError(f"Lambda debug mode: debugpy could not be made ready for containers: {exc}") from exc

    def _open_pipe(self, name: str) -> OutputPipe | None:
        """An output FIFO for the container, or None where none can be made (an exotic
        filesystem): docker's log stream will do."""
        with tolerated("no output FIFO"):
            if self._pipes is None:
                self._pipes = pipes_directory()
            return OutputPipe(self._pipes / name)
        return None

    @property
    def _mount(self) -> bool:
        """Whether this machine's files are bind-mounted (else copied): ``LAMBDA_DOCKER_CODE``."""
        mode = self._settings.docker_code
        return mode == "mount" or (mode == "auto" and self._local and self._socket)

    def _network(self) -> str:
        return network_mode(self._flags, self._settings, local=self._local)

    def _host_from_lambda(self, client: Any, network: str) -> str:
        """Blocking: how a container on ``network`` reaches this host (HOSTNAME_FROM_LAMBDA or the gateway)."""
        if self._settings.hostname_from_lambda:
            return self._settings.hostname_from_lambda
        if network not in self._gateways:
            gateway = GATEWAY_ALIAS
            with tolerated(f"looking up the gateway of {network}"):
                configs = client.api.inspect_network(network).get("IPAM", {}).get("Config") or []
                gateway = next((c["Gateway"] for c in configs if c.get("Gateway")), gateway)
            self._gateways[network] = gateway
        return self._gateways[network]

    # -- removal --------------------------------------------------------------------------

    def _discard_created(self, creating: asyncio.Task[str | ExecutorError]) -> None:
        if not creating.cancelled() and creating.exception() is None:
            outcome = creating.result()
            if isinstance(outcome, str):
                self.discard(outcome)

    def discard(self, container_id: str) -> None:
        """Stop a container in the background (and remove it unless LAMBDA_REMOVE_CONTAINERS=0). Never raises."""
        api, remove = self._client.api, self._settings.remove_containers
        try:
            asyncio.get_running_loop()
            self._scope.spawn(
                finished(remove_container, api, container_id, remove=remove), name=f"docker discard {container_id[:12]}"
            )
        except RuntimeError:  # no running loop (interpreter shutdown) or the scope closed: a thread of its own
            threading.Thread(
                target=remove_container, args=(api, container_id), kwargs={"remove": remove}, daemon=True
            ).start()

    def halt(self, container_id: str) -> None:
        """Kill a container's processes in the background, keeping the container (a reset). Never raises."""
        try:
            self._scope.spawn(
                finished(remove_container, self._client.api, container_id, remove=False),
                name=f"docker halt {container_id[:12]}",
            )
        except RuntimeError:  # the scope is closed: the server is going, and the container with it
            pass

    async def _start_again(self, container_id: str) -> bool:
        """Start a halted container again; False when it cannot be (gone, or the executor closes)."""
        if self._closed:
            return False
        api = self._client.api

        def start() -> bool:
            with tolerated(f"starting {container_id[:12]} again", level=logging.WARNING):
                api.start(container_id)
                return True
            return False

        return await finished(start) and not self._closed

    async def close(self) -> None:
        """Remove every container this server started, within ``CLOSE_TIMEOUT_S`` in all.

        Creations and removals under way are waited for first (the sweep must see what a
        creation made); what does not end in time is logged, and shutdown goes on.
        """
        self._closed = True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + CLOSE_TIMEOUT_S
        await self._scope.close(CLOSE_TIMEOUT_S / 2)
        if self._client is None:
            return
        timeout = max(deadline - loop.time(), _SWEEP_MIN_S)
        await sweep(self._client.api, self.server_id, remove=self._settings.remove_containers, timeout=timeout)
        with tolerated("closing the client"):
            self._client.close()
        if self._pipes is not None:
            shutil.rmtree(self._pipes, ignore_errors=True)
