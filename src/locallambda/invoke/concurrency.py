"""Concurrency accounting: the account limit, reserved concurrency, and AWS's throttling errors.

A function with reserved concurrency may run that many invocations at once and no more
(``ReservedFunctionConcurrentInvocationLimitExceeded``); the others share what is left of the
account limit (``ConcurrentInvocationLimitExceeded``). Docs: lambda-concurrency.html.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from locallambda.errors import TooManyRequestsError

__all__ = ["ConcurrencyGate"]


def _throttle(reason: str) -> TooManyRequestsError:
    return TooManyRequestsError("Rate Exceeded.", Reason=reason, retryAfterSeconds="1")


class ConcurrencyGate:
    def __init__(self, account_limit: int) -> None:
        self._limit = account_limit
        self._running: dict[str, int] = {}
        self._unreserved_running = 0

    def running(self, key: str) -> int:
        return self._running.get(key, 0)

    @contextlib.contextmanager
    def slot(self, key: str, reserved: int | None, reserved_total: int) -> Iterator[None]:
        """Hold one concurrent execution for function ``key`` for the duration of the block.

        ``reserved`` is the function's reserved concurrency (None: it shares the unreserved pool);
        ``reserved_total`` the sum reserved by all functions. Raises ``TooManyRequestsError``.
        """
        current = self._running.get(key, 0)
        if reserved is not None:
            if current >= reserved:
                raise _throttle("ReservedFunctionConcurrentInvocationLimitExceeded")
        elif self._unreserved_running >= self._limit - reserved_total:
            raise _throttle("ConcurrentInvocationLimitExceeded")
        self._running[key] = current + 1
        if reserved is None:
            self._unreserved_running += 1
        try:
            yield
        finally:
            left = self._running.get(key, 1) - 1
            if left:
                self._running[key] = left
            else:
                self._running.pop(key, None)
            if reserved is None:
                self._unreserved_running -= 1
