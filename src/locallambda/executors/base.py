"""The one small interface every executor implements.

An executor only starts and stops execution environments. It launches the runtime's client with
``AWS_LAMBDA_RUNTIME_API`` pointing at the environment's own Runtime API address; everything
else (delivering events, collecting results) goes through that API — there is no second protocol.

After a timeout or a crash during an invocation AWS resets the environment: the runtime and its
extensions are shut down, the environment (its ``/tmp`` above all) is kept, and the next
invocation starts them again in it (lambda-runtime-environment.html, "Failures during the invoke
phase"). A ``RuntimeProcess`` whose environment outlives its processes (a sandbox, a container)
does that with ``reset``, ``stopped`` and ``restart``; one that is no more than its processes (a child of the
host, whose ``/tmp`` is the host's) keeps the defaults, and the executor starts it anew.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping

from locallambda.model.spec import FunctionSpec

__all__ = ["Executor", "OutputSink", "RuntimeProcess"]

OutputSink = Callable[[bytes], None]


class RuntimeProcess(abc.ABC):
    """A started environment: a process, a sandbox or a container, and the runtime in it."""

    @abc.abstractmethod
    async def wait(self) -> int:
        """Wait for the runtime to end (the one ``restart`` started, after a restart); returns
        its exit status (negative: killed by that signal). Called once per start."""

    @abc.abstractmethod
    def kill(self) -> None:
        """Stop the environment now (and everything it started). Idempotent, never raises."""

    def reset(self) -> None:
        """Kill the runtime and everything it started (its extensions too) but keep the
        environment for ``restart``; ``wait`` then returns. Idempotent, never raises. The
        default kills the whole environment (``restart`` then answers False)."""
        self.kill()

    async def stopped(self) -> None:  # noqa: B027 - the default has nothing more to wait for
        """Until what the last ``reset`` or ``kill`` killed is gone, beyond the runtime whose end
        ``wait`` reports (what it started, the environment). The default has nothing more to
        wait for."""

    async def restart(self) -> bool:
        """Start the runtime again in this environment once ``stopped``, with the command and
        variables of its first start; its output goes where the first one's went.

        False when this environment cannot (the default; or it is gone): the caller then starts
        a new one. Raises ``ExecutorError``.
        """
        return False

    def max_memory_mb(self) -> int | None:
        """Peak memory used so far, if the executor can tell."""
        return None

    def out_of_memory(self) -> bool:
        """True when the environment was killed for exceeding its memory limit."""
        return False


class Executor(abc.ABC):
    name: str = "executor"
    # False: an environment serves one invocation and is then discarded (LocalStack's legacy
    # ``docker`` executor); True: warm environments are reused under LAMBDA_KEEPALIVE_MS.
    reuse: bool = True

    @property
    def runtime_api_host(self) -> str:
        """Where an environment's Runtime API listens: loopback unless the runtime lives in
        another network namespace that reaches the host through a gateway (docker bridges)."""
        return "127.0.0.1"

    # True when the executor itself starts the external extensions found in /opt/extensions.
    starts_extensions: bool = False

    def open(self) -> None:  # noqa: B027 - most executors have nothing to do at start
        """Called once when the server starts (on the event loop, must not block): an executor
        may clean up after a previous run in the background."""

    async def prepare(self, spec: FunctionSpec) -> str | None:
        """Check this executor can run the function; the reason when it cannot (→ state Failed)."""
        return None

    @abc.abstractmethod
    async def start(
        self, spec: FunctionSpec, runtime_api: str, environment: Mapping[str, str], output: OutputSink
    ) -> RuntimeProcess:
        """Start an environment whose runtime polls ``runtime_api``.

        ``environment`` holds the function's variables as AWS sets them; ``output`` receives
        everything the runtime writes to stdout and stderr. Raises ``ExecutorError``.
        """

    async def close(self) -> None:  # noqa: B027 - a default that has nothing to release
        """Release what the executor holds (called once at shutdown, after every kill)."""
