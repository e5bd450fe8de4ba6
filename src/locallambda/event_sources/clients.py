"""boto3 clients of the sources, against this server's own endpoint (or the configured one).

Blocking calls run in a pool of worker threads owned here (``call``); a closed pool makes
every further call raise ``SourceClosed``. Client errors keep botocore's ``ClientError`` so
that callers can read AWS's error code.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import boto3
from botocore.config import Config

__all__ = ["Clients", "SourceClosed", "region_of"]

T = TypeVar("T")


class SourceClosed(Exception):
    """The pollers are shutting down."""


def region_of(arn: str, default: str) -> str:
    parts = arn.split(":")
    return parts[3] if len(parts) > 3 and parts[3] else default


class Clients:
    """One boto3 client per (service, region), shared by every poller (boto3 clients are
    thread-safe); ``call`` runs one blocking call in a worker thread."""

    def __init__(self, endpoint_url: str, default_region: str, workers: int = 64) -> None:
        self.endpoint_url = endpoint_url
        self.default_region = default_region
        self._session = boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test")
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="event-sources")
        self._closed = False
        # Long polls wait up to 20 s: the read timeout must outlast them.
        self._config = Config(
            read_timeout=30,
            connect_timeout=3,
            retries={"max_attempts": 2, "mode": "standard"},
            max_pool_connections=workers,
        )

    def client(self, service: str, region: str | None = None) -> Any:
        key = (service, region or self.default_region)
        with self._lock:
            if key not in self._clients:
                self._clients[key] = self._session.client(
                    service, region_name=key[1], endpoint_url=self.endpoint_url, config=self._config
                )
            return self._clients[key]

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn(*args, **kwargs)`` in a worker thread. Raises ``SourceClosed`` after ``close``."""
        if self._closed:
            raise SourceClosed()
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._pool, lambda: fn(*args, **kwargs))
        except RuntimeError as exc:  # the pool was shut down meanwhile
            if self._closed:
                raise SourceClosed() from exc
            raise

    def close(self) -> None:
        self._closed = True
        self._pool.shutdown(wait=False, cancel_futures=True)
