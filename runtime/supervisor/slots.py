"""Prediction slots: how many predictions may run at once, and an optional bounded queue.

A slot is held by a prediction id from admission until the prediction has ended: its terminal
event, or once its output files have been returned. When a slot is given back and somebody is
queued, it passes straight to the longest waiter, so a queued request cannot be overtaken by
one that arrives later.
"""

from __future__ import annotations

import asyncio
import collections
import enum
import logging
from typing import Callable

log = logging.getLogger("sprocket.supervisor")


class Admission(enum.Enum):
    ACCEPTED = "accepted"
    BUSY = "busy"  # every slot taken and no queue (or the queue is full): 409
    QUEUE_TIMEOUT = "queue timeout"  # waited in the queue for the whole timeout: 503
    REFUSED = "refused"  # the replica stopped taking work while the request waited: 503


class Slots:
    def __init__(self, capacity: int, queue_size: int, queue_timeout: float, on_change: Callable[[], None]) -> None:
        self.capacity = capacity
        self.queue_size = queue_size
        self.queue_timeout = queue_timeout
        self._on_change = on_change
        self.held: set[str] = set()
        self._waiters: collections.deque[tuple[str, asyncio.Future[bool]]] = collections.deque()

    @property
    def full(self) -> bool:
        return len(self.held) >= self.capacity

    @property
    def queued(self) -> int:
        return len(self._waiters)

    async def take(self, prediction_id: str) -> Admission:
        """A slot now, or after waiting in the queue when one is configured and has room.

        A caller cancelled while it waits (a client that hung up) holds no slot afterwards, even
        when the slot was passed to it in the same instant."""
        if not self.full and not self._waiters:
            self.held.add(prediction_id)
            self._on_change()
            return Admission.ACCEPTED
        if len(self._waiters) >= self.queue_size:
            return Admission.BUSY
        waiter: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        entry = (prediction_id, waiter)
        self._waiters.append(entry)
        log.debug("waiting for a slot (%d queued)", len(self._waiters), extra={"prediction_id": prediction_id})
        try:
            async with asyncio.timeout(self.queue_timeout):
                granted = await waiter
        except TimeoutError:
            granted = None
        except asyncio.CancelledError:
            if self._was_granted(waiter):
                log.debug(
                    "left the queue just as a slot was passed to it; passing it on",
                    extra={"prediction_id": prediction_id},
                )
                self.give_back(prediction_id)
            raise
        finally:
            if entry in self._waiters:
                self._waiters.remove(entry)
        if granted is None:
            if self._was_granted(waiter):  # granted in the same instant it timed out
                self.give_back(prediction_id)
            return Admission.QUEUE_TIMEOUT
        return Admission.ACCEPTED if granted else Admission.REFUSED

    @staticmethod
    def _was_granted(waiter: asyncio.Future[bool]) -> bool:
        return waiter.done() and not waiter.cancelled() and waiter.result()

    def give_back(self, prediction_id: str) -> None:
        if prediction_id not in self.held:
            return
        self.held.discard(prediction_id)
        while self._waiters:
            next_id, waiter = self._waiters.popleft()
            if not waiter.done():
                self.held.add(next_id)
                waiter.set_result(True)
                break
        self._on_change()

    def refuse_waiters(self) -> None:
        while self._waiters:
            _, waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(False)
