"""(to be written)"""

from __future__ import annotations

from locallambda.control.plane import ControlPlane
from locallambda.protocol.dispatch import Handler

__all__ = ["TagsApi"]


class TagsApi:
    def __init__(self, plane: ControlPlane) -> None:
        self.plane = plane

    def handlers(self) -> dict[str, Handler]:
        return {}
