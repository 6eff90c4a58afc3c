"""Goodput under overload (issue 19, section 2): one slot, `wrk` with 64 connections against 1.

`goodput` runs every server with its default settings: successful predictions/s, the share
answered 409, and the 64-connection goodput as a share of the same server's 1-connection figure.
`queued` runs Sprocket with SPROCKET_QUEUE_SIZE (and Cog 0.9.8, which queues by default): with
as many queue places as connections every request but the running one waits in the queue, so
wrk's latency percentiles are those of queued requests.
"""

from __future__ import annotations

from typing import Any

from benchmarks.load import wrk
from benchmarks.measure import Measured, Peers, Settings
from benchmarks.servers import RunningServer

_BODY = '{"input":{"text":"hi"}}'


def wrk_run(server: RunningServer, connections: int, seconds: float, out: Measured) -> dict[str, Any]:
    """`wrk` POSTing the noop body; socket errors and statuses other than 2xx/409 go to the notes."""
    result = wrk(f"{server.base_url}/predictions", connections, seconds, _BODY)
    errors = sum(result["errors"].values()) - result["errors"]["status"]
    if errors:
        out.notes.append(f"wrk -c{connections}: {errors} socket errors/timeouts {result['errors']}")
    others = {k: v for k, v in result["statuses"].items() if not k.startswith("2") and k != "409"}
    if others:
        out.notes.append(f"wrk -c{connections}: statuses other than 2xx and 409: {others}")
    server.check_alive()
    return result


def goodput(server: RunningServer, settings: Settings, peers: Peers) -> Measured:
    out = Measured()
    alone = wrk_run(server, 1, settings.overload_seconds, out)
    crowd = wrk_run(server, settings.overload_connections, settings.overload_seconds, out)
    out.metrics.update(
        {
            "goodput_c1": alone["ok_rate"],
            "goodput_overload": crowd["ok_rate"],
            "goodput_overload_share409": crowd["share_409"],
            "goodput_overload_of_c1": crowd["ok_rate"] / alone["ok_rate"] if alone["ok_rate"] else None,
        }
    )
    return out


def queued(server: RunningServer, settings: Settings, peers: Peers) -> Measured:
    out = Measured()
    crowd = wrk_run(server, settings.overload_connections, settings.overload_seconds, out)
    latency = crowd["latency_us"]
    out.metrics.update(
        {
            "queued_goodput": crowd["ok_rate"],
            "queued_p50_ms": latency["p50"] / 1000.0,
            "queued_p99_ms": latency["p99"] / 1000.0,
            "queued_refused_share": 1.0 - crowd["ok_rate"] / crowd["rate"] if crowd["rate"] else None,
        }
    )
    return out
