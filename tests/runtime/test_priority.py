"""The worker steps aside for the front: nice value and (Linux 6.12+) time slice, for the worker's
thread and the threads it starts afterwards. Checked in a child process, as a real worker does it:
a process cannot take back a nice value it gave up."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys

from runtime.worker.priority import WORKER_SLICE_NS
from tests.support import REPO

_REPORT = """
import json, os, sys, threading
from runtime.worker.priority import step_aside

def slice_ns():
    fields = {name.strip(): value.strip() for name, _, value in
              (line.partition(":") for line in open("/proc/thread-self/sched"))}
    return int(fields["se.slice"]) if "se.slice" in fields else None

step_aside(int(sys.argv[1]))
later = {}
def report():
    later.update(nice=os.nice(0), slice=slice_ns())
thread = threading.Thread(target=report)
thread.start()
thread.join()
print(json.dumps({"nice": os.nice(0), "slice": slice_ns(), "later": later}))
"""


def report_after_step_aside(nice: int) -> dict[str, object]:
    result = subprocess.run([sys.executable, "-c", _REPORT, str(nice)], cwd=REPO, capture_output=True, text=True,
                            timeout=30, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _has_custom_slices() -> bool:
    major, minor = (int(part) for part in platform.release().split(".")[:2])
    return (major, minor) >= (6, 12) and platform.machine() in ("x86_64", "aarch64")


def test_the_worker_and_its_later_threads_are_nicer_with_a_long_slice() -> None:
    baseline = report_after_step_aside(0)
    stepped = report_after_step_aside(5)
    assert stepped["nice"] == stepped["later"]["nice"] == baseline["nice"] + 5  # type: ignore[index,operator]
    if _has_custom_slices():
        assert stepped["slice"] == stepped["later"]["slice"] == WORKER_SLICE_NS  # type: ignore[index]
        assert baseline["slice"] != WORKER_SLICE_NS
