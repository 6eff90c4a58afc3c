"""Whether, and when, a failed worker is replaced. A policy outside the state machine: it reads
what happened and returns a decision; the supervisor carries it out.

- `never` (the default): FAILED stays, for the orchestrator to restart the container.
- `on-failure`: a worker that crashed, broke a limit or lost its GPU is replaced after a backoff
  that doubles each time (first `backoff` seconds, at most `backoff_max`), up to `max_restarts`
  times in the replica's life. A predictor that failed to load or whose setup() failed is not
  restarted: it would fail again the same way.

A worker killed because a cancelled prediction would not stop is always replaced at once: that
was the supervisor's own decision, not a failure of the replica.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from runtime.config import ServerConfig


class Cause(enum.Enum):
    CRASHED = "crashed"  # exited or was killed without being asked
    LIMIT = "limit"  # killed for crossing the memory limit
    GPU = "gpu"  # a fatal GPU condition
    STUCK_CANCEL = "stuck cancel"  # killed because a cancelled prediction would not stop
    SETUP = "setup"  # the predictor failed to load, or setup() failed


@dataclass(frozen=True)
class Decision:
    restart: bool
    delay: float
    why: str


@dataclass(frozen=True)
class RestartPolicy:
    kind: str  # "never" or "on-failure"
    max_restarts: int
    backoff: float
    backoff_max: float = 60.0  # the doubling stops here

    @classmethod
    def from_config(cls, config: ServerConfig) -> RestartPolicy:
        return cls(config.restart_policy, config.max_restarts, config.restart_backoff)

    def decide(self, cause: Cause, restarts_so_far: int) -> Decision:
        if cause is Cause.STUCK_CANCEL:
            return Decision(True, 0.0, "replacing the worker that ignored a cancel")
        if cause is Cause.SETUP:
            return Decision(False, 0.0, "setup failures are not retried")
        if self.kind != "on-failure":
            return Decision(False, 0.0, "restart policy is 'never'")
        if restarts_so_far >= self.max_restarts:
            return Decision(False, 0.0, f"already restarted {restarts_so_far} times (SPROCKET_MAX_RESTARTS)")
        delay = min(self.backoff * 2**restarts_so_far, self.backoff_max)
        return Decision(True, delay, f"restart {restarts_so_far + 1} of {self.max_restarts} in {delay:.1f} s")
