"""The restart policy, branch by branch."""

from __future__ import annotations

import pytest

from runtime.supervisor.restart import Cause, RestartPolicy

ON_FAILURE = RestartPolicy("on-failure", max_restarts=3, backoff=0.5, backoff_max=1.5)
NEVER = RestartPolicy("never", max_restarts=3, backoff=0.5)


def test_never_leaves_a_crashed_worker_failed() -> None:
    decision = NEVER.decide(Cause.CRASHED, 0)
    assert not decision.restart and "never" in decision.why


@pytest.mark.parametrize("cause", [Cause.CRASHED, Cause.LIMIT, Cause.GPU])
def test_on_failure_restarts_failures_with_doubling_backoff(cause: Cause) -> None:
    delays = [ON_FAILURE.decide(cause, n).delay for n in range(3)]
    assert delays == [0.5, 1.0, 1.5]  # doubled, then capped at backoff_max
    assert all(ON_FAILURE.decide(cause, n).restart for n in range(3))


def test_on_failure_stops_after_max_restarts() -> None:
    decision = ON_FAILURE.decide(Cause.CRASHED, 3)
    assert not decision.restart and "SPROCKET_MAX_RESTARTS" in decision.why


@pytest.mark.parametrize("policy", [NEVER, ON_FAILURE])
def test_setup_failures_are_never_restarted(policy: RestartPolicy) -> None:
    assert not policy.decide(Cause.SETUP, 0).restart


@pytest.mark.parametrize("policy", [NEVER, ON_FAILURE])
def test_a_worker_killed_for_ignoring_a_cancel_is_always_replaced_at_once(policy: RestartPolicy) -> None:
    decision = policy.decide(Cause.STUCK_CANCEL, 99)
    assert decision.restart and decision.delay == 0
