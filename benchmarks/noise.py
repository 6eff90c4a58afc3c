"""What else the machine did during a run: CPU time spent outside the harness and the servers it
started, and the hypervisor's steal time.

The machine is shared, so two runs of the same code disagree; these two figures say whether a run
had company. Linux only (/proc/stat); elsewhere they are left out.

The harness's own CPU time counts its children (servers, wrk, py-spy) once it has waited for
them, which it does after each run, and through them their own children that they waited for (a
server's worker). A descendant that outlives its parent is counted among the others.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

_STAT = Path("/proc/stat")


@dataclass(frozen=True)
class CpuSnapshot:
    wall: float
    busy: float  # seconds every CPU spent running anything
    steal: float  # seconds the hypervisor gave our CPUs to someone else
    ours: float  # seconds this process and its waited-for descendants ran


def snapshot() -> CpuSnapshot | None:
    try:
        fields = _STAT.read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[:8])
    tick = os.sysconf("SC_CLK_TCK")
    mine = os.times()
    return CpuSnapshot(
        wall=time.monotonic(),
        busy=(user + nice + system + irq + softirq) / tick,
        steal=steal / tick,
        ours=mine.user + mine.system + mine.children_user + mine.children_system,
    )


def company(start: CpuSnapshot | None, end: CpuSnapshot | None) -> dict[str, float] | None:
    """Shares of the machine's CPU time (all cores) between the two snapshots."""
    if start is None or end is None or end.wall <= start.wall:
        return None
    capacity = (end.wall - start.wall) * (os.cpu_count() or 1)
    others = (end.busy - start.busy) - (end.ours - start.ours)
    return {"other_cpu_share": max(0.0, others) / capacity, "steal_share": (end.steal - start.steal) / capacity}
