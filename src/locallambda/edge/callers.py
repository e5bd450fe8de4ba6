"""Who is calling: the host's own user, code inside an isolated execution environment, or another
machine. Decided per request, only when a request asks for something that reaches host files.

The API is unauthenticated and listens on loopback, where a function's code can reach it too
(its SDK's ``AWS_ENDPOINT_URL`` points here). A function in the ``sandbox`` or ``docker``
executor must not get host files by asking the API for them (the hot-reload bucket names any
host directory). Two signals tell such a caller apart:

- the credentials every environment gets (``AWS_ACCESS_KEY_ID`` starting ``LLFN``), seen in the
  request's SigV4 ``Authorization`` header — a function that signs with them is a function;
- the process at the other end of the connection: found through ``/proc/net/tcp{,6}`` (the
  socket's inode) and ``/proc/<pid>/fd``, then compared by mount namespace with this server. A
  sandbox (bubblewrap) or a container lives in a mount namespace of its own; a client on the
  host (the user's shell, boto3, the AWS CLI, a function of the ``local`` executor) shares ours.

A connection from a non-loopback address (a container on a bridge network, another machine) is
``REMOTE``; one whose process cannot be found is ``UNKNOWN``. Only ``HOST`` callers get host paths.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
from collections.abc import Iterator, Mapping

from locallambda.model.operations import FUNCTION_KEY_PREFIX, Origin

__all__ = ["origin_of", "signed_by_function"]

log = logging.getLogger(__name__)

_CREDENTIAL = re.compile(r"Credential=([A-Za-z0-9]+)/")


def signed_by_function(headers: Mapping[str, str]) -> bool:
    """True when the request is signed with credentials this server gave an execution environment."""
    m = _CREDENTIAL.search(headers.get("authorization", ""))
    return m is not None and m.group(1).startswith(FUNCTION_KEY_PREFIX)


def origin_of(client: tuple[str, int] | None, headers: Mapping[str, str], *, server_port: int) -> Origin:
    """Where the request on this connection comes from (blocking: reads /proc; call it only for
    the rare requests that need it, off the event loop)."""
    if signed_by_function(headers):
        return Origin.ISOLATED
    if client is None:
        return Origin.UNKNOWN
    host, port = client[0], int(client[1])
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return Origin.UNKNOWN
    mapped = getattr(address, "ipv4_mapped", None)
    if not (address.is_loopback or (mapped is not None and mapped.is_loopback)):
        return Origin.REMOTE
    inode = _socket_inode(port, server_port)
    if inode is None:
        return Origin.UNKNOWN
    pid = _owner(inode)
    if pid is None:
        return Origin.UNKNOWN
    try:
        same = all(os.readlink(f"/proc/{pid}/ns/{ns}") == os.readlink(f"/proc/self/ns/{ns}") for ns in ("mnt", "pid"))
    except OSError:
        return Origin.UNKNOWN
    return Origin.HOST if same else Origin.ISOLATED


def _socket_inode(client_port: int, server_port: int) -> int | None:
    """The inode of the client's end of a loopback connection to ``server_port``."""
    wanted_local, wanted_remote = f"{client_port:04X}", f"{server_port:04X}"
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as fh:
                next(fh, None)
                for line in fh:
                    fields = line.split()
                    if len(fields) < 10:
                        continue
                    local, remote = fields[1], fields[2]
                    if local.endswith(":" + wanted_local) and remote.endswith(":" + wanted_remote):
                        inode = int(fields[9])
                        if inode:
                            return inode
        except (OSError, ValueError):
            continue
    return None


def _pids() -> Iterator[int]:
    own = os.getpid()
    for name in os.listdir("/proc"):
        if name.isdigit() and int(name) != own:
            yield int(name)


def _owner(inode: int) -> int | None:
    """The process holding the socket ``inode`` open (the first found)."""
    target = f"socket:[{inode}]"
    for pid in _pids():
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                    return pid
            except OSError:
                continue
    return None
