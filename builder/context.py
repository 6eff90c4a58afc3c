"""The build context: Sprocket's server package, the model's Python packages, the model code.

Python packages are resolved and downloaded on the host, not in the image: containers on build
machines like ours cannot verify TLS to the package index, while the host's pip can (its CA bundle,
index mirrors and cache all apply). The wheels travel in the build context and the image installs
them with `pip install --no-index`. Nothing in the image talks to an index.

The image gets only what the server needs: the `runtime` package (copied from wherever this
Sprocket is installed, a checkout or site-packages) and the dependencies the installed
distribution declares for it, not the builder, the CLI or the Docker SDK.

The resolved wheels are cached under `<model>/.sprocket/deps/` (keep `.sprocket` in
.dockerignore; `sprocket init` does), re-resolved when the requirements, Sprocket's
dependencies or the Python version change.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import io
import json
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import IO, Callable

from docker.utils.build import exclude_paths

import runtime
from runtime.cog_yaml import CogYamlError, Config

__all__ = ["BuildError", "CACHE_DIR", "resolve_dependencies", "server_requirements", "write_context"]

CACHE_DIR = ".sprocket"
DISTRIBUTION = "sprocket-serve"

Log = Callable[[str], None]


class BuildError(Exception):
    """The image could not be built; the message is one line meant for the user."""


def _run_pip(args: list[str], what: str, cwd: str | None = None) -> str:
    """Run pip; on failure BuildError with pip's last lines (the full output goes to stderr)."""
    result = subprocess.run(args, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if result.returncode != 0:
        lines = [line for line in result.stdout.splitlines() if line.strip()]
        sys.stderr.write("\n".join(lines[-30:]) + "\n")
        reason = next((line for line in reversed(lines) if "ERROR" in line), lines[-1] if lines else "")
        raise BuildError(f"{what} failed: {reason.strip()}")
    return result.stdout


def server_requirements() -> list[str]:
    """The dependencies the installed Sprocket declares for its server: its `Requires-Dist`
    without the extras (the CLI's Docker SDK, the test tools)."""
    try:
        declared = importlib.metadata.requires(DISTRIBUTION) or []
    except importlib.metadata.PackageNotFoundError:
        raise BuildError(
            f"{DISTRIBUTION} is not installed in {sys.prefix}: install it (pip install -e . in a "
            "checkout) to build images"
        ) from None
    return [requirement for requirement in declared if "extra ==" not in requirement]


def _runtime_package() -> Path:
    return Path(runtime.__file__).parent


def _find_interpreter(minor: str) -> str | None:
    """A host Python of the image's `X.Y`, so pip can build sdists for it; None if there is none."""
    if f"{sys.version_info[0]}.{sys.version_info[1]}" == minor:
        return sys.executable
    found = shutil.which(f"python{minor}")
    if found:
        return found
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    for candidate in sorted(pyenv.glob(f"{minor}.*"), reverse=True):
        if (candidate / "bin" / "python").exists():
            return str(candidate / "bin" / "python")
    return None


def _manylinux_platforms() -> list[str]:
    machine = platform.machine() or "x86_64"
    # Debian bookworm (the slim base) has glibc 2.36.
    tags = [f"manylinux_2_{minor}_{machine}" for minor in range(36, 16, -1)]
    return tags + [f"manylinux2014_{machine}"]


def resolve_dependencies(config: Config, model_dir: Path, cache: Path, log: Log) -> Path:
    """Download (and build, for sdists) every wheel the image needs into `cache/deps`.

    Reuses the previous set while its inputs are unchanged. Raises BuildError naming pip's error.
    """
    user_requirements = ""
    if config.build.python_requirements:
        path = model_dir / config.build.python_requirements
        if not path.is_file():
            raise CogYamlError(
                f"cog.yaml: build.python_requirements names {config.build.python_requirements}, "
                f"which is not a file in {model_dir}"
            )
        user_requirements = path.read_text()
    lines = server_requirements()
    if config.build.python_requirements:
        lines.append(f"-r {model_dir / config.build.python_requirements}")
    lines += list(config.build.python_packages)
    minor = config.build.python_minor
    key = hashlib.sha256(
        json.dumps(
            {"python": minor, "lines": lines, "user": user_requirements, "machine": platform.machine()}, sort_keys=True
        ).encode()
    ).hexdigest()
    out = cache / "deps"
    stamp = out / ".key"
    if stamp.is_file() and stamp.read_text() == key and any(out.glob("*.whl")):
        return out
    interpreter = _find_interpreter(minor)
    how = f"pip wheel with {interpreter}" if interpreter else "pip download (binary wheels only)"
    log(f"resolving Python packages for Python {minor} on the host ({how})")
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="deps-", dir=cache) as tmp:
        requirements = os.path.join(tmp, "requirements.txt")
        with open(requirements, "w") as file:
            file.write("\n".join(lines) + "\n")
        wheels = os.path.join(tmp, "wheels")
        if interpreter:
            args = [interpreter, "-m", "pip", "wheel", "--quiet", "-w", wheels, "-r", requirements]
        else:
            args = [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "-d",
                wheels,
                "--only-binary=:all:",
                "--python-version",
                minor,
                "--implementation",
                "cp",
                "-r",
                requirements,
            ]
            for tag in _manylinux_platforms():
                args += ["--platform", tag]
        _run_pip(args, "resolving the Python packages", cwd=str(model_dir))
        if out.exists():
            shutil.rmtree(out)
        os.rename(wheels, out)
    stamp.write_text(key)
    count = len(list(out.glob("*.whl")))
    log(f"{count} wheels ready in {out}")
    return out


def _dockerignore(model_dir: Path) -> list[str]:
    path = model_dir / ".dockerignore"
    if not path.is_file():
        return []
    patterns = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            patterns.append(line)
    return patterns


def _root_owned(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


def _without_bytecode(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
    if "__pycache__" in info.name.split("/") or info.name.endswith((".pyc", ".pyo")):
        return None
    return _root_owned(info)


def write_context(file: IO[bytes], dockerfile: str, model_dir: Path, deps: Path) -> list[str]:
    """Write the tar build context to `file`; returns the model paths it took (sorted).

    The model directory is filtered by its `.dockerignore` with the Docker SDK's own matcher, the
    same rules `docker build` applies; `.sprocket/` never goes in.
    """
    patterns = _dockerignore(model_dir) + [CACHE_DIR, f"{CACHE_DIR}/**"]
    included = sorted(exclude_paths(str(model_dir), patterns))
    with tarfile.open(fileobj=file, mode="w") as tar:
        data = dockerfile.encode()
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(data)
        info.mode = 0o644
        tar.addfile(_root_owned(info), io.BytesIO(data))
        for wheel in sorted(deps.glob("*.whl")):
            tar.add(wheel, f"deps/{wheel.name}", filter=_root_owned)
        tar.add(_runtime_package(), "sprocket/runtime", filter=_without_bytecode)
        tar.add(model_dir, "src", recursive=False, filter=_root_owned)
        for relative in included:
            tar.add(model_dir / relative, f"src/{relative}", recursive=False, filter=_root_owned)
    return included
