"""A container's create configuration, as a pure function of what the environment needs.

No daemon is asked anything here: the function, its environment, the image's entrypoint and
command, ``LAMBDA_DOCKER_FLAGS``, the settings, the network and how the container reaches this
host go in; the keyword arguments of ``containers.create`` and the directories to copy in come
out.

- **What runs.** A zip function runs its runtime's image with the image's own entrypoint and
  the handler as its command, exactly as the official images expect (``/lambda-entrypoint.sh
  <handler>`` starts ``/var/runtime/bootstrap`` when ``AWS_LAMBDA_RUNTIME_API`` is set); a
  ``provided.*`` runtime runs the function's own ``bootstrap``, looked for as Lambda does
  (``/var/task``, then ``/opt``). An image function runs its ENTRYPOINT and CMD, each replaced
  by ImageConfig's ``EntryPoint``/``Command`` when given, in its ``WorkingDirectory``.
- **Code and layers.** Bind-mounted read-only at ``/var/task`` and, for a single layer, at
  ``/opt`` when the daemon sees this machine's directories (``local``: ``LAMBDA_DOCKER_CODE``
  resolved to ``mount``; hot reload comes for free); otherwise (a remote ``DOCKER_HOST``), or
  for several layers (which must be merged into one ``/opt``, later ones winning, as on AWS),
  copied into the container before it starts (``copies.py``). Hot-reloaded code is named in
  ``changing``: copied as it is when each container is made.
- **Environment.** AWS's variables, and nothing docker adds: a zip function's entrypoint starts
  through a shell that unsets the ``HOME`` docker puts in every container (AWS's runtimes have
  none: their recorded test_introspection_invoke). Node.js functions get AWS's ``NODE_PATH``;
  in an image that is not AWS's own, which brings them itself, the bundled SDK of nodejs18.x and
  later is mounted (copied, for a daemon that does not see this machine's directories) at
  ``/var/runtime/node_modules`` and, for nodejs16.x and nodejs18.x, the host's CA bundle at
  ``/var/runtime/ca-cert.pem`` named by ``NODE_EXTRA_CA_CERTS`` (the only things here that look
  at this machine's files).
- **Limits.** ``MemorySize`` is the memory limit, with no swap beyond it.
- **Network.** With host networking (the default for a local daemon,
  ``LAMBDA_DOCKER_NETWORK=host``) the Runtime API's loopback address is used unchanged; on any
  other network its host part, and that of a loopback ``AWS_ENDPOINT_URL``, becomes
  ``api_host`` (``HOSTNAME_FROM_LAMBDA`` or the network's gateway). ``LAMBDA_DOCKER_DNS`` and the
  flags' ``--dns`` set the resolvers.
- **Labels.** The flags' ``-l`` labels, then the server's identity (``cleanup.py``), the
  function's ARN and version.
- **Lambda debug mode** (``spec.debug``): the image's own runtime started under its debugger
  through the variables it honours, ``NODE_OPTIONS=--inspect-brk=…`` (Node.js, any version) and
  ``JAVA_TOOL_OPTIONS=-agentlib:jdwp=…`` (Java), listening on the host's ``127.0.0.1:<port>``
  (host networking) or on the container's, published there (any other network); a Python
  image's code starts debugpy itself on ``LDM_DEBUG_PORT``, as LocalStack's documentation has it.
"""

from __future__ import annotations

import dataclasses
import re
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from locallambda.errors import ExecutorError
from locallambda.executors.docker.flags import DockerFlags
from locallambda.executors.docker.images import ImageInfo
from locallambda.executors.docker.output import OUTPUT_TARGET, redirected
from locallambda.model.spec import FunctionSpec
from locallambda.runtimes.catalogue import default_image, family
from locallambda.runtimes.commands import (
    AWS_NODE_CA_CERTS,
    aws_node_path,
    host_ca_bundle,
    node_bundles_sdk,
    node_extra_ca_certs,
)
from locallambda.runtimes.debuggers import (
    CONTAINER_DEBUGPY_DIR,
    DEBUG_PORT_VARIABLE,
    DEBUGPY_ADDRESS_VARIABLE,
    jdwp_agent,
)
from locallambda.settings import Settings

__all__ = [
    "OPT",
    "PROVIDED_ENTRYPOINT",
    "TASK_ROOT",
    "WITHOUT_HOME",
    "ContainerConfig",
    "container_config",
    "container_name",
    "network_mode",
]

TASK_ROOT = "/var/task"
OPT = "/opt"
RUNTIME_DIR = "/var/runtime"
# Runs the command after it without the HOME docker sets (from the image's user) when none is given.
WITHOUT_HOME = ("/bin/sh", "-c", 'unset HOME; exec "$@"', "sh")
GATEWAY_ALIAS = "host.docker.internal"
# provided.* zip functions: the function's own bootstrap, as Lambda looks for it (task, then /opt).
PROVIDED_ENTRYPOINT = (
    "/bin/sh",
    "-c",
    'for b in /var/task/bootstrap /opt/bootstrap /var/runtime/bootstrap; do [ -x "$b" ] && exec "$b"; done; '
    'echo "Couldn\'t find valid bootstrap(s): [/var/task/bootstrap /opt/bootstrap]" >&2; exit 1',
)
_LOOPBACK = ("127.0.0.1", "localhost", "0.0.0.0", "::1")


@dataclasses.dataclass(frozen=True, slots=True)
class ContainerConfig:
    """The keyword arguments of ``containers.create``; the directories and files to copy in
    (source on this host, target inside) before the container starts, in order; of these, the
    sources that may change between containers (hot-reloaded code)."""

    arguments: dict[str, Any]
    copies: tuple[tuple[Path, str], ...] = ()
    changing: tuple[Path, ...] = ()


def network_mode(flags: DockerFlags, settings: Settings, *, local: bool) -> str:
    """The network containers join: ``--network`` of the flags, else the first of
    ``LAMBDA_DOCKER_NETWORK``, else ``host`` for a local daemon and ``bridge`` for a remote one."""
    configured = flags.network or settings.docker_network.split(",")[0].strip()
    return configured or ("host" if local else "bridge")


def container_name(function_name: str) -> str:
    """A fresh container name: ``locallambda-<function, as docker allows it>-<8 hex digits>``."""
    slug = re.sub(r"[^a-zA-Z0-9_.-]", "-", function_name).lower()[:40].strip("-.") or "fn"
    return f"locallambda-{slug}-{uuid.uuid4().hex[:8]}"


def container_config(
    spec: FunctionSpec,
    environment: Mapping[str, str],
    *,
    image: str,
    info: ImageInfo,
    name: str,
    flags: DockerFlags,
    settings: Settings,
    labels: Mapping[str, str],
    network: str,
    runtime_api: str,
    api_host: str,
    local: bool,
    output_fifo: Path | None = None,
    debugpy: Path | None = None,
) -> ContainerConfig:
    """How to create the container of an environment of ``spec``.

    ``environment`` holds the function's variables as AWS sets them; ``labels`` the server's
    identity; ``runtime_api`` the ``host:port`` the environment's Runtime API listens on and
    ``api_host`` how a container on ``network`` reaches this host (empty with host networking);
    ``local`` whether the daemon sees this machine's directories (else nothing of this machine
    is mounted: it is copied); ``output_fifo`` the output
    pipe to mount and redirect to, if any; ``debugpy`` the directory of ``debugpy_bundle`` for a
    Python function in debug mode. Raises ``ExecutorError`` for an image with neither
    entrypoint nor command, or a zip function without code on this machine.
    """
    if api_host:
        runtime_api = f"{api_host}:{runtime_api.rpartition(':')[2]}"
    env = {**flags.env, **environment, "AWS_LAMBDA_RUNTIME_API": runtime_api}
    # The host's paths mean nothing inside: the code is at /var/task, as on AWS.
    env["LAMBDA_TASK_ROOT"] = TASK_ROOT
    env["LAMBDA_RUNTIME_DIR"] = RUNTIME_DIR
    if api_host and env.get("AWS_ENDPOINT_URL"):
        env["AWS_ENDPOINT_URL"] = _with_host(env["AWS_ENDPOINT_URL"], api_host)
    volumes: dict[str, dict[str, str]] = dict(flags.volumes)
    arguments: dict[str, Any] = {
        "image": image,
        "name": name,
        "detach": True,
        "environment": env,
        "labels": {**flags.labels, **labels, "locallambda.function": spec.arn, "locallambda.version": spec.version},
        "mem_limit": spec.memory_mb * 1024 * 1024,
        "memswap_limit": spec.memory_mb * 1024 * 1024,  # no swap: the limit is the limit
        "network_mode": network,
        "volumes": volumes,
        "extra_hosts": dict(flags.extra_hosts),
        "privileged": flags.privileged,
    }
    dns = [d.strip() for d in settings.docker_dns.split(",") if d.strip()] + list(flags.dns)
    optional: dict[str, Any] = {
        "dns": dns,
        "cap_add": list(flags.cap_add),
        "security_opt": list(flags.security_opt),
        "user": flags.user,
        "platform": flags.platform,
        "ports": dict(flags.ports) if network != "host" else {},
    }
    arguments.update({k: v for k, v in optional.items() if v})
    debug_copies: tuple[tuple[Path, str], ...] = ()
    if spec.debug is not None:
        debug_copies = _debugger(spec, env, arguments, network, volumes, debugpy, local=local)
    if flags.ulimits:
        import docker.types

        arguments["ulimits"] = [docker.types.Ulimit(name=n, soft=s, hard=h) for n, s, h in flags.ulimits]
    if api_host == GATEWAY_ALIAS:
        arguments["extra_hosts"].setdefault(GATEWAY_ALIAS, "host-gateway")
    runtime_copies: list[tuple[Path, str]] = []
    if spec.package_type != "Image" and family(spec.runtime or "") == "nodejs":
        _node_runtime(spec.runtime or "", image, env, volumes, runtime_copies, settings=settings, local=local)
    argv = _argv(spec, info, image)
    if spec.package_type != "Image" and info.has_shell:
        # An image function keeps its image's environment, HOME included when its ENV sets one.
        argv = [*WITHOUT_HOME, *argv]
    if spec.package_type == "Image" and (spec.image_config or {}).get("WorkingDirectory"):
        arguments["working_dir"] = spec.image_config["WorkingDirectory"]
    if output_fifo is not None:
        volumes[str(output_fifo)] = {"bind": OUTPUT_TARGET, "mode": "rw"}
        argv = redirected(argv)
    # Both set explicitly: the daemon then inherits neither from the image.
    arguments["entrypoint"], arguments["command"] = argv[:1], argv[1:]
    if spec.package_type == "Image":
        return ContainerConfig(arguments, debug_copies)
    copies = (*_code_and_layers(spec, volumes, local=local), *runtime_copies, *debug_copies)
    changing = (spec.code_dir,) if spec.hot_reload and spec.code_dir is not None and not local else ()
    return ContainerConfig(arguments, copies, changing)


def _node_runtime(
    runtime: str,
    image: str,
    env: dict[str, str],
    volumes: dict[str, dict[str, str]],
    copies: list[tuple[Path, str]],
    *,
    settings: Settings,
    local: bool,
) -> None:
    """AWS's Node.js variables in ``env`` (a function's own NODE_PATH, or NODE_EXTRA_CA_CERTS even
    empty, is kept, as AWS's bootstrap keeps them) and, for an image that is not AWS's, what AWS's
    has in /var/runtime mounted into ``volumes`` (``local``) or added to ``copies``."""
    if not env.get("NODE_PATH"):
        env["NODE_PATH"] = aws_node_path(runtime)
    if image.rpartition(":")[0] == default_image(runtime).rpartition(":")[0]:
        return  # AWS's image: its SDK, its ca-cert.pem, its bootstrap setting NODE_EXTRA_CA_CERTS

    def provide(source: Path, target: str) -> None:
        if local:
            volumes[str(source)] = {"bind": target, "mode": "ro"}
        else:
            copies.append((source, target))

    modules = (settings.nodejs_runtime_dir / "node_modules").absolute()
    if node_bundles_sdk(runtime) and modules.is_dir():
        provide(modules, f"{RUNTIME_DIR}/node_modules")
    ca = host_ca_bundle() if node_extra_ca_certs(runtime) else None
    if ca is not None:
        provide(ca, AWS_NODE_CA_CERTS)
        env.setdefault("NODE_EXTRA_CA_CERTS", AWS_NODE_CA_CERTS)


def _debugger(
    spec: FunctionSpec,
    env: dict[str, str],
    arguments: dict[str, Any],
    network: str,
    volumes: dict[str, dict[str, str]],
    debugpy: Path | None,
    *,
    local: bool,
) -> tuple[tuple[Path, str], ...]:
    """Lambda debug mode: the runtime's debugger through what the image's runtime honours
    (``runtimes/debuggers.py``), reachable on the host's loopback at the function's debug port
    (published there from a container that is not on the host's network). For Python, the
    ``debugpy`` bundle is mounted read-only at ``CONTAINER_DEBUGPY_DIR`` (returned to be copied
    in for a daemon that does not see this machine's directories) and put first on
    ``PYTHONPATH``; the image's bootstrap appends its own entries, or prepends them, and the
    interpreter finds our ``sitecustomize`` either way."""
    assert spec.debug is not None
    port = spec.debug.port
    host = "127.0.0.1"
    if network != "host":
        host = "0.0.0.0"  # inside the container; published on the host's loopback only
        arguments["ports"] = {**arguments.get("ports", {}), f"{port}/tcp": ("127.0.0.1", port)}
    env[DEBUG_PORT_VARIABLE] = str(port)
    fam = family(spec.runtime or "")
    if fam == "nodejs":
        env["NODE_OPTIONS"] = " ".join(filter(None, [env.get("NODE_OPTIONS"), f"--inspect-brk={host}:{port}"]))
    elif fam == "java":
        agent = jdwp_agent(port, "*" if host == "0.0.0.0" else host)
        env["JAVA_TOOL_OPTIONS"] = " ".join(filter(None, [env.get("JAVA_TOOL_OPTIONS"), agent]))
    elif fam == "python" and debugpy is not None:
        env[DEBUGPY_ADDRESS_VARIABLE] = f"{host}:{port}"
        env["PYTHONPATH"] = ":".join(filter(None, [CONTAINER_DEBUGPY_DIR, env.get("PYTHONPATH")]))
        # Silences debugpy's warning that frozen modules may hide breakpoints (the image's
        # interpreter runs without -X frozen_modules=off): a function's own code is never frozen.
        env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
        if not local:
            return ((debugpy, CONTAINER_DEBUGPY_DIR),)
        volumes[str(debugpy)] = {"bind": CONTAINER_DEBUGPY_DIR, "mode": "ro"}
    return ()


def _argv(spec: FunctionSpec, info: ImageInfo, image: str) -> list[str]:
    """What runs: ENTRYPOINT + CMD, each replaced by ImageConfig's override when given (an
    EntryPoint override keeps the image's CMD, unlike ``docker run --entrypoint``); a zip
    function's runtime image gets the handler as its command, as on AWS."""
    if spec.package_type == "Image":
        image_config = spec.image_config or {}
        argv = list(image_config.get("EntryPoint") or info.entrypoint) + list(
            image_config.get("Command") or info.command
        )
    elif family(spec.runtime or "") == "provided":
        argv = list(PROVIDED_ENTRYPOINT)
    else:
        argv = (list(info.entrypoint) or ["/lambda-entrypoint.sh"]) + [spec.handler or ""]
    if not argv:
        raise ExecutorError(f"The image {image} has neither an entrypoint nor a command.")
    return argv


def _code_and_layers(
    spec: FunctionSpec, volumes: dict[str, dict[str, str]], *, local: bool
) -> tuple[tuple[Path, str], ...]:
    """Mount the code (and a single layer) into ``volumes``; what cannot be mounted is returned,
    to be copied in. Raises ``ExecutorError`` without code on this machine."""
    if spec.code_dir is None:
        raise ExecutorError("The function has no code on this machine.")
    copies: list[tuple[Path, str]] = []
    # A daemon on this machine sees our directories: mount them read-only (edits show at once,
    # which is what hot reloading needs). A remote one gets copies. Several layers must be
    # merged into one /opt (later ones win, as on AWS): copies too.
    if local:
        volumes[str(spec.code_dir)] = {"bind": TASK_ROOT, "mode": "ro"}
    else:
        copies.append((spec.code_dir, TASK_ROOT))
    if len(spec.layers) == 1 and local:
        volumes[str(spec.layers[0])] = {"bind": OPT, "mode": "ro"}
    else:
        copies.extend((layer, OPT) for layer in spec.layers)
    return tuple(copies)


def _with_host(url: str, host: str) -> str:
    """``url`` with ``host`` in place of a loopback host (any other URL is returned as it is)."""
    parts = urlsplit(url)
    if parts.hostname not in _LOOPBACK:
        return url
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit(parts._replace(netloc=netloc))
