"""The three environments predictors written for Cog meet: no `cog` package, Cog 0.9.8, and the
latest Cog. Each is a venv under `.sprocket-test-envs/` (gitignored), named after what is pinned
in it, so a rerun reuses it and a change of pins (or of Sprocket's own requirements) makes a
new one. Sprocket is installed into each from this checkout, editable, so a reused venv runs
the code under test.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import threading
import time
import tomllib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from tests.support import REPO

ENVS_DIR = REPO / ".sprocket-test-envs"
LATEST_COG = "0.23.1"  # the newest release on the registry; bump it here to follow Cog
_READY_MARK = ".ready"
_EDITABLE_INSTALL = threading.Lock()
_INSTALL_TIMEOUT = 900


@dataclass(frozen=True)
class Env:
    """One environment: a name tests are labelled with, and what its venv has besides Sprocket."""

    name: str
    cog: str | None  # the `cog` release installed, None for the stand-in
    packages: tuple[str, ...]

    @property
    def directory(self) -> Path:
        # Sprocket's requirements are part of the key: a new dependency means a new venv.
        key = "\n".join([sys.version, *self.packages, _requirements()])
        return ENVS_DIR / f"{self.name}-{hashlib.sha256(key.encode()).hexdigest()[:12]}"

    @property
    def python(self) -> str:
        return str(self.directory / "bin" / "python")


# numpy and pydantic are there as a model's requirements.txt would bring them: predictors in the
# suite return numpy scalars and pydantic models. Cog 0.9.8 brings its own pydantic (1.x).
NO_COG = Env("no-cog", None, ("numpy", "pydantic>=2,<3"))
COG_098 = Env("cog-0.9.8", "0.9.8", ("cog==0.9.8", "numpy"))
COG_LATEST = Env(f"cog-{LATEST_COG}", LATEST_COG, (f"cog=={LATEST_COG}", "numpy", "pydantic>=2,<3"))
ENVS = (NO_COG, COG_098, COG_LATEST)


def _requirements() -> str:
    with open(REPO / "pyproject.toml", "rb") as file:
        return "\n".join(tomllib.load(file)["project"]["dependencies"])


def ensure(env: Env) -> Env:
    """Make `env`'s venv unless a complete one is there; return it. The mark that says complete is
    written last, so an interrupted build is started again, never taken for a ready one; venvs of
    the same environment under older pins go first."""
    target = env.directory
    if (target / _READY_MARK).exists():
        return env
    ENVS_DIR.mkdir(exist_ok=True)
    for stale in ENVS_DIR.glob(f"{env.name}-*"):  # this environment under older pins
        shutil.rmtree(stale, ignore_errors=True)
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "venv", str(target)], check=True, timeout=120)
    _pip(env.python, "--upgrade", "pip")
    _pip(env.python, *env.packages)
    with _EDITABLE_INSTALL:  # each writes build metadata into the one checkout
        _pip(env.python, "-e", str(REPO))
    (target / _READY_MARK).write_text(f"built in {time.monotonic() - started:.0f} s\n")
    return env


def _pip(python: str, *arguments: str) -> None:
    result = subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *arguments],
        capture_output=True,
        text=True,
        timeout=_INSTALL_TIMEOUT,
    )
    if result.returncode != 0:
        output = result.stdout[-3000:] + result.stderr[-3000:]
        raise AssertionError(f"pip install {' '.join(arguments)} failed:\n{output}")


def ensure_all() -> dict[str, Env]:
    """Every environment, the missing ones built side by side (pip mostly waits on the network)."""
    with ThreadPoolExecutor(len(ENVS)) as pool:
        return {env.name: env for env in pool.map(ensure, ENVS)}
