"""Webhooks: POST the prediction object to the client's URL as it changes.

One task per prediction sends its webhooks in order, so the `completed` webhook is always the
last. Updates (`start`, `output`, `logs`) are throttled, not dropped: an update that arrives within
`throttle_interval` of the previous send is sent when the interval has passed, carrying the latest
state. Non-terminal webhooks get one attempt; the terminal one is retried with backoff on
connection errors, timeouts, 429 and 5xx. Every attempt has a timeout, and all of this runs in
the prediction's own task, so a slow or dead receiver holds up nothing else.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Callable

import aiohttp
import msgspec
import tenacity

from runtime.http.prediction import Completed, LogLine, OutputItem, Prediction, PredictionEvent
from runtime.version import VERSION

log = logging.getLogger("sprocket.webhooks")

ALL_EVENTS = frozenset({"start", "output", "logs", "completed"})
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_BACKOFF_FIRST = 0.1
_BACKOFF_MAX = 30.0
# The webhook event filter's name for each update.
_FILTER_NAME: dict[type, str] = {OutputItem: "output", LogLine: "logs"}


@dataclass(frozen=True)
class WebhookSettings:
    throttle_interval: float
    timeout: float
    retries: int
    auth_token: str | None
    on_failure: Callable[[], None]  # counts each failed attempt


class _Undelivered(Exception):
    def __init__(self, problem: str, retry: bool) -> None:
        super().__init__(problem)
        self.retry = retry


class WebhookNotifier:
    def __init__(
        self,
        prediction: Prediction,
        url: str,
        events: frozenset[str],
        session: aiohttp.ClientSession,
        settings: WebhookSettings,
        trace_headers: dict[str, str],
    ) -> None:
        self._prediction = prediction
        self._url = url
        self._events = events
        self._session = session
        self._settings = settings
        self._headers = {"Content-Type": "application/json", "User-Agent": f"sprocket/{VERSION}", **trace_headers}
        if settings.auth_token:
            self._headers["Authorization"] = f"Bearer {settings.auth_token}"
        self._log = logging.LoggerAdapter(log, {"prediction_id": prediction.id})
        self._dirty = asyncio.Event()
        self._update_pending = False  # an update the receiver asked for has not been sent yet
        # The `start` webhook shows the prediction as it is now, even if it has ended by the time
        # the task gets to send it.
        self._start = self._payload() if "start" in events else None
        prediction.watch(self._on_event)
        self.task = asyncio.create_task(self._run(), name=f"webhooks-{prediction.id}")

    def _on_event(self, event: PredictionEvent) -> None:
        if not isinstance(event, Completed) and _FILTER_NAME[type(event)] in self._events:
            self._update_pending = True
        self._dirty.set()

    async def _run(self) -> None:
        prediction = self._prediction
        last_sent = -float("inf")
        try:
            if self._start is not None:
                await self._send_once(self._start)
                last_sent = time.monotonic()
            while True:
                await self._dirty.wait()
                if prediction.finished.is_set():
                    break
                wait = last_sent + self._settings.throttle_interval - time.monotonic()
                if wait > 0:
                    try:  # an update inside the interval waits for its end (or for the finish)
                        await asyncio.wait_for(prediction.finished.wait(), wait)
                        break
                    except TimeoutError:
                        pass
                self._dirty.clear()
                if self._update_pending:
                    self._update_pending = False
                    await self._send_once(self._payload())
                    last_sent = time.monotonic()
            if "completed" in self._events:
                await self._send_terminal()
            elif self._update_pending:
                await self._send_once(self._payload())  # the last update, which the finish overtook
        finally:
            prediction.unwatch(self._on_event)

    def _payload(self) -> bytes:
        return msgspec.json.encode(self._prediction.as_json())

    async def _post(self, payload: bytes) -> None:
        """One attempt. Raises _Undelivered for anything but a 2xx or 3xx answer, whatever raised
        it: no error may end the webhooks early."""
        timeout = aiohttp.ClientTimeout(total=self._settings.timeout)
        try:
            async with self._session.post(self._url, data=payload, headers=self._headers, timeout=timeout) as response:
                status = response.status
        except (TimeoutError, aiohttp.ClientError) as error:
            self._settings.on_failure()
            raise _Undelivered(str(error) or type(error).__name__, retry=True) from error
        except Exception as error:
            self._settings.on_failure()
            self._log.exception("webhook to %s could not be sent", self._url)
            raise _Undelivered(f"{type(error).__name__}: {error}", retry=False) from error
        if status >= 400:
            self._settings.on_failure()
            raise _Undelivered(f"HTTP {status}", retry=status in _RETRY_STATUSES)

    async def _send_once(self, payload: bytes) -> None:
        try:
            await self._post(payload)
        except _Undelivered as error:
            self._log.warning("webhook to %s failed: %s", self._url, error)

    async def _send_terminal(self) -> None:
        retrying = tenacity.AsyncRetrying(
            stop=tenacity.stop_after_attempt(self._settings.retries + 1),
            wait=tenacity.wait_exponential(multiplier=_BACKOFF_FIRST, max=_BACKOFF_MAX),
            retry=tenacity.retry_if_exception(lambda error: isinstance(error, _Undelivered) and error.retry),
            before_sleep=self._say_retrying,
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    await self._post(self._payload())
        except _Undelivered as error:
            self._log.error(
                "completed webhook to %s failed (%s) after %d attempt(s); giving up",
                self._url,
                error,
                retrying.statistics["attempt_number"],
            )

    def _say_retrying(self, state: tenacity.RetryCallState) -> None:
        assert state.outcome is not None and state.next_action is not None
        self._log.warning(
            "completed webhook to %s failed (%s); retrying in %.1f s",
            self._url,
            state.outcome.exception(),
            state.next_action.sleep,
        )
