"""The replica's state: one enum, one table of allowed moves, one writer.

    STARTING -> READY <-> BUSY
    STARTING -> SETUP_FAILED
    STARTING | READY | BUSY -> FAILED      (worker died, or was stopped for cause)
    FAILED -> STARTING                     (only when a restart policy brings a new worker)

Every move goes through `StateMachine.transition`, which refuses a move the table does not allow,
logs it with its reason and counts it. READY <-> BUSY happens on every prediction, so those moves
are logged at debug level only.
"""

from __future__ import annotations

import enum
import logging
from collections import Counter
from typing import Callable

log = logging.getLogger("sprocket.supervisor")


class State(enum.StrEnum):
    STARTING = "STARTING"
    READY = "READY"
    BUSY = "BUSY"
    SETUP_FAILED = "SETUP_FAILED"
    FAILED = "FAILED"


ALLOWED: dict[State, frozenset[State]] = {
    State.STARTING: frozenset({State.READY, State.SETUP_FAILED, State.FAILED}),
    State.READY: frozenset({State.BUSY, State.FAILED}),
    State.BUSY: frozenset({State.READY, State.FAILED}),
    State.SETUP_FAILED: frozenset(),
    State.FAILED: frozenset({State.STARTING}),
}

_QUIET = {(State.READY, State.BUSY), (State.BUSY, State.READY)}


class IllegalTransition(RuntimeError):
    pass


OnTransition = Callable[[State, State, str], None]


class StateMachine:
    def __init__(self, on_transition: OnTransition | None = None) -> None:
        self.state = State.STARTING
        self.reason = "worker starting"
        self.transitions: Counter[tuple[State, State]] = Counter()
        self._on_transition = on_transition

    def transition(self, new: State, reason: str) -> None:
        old = self.state
        if new not in ALLOWED[old]:
            raise IllegalTransition(f"state is {old.value}, cannot move to {new.value} ({reason})")
        self.state = new
        self.reason = reason
        self.transitions[(old, new)] += 1
        level = logging.DEBUG if (old, new) in _QUIET else logging.INFO
        log.log(level, "%s -> %s: %s", old.value, new.value, reason)
        if self._on_transition is not None:
            self._on_transition(old, new, reason)
