"""Spawning the worker, stopping it, and saying in words how it ended."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from typing import TYPE_CHECKING

from runtime.ipc.transport import Endpoints

if TYPE_CHECKING:
    from runtime.supervisor.supervisor import WorkerSettings

log = logging.getLogger("sprocket.supervisor")

# Exit codes the worker uses on purpose (see runtime/worker/main.py).
EXIT_LOAD_FAILED = 3
EXIT_SETUP_FAILED = 4

_SIGNAL_HINTS = {
    signal.SIGKILL: "out of memory?",
    signal.SIGSEGV: "segmentation fault",
    signal.SIGBUS: "bus error",
    signal.SIGABRT: "aborted",
    signal.SIGFPE: "arithmetic error",
}


def describe_exit(returncode: int) -> str:
    """`worker killed by SIGKILL (out of memory?)`, never a bare -9."""
    if returncode < 0:
        try:
            sig = signal.Signals(-returncode)
        except ValueError:
            return f"worker killed by signal {-returncode}"
        hint = _SIGNAL_HINTS.get(sig)
        return f"worker killed by {sig.name}" + (f" ({hint})" if hint else "")
    if returncode == EXIT_LOAD_FAILED:
        return f"worker exited with code {returncode} (predictor failed to load)"
    if returncode == EXIT_SETUP_FAILED:
        return f"worker exited with code {returncode} (setup failed)"
    return f"worker exited with code {returncode}"


async def spawn_worker(endpoints: Endpoints, settings: "WorkerSettings") -> asyncio.subprocess.Process:
    trainer = ["--trainer", settings.trainer_ref] if settings.trainer_ref else []
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "runtime.worker",
        "--requests", endpoints.requests,
        "--control", endpoints.control,
        "--events", endpoints.events,
        "--predictor", settings.predictor_ref,
        *trainer,
        "--max-concurrency", str(settings.max_concurrency or 1),
        "--parent-pid", str(os.getpid()),
        "--healthcheck-interval", str(settings.healthcheck_interval),
        "--healthcheck-timeout", str(settings.healthcheck_timeout),
        cwd=settings.workdir,
        stdin=asyncio.subprocess.DEVNULL,
    )
    log.info("worker=%d started for %s", process.pid, settings.predictor_ref)
    return process


async def wait_exit(process: asyncio.subprocess.Process, timeout: float) -> bool:
    try:
        await asyncio.wait_for(process.wait(), timeout)
    except asyncio.TimeoutError:
        return False
    return True


async def kill(process: asyncio.subprocess.Process) -> None:
    """SIGKILL, for a worker that did not exit when asked; returns once it has exited.

    The worker ignores SIGTERM and SIGINT (a signal sent to the whole process group must not
    cut a prediction short: the front decides), so SIGKILL is the only forceful step."""
    if process.returncode is None:
        log.warning("worker=%d: did not exit when asked, sending SIGKILL", process.pid)
        process.kill()
    await process.wait()
