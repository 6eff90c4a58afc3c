"""Cog 0.9.8's own server, `python -m cog.server.http`, from the cog-0.9.8 venv: the reference the
side-by-side schema check compares Sprocket with."""

from __future__ import annotations

import socket
from pathlib import Path

import requests

from tests.support import Server


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class CogServer(Server):
    """Serves the model in `directory` (its cog.yaml names the predictor). Cog 0.9.8 always binds
    0.0.0.0 on $PORT; the tests talk to it on 127.0.0.1 only."""

    def __init__(self, directory: Path, python: str) -> None:
        self._port = _free_port()
        super().__init__(
            "", workdir=directory, env={"PORT": str(self._port)}, command=[python, "-m", "cog.server.http"]
        )

    def _listening_url(self) -> str | None:
        if self.process.poll() is not None:
            raise AssertionError(f"Cog's server exited with {self.process.returncode}:\n{self.log()}")
        url = f"http://127.0.0.1:{self._port}"
        try:
            requests.get(url + "/health-check", timeout=1)
        except requests.ConnectionError:
            return None
        return url
