"""The body of GET /health-check, whichever HTTP layer answers it."""

from __future__ import annotations

from typing import Any

from runtime.supervisor.monitor import Monitor
from runtime.supervisor.state import State
from runtime.supervisor.supervisor import Supervisor


def health_report(supervisor: Supervisor, monitor: Monitor) -> dict[str, Any]:
    """Cog's body (`status`, `setup`), then what the supervisor knows, as keys Cog clients ignore."""
    body: dict[str, Any] = {"status": supervisor.state.value, "setup": supervisor.setup.as_json()}
    if supervisor.state in (State.FAILED, State.SETUP_FAILED):
        body["error"] = supervisor.machine.reason
    complaint = supervisor.unhealthy
    if complaint is not None:
        body["status"] = "UNHEALTHY"
        body["user_healthcheck_error"] = complaint
    body |= monitor.as_json()
    body |= {
        "restarts": supervisor.restarts,
        "restart_pending": supervisor.restart_pending,
        "last_failure": supervisor.last_failure,
    }
    return body
