"""``LAMBDA_DOCKER_FLAGS``: the subset of ``docker run`` flags LocalStack documents, parsed once.

Supported: -e/--env, -v/--volume, --add-host, -l/--label, -p/--publish, --dns, --cap-add,
--security-opt, --ulimit, --network/--net, -u/--user, --platform, --privileged. Anything else is
refused with a message naming the flag (the function then goes Failed with that reason).

A pure parser: text in, a frozen ``DockerFlags`` out; ``config.py`` folds the flags into each
container's create arguments.
"""

from __future__ import annotations

import dataclasses
import shlex
from typing import Any

__all__ = ["DockerFlags", "parse_docker_flags"]


@dataclasses.dataclass(frozen=True, slots=True)
class DockerFlags:
    """The subset of ``docker run`` flags LocalStack documents for ``LAMBDA_DOCKER_FLAGS``."""

    env: dict[str, str] = dataclasses.field(default_factory=dict)
    volumes: dict[str, dict[str, str]] = dataclasses.field(default_factory=dict)
    extra_hosts: dict[str, str] = dataclasses.field(default_factory=dict)
    labels: dict[str, str] = dataclasses.field(default_factory=dict)
    ports: dict[str, Any] = dataclasses.field(default_factory=dict)
    dns: tuple[str, ...] = ()
    cap_add: tuple[str, ...] = ()
    security_opt: tuple[str, ...] = ()
    ulimits: tuple[tuple[str, int, int], ...] = ()
    network: str = ""
    user: str = ""
    platform: str = ""
    privileged: bool = False


def parse_docker_flags(text: str) -> DockerFlags:
    """Parse ``-e K=V``, ``-v SRC:DST[:ro]``, ``--add-host H:IP``, ``-l K=V``, ``-p [IP:]H:C``,
    ``--dns``, ``--cap-add``, ``--security-opt``, ``--ulimit N=S[:H]``, ``--network``, ``-u``,
    ``--platform`` and ``--privileged`` (``--flag value`` and ``--flag=value`` alike).

    Raises ``ValueError`` naming the flag for anything else or a malformed value.
    """
    args = shlex.split(text or "")
    env: dict[str, str] = {}
    volumes: dict[str, dict[str, str]] = {}
    hosts: dict[str, str] = {}
    labels: dict[str, str] = {}
    ports: dict[str, Any] = {}
    ulimits: list[tuple[str, int, int]] = []
    lists: dict[str, list[str]] = {"--dns": [], "--cap-add": [], "--security-opt": []}
    single = {"--network": "", "--net": "", "-u": "", "--user": "", "--platform": ""}
    privileged = False
    i = 0
    while i < len(args):
        flag, value = args[i], None
        if flag.startswith("--") and "=" in flag:
            flag, value = flag.split("=", 1)
        i += 1
        if flag == "--privileged":
            privileged = True
            continue
        if value is None:
            if i >= len(args):
                raise ValueError(f"{flag} needs a value")
            value, i = args[i], i + 1
        if flag in ("-e", "--env"):
            key, eq, val = value.partition("=")
            if not eq or not key:
                raise ValueError(f"{flag} {value!r}: expected KEY=VALUE")
            env[key] = val
        elif flag in ("-v", "--volume"):
            parts = value.split(":")
            if len(parts) not in (2, 3) or not parts[0] or not parts[1]:
                raise ValueError(f"{flag} {value!r}: expected SOURCE:TARGET[:ro|rw]")
            volumes[parts[0]] = {"bind": parts[1], "mode": parts[2] if len(parts) == 3 else "rw"}
        elif flag == "--add-host":
            name, sep, address = value.partition("=" if "=" in value else ":")
            if not sep or not name or not address:
                raise ValueError(f"{flag} {value!r}: expected HOST:IP")
            hosts[name] = address
        elif flag in ("-l", "--label"):
            key, _, val = value.partition("=")
            labels[key] = val
        elif flag in ("-p", "--publish"):
            parts = value.split(":")
            container = parts[-1] if "/" in parts[-1] else f"{parts[-1]}/tcp"
            try:
                ports[container] = _port_binding(parts[:-1])
            except ValueError:
                raise ValueError(f"{flag} {value!r}: expected [IP:]HOST:CONTAINER") from None
        elif flag == "--ulimit":
            name, _, limits = value.partition("=")
            soft, _, hard = limits.partition(":")
            try:
                ulimits.append((name, int(soft), int(hard or soft)))
            except ValueError:
                raise ValueError(f"{flag} {value!r}: expected NAME=SOFT[:HARD]") from None
        elif flag in lists:
            lists[flag].append(value)
        elif flag in single:
            single[flag] = value
        else:
            raise ValueError(f"unsupported flag {flag}")
    return DockerFlags(
        env=env,
        volumes=volumes,
        extra_hosts=hosts,
        labels=labels,
        ports=ports,
        dns=tuple(lists["--dns"]),
        cap_add=tuple(lists["--cap-add"]),
        security_opt=tuple(lists["--security-opt"]),
        ulimits=tuple(ulimits),
        network=single["--network"] or single["--net"],
        user=single["-u"] or single["--user"],
        platform=single["--platform"],
        privileged=privileged,
    )


def _port_binding(host: list[str]) -> Any:
    """The host side of ``-p``: none (a random port), ``PORT`` or ``IP:PORT``."""
    if not host:
        return None
    if len(host) == 1:
        return int(host[0])
    if len(host) == 2:
        return (host[0], int(host[1]))
    raise ValueError("too many parts")
