"""(to be written) Layers: publish, read, list, delete, policies; merged /opt trees for executors."""

from __future__ import annotations

from pathlib import Path

from locallambda.control.plane import ControlPlane
from locallambda.requests import Handler

__all__ = ["LayersApi"]


class LayersApi:
    def __init__(self, plane: ControlPlane) -> None:
        self.plane = plane

    def handlers(self) -> dict[str, Handler]:
        return {}

    def opt_paths(self, layer_arns: list[str]) -> list[Path]:
        """Directories that together form the function's /opt, in AWS's order (later wins)."""
        return []
