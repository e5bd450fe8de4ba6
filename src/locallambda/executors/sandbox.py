"""(to be written) The sandbox executor: the process executor isolated with Linux namespaces."""

from __future__ import annotations

from collections.abc import Mapping

from locallambda.executors.base import Executor, ExecutorError, OutputSink, RuntimeProcess
from locallambda.executors.runtime_commands import RuntimeCommands
from locallambda.invoke.models import FunctionSpec
from locallambda.settings import Settings

__all__ = ["SandboxExecutor"]


class SandboxExecutor(Executor):
    name = "sandbox"

    def __init__(self, commands: RuntimeCommands, settings: Settings) -> None:
        self._commands = commands
        self._settings = settings

    @staticmethod
    def supported() -> str | None:
        """None when this host can run sandboxes, else the reason it cannot."""
        return "the sandbox executor is not written yet"

    async def start(
        self, spec: FunctionSpec, runtime_api: str, environment: Mapping[str, str], output: OutputSink
    ) -> RuntimeProcess:
        raise ExecutorError("the sandbox executor is not written yet")
