"""The neighbour services' state on disk: snapshots of moto's backends, restored at start.

With persistence on, every service moto has state for is written to ``<data_dir>/neighbours/``
as one file per backend (``s3.pickle``, ``sqs.pickle``, ...): ``{account: {region: backend}}``
read from moto's ``BackendDict`` with plain ``dict.items`` (so no backend is created just to be
written), pickled with reducers for what moto keeps that pickle refuses (locks and conditions
become fresh ones; a ``defaultdict`` of a lambda gets an equivalent module-level factory), and
written atomically (temporary file, fsync, rename). S3 objects' bytes are not pickled: each is
stored once in the content-addressed ``blobs/<sha256>``, and the snapshot names it; blobs no
snapshot names are removed after each snapshot of S3.

When: after each neighbour request that may have changed state (``changes_state``), the
services it can touch are written in the worker thread that ran it, before its answer goes to
the client, so an acknowledged write survives kill -9; every service every few seconds (what
background work wrote: function logs shipped to CloudWatch Logs, scheduled rules' targets); all
of them at a clean shutdown. Writes of one file are serialized by its lock; a snapshot taken
while another request is mutating the same backend is retried.

At start, ``restore`` (an ``on_load`` hook: it runs right after moto is imported, before the
first neighbour request is answered) puts every readable snapshot back into moto's
``BackendDict``; an unreadable one is logged and skipped, and that service starts empty.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import hashlib
import importlib
import io
import logging
import os
import pickle
import sys
import threading
import weakref
from collections.abc import Awaitable, Callable, Iterable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

__all__ = ["Snapshots", "changes_state"]

log = logging.getLogger(__name__)

# Operations that only read, by the prefix of their name (X-Amz-Target's or Action=).
_READS = ("Get", "List", "Describe", "Head", "Query", "Scan", "BatchGet", "Lookup", "Search", "Filter", "Test")
_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# What a call to one service can change in others' backends (moto delivers in process): SNS
# publishes to SQS; S3 notifications go to SQS and SNS; rules' targets; stacks create anything.
_TOUCHES: dict[str, tuple[str, ...]] = {
    "sns": ("sns", "sqs"),
    "s3": ("s3", "sqs", "sns"),
    "events": ("events", "sqs", "sns", "logs", "kinesis"),
    "logs": ("logs", "kinesis", "firehose"),
    "dynamodbstreams": ("dynamodb", "dynamodbstreams"),
}
_EVERYTHING = frozenset({"cloudformation"})
_LOCK_TYPES = (type(threading.Lock()), type(threading.RLock()))
PERIOD_S = 5.0
_RETRIES = 5


def changes_state(method: str, environ: dict[str, Any]) -> bool:
    """Whether a request may have changed a service's state: not GET/HEAD, and not an operation
    named as a read (the operation is in ``X-Amz-Target`` for JSON protocols, ``Action=`` in
    the query or form body for query protocols; REST protocols are judged by the method)."""
    operation = _operation(environ)
    if operation is not None:
        return not operation.startswith(_READS)
    return method.upper() not in _READ_METHODS


def _operation(environ: dict[str, Any]) -> str | None:
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return str(target).rsplit(".", 1)[-1]
    actions = parse_qs(environ.get("QUERY_STRING", "")).get("Action")
    if not actions and "x-www-form-urlencoded" in environ.get("CONTENT_TYPE", ""):
        body = environ.get("wsgi.input")
        if isinstance(body, io.BytesIO):
            actions = parse_qs(body.getvalue().decode("latin-1")).get("Action")
    return actions[0] if actions else None


class Snapshots:
    """The snapshots of moto's backends under ``directory`` (``<data_dir>/neighbours``)."""

    def __init__(self, directory: Path) -> None:
        self._dir = directory
        self._blobs = directory / "blobs"
        self._locks: collections.defaultdict[str, threading.Lock] = collections.defaultdict(threading.Lock)
        self._locks_lock = threading.Lock()
        self._blob_lock = threading.Lock()
        self._refs: dict[str, set[str]] = {}  # snapshot name -> the blobs it names
        self._digests: dict[int, tuple[weakref.ref[Any], tuple[Any, ...], str]] = {}
        self._written: dict[str, str] = {}  # snapshot name -> sha256 of the bytes last written
        self._loaded = False
        self.skipped: dict[str, str] = {}  # snapshot or backend -> why it is not persisted

    def exist(self) -> bool:
        return any(self._dir.glob("*.pickle"))

    # -- restore ------------------------------------------------------------------------------

    def restore(self) -> None:
        """Put every readable snapshot back into moto's backends (blocking; moto imported).
        An unreadable snapshot is logged and skipped: its service starts empty."""
        self._loaded = True
        if not self._dir.is_dir():
            return
        for stale in self._dir.glob("*.tmp"):
            stale.unlink(missing_ok=True)
        for path in sorted(self._dir.glob("*.pickle")):
            name = path.stem
            refs: set[str] = set()
            try:
                payload = pickle.loads(path.read_bytes())
                backend_dict = getattr(importlib.import_module(payload["module"]), payload["attr"])
                restored = {
                    account: {
                        region: _Unpickler(io.BytesIO(data), self._blobs, refs).load()
                        for region, data in regions.items()
                    }
                    for account, regions in payload["backends"].items()
                }
                for account, regions in restored.items():
                    account_backends = backend_dict[account]  # creates the account's entry
                    for region, backend in regions.items():
                        dict.__setitem__(account_backends, region, backend)
            except Exception as exc:
                log.warning("neighbour snapshot %s is unreadable, %s starts empty: %r", path, name, exc)
                self.skipped[name] = f"unreadable snapshot: {exc!r}"
                continue
            self._refs[name] = refs
            log.info("neighbour state restored: %s", name)

    # -- write --------------------------------------------------------------------------------

    def after_call(self, service: str, method: str, environ: dict[str, Any], status: int) -> None:
        """The hook run in the worker thread right after moto answers a request: the services
        it may have changed are written before the answer is returned."""
        if status >= 400 or not changes_state(method, environ):
            return
        if service in _EVERYTHING:
            self.save_all()
        else:
            self.save(_TOUCHES.get(service, (service,)))

    def save_all(self) -> None:
        """Write every service moto has state for (blocking)."""
        if self._loaded:
            self.save(name for name, _ in _backend_dicts())

    def save(self, services: Iterable[str]) -> None:
        wanted = set(services)
        for name, backend_dict in _backend_dicts():
            if backend_dict.service_name in wanted or name in wanted:
                self._save_one(name, backend_dict)

    def _save_one(self, name: str, backend_dict: Any) -> None:
        with self._lock_of(name):
            for attempt in range(_RETRIES):
                try:
                    data, refs = self._pickle(backend_dict)
                    break
                except RuntimeError:  # changed size during iteration: another request is writing
                    if attempt == _RETRIES - 1:
                        log.warning("neighbour snapshot %s: state kept changing, left for the next one", name)
                        return
            digest = hashlib.sha256(data).hexdigest()
            if self._written.get(name) != digest:
                _write_atomically(self._dir / f"{name}.pickle", data)
                self._written[name] = digest
            had_blobs = bool(self._refs.get(name))
            self._refs[name] = refs
        if refs or had_blobs:
            self._collect_blobs()

    def _lock_of(self, name: str) -> threading.Lock:
        with self._locks_lock:
            return self._locks[name]

    def _pickle(self, backend_dict: Any) -> tuple[bytes, set[str]]:
        """The snapshot of one ``BackendDict``: each region's backend pickled on its own, so
        one that cannot be is left out (and listed) without losing the others."""
        module, attr = _home_of(backend_dict)
        refs: set[str] = set()
        backends: dict[str, dict[str, bytes]] = {}
        for account, regions in list(dict.items(backend_dict)):
            kept: dict[str, bytes] = {}
            for region, backend in list(dict.items(regions)):
                out = io.BytesIO()
                try:
                    _Pickler(out, self, refs).dump(backend)
                except RuntimeError:
                    raise
                except Exception as exc:
                    key = f"{backend_dict.service_name}/{account}/{region}"
                    if key not in self.skipped:
                        log.warning("neighbour state not persisted: %s (%r)", key, exc)
                        self.skipped[key] = f"not picklable: {exc!r}"
                    continue
                kept[region] = out.getvalue()
            if kept:
                backends[account] = kept
        data = pickle.dumps({"module": module, "attr": attr, "backends": backends}, pickle.HIGHEST_PROTOCOL)
        return data, refs

    def blob_of(self, key: Any, value_of: Callable[[], bytes]) -> str:
        """The blob of an S3 object's bytes (written once, by content); its digest is kept per
        object while its size, ETag and modification time stay the same."""
        marker = (key.contentsize, key._etag, key.last_modified)
        known = self._digests.get(id(key))
        if known is not None and known[0]() is key and known[1] == marker:
            return known[2]
        value = value_of()
        digest = hashlib.sha256(value).hexdigest()
        path = self._blobs / digest
        with self._blob_lock:
            if not path.exists():
                _write_atomically(path, value)
        self._digests[id(key)] = (weakref.ref(key), marker, digest)
        return digest

    def _collect_blobs(self) -> None:
        with self._blob_lock:
            named = set().union(*self._refs.values()) if self._refs else set()
            for path in self._blobs.glob("*") if self._blobs.is_dir() else ():
                if path.name not in named and not path.name.endswith(".tmp"):
                    path.unlink(missing_ok=True)
        for key_id, (ref, _, _) in list(self._digests.items()):
            if ref() is None:
                self._digests.pop(key_id, None)

    async def periodically(self, run: Callable[[Callable[[], None]], Awaitable[None]]) -> None:
        """Write every service each ``PERIOD_S`` seconds through ``run`` (the neighbours' pool),
        for what changed without a request; until cancelled."""
        while True:
            await asyncio.sleep(PERIOD_S)
            if self._loaded:
                try:
                    await run(self.save_all)
                except Exception:
                    log.exception("periodic neighbour snapshot failed")


def _backend_dicts() -> Iterator[tuple[str, Any]]:
    """Every moto ``BackendDict`` in use, with the name of its snapshot."""
    base = sys.modules.get("moto.core.base_backend")
    if base is None:
        return
    seen: set[str] = set()
    for backend_dict in list(base.BackendDict._instances):
        name = str(backend_dict.service_name)
        if name in seen:
            name = f"{name}.{_home_of(backend_dict)[1]}"
        seen.add(name)
        yield name, backend_dict


@functools.cache
def _home_of_cached(module: str, identity: int) -> str:
    for attr, value in vars(sys.modules[module]).items():
        if id(value) == identity:
            return attr
    raise LookupError(f"no module attribute holds backend {identity} in {module}")


def _home_of(backend_dict: Any) -> tuple[str, str]:
    """The module and attribute that hold a ``BackendDict`` (``moto.s3.models``, ``s3_backends``)."""
    module = backend_dict.backend.__module__
    return module, _home_of_cached(module, id(backend_dict))


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{threading.get_ident()}.tmp")
    with tmp.open("wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class _BlobRef:
    __slots__ = ("digest",)

    def __init__(self, digest: str) -> None:
        self.digest = digest


class _Pickler(pickle.Pickler):
    def __init__(self, file: io.BytesIO, snapshots: Snapshots, refs: set[str]) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self._snapshots = snapshots
        self._refs = refs
        s3 = sys.modules.get("moto.s3.models")
        self._key_type: type | None = getattr(s3, "FakeKey", None)

    def persistent_id(self, obj: Any) -> Any:
        if type(obj) is _BlobRef:
            return obj.digest
        return None

    def reducer_override(self, obj: Any) -> Any:
        kind = type(obj)
        if kind in _LOCK_TYPES:
            return (_LOCK_TYPES[1] if "RLock" in kind.__name__ else threading.Lock, ())
        if isinstance(obj, collections.defaultdict):
            return _reduce_defaultdict(obj)
        if self._key_type is not None and isinstance(obj, self._key_type):
            return self._reduce_key(obj)
        return NotImplemented

    def _reduce_key(self, key: Any) -> Any:
        state = dict(key.__dict__)
        state.pop("_value_buffer", None)
        state.pop("lock", None)

        def value() -> bytes:
            try:
                return bytes(key.value)
            except ValueError:  # a deleted key's buffer is closed: moto pickles it empty too
                return b""

        digest = self._snapshots.blob_of(key, value)
        self._refs.add(digest)
        return (_restore_key, (type(key), _BlobRef(digest), state))


class _Unpickler(pickle.Unpickler):
    def __init__(self, file: Any, blobs: Path, refs: set[str]) -> None:
        super().__init__(file)
        self._blobs = blobs
        self._refs = refs

    def persistent_load(self, pid: Any) -> Any:
        digest = str(pid)
        self._refs.add(digest)
        return (self._blobs / digest).read_bytes()


def _reduce_defaultdict(obj: collections.defaultdict[Any, Any]) -> Any:
    """A ``defaultdict`` of a lambda, or a subclass whose ``__init__`` takes other arguments
    (ssm's ``ParameterDict(account_id, region_name)``), rebuilt without calling ``__init__``."""
    kind, factory = type(obj), obj.default_factory
    if _is_local(factory):
        factory = _factory_like(factory)  # type: ignore[arg-type]
    elif kind is collections.defaultdict:
        return NotImplemented
    return (_new_defaultdict, (kind, factory), getattr(obj, "__dict__", None) or None, None, iter(obj.items()))


def _new_defaultdict(kind: type[collections.defaultdict[Any, Any]], factory: Any) -> Any:
    made = kind.__new__(kind)
    made.default_factory = factory
    return made


def _restore_key(kind: type, value: bytes, state: dict[str, Any]) -> Any:
    key: Any = object.__new__(kind)
    key.__setstate__({**state, "value": value})
    return key


def _is_local(factory: Any) -> bool:
    return factory is not None and "<" in getattr(factory, "__qualname__", "")


def _factory_like(factory: Callable[[], Any]) -> Callable[[], Any]:
    """A picklable factory making what ``factory`` (a lambda) makes: an empty container, or a
    ``defaultdict`` of one (ssm's ``defaultdict(lambda: defaultdict(dict))``)."""
    made = factory()
    if isinstance(made, collections.defaultdict):
        inner = made.default_factory
        if inner is not None and _is_local(inner):
            return functools.partial(collections.defaultdict, _factory_like(inner))
        return functools.partial(collections.defaultdict, inner)
    if type(made) in (dict, list, set, int, str, float, tuple) and not made:
        return type(made)
    raise pickle.PicklingError(f"no picklable factory like {factory!r}")
