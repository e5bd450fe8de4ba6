"""(to be written) The docker executor: one container per execution environment."""

from __future__ import annotations

from collections.abc import Mapping

from locallambda.executors.base import Executor, ExecutorError, OutputSink, RuntimeProcess
from locallambda.executors.runtime_commands import RuntimeCommands
from locallambda.invoke.models import FunctionSpec
from locallambda.settings import Settings

__all__ = ["DockerExecutor"]


class DockerExecutor(Executor):
    name = "docker"

    def __init__(self, commands: RuntimeCommands, settings: Settings, *, reuse: bool) -> None:
        self._commands = commands
        self._settings = settings
        self.reuse = reuse

    async def prepare(self, spec: FunctionSpec) -> str | None:
        return "Docker not available"

    async def start(
        self, spec: FunctionSpec, runtime_api: str, environment: Mapping[str, str], output: OutputSink
    ) -> RuntimeProcess:
        raise ExecutorError("Docker not available")
