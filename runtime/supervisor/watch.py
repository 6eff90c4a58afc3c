"""Watching the worker process with psutil: memory and CPU, the memory limit, and the evidence
that the kernel's OOM killer, not something else, sent a SIGKILL."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import psutil

log = logging.getLogger("sprocket.supervisor")

MIB = 1024 * 1024

# cgroup v2 and v1 both count OOM kills in their memory controller.
_OOM_COUNTERS = (Path("/sys/fs/cgroup/memory.events"), Path("/sys/fs/cgroup/memory/memory.oom_control"))


def oom_kill_count() -> int | None:
    """The cgroup's OOM-kill counter, or None where none is readable."""
    for path in _OOM_COUNTERS:
        try:
            for line in path.read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
        except (OSError, ValueError):
            continue
    return None


# States in which the worker cannot make progress: stopped (SIGSTOP, a debugger), or dead while
# its threads linger.
STUCK_STATES = frozenset({psutil.STATUS_STOPPED, psutil.STATUS_TRACING_STOP, psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD})


@dataclass(frozen=True)
class ProcessSample:
    rss_bytes: int  # the worker and its children
    cpu_seconds: float
    threads: int
    status: str  # the worker's own, as psutil names it: "running", "sleeping", "stopped", ...


class ProcessWatch:
    """Samples one worker (and the processes it started)."""

    def __init__(self, pid: int) -> None:
        self._process = psutil.Process(pid)
        self.oom_kills_at_start = oom_kill_count()

    def sample(self) -> ProcessSample | None:
        """None once the worker has gone."""
        try:
            status = self._process.status()
            family = [self._process, *self._process.children(recursive=True)]
        except psutil.Error:
            return None
        rss = cpu = threads = 0
        for process in family:
            try:
                with process.oneshot():
                    rss += process.memory_info().rss
                    times = process.cpu_times()
                    cpu += times.user + times.system
                    threads += process.num_threads()
            except psutil.Error:
                continue  # a child that just exited
        return ProcessSample(rss_bytes=rss, cpu_seconds=cpu, threads=threads, status=status)

    def killed_by_oom_killer(self) -> bool:
        """True when the cgroup counted an OOM kill since this worker started."""
        now = oom_kill_count()
        return now is not None and self.oom_kills_at_start is not None and now > self.oom_kills_at_start
