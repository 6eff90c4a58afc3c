"""The servers' virtualenvs under benchmarks/.envs/, created on first use.

Each env is made once and marked with a `.installed` file naming what was installed; a marker
that names other packages (the pins changed) makes the env be rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import subprocess
import sys
import venv
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("bench.envs")

ENVS_DIR = Path(__file__).resolve().parent / ".envs"
_PIP_TIMEOUT = 900.0


@dataclass(frozen=True)
class ReferenceEnv:
    """A virtualenv holding one reference server."""

    name: str
    packages: tuple[str, ...]

    @property
    def root(self) -> Path:
        return ENVS_DIR / self.name

    @property
    def python(self) -> Path:
        return self.root / "bin" / "python"

    @property
    def bin_dir(self) -> Path:
        return self.root / "bin"


class EnvError(Exception):
    """A reference environment could not be created; the message says which and why."""


def _pip(python: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(python), "-m", "pip", *args], capture_output=True, text=True, timeout=_PIP_TIMEOUT, check=False
    )


def available_versions(package: str) -> list[str]:
    """Versions the configured index offers for `package`, newest first ([] if it cannot say)."""
    result = _pip(Path(sys.executable), "index", "versions", package)
    for line in result.stdout.splitlines():
        if line.startswith("Available versions:"):
            return [v.strip() for v in line.split(":", 1)[1].split(",") if v.strip()]
    return []


def closest_coglet_pair(wanted: str) -> str:
    """`wanted` if both cog and coglet have it, else the newest version both have that is not newer."""
    cog = set(available_versions("cog"))
    coglet = available_versions("coglet")
    if wanted in cog and wanted in coglet:
        return wanted

    def key(v: str) -> tuple[int, ...]:
        return tuple(int(p) for p in v.split(".") if p.isdigit())

    common = [v for v in coglet if v in cog and key(v) <= key(wanted)]
    if not common:
        raise EnvError(f"no cog/coglet version pair at or below {wanted} on the package index")
    best = max(common, key=key)
    log.warning("coglet %s is not on the index; using cog==%s coglet==%s instead", wanted, best, best)
    return best


def ensure(env: ReferenceEnv) -> ReferenceEnv:
    """Create `env` if it is missing or was made with other packages; returns it."""
    marker = env.root / ".installed"
    wanted = json.dumps(sorted(env.packages))
    if marker.exists() and marker.read_text() == wanted and env.python.exists():
        return env
    if env.root.exists():
        shutil.rmtree(env.root)
    log.info("creating %s: pip install %s", env.root, " ".join(env.packages))
    venv.EnvBuilder(with_pip=True, clear=True).create(env.root)
    result = _pip(env.python, "install", "--quiet", *env.packages)
    if result.returncode != 0:
        tail = "\n".join(result.stderr.splitlines()[-15:])
        raise EnvError(f"pip install {' '.join(env.packages)} into {env.root} failed:\n{tail}")
    marker.write_text(wanted)
    return env


def installed_version(env: ReferenceEnv, package: str) -> str:
    result = subprocess.run(
        [str(env.python), "-c", f"import importlib.metadata as m; print(m.version({package!r}))"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return result.stdout.strip() or "?"


_TEXT_EMBED = Path(__file__).resolve().parent.parent / "examples" / "text-embed" / "requirements.txt"


def model_packages() -> tuple[str, ...]:
    """What examples/text-embed needs (torch 2.13.0 CPU, sentence-transformers, the model's
    weights), pinned as its image pins them; every server's env has it for the `embed` scenario."""
    lines = (line.split("#", 1)[0].strip() for line in _TEXT_EMBED.read_text().splitlines())
    return tuple(line for line in lines if line)


def cog_098() -> ReferenceEnv:
    return ensure(ReferenceEnv("cog098", ("cog==0.9.8", *model_packages())))


def coglet(version: str = "0.23.1") -> ReferenceEnv:
    def pair(version: str) -> ReferenceEnv:
        name = f"coglet{version.replace('.', '')}"
        return ReferenceEnv(name, (f"cog=={version}", f"coglet=={version}", *model_packages()))

    env = pair(version)
    if not (env.root / ".installed").exists():
        env = pair(closest_coglet_pair(version))
    return ensure(env)


_SOURCE_ITEMS = ("runtime", "builder", "cli", "pyproject.toml", "README.md", "LICENSE")


def sprocket(repo: Path) -> tuple[ReferenceEnv, str]:
    """Sprocket installed from a snapshot of `repo` taken now, the way an image installs it.

    A regular install, not the editable one in .venv: that one's import hook costs each process
    ~10 ms at start-up, which no deployed Sprocket pays (and the references are regular installs
    too). The snapshot keeps edits made during a run out of it. Returns the env and a digest of
    the snapshot's Python files, to record which code was measured.
    """
    snapshot = ENVS_DIR / "sprocket-snapshot"
    shutil.rmtree(snapshot, ignore_errors=True)
    for item in _SOURCE_ITEMS:
        source = repo / item
        if source.is_dir():
            shutil.copytree(source, snapshot / item, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            snapshot.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, snapshot / item)
    digest = hashlib.sha256()
    for path in sorted((snapshot / "runtime").rglob("*.py")):
        digest.update(path.relative_to(snapshot).as_posix().encode())
        digest.update(path.read_bytes())
    # With the `cli` extra (the Docker SDK): figure 12 builds its image with this env's `sprocket`.
    requirement = f"{snapshot}[cli]"
    env = ensure(ReferenceEnv("sprocket", (requirement, *model_packages())))
    # First any dependency the tree gained since the env was made (pip adds what is missing and
    # leaves the rest), then the snapshot's own code, always.
    for flags in ((), ("--no-deps", "--force-reinstall")):
        result = _pip(env.python, "install", "--quiet", *flags, requirement)
        if result.returncode != 0:
            tail = "\n".join(result.stderr.splitlines()[-15:])
            raise EnvError(f"pip install {requirement} into {env.root} failed:\n{tail}")
    return env, digest.hexdigest()[:12]
