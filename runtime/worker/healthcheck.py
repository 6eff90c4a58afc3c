"""Calling the predictor's own `healthcheck()` (Cog 0.16.10+), periodically, in a thread of its
own, so a prediction holding the main thread does not delay it and a hung healthcheck() delays
nothing else. A False, an exception or no answer within the timeout is reported as unhealthy;
only changes are sent to the front.
"""

from __future__ import annotations

import inspect
import threading
from typing import Any, Callable

from runtime.ipc.messages import HealthcheckResult
from runtime.worker.awaiting import run_to_completion

Send = Callable[[HealthcheckResult], None]


def _invoke(check: Callable[[], Any]) -> HealthcheckResult:
    try:
        result = check()
        if inspect.isawaitable(result):
            result = run_to_completion(result)
    except Exception as error:
        return HealthcheckResult(healthy=False, error=f"healthcheck() raised {type(error).__name__}: {error}")
    if result is False:
        return HealthcheckResult(healthy=False, error="healthcheck() returned False")
    return HealthcheckResult(healthy=True)


class Healthchecks:
    def __init__(self, check: Callable[[], Any], send: Send, interval: float, timeout: float) -> None:
        self._check = check
        self._send = send
        self._interval = interval
        self._timeout = timeout
        self._call: threading.Thread | None = None
        self._last: HealthcheckResult | None = None

    def start(self) -> None:
        threading.Thread(target=self._forever, name="healthcheck", daemon=True).start()

    def _forever(self) -> None:
        stop = threading.Event()  # never set: the thread ends with the process
        while True:
            result = self._once()
            if result != self._last:
                self._last = result
                self._send(result)
            stop.wait(self._interval)

    def _once(self) -> HealthcheckResult:
        if self._call is None or not self._call.is_alive():  # never two calls at once
            box: list[HealthcheckResult] = []
            self._call = threading.Thread(target=lambda: box.append(_invoke(self._check)), daemon=True)
            self._call.start()
            self._call.join(self._timeout)
            if box:
                return box[0]
        return HealthcheckResult(healthy=False, error=f"healthcheck() did not return within {self._timeout:.1f} s")


def healthcheck_of(function: Callable[..., Any]) -> Callable[[], Any] | None:
    """The healthcheck() of the object whose predict() `function` is, if it has one."""
    check = getattr(getattr(function, "__self__", None), "healthcheck", None)
    return check if callable(check) else None
