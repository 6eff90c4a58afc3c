"""Notices when the front's event loop stalls (something blocked it), for /livez and the log.

A task asks to wake every `TICK` seconds and measures how late it woke. A stall longer than
`STALL_SECONDS` is logged and makes /livez answer 503 for `MEMORY_SECONDS` afterwards: a probe
cannot be answered during a stall, but the one after it learns that the loop is unreliable.
"""

from __future__ import annotations

import asyncio
import logging
import time

log = logging.getLogger("sprocket.server")

TICK = 0.25
STALL_SECONDS = 5.0
MEMORY_SECONDS = 60.0


class LoopWatch:
    def __init__(self) -> None:
        self.last_stall: tuple[float, float] | None = None  # (when it ended, how long) in monotonic time
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._tick_forever(), name="loop-watch")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _tick_forever(self) -> None:
        while True:
            expected = time.monotonic() + TICK
            await asyncio.sleep(TICK)
            late = time.monotonic() - expected
            if late > STALL_SECONDS:
                log.error("the event loop was blocked for %.1f s", late)
                self.last_stall = (time.monotonic(), late)

    def recent_stall(self) -> float | None:
        """How long the loop stalled, if it did within the last MEMORY_SECONDS."""
        if self.last_stall is None or time.monotonic() - self.last_stall[0] > MEMORY_SECONDS:
            return None
        return self.last_stall[1]
