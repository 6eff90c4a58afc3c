"""Helpers for tests that run the real server: start it, wait for evidence, stop it, check it left
nothing behind. Every wait has a deadline and says what it saw when it runs out."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, TypeVar

import psutil
import requests

T = TypeVar("T")

PREDICTORS = Path(__file__).parent / "fixtures" / "predictors"
REPO = Path(__file__).parent.parent

_LISTENING = re.compile(r"listening on (http://[^\s\"]+)")


def wait_until(predicate: Callable[[], T], timeout: float, what: str, interval: float = 0.02) -> T:
    """Poll `predicate` until it returns something truthy; fail naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}; last saw {last!r}")


class GatedPrediction:
    """A prediction of the `gated` fixture predictor, running in a thread: inside predict() once
    `start` returns, until `release` is called. Leaving the `with` block releases it."""

    def __init__(self, server: Server, directory: Path) -> None:
        self._entered, self._release = directory / "entered", directory / "release"
        self._pool = ThreadPoolExecutor(1)
        self.result = self._pool.submit(server.predict, entered=str(self._entered), release=str(self._release))

    def __enter__(self) -> GatedPrediction:
        wait_until(self._entered.exists, 10, "the gated prediction to enter predict()")
        return self

    def release(self) -> dict[str, Any]:
        self._release.touch()
        return self.result.result(30)

    def __exit__(self, *exc: object) -> None:
        self._release.touch()
        self._pool.shutdown(wait=True)


class Server:
    """`python -m runtime` serving one fixture predictor on a free loopback port; `python` is the
    interpreter (a venv's, to serve from another environment). An empty `predictor` leaves the
    choice to cog.yaml in `workdir`. `command` starts another server instead (a reference one,
    whose subclass says how to find its URL)."""

    def __init__(
        self,
        predictor: str,
        workdir: Path = PREDICTORS,
        env: dict[str, str] | None = None,
        args: list[str] | None = None,
        host: str | None = "127.0.0.1",
        python: str = sys.executable,
        command: list[str] | None = None,
    ) -> None:
        self.log_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"sprocket-test-{os.getpid()}-{id(self)}.log"
        environment = {**os.environ, "PORT": "0", "COG_LOG_LEVEL": "debug", **(env or {})}
        if predictor:
            environment["COG_PREDICT_TYPE_STUB"] = f"{predictor}.py:Predictor"
        command = command or [python, "-P", "-m", "runtime", *(["--host", host] if host else []), *(args or [])]
        self._log = open(self.log_path, "w+")  # noqa: SIM115 - the server's log, open while it runs, closed by stop()
        self.process = subprocess.Popen(
            command, cwd=workdir, env=environment, stdout=self._log, stderr=subprocess.STDOUT
        )
        self.url = wait_until(self._listening_url, 15, "the server to listen")
        self.session = requests.Session()

    def _listening_url(self) -> str | None:
        if self.process.poll() is not None:
            raise AssertionError(f"server exited with {self.process.returncode}:\n{self.log()}")
        match = _LISTENING.search(self.log())
        return match.group(1) if match else None

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    # ---------------------------------------------------------------- HTTP

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.session.get(self.url + path, timeout=30, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.session.post(self.url + path, timeout=30, **kwargs)

    def put(self, path: str, **kwargs: Any) -> requests.Response:
        return self.session.put(self.url + path, timeout=30, **kwargs)

    def predict(self, **inputs: Any) -> dict[str, Any]:
        response = self.post("/predictions", json={"input": inputs})
        assert response.status_code == 200, response.text
        return response.json()

    def health(self) -> dict[str, Any]:
        return self.get("/health-check").json()

    def metric(self, name: str, **labels: str) -> float:
        """One sample from /metrics: the series `name` with exactly these labels."""
        selector = ",".join(f'{k}="{v}"' for k, v in labels.items())
        pattern = "^" + re.escape(name) + (r"\{" + re.escape(selector) + r"\}" if labels else "") + r" ([0-9.e+-]+)$"
        match = re.search(pattern, self.get("/metrics").text, re.M)
        assert match, f"{name} {labels} not in /metrics"
        return float(match.group(1))

    def status(self) -> str:
        return self.health()["status"]

    def wait_for_status(self, *statuses: str, timeout: float = 15) -> dict[str, Any]:
        seen: list[dict[str, Any]] = []

        def reached() -> dict[str, Any] | None:
            seen[:] = [self.health()]
            return seen[0] if seen[0]["status"] in statuses else None

        try:
            return wait_until(reached, timeout, f"health status in {statuses}")
        except AssertionError as error:
            raise AssertionError(f"{error}; health was {seen}; server log:\n{self.log()}") from None

    def wait_for_log(self, text: str, timeout: float = 10, count: int = 1) -> None:
        wait_until(lambda: self.log().count(text) >= count, timeout, f"{text!r} {count}x in the server log")

    # ---------------------------------------------------------------- processes

    def worker(self) -> psutil.Process:
        children = wait_until(lambda: psutil.Process(self.process.pid).children(), 10, "a worker process")
        return children[0]

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def wait_exit(self, timeout: float = 30) -> int:
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"server still running after {timeout} s:\n{self.log()}") from None

    def stop(self) -> None:
        """SIGTERM, then SIGKILL; afterwards no process of ours is left."""
        self.session.close()
        family = []
        if self.process.poll() is None:
            family = psutil.Process(self.process.pid).children(recursive=True)
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        _, alive = psutil.wait_procs(family, timeout=5)
        for process in alive:
            process.kill()
        self._log.close()
        self.log_path.unlink(missing_ok=True)
        assert not alive, f"processes left behind: {alive}"
