"""The worker steps aside for the front: a higher nice value, and on Linux 6.12+ a long time slice.

Nice decides shares: the front wins the CPU when both want it. The slice decides who waits when
a thread wakes on a CPU the worker is using. Linux's EEVDF scheduler lets a running thread finish
its slice (1.4 ms by default on two CPUs) unless the waking one asks for a shorter slice than
its own. So a predict() burning a CPU would hold up, for up to a slice each, the ZeroMQ I/O
thread carrying its output, the front, and a client on the same host. A worker slice longer than
the default makes such a wake-up preempt it at once, unless the waking thread has had more than
its share of the CPU lately (runtime/worker/outbox.py deals with that case for streamed output).
Threads the worker starts after this (the predictor's own, its thread pools) inherit both.

Kernels before 6.12 ignore the slice; other systems and architectures skip it.
"""

from __future__ import annotations

import ctypes
import logging
import os
import platform
import struct

log = logging.getLogger("sprocket.worker")

WORKER_SLICE_NS = 10_000_000  # 10 ms: above the default, inside the kernel's 0.1-100 ms bounds

_SCHED_SETATTR = {"x86_64": 314, "aarch64": 274}
_SCHED_ATTR_SIZE = 56  # SCHED_ATTR_SIZE_VER1: size, policy, flags, nice, priority, runtime, deadline, period, util


def step_aside(nice: int) -> None:
    """Lower the calling thread's priority by `nice` and lengthen its slice; 0 leaves both."""
    if nice <= 0:
        return
    os.nice(nice)
    _lengthen_slice(WORKER_SLICE_NS)


def _lengthen_slice(nanoseconds: int) -> None:
    number = _SCHED_SETATTR.get(platform.machine())
    if number is None or not hasattr(os, "sched_getscheduler") or os.sched_getscheduler(0) != os.SCHED_OTHER:
        return  # another OS or CPU, or a policy someone chose on purpose: leave it
    # sched_setattr sets the nice value too: pass the current one, so only the slice changes.
    attr = struct.pack("IIQiIQQQII", _SCHED_ATTR_SIZE, os.SCHED_OTHER, 0, os.nice(0), 0, nanoseconds, 0, 0, 0, 0)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.syscall(number, 0, ctypes.create_string_buffer(attr, _SCHED_ATTR_SIZE), 0) != 0:
        log.debug("sched_setattr refused a %d ns slice: errno %d", nanoseconds, ctypes.get_errno())
