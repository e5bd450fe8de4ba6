"""Lifecycles as explicit state machines: a function version's State and LastUpdateStatus, and
an execution environment's state. Every transition not listed is refused.

Docs: functions-states.html. A new function is ``Pending`` until its code can run, then
``Active`` (or ``Failed`` with the reason); an update moves ``LastUpdateStatus`` through
``InProgress`` to ``Successful`` (or ``Failed``). The configuration keeps the wire strings (it is
what every read returns); ``VersionStatus`` reads and writes them through these rules.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, MutableMapping
from typing import Any

__all__ = [
    "CREATING_REASON",
    "EnvState",
    "FunctionState",
    "IllegalTransition",
    "UpdateStatus",
    "VersionStatus",
]

CREATING_REASON = "The function is being created."  # AWS says "created" for updates as well


class IllegalTransition(RuntimeError):
    """A state machine was asked for a move its table does not allow (a bug of ours)."""


class FunctionState(enum.Enum):
    PENDING = "Pending"
    ACTIVE = "Active"
    INACTIVE = "Inactive"
    FAILED = "Failed"


class UpdateStatus(enum.Enum):
    IN_PROGRESS = "InProgress"
    SUCCESSFUL = "Successful"
    FAILED = "Failed"


class EnvState(enum.Enum):
    """An execution environment: STARTING → IDLE ⇄ BUSY → STOPPED; BUSY → RESET → BUSY;
    nothing leaves STOPPED.

    RESET: an invocation timed out or its runtime crashed, and the environment was reset as AWS
    resets it: its runtime and extensions shut down, the environment itself (its ``/tmp``) kept;
    the next invocation starts them again (lambda-runtime-environment.html, "Failures during the
    invoke phase"). Such an environment is leased like an idle one.
    """

    STARTING = "starting"
    IDLE = "idle"
    BUSY = "busy"
    RESET = "reset"
    STOPPED = "stopped"

    def can_become(self, new: EnvState) -> bool:
        return new in _ENV_MOVES[self]

    @property
    def leasable(self) -> bool:
        """Whether an invocation may take an environment in this state from the pool."""
        return self in (EnvState.IDLE, EnvState.RESET)


_ENV_MOVES: Mapping[EnvState, frozenset[EnvState]] = {
    EnvState.STARTING: frozenset({EnvState.IDLE, EnvState.BUSY, EnvState.STOPPED}),
    EnvState.IDLE: frozenset({EnvState.BUSY, EnvState.STOPPED}),
    EnvState.BUSY: frozenset({EnvState.IDLE, EnvState.RESET, EnvState.STOPPED}),
    EnvState.RESET: frozenset({EnvState.BUSY, EnvState.STOPPED}),
    EnvState.STOPPED: frozenset(),
}

_STATE_MOVES: Mapping[FunctionState, frozenset[FunctionState]] = {
    FunctionState.PENDING: frozenset({FunctionState.ACTIVE, FunctionState.FAILED}),
    FunctionState.ACTIVE: frozenset({FunctionState.ACTIVE, FunctionState.FAILED, FunctionState.INACTIVE}),
    FunctionState.INACTIVE: frozenset({FunctionState.PENDING, FunctionState.ACTIVE}),
    FunctionState.FAILED: frozenset({FunctionState.FAILED, FunctionState.ACTIVE}),
}

_STATUS_MOVES: Mapping[UpdateStatus | None, frozenset[UpdateStatus]] = {
    None: frozenset({UpdateStatus.IN_PROGRESS, UpdateStatus.SUCCESSFUL, UpdateStatus.FAILED}),
    UpdateStatus.IN_PROGRESS: frozenset({UpdateStatus.SUCCESSFUL, UpdateStatus.FAILED}),
    UpdateStatus.SUCCESSFUL: frozenset({UpdateStatus.IN_PROGRESS}),
    UpdateStatus.FAILED: frozenset({UpdateStatus.IN_PROGRESS}),
}

_REASON_KEYS = ("StateReason", "StateReasonCode", "LastUpdateStatusReason", "LastUpdateStatusReasonCode")


class VersionStatus:
    """The lifecycle members of one version's wire configuration, changed only by legal moves."""

    __slots__ = ("_cfg",)

    def __init__(self, cfg: MutableMapping[str, Any]) -> None:
        self._cfg = cfg

    @property
    def state(self) -> FunctionState | None:
        raw = self._cfg.get("State")
        return FunctionState(raw) if raw is not None else None

    @property
    def update(self) -> UpdateStatus | None:
        raw = self._cfg.get("LastUpdateStatus")
        return UpdateStatus(raw) if raw is not None else None

    @property
    def settling(self) -> bool:
        """True while the version waits for its code to be prepared (created or updated)."""
        return self.state is FunctionState.PENDING or self.update is UpdateStatus.IN_PROGRESS

    def begin_create(self) -> None:
        """A version that did not exist before (created, or published from code still being
        prepared): Pending, without an update status, whatever its configuration was copied from."""
        for key in (*_REASON_KEYS, "LastUpdateStatus"):
            self._cfg.pop(key, None)
        self._cfg.update(State=FunctionState.PENDING.value, StateReason=CREATING_REASON, StateReasonCode="Creating")

    def begin_update(self) -> None:
        """An update of code or configuration: InProgress until it is prepared."""
        self._move_status(UpdateStatus.IN_PROGRESS)
        self._cfg.update(LastUpdateStatusReason=CREATING_REASON, LastUpdateStatusReasonCode="Creating")

    def settle(self, failure: str | None) -> None:
        """The preparation ended: Active and Successful, or Failed with ``failure`` as the reason."""
        for key in _REASON_KEYS:
            self._cfg.pop(key, None)
        if failure is None:
            self._move_state(FunctionState.ACTIVE)
            self._move_status(UpdateStatus.SUCCESSFUL)
            return
        self._move_state(FunctionState.FAILED)
        self._move_status(UpdateStatus.FAILED)
        self._cfg.update(
            StateReason=failure,
            StateReasonCode="InternalError",
            LastUpdateStatusReason=failure,
            LastUpdateStatusReasonCode="InternalError",
        )

    def _move_state(self, new: FunctionState) -> None:
        current = self.state
        if current is not None and new not in _STATE_MOVES[current]:
            raise IllegalTransition(f"State {current.value} → {new.value}")
        self._cfg["State"] = new.value

    def _move_status(self, new: UpdateStatus) -> None:
        current = self.update
        if new not in _STATUS_MOVES[current]:
            raise IllegalTransition(f"LastUpdateStatus {current} → {new.value}")
        self._cfg["LastUpdateStatus"] = new.value
