"""The Docker daemon as the executor sees it: the connection, its threads, and its errors.

``DOCKER_HOST`` (with ``DOCKER_TLS_VERIFY`` and ``DOCKER_CERT_PATH``) is read by the docker SDK
itself (``docker.from_env``), as LocalStack's docker client does. The daemon is *local* when it
listens on this machine (its unix socket, or a loopback TCP address): only then are our
loopback addresses its host network's, and its containers' cgroups ours to read. Only one
reached through a unix socket of this machine is taken to see our directories (bind mounts,
output FIFOs) unless ``LAMBDA_DOCKER_CODE`` says otherwise: an engine on a TCP socket, even a
loopback one, may well have a filesystem of its own (a VM's, a forwarded port's, a second
engine's), so it gets copies (``copies.py``).

This module is the one boundary for foreign errors. What the daemon, its SDK or the operating
system raise (``docker.errors.DockerException``; ``requests``' exceptions, which are
``OSError``\\ s; ``OSError`` itself) either becomes an ``ExecutorError`` naming what failed
(``translated``) or, where failing is expected or harmless (a container already gone), is logged
and dropped (``tolerated``). Nowhere else does the executor catch them.

SDK calls block: they run in worker threads (``asyncio.to_thread``). A thread cannot be stopped,
so a call whose effect must be seen even by a cancelled caller (creating or removing a
container) runs through ``finished``, which waits the thread out before cancellation goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import dataclasses
import functools
import logging
from collections.abc import Callable, Iterator
from typing import Any, TypeVar
from urllib.parse import urlsplit

from locallambda.errors import ExecutorError

__all__ = [
    "CLIENT_TIMEOUT_S",
    "NOT_AVAILABLE",
    "Placement",
    "connect",
    "finished",
    "short",
    "tolerated",
    "translated",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

NOT_AVAILABLE = "Docker not available"
CLIENT_TIMEOUT_S = 60
# Containers are created, watched and removed concurrently: the SDK's default pool of 10
# connections would make them queue behind each other.
_MAX_POOL_SIZE = 256
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _foreign() -> tuple[type[BaseException], ...]:
    """The errors of the daemon and its client (imported late: the SDK is needed only here)."""
    import docker.errors

    return (docker.errors.DockerException, OSError)


@contextlib.contextmanager
def translated(failure: str, *, detail: bool = True) -> Iterator[None]:
    """Raise ``ExecutorError(f"{failure}: {the error's first line}")`` (just ``failure`` when
    ``detail`` is false) for an error of the daemon, its client or the OS inside the block."""
    try:
        yield
    except ExecutorError:
        raise
    except _foreign() as exc:
        raise ExecutorError(f"{failure}: {short(exc)}" if detail else failure) from exc


@contextlib.contextmanager
def tolerated(what: str, *, level: int = logging.DEBUG) -> Iterator[None]:
    """Log and drop an error of the daemon, its client or the OS inside the block (``what``
    names the attempt), where failing is expected or harmless. Anything else propagates."""
    try:
        yield
    except _foreign() as exc:
        log.log(level, "docker executor: %s: %s", what, short(exc))


@dataclasses.dataclass(frozen=True, slots=True)
class Placement:
    """Where the daemon is: on this machine (``local``), reached through a unix socket here (``socket``)."""

    local: bool
    socket: bool


def connect() -> tuple[Any, Placement]:
    """A connected SDK client (``docker.DockerClient``) and where the daemon is.

    Raises ``ExecutorError("Docker not available")`` without the SDK or without a daemon that
    answers (the reason goes to the log).
    """
    try:
        import docker
    except ImportError as exc:
        log.warning("docker executor: the docker SDK is not installed (%s)", exc)
        raise ExecutorError(NOT_AVAILABLE) from exc
    try:
        with translated(NOT_AVAILABLE, detail=False):
            client = docker.from_env(timeout=CLIENT_TIMEOUT_S, max_pool_size=_MAX_POOL_SIZE)
            client.ping()
    except ExecutorError as exc:
        log.warning("docker executor: no Docker daemon answers (%s)", short(exc.__cause__ or exc))
        raise
    base = str(client.api.base_url)
    socket = base == "http+docker://localhost"  # the SDK's name for a unix socket (its path is the adapter's)
    local = socket or urlsplit(base).hostname in _LOOPBACK
    where = "this machine's unix socket" if socket else "this machine, over TCP" if local else "another machine"
    log.info("docker executor: daemon at %s (%s)", base, where)
    return client, Placement(local=local, socket=socket)


async def finished(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)`` in a worker thread, waited out even when the caller is cancelled.

    The thread cannot be stopped: were the caller to go on at once, a container would still be
    created (or removed) behind its back, after whatever cleanup comes next. Cancellation
    therefore waits for the thread to end, then propagates; the caller's deadline (a
    ``TaskScope.close`` timeout) bounds the wait.
    """
    loop = asyncio.get_running_loop()
    call = functools.partial(contextvars.copy_context().run, fn, *args, **kwargs)  # what asyncio.to_thread does
    future = loop.run_in_executor(None, call)
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        await asyncio.wait([future])
        if not future.cancelled():
            future.exception()  # seen: its outcome belongs to no one now
        raise


def short(exc: BaseException) -> str:
    """The first line of an error's message (docker's API errors run to many lines), at most 300 characters."""
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]
