"""The docker executor: one container per execution environment.

LocalStack's ``LAMBDA_EXECUTOR=docker`` (a fresh container per invoke, ``reuse=False``) and
``docker-reuse`` (warm containers kept under ``LAMBDA_KEEPALIVE_MS``, ``reuse=True``); container
image functions (``PackageType=Image``) always run here.

A zip function runs in its runtime's image (``public.ecr.aws/lambda/<repo>:<tag>``, remapped by
``LAMBDA_RUNTIME_IMAGE_MAPPING``) with the image's own entrypoint and the handler as its command,
exactly as the official images expect (``/lambda-entrypoint.sh <handler>`` starts
``/var/runtime/bootstrap`` when ``AWS_LAMBDA_RUNTIME_API`` is set). The code is bind-mounted
read-only at ``/var/task`` (hot reload comes for free) and a single layer at ``/opt`` when the
daemon is on this machine; with a remote ``DOCKER_HOST`` (or several layers, which must be merged)
they are copied into the container before it starts. An image function runs its image's
entrypoint and command, with ImageConfig's EntryPoint/Command/WorkingDirectory overrides.

The runtime reaches its Runtime API: with host networking (the default for a local daemon,
``LAMBDA_DOCKER_NETWORK=host``) the loopback address is used unchanged; on any other network the
host part becomes ``HOSTNAME_FROM_LAMBDA`` or the network's gateway, and the API must listen
beyond loopback (``runtime_api_host``). AWS_ENDPOINT_URL is rewritten the same way.

The runtime's output reaches the sink through a FIFO (``OutputPipe``) when the daemon is local,
so that a function's last lines land in its own invocation's log; otherwise from docker's log
stream. Every container carries labels naming this server (``locallambda.server``) and the
process that started it: ``close()`` removes what this server started, the first use removes
the orphans of a run that died without cleaning up. ``DOCKER_HOST`` (with ``DOCKER_TLS_VERIFY``
and ``DOCKER_CERT_PATH``) is read by the docker SDK itself. SDK calls run in worker threads; the
only long-lived ones (waiting for a container's exit, following its log stream) run in one
daemon thread per container, off the shared pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import io
import logging
import os
import re
import shutil
import socket
import tarfile
import tempfile
import threading
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from locallambda.errors import ExecutorError
from locallambda.executors.base import Executor, OutputSink, RuntimeProcess
from locallambda.executors.docker_flags import DockerFlags, parse_docker_flags
from locallambda.runtimes.commands import RuntimeCommands
from locallambda.model.spec import FunctionSpec
from locallambda.model.tasks import TaskScope
from locallambda.runtimes.catalogue import IMAGE_TAGS, default_image, family
from locallambda.settings import Settings

__all__ = ["DockerExecutor", "DockerContainer", "DockerFlags", "parse_docker_flags", "LABEL_SERVER"]

log = logging.getLogger(__name__)

NOT_AVAILABLE = "Docker not available"
LABEL_SERVER = "locallambda.server"
LABEL_PID = "locallambda.pid"
LABEL_HOST = "locallambda.host"
LABEL_PIDNS = "locallambda.pidns"
TASK_ROOT = "/var/task"
OPT = "/opt"
_CLIENT_TIMEOUT_S = 60
# provided.* zip functions: the function's own bootstrap, as Lambda looks for it (task, then /opt).
_PROVIDED_ENTRYPOINT = [
    "/bin/sh", "-c",
    'for b in /var/task/bootstrap /opt/bootstrap /var/runtime/bootstrap; do [ -x "$b" ] && exec "$b"; done; '
    'echo "Couldn\'t find valid bootstrap(s): [/var/task/bootstrap /opt/bootstrap]" >&2; exit 1',
]


# -- LAMBDA_DOCKER_FLAGS ----------------------------------------------------------------------


# -- a started container ------------------------------------------------------------------------


class OutputPipe:
    """A FIFO on this host that a container's runtime writes its stdout and stderr to.

    Docker's log stream lags the runtime by a millisecond or so: lines printed just before a
    response would miss that invocation's log (LogType=Tail). A FIFO read on the event loop keeps
    a pipe's ordering, as the process executor has. Needs the daemon on this machine (the FIFO is
    bind-mounted) and a ``/bin/sh`` in the image (to redirect the entrypoint's output).
    """

    TARGET = "/var/locallambda/output"

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True)
        self.directory = directory
        self.path = directory / "output"
        os.mkfifo(self.path)
        os.chmod(self.path, 0o666)  # whatever user the image runs as may write it
        self._rd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)
        # Our own writer end: the reader never sees EOF before the container opens its end.
        self._keep = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sink: OutputSink | None = None

    def wrap(self, argv: list[str]) -> list[str]:
        """``argv`` run with its output redirected to the FIFO."""
        return ["/bin/sh", "-c", f'exec "$@" >>{self.TARGET} 2>&1', "locallambda", *argv]

    def attach(self, sink: OutputSink) -> None:
        self._sink = sink
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self._rd, self._read)

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self._rd, 65536)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                chunk = b""
            if not chunk:
                return
            if self._sink is not None:
                self._sink(chunk)

    def close(self) -> None:
        """Deliver what is left, then release the FIFO. Idempotent."""
        if self._rd < 0:
            return
        self._read()
        if self._loop is not None:
            with contextlib.suppress(Exception):
                self._loop.remove_reader(self._rd)
        for fd in (self._rd, self._keep):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._rd = self._keep = -1
        shutil.rmtree(self.directory, ignore_errors=True)


class DockerContainer(RuntimeProcess):
    """A started container, watched by a daemon thread of its own.

    The thread waits for the container to stop, then reads its exit status and whether the kernel
    killed it for memory. Output comes from the container's ``OutputPipe`` when it has one,
    otherwise the same thread follows docker's log stream (which ends when the container stops).
    """

    def __init__(
        self, executor: DockerExecutor, container_id: str, name: str, output: OutputSink, pipe: OutputPipe | None
    ) -> None:
        self.id = container_id
        self.name = name
        self._executor = executor
        self._output = output
        self._pipe = pipe
        self._loop = asyncio.get_running_loop()
        self._exit: asyncio.Future[int] = self._loop.create_future()
        self._killed = False
        self._oom = False
        self._memory_file: Path | None = None
        if pipe is not None:
            pipe.attach(self._deliver)
        self._thread = threading.Thread(target=self._watch, name=f"docker-{name}", daemon=True)
        self._thread.start()

    def _deliver(self, chunk: bytes) -> None:
        if not self._killed:  # after kill() its dying words (the Runtime API is gone…) are noise
            self._output(chunk)

    def _watch(self) -> None:
        api = self._executor.api
        if self._pipe is None:
            try:
                for chunk in api.logs(self.id, stream=True, follow=True, stdout=True, stderr=True):
                    self._call(self._deliver, chunk)
            except Exception as exc:  # the container went away under us: it is over either way
                log.debug("log stream of %s ended: %s", self.name, exc)
        code = -9
        try:
            status = api.wait(self.id)
            code = int(status.get("StatusCode", -9))
            self._oom = bool(api.inspect_container(self.id)["State"].get("OOMKilled"))
        except Exception:  # removed (we killed it): report SIGKILL
            code = -9
        if self._killed:
            code = -9
        elif code > 128:
            code = -(code - 128)  # docker's 128+signal convention → our negative signal number
        self._call(self._settle, code)

    def _call(self, fn: Callable[..., None], *args: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody listens any more
            self._loop.call_soon_threadsafe(fn, *args)

    def _settle(self, code: int) -> None:
        if self._pipe is not None:
            self._pipe.close()
        if not self._exit.done():
            self._exit.set_result(code)

    async def wait(self) -> int:
        return await asyncio.shield(self._exit)

    def kill(self) -> None:
        if self._killed:
            return
        self._killed = True
        self._executor.discard(self.id)

    def out_of_memory(self) -> bool:
        return self._oom

    def max_memory_mb(self) -> int | None:
        """Peak memory of the container from its cgroup, when the daemon runs on this machine."""
        if self._memory_file is None:
            self._memory_file = self._executor.memory_file(self.id)
            if self._memory_file is None:
                return None
        try:
            return int(self._memory_file.read_text().split()[0]) // (1024 * 1024)
        except (OSError, ValueError, IndexError):
            return None


# -- the executor -----------------------------------------------------------------------------


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
        self._images: dict[str, _ImageInfo] = {}
        self._pipes: Path | None = None
        self._gateways: dict[str, str] = {}
        self._removals: set[asyncio.Task[None]] = set()
        self._starting: set[asyncio.Future[str]] = set()
        self._closed = False
        self._flags_problem: str | None = None
        try:
            self._flags = parse_docker_flags(settings.docker_flags)
        except ValueError as exc:
            self._flags = DockerFlags()
            self._flags_problem = f"LAMBDA_DOCKER_FLAGS is invalid: {exc}"
            log.error("%s", self._flags_problem)
        self._identity = {
            LABEL_SERVER: self.server_id,
            LABEL_PID: str(os.getpid()),
            LABEL_HOST: socket.gethostname(),
            LABEL_PIDNS: _pid_namespace(),
        }

    @property
    def runtime_api_host(self) -> str:
        """Where an environment's Runtime API should listen for this executor's containers.

        Loopback is enough with host networking; on any other network the container comes in
        through the network's gateway, so the API must listen beyond loopback.
        """
        return "127.0.0.1" if self._network() == "host" else "0.0.0.0"

    @property
    def api(self) -> Any:
        """The low-level SDK client (``docker.APIClient``); only valid after a connection."""
        return self._client.api

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
        try:
            import docker
        except ImportError as exc:
            log.warning("docker executor: the docker SDK is not installed (%s)", exc)
            raise ExecutorError(NOT_AVAILABLE) from exc
        try:
            # from_env reads DOCKER_HOST, DOCKER_TLS_VERIFY and DOCKER_CERT_PATH itself.
            client = docker.from_env(timeout=_CLIENT_TIMEOUT_S, max_pool_size=256)
            client.ping()
        except Exception as exc:
            log.warning("docker executor: no Docker daemon answers (%s)", exc)
            raise ExecutorError(NOT_AVAILABLE) from exc
        base = str(client.api.base_url)
        self._local = base == "http+docker://localhost" or urlsplit(base).hostname in ("127.0.0.1", "localhost", "::1")
        log.info("docker executor: daemon at %s (%s)", base, "local" if self._local else "remote")
        if self._settings.remove_containers:
            self._remove_orphans(client)
        return client

    def _remove_orphans(self, client: Any) -> None:
        """Remove containers left by a server of this machine whose process is gone."""
        mine = self._identity
        try:
            found = client.api.containers(all=True, filters={"label": LABEL_SERVER})
        except Exception as exc:
            log.warning("docker executor: could not list leftover containers: %s", exc)
            return
        # The FIFO directories of dead servers of this pid namespace go too.
        for leftover in Path(tempfile.gettempdir()).glob(f"{_pipes_prefix()}*-*"):
            if not _alive(leftover.name[len(_pipes_prefix()):].split("-")[0]):
                shutil.rmtree(leftover, ignore_errors=True)
        for info in found:
            labels = info.get("Labels") or {}
            if labels.get(LABEL_HOST) != mine[LABEL_HOST] or labels.get(LABEL_PIDNS) != mine[LABEL_PIDNS]:
                continue  # another machine's (or another pid namespace's) server: not ours to judge
            if _alive(labels.get(LABEL_PID, "")):
                continue
            log.info("docker executor: removing orphaned container %s", info.get("Names"))
            with contextlib.suppress(Exception):
                client.api.remove_container(info["Id"], force=True)

    # -- Executor -------------------------------------------------------------------------

    async def prepare(self, spec: FunctionSpec) -> str | None:
        if self._flags_problem:
            return self._flags_problem
        try:
            await self._connect()
        except ExecutorError as exc:
            return str(exc)
        try:
            image = self.image_for(spec)
        except ExecutorError as exc:
            return str(exc)
        try:
            # Looked at afresh: a function update may follow a rebuild of its image under one tag.
            self._images.pop(image, None)
            await asyncio.to_thread(self._ensure_image, image, probe_shell=spec.package_type == "Image")
        except ExecutorError as exc:
            if spec.package_type == "Image":
                return f"Source image {image} does not exist. Provide a valid source image."
            return str(exc)
        return None

    def image_for(self, spec: FunctionSpec) -> str:
        """The image of an environment: the function's own, or its runtime's (remapped).

        ``LAMBDA_RUNTIME_IMAGE_MAPPING`` is LocalStack's: a JSON map runtime → image (other
        runtimes keep their default) or a pattern whose ``<runtime>`` is replaced by the runtime.
        Raises ``ExecutorError`` for a runtime without an image.
        """
        if spec.package_type == "Image":
            if not spec.image_uri:
                raise ExecutorError("The function has no ImageUri.")
            return spec.image_uri
        runtime = spec.runtime or ""
        if runtime not in IMAGE_TAGS:
            raise ExecutorError(f"The runtime {runtime or '(none)'} has no container image.")
        mapped = self._settings.runtime_image_mapping.get(runtime)
        if mapped:
            return mapped
        if self._settings.runtime_image_pattern:
            return self._settings.runtime_image_pattern.replace("<runtime>", runtime)
        return default_image(runtime)

    def _ensure_image(self, image: str, *, probe_shell: bool = False) -> _ImageInfo:
        """The image's entrypoint and command, pulling it unless the daemon has it.

        ``probe_shell`` looks whether it has ``/bin/sh`` (runtime images always do). Raises
        ``ExecutorError``.
        """
        info = self._images.get(image)
        if info is not None:
            return info
        import docker.errors

        try:
            found = self._client.images.get(image)
        except docker.errors.ImageNotFound:
            log.info("docker executor: pulling %s", image)
            try:
                found = self._client.images.pull(image)
            except Exception as exc:
                raise ExecutorError(f"The image {image} is not available and could not be pulled: {_short(exc)}") from exc
        except Exception as exc:
            raise ExecutorError(f"The image {image} could not be inspected: {_short(exc)}") from exc
        config = found.attrs.get("Config") or {}
        info = _ImageInfo(
            entrypoint=list(config.get("Entrypoint") or []),
            command=list(config.get("Cmd") or []),
            has_shell=self._has_shell(image) if probe_shell else True,
        )
        self._images[image] = info
        return info

    def _has_shell(self, image: str) -> bool:
        """Whether ``image`` holds ``/bin/sh`` (looked up in a container that never starts)."""
        container = None
        try:
            container = self.api.create_container(image, entrypoint=["/bin/sh"], labels=dict(self._identity))
            self.api.get_archive(container["Id"], "/bin/sh")
            return True
        except Exception:
            return False
        finally:
            if container is not None:
                with contextlib.suppress(Exception):
                    self.api.remove_container(container["Id"], force=True)

    async def start(
        self, spec: FunctionSpec, runtime_api: str, environment: Mapping[str, str], output: OutputSink
    ) -> RuntimeProcess:
        if self._flags_problem:
            raise ExecutorError(self._flags_problem)
        if self._closed:
            raise ExecutorError("The docker executor is shutting down.")
        await self._connect()
        image = self.image_for(spec)
        info = self._images.get(image)
        if info is None:
            info = await asyncio.to_thread(self._ensure_image, image, probe_shell=spec.package_type == "Image")
        network = self._network()
        if network != "host":
            api_host = await asyncio.to_thread(self._host_from_lambda, network)
            runtime_api = f"{api_host}:{runtime_api.rpartition(':')[2]}"
        else:
            api_host = ""
        name = _container_name(spec.name)
        pipe = None
        if self._local and info.has_shell:
            try:
                pipe = OutputPipe(self._pipes_dir() / name)
            except OSError as exc:  # no FIFO here (an exotic filesystem): docker's log stream will do
                log.debug("docker executor: no output FIFO (%s)", exc)
        try:
            config, copies = self._container_config(spec, image, info, name, network, runtime_api, api_host, environment, pipe)
            creating = asyncio.ensure_future(asyncio.to_thread(self._create_and_start, config, copies))
            self._starting.add(creating)
            creating.add_done_callback(self._starting.discard)
            try:
                container_id = await asyncio.shield(creating)
            except asyncio.CancelledError:
                # Nobody will own the container the thread is still creating: remove it then.
                creating.add_done_callback(self._discard_created)
                raise
        except BaseException:
            if pipe is not None:
                pipe.close()
            raise
        log.debug("docker executor: started %s (%s) for %s", name, container_id[:12], spec.key)
        return DockerContainer(self, container_id, name, output, pipe)

    def _pipes_dir(self) -> Path:
        if self._pipes is None:
            self._pipes = Path(tempfile.mkdtemp(prefix=f"{_pipes_prefix()}{os.getpid()}-"))
        return self._pipes

    def _network(self) -> str:
        configured = self._flags.network or self._settings.docker_network.split(",")[0].strip()
        return configured or ("host" if self._local else "bridge")

    def _host_from_lambda(self, network: str) -> str:
        """How a container on ``network`` reaches this host: HOSTNAME_FROM_LAMBDA or the gateway."""
        if self._settings.hostname_from_lambda:
            return self._settings.hostname_from_lambda
        if network not in self._gateways:
            gateway = "host.docker.internal"
            with contextlib.suppress(Exception):
                configs = self.api.inspect_network(network).get("IPAM", {}).get("Config") or []
                gateway = next((c["Gateway"] for c in configs if c.get("Gateway")), gateway)
            self._gateways[network] = gateway
        return self._gateways[network]

    def _container_config(
        self,
        spec: FunctionSpec,
        image: str,
        info: _ImageInfo,
        name: str,
        network: str,
        runtime_api: str,
        api_host: str,
        environment: Mapping[str, str],
        pipe: OutputPipe | None,
    ) -> tuple[dict[str, Any], list[tuple[Path, str]]]:
        """Keyword arguments of ``containers.create`` and the directories to copy in before start."""
        flags = self._flags
        env = {**flags.env, **environment, "AWS_LAMBDA_RUNTIME_API": runtime_api}
        # The host's paths mean nothing inside: the code is at /var/task, as on AWS.
        env["LAMBDA_TASK_ROOT"] = TASK_ROOT
        env["LAMBDA_RUNTIME_DIR"] = "/var/runtime"
        if api_host and env.get("AWS_ENDPOINT_URL"):
            env["AWS_ENDPOINT_URL"] = _with_host(env["AWS_ENDPOINT_URL"], api_host)
        config: dict[str, Any] = {
            "image": image,
            "name": name,
            "detach": True,
            "environment": env,
            "labels": {**flags.labels, **self._identity, "locallambda.function": spec.arn,
                       "locallambda.version": spec.version},
            "mem_limit": spec.memory_mb * 1024 * 1024,
            "memswap_limit": spec.memory_mb * 1024 * 1024,  # no swap: the limit is the limit
            "network_mode": network,
            "volumes": dict(flags.volumes),
            "extra_hosts": dict(flags.extra_hosts),
            "privileged": flags.privileged,
        }
        dns = [d.strip() for d in self._settings.docker_dns.split(",") if d.strip()] + list(flags.dns)
        optional: dict[str, Any] = {
            "dns": dns, "cap_add": list(flags.cap_add), "security_opt": list(flags.security_opt),
            "user": flags.user, "platform": flags.platform,
            "ports": dict(flags.ports) if network != "host" else {},
        }
        config.update({k: v for k, v in optional.items() if v})
        if flags.ulimits:
            import docker.types

            config["ulimits"] = [docker.types.Ulimit(name=n, soft=s, hard=h) for n, s, h in flags.ulimits]
        if api_host == "host.docker.internal":
            config["extra_hosts"].setdefault("host.docker.internal", "host-gateway")
        copies: list[tuple[Path, str]] = []
        # What runs: ENTRYPOINT + CMD, each replaced by ImageConfig's override when given (an
        # EntryPoint override keeps the image's CMD, unlike `docker run --entrypoint`); a zip
        # function's runtime image gets the handler as its command, as on AWS.
        if spec.package_type == "Image":
            image_config = spec.image_config or {}
            argv = list(image_config.get("EntryPoint") or info.entrypoint) + list(
                image_config.get("Command") or info.command
            )
            if image_config.get("WorkingDirectory"):
                config["working_dir"] = image_config["WorkingDirectory"]
        elif family(spec.runtime or "") == "provided":
            argv = list(_PROVIDED_ENTRYPOINT)
        else:
            argv = (info.entrypoint or ["/lambda-entrypoint.sh"]) + [spec.handler or ""]
        if not argv:
            raise ExecutorError(f"The image {image} has neither an entrypoint nor a command.")
        if pipe is not None:
            config["volumes"][str(pipe.path)] = {"bind": pipe.TARGET, "mode": "rw"}
            argv = pipe.wrap(argv)
        # Both set explicitly: the daemon then inherits neither from the image.
        config["entrypoint"], config["command"] = argv[:1], argv[1:]
        if spec.package_type == "Image":
            return config, copies
        if spec.code_dir is None:
            raise ExecutorError("The function has no code on this machine.")
        # A daemon on this machine sees our directories: mount them read-only (edits show at
        # once, which is what hot reloading needs). A remote one gets copies. Several layers
        # must be merged into one /opt (later ones win, as on AWS): copies too.
        if self._local:
            config["volumes"][str(spec.code_dir)] = {"bind": TASK_ROOT, "mode": "ro"}
        else:
            copies.append((spec.code_dir, TASK_ROOT))
        if len(spec.layers) == 1 and self._local:
            config["volumes"][str(spec.layers[0])] = {"bind": OPT, "mode": "ro"}
        else:
            copies.extend((layer, OPT) for layer in spec.layers)
        return config, copies

    def _create_and_start(self, config: dict[str, Any], copies: list[tuple[Path, str]]) -> str:
        """Create, fill and start a container; returns its id. Raises ``ExecutorError``."""
        container = None
        try:
            container = self._client.containers.create(**config)
            for source, target in copies:
                container.put_archive(target, _tar_of(source))
            container.start()
            return str(container.id)
        except Exception as exc:
            if container is not None:
                with contextlib.suppress(Exception):
                    container.remove(force=True)
            raise ExecutorError(f"Could not start a container from {config['image']}: {_short(exc)}") from exc

    # -- removal --------------------------------------------------------------------------

    def _discard_created(self, creating: asyncio.Future[str]) -> None:
        if not creating.cancelled() and creating.exception() is None:
            self.discard(creating.result())

    def discard(self, container_id: str) -> None:
        """Stop a container in the background (and remove it unless LAMBDA_REMOVE_CONTAINERS=0)."""
        try:
            task = asyncio.get_running_loop().create_task(asyncio.to_thread(self._discard_blocking, container_id))
        except RuntimeError:  # no running loop (interpreter shutdown): do it on a thread of its own
            threading.Thread(target=self._discard_blocking, args=(container_id,), daemon=True).start()
            return
        self._removals.add(task)
        task.add_done_callback(self._removals.discard)

    def _discard_blocking(self, container_id: str) -> None:
        try:
            if self._settings.remove_containers:
                self.api.remove_container(container_id, force=True)
            else:
                self.api.kill(container_id)
        except Exception as exc:  # already gone, or already stopped
            log.debug("docker executor: discarding %s: %s", container_id[:12], exc)

    async def close(self) -> None:
        """Remove every container this server started (waits for removals under way)."""
        self._closed = True
        if self._starting:  # let creations finish, so that the sweep below sees their containers
            await asyncio.gather(*list(self._starting), return_exceptions=True)
        if self._removals:
            await asyncio.gather(*list(self._removals), return_exceptions=True)
        if self._client is None:
            return
        await asyncio.to_thread(self._sweep)
        with contextlib.suppress(Exception):
            self._client.close()
        if self._pipes is not None:
            shutil.rmtree(self._pipes, ignore_errors=True)

    def _sweep(self) -> None:
        try:
            found = self.api.containers(all=True, filters={"label": f"{LABEL_SERVER}={self.server_id}"})
        except Exception as exc:
            log.warning("docker executor: could not list this server's containers: %s", exc)
            return
        for info in found:
            self._discard_blocking(info["Id"])

    # -- inspection -----------------------------------------------------------------------

    def memory_file(self, container_id: str) -> Path | None:
        """The cgroup file holding the container's peak memory, when the daemon is local."""
        if not self._local:
            return None
        candidates = [
            f"/sys/fs/cgroup/memory/docker/{container_id}/memory.max_usage_in_bytes",  # v1
            f"/sys/fs/cgroup/system.slice/docker-{container_id}.scope/memory.peak",  # v2, systemd
            f"/sys/fs/cgroup/docker/{container_id}/memory.peak",  # v2, cgroupfs
        ]
        return next((Path(c) for c in candidates if os.path.exists(c)), None)


# -- helpers ----------------------------------------------------------------------------------


@dataclasses.dataclass(slots=True)
class _ImageInfo:
    entrypoint: list[str]
    command: list[str]
    has_shell: bool


def _container_name(function_name: str) -> str:
    slug = re.sub(r"[^a-zA-Z0-9_.-]", "-", function_name).lower()[:40].strip("-.") or "fn"
    return f"locallambda-{slug}-{uuid.uuid4().hex[:8]}"


def _with_host(url: str, host: str) -> str:
    parts = urlsplit(url)
    if parts.hostname not in ("127.0.0.1", "localhost", "0.0.0.0", "::1"):
        return url
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit(parts._replace(netloc=netloc))


def _tar_of(directory: Path) -> bytes:
    """The contents of ``directory`` (not the directory itself) as a tar archive."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for entry in sorted(directory.iterdir()):
            tar.add(str(entry), arcname=entry.name)
    return buf.getvalue()


def _pipes_prefix() -> str:
    """Names FIFO directories by pid namespace, so that pids are only judged in their own."""
    return f"locallambda-docker-{re.sub(r'[^0-9]', '', _pid_namespace()) or 'ns'}-"


def _pid_namespace() -> str:
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return ""


def _alive(pid_text: str) -> bool:
    try:
        pid = int(pid_text)
    except ValueError:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _short(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]
