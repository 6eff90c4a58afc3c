"""Spawning the worker, stopping it, and saying in words how it ended."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime

from runtime.config import ServerConfig
from runtime.ipc.messages import WorkerExit
from runtime.ipc.transport import Endpoints

log = logging.getLogger("sprocket.supervisor")

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
    if returncode == WorkerExit.LOAD_FAILED:
        return f"worker exited with code {returncode} (predictor failed to load)"
    if returncode == WorkerExit.SETUP_FAILED:
        return f"worker exited with code {returncode} (setup failed)"
    return f"worker exited with code {returncode}"


class WorkerProcess:
    """A running worker: a plain subprocess, whose exit the event loop learns through a pidfd.

    Plain `subprocess.Popen`, not asyncio's, so the first worker can be started before the
    front has an event loop (or has imported aiohttp): the two boot in parallel."""

    def __init__(self, popen: subprocess.Popen[bytes]) -> None:
        self._popen = popen
        self.pid = popen.pid
        self.started_at = datetime.now(UTC)
        # Set once `wait` has seen the exit: checked per prediction, so with no system call.
        self.exited = False

    @property
    def returncode(self) -> int | None:
        return self._popen.poll()

    def kill(self) -> None:
        if self._popen.poll() is None:
            self._popen.kill()

    async def wait(self) -> int:
        import asyncio  # not at the top: the first worker is spawned before the front needs asyncio

        if self._popen.poll() is not None:
            self.exited = True
            return self._popen.returncode
        loop = asyncio.get_running_loop()
        exited: asyncio.Future[None] = loop.create_future()

        def on_exit() -> None:
            self.exited = True
            if not exited.done():
                exited.set_result(None)

        pidfd = os.pidfd_open(self.pid)  # readable once the process has exited
        try:
            loop.add_reader(pidfd, on_exit)
            try:
                if self._popen.poll() is None:
                    await exited
            finally:
                loop.remove_reader(pidfd)
        finally:
            os.close(pidfd)
        self.exited = True
        return self._popen.wait()


def spawn_worker(endpoints: Endpoints, config: ServerConfig) -> WorkerProcess:
    trainer = ["--trainer", config.trainer_ref] if config.trainer_ref else []
    popen = subprocess.Popen(
        [
            sys.executable,
            "-P",
            "-m",
            "runtime.worker",
            "--requests",
            endpoints.requests,
            "--control",
            endpoints.control,
            "--events",
            endpoints.events,
            "--predictor",
            config.predictor_ref,
            *trainer,
            "--max-concurrency",
            str(config.max_concurrency or 1),
            "--nice",
            str(config.worker_nice),
            "--parent-pid",
            str(os.getpid()),
            "--healthcheck-interval",
            str(config.healthcheck_interval),
            "--healthcheck-timeout",
            str(config.healthcheck_timeout),
        ],
        cwd=config.workdir,
        stdin=subprocess.DEVNULL,
        env={**dict(config.model_environment), **os.environ},
    )
    log.info("worker=%d started for %s", popen.pid, config.predictor_ref)
    return WorkerProcess(popen)


async def wait_exit(process: WorkerProcess, timeout: float) -> bool:
    import asyncio

    try:
        await asyncio.wait_for(process.wait(), timeout)
    except TimeoutError:
        return False
    return True


async def kill(process: WorkerProcess) -> None:
    """SIGKILL, for a worker that did not exit when asked; returns once it has exited.

    The worker ignores SIGTERM and SIGINT (a signal sent to the whole process group must not
    cut a prediction short: the front decides), so SIGKILL is the only forceful step."""
    if process.returncode is None:
        log.warning("worker=%d: did not exit when asked, sending SIGKILL", process.pid)
        process.kill()
    await process.wait()
