"""Dockerfile generation from a validated `Config`.

The Dockerfile reads a build context laid out by `builder.context`:

    Dockerfile
    deps/*.whl          every Python package the model and the runtime need, resolved and
                        downloaded on the host (containers here cannot verify TLS to PyPI)
    sprocket/runtime/   Sprocket's server package (only it: not the builder, the CLI, their SDKs)
    src/...             the model directory, filtered by its .dockerignore

It uses only what Docker's classic builder understands (no `RUN --mount`, no heredocs), because
the Docker SDK's `build()` talks to the classic builder. Stages, cheapest to change last:

    python   the base image (+ Python for GPU images), tini, environment
    deps     a venv at /opt/venv with deps/*.whl installed offline (`--no-index`); only the venv
             reaches the final image, not the wheels
    final    system packages, the venv, `run` commands, Sprocket's server package, labels, then
             the model code: editing predict.py re-runs only the last COPY.

Python package caching: the host's pip cache (resolution and downloads), `.sprocket/` in the model
directory (the resolved wheel set, reused while requirements are unchanged) and the engine's layer
cache (the deps stage is reused while the wheel set is unchanged).

GPU base images (`build.gpu: true`), from `nvidia/cuda` runtime images with cuDNN:

    cuda   image tag                              cudnn   Ubuntu
    11.8   11.8.0-cudnn8-runtime-ubuntu22.04      8       22.04
    12.1   12.1.1-cudnn8-runtime-ubuntu22.04      8       22.04
    12.2   12.2.2-cudnn8-runtime-ubuntu22.04      8       22.04
    12.4   12.4.1-cudnn-runtime-ubuntu22.04       9       22.04   (default)
    12.6   12.6.3-cudnn-runtime-ubuntu24.04       9       24.04
    12.8   12.8.1-cudnn-runtime-ubuntu24.04       9       24.04

`cuda: "12"` picks the newest 12.x row; `cudnn` defaults to the row's only cuDNN. Python comes from
Ubuntu's own packages when the release ships that version (22.04: 3.10, 24.04: 3.12) and from the
deadsnakes PPA otherwise; a patch level in `python_version` is not honoured on GPU images (apt
gives the latest patch). CPU images start from `python:<python_version>-slim`.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass

from runtime.cog_yaml import CogYamlError, Config

__all__ = [
    "CudaBase",
    "CUDA_BASES",
    "DEFAULT_CUDA",
    "base_image",
    "cuda_base",
    "generate",
    "HEALTHCHECK_COMMAND",
    "VENV",
]

VENV = "/opt/venv"
TINI = "/usr/bin/tini"
PORT = 5000


@dataclass(frozen=True)
class CudaBase:
    cuda: str  # full CUDA version in the tag, "12.4.1"
    cudnn: str  # cuDNN major version, "9"
    tag_cudnn: str  # how the tag names it: "cudnn8" or "cudnn"
    ubuntu: str  # "22.04"

    @property
    def image(self) -> str:
        return f"nvidia/cuda:{self.cuda}-{self.tag_cudnn}-runtime-ubuntu{self.ubuntu}"


CUDA_BASES: dict[str, CudaBase] = {
    "11.8": CudaBase("11.8.0", "8", "cudnn8", "22.04"),
    "12.1": CudaBase("12.1.1", "8", "cudnn8", "22.04"),
    "12.2": CudaBase("12.2.2", "8", "cudnn8", "22.04"),
    "12.4": CudaBase("12.4.1", "9", "cudnn", "22.04"),
    "12.6": CudaBase("12.6.3", "9", "cudnn", "24.04"),
    "12.8": CudaBase("12.8.1", "9", "cudnn", "24.04"),
}
DEFAULT_CUDA = "12.4"
UBUNTU_PYTHON = {"22.04": "3.10", "24.04": "3.12"}

# Exit 0 only when the server says READY or BUSY; anything else (STARTING, SETUP_FAILED, no
# answer) is unhealthy. runtime.probe uses the standard library only.
HEALTHCHECK_COMMAND = ["python", "-P", "-m", "runtime.probe", "--allow-busy"]


def cuda_base(config: Config) -> CudaBase:
    """The `nvidia/cuda` row for `build.cuda`/`build.cudnn`; CogYamlError naming what exists."""
    wanted = config.build.cuda or DEFAULT_CUDA
    parts = wanted.split(".")
    if len(parts) == 1:
        matches = sorted(
            (k for k in CUDA_BASES if k.split(".")[0] == parts[0]), key=lambda k: tuple(int(p) for p in k.split("."))
        )
        key = matches[-1] if matches else None
    else:
        key = ".".join(parts[:2]) if ".".join(parts[:2]) in CUDA_BASES else None
    if key is None:
        raise CogYamlError(f'cog.yaml: build.cuda must be one of {", ".join(CUDA_BASES)}, got "{wanted}"')
    base = CUDA_BASES[key]
    if config.build.cudnn is not None and config.build.cudnn.split(".")[0] != base.cudnn:
        raise CogYamlError(f'cog.yaml: build.cudnn for CUDA {key} must be "{base.cudnn}", got "{config.build.cudnn}"')
    return base


# Sprocket's server runs inside the image, and needs this Python or newer.
MIN_PYTHON = (3, 11)


def base_image(config: Config) -> str:
    """The image to build on; CogYamlError for a Python version the server cannot run on."""
    if tuple(int(part) for part in config.build.python_minor.split(".")) < MIN_PYTHON:
        raise CogYamlError(
            f"cog.yaml: build.python_version must be {MIN_PYTHON[0]}.{MIN_PYTHON[1]} or newer "
            f"(Sprocket's server runs in the image), got {config.build.python_version}"
        )
    if config.build.gpu:
        return cuda_base(config).image
    return f"python:{config.build.python_version}-slim"


def _apt_install(packages: list[str]) -> str:
    quoted = " ".join(shlex.quote(p) for p in packages)
    return (
        f"apt-get update -qq && apt-get install -y -qq --no-install-recommends {quoted} && rm -rf /var/lib/apt/lists/*"
    )


def _python_stage(config: Config) -> list[str]:
    lines = [
        f"FROM {base_image(config)} AS python",
        "ENV DEBIAN_FRONTEND=noninteractive PYTHONUNBUFFERED=1 LANG=C.UTF-8",
    ]
    if config.build.gpu:
        base = cuda_base(config)
        version = config.build.python_minor
        packages = [f"python{version}", f"python{version}-venv", "tini", "ca-certificates"]
        if UBUNTU_PYTHON.get(base.ubuntu) == version:
            install = _apt_install(packages)
        else:
            install = (
                "apt-get update -qq && apt-get install -y -qq --no-install-recommends "
                "software-properties-common gpg-agent && "
                "add-apt-repository -y ppa:deadsnakes/ppa && " + _apt_install(packages)
            )
        lines += [
            "ENV NVIDIA_DRIVER_CAPABILITIES=all",
            f"RUN {install} && "
            f"ln -sf /usr/bin/python{version} /usr/local/bin/python && "
            f"ln -sf /usr/bin/python{version} /usr/local/bin/python3",
        ]
    else:
        # python:*-slim has no tini; the local stand-in base image (scripts/base-image.sh) has.
        lines.append(f"RUN test -x {TINI} || ({_apt_install(['tini'])})")
    return lines


def _label(key: str, value: str) -> str:
    # json.dumps gives a double-quoted string with \" and \\ escapes, which LABEL parses back.
    return f"LABEL {key}={json.dumps(value)}"


def generate(config: Config) -> str:
    """The Dockerfile for `config`, reading the context layout described in the module docstring.

    Raises CogYamlError for cog.yaml features the classic builder cannot express (secret mounts).
    """
    for index, run in enumerate(config.build.run):
        if run.mounts:
            raise CogYamlError(
                f"cog.yaml: build.run[{index}].mounts needs BuildKit secret mounts, "
                f"which Sprocket's builder (the engine's classic builder) does not "
                f"support; pass the secret another way or drop the mount"
            )
    lines = [
        "# Generated by Sprocket from cog.yaml; the classic builder is enough (no BuildKit).",
        *_python_stage(config),
        "",
        "FROM python AS deps",
        "COPY deps/ /tmp/deps/",
        f"RUN python -m venv {VENV} && "
        f"{VENV}/bin/pip install --no-index --no-cache-dir --disable-pip-version-check "
        f"--find-links /tmp/deps /tmp/deps/*.whl",
        "",
        "FROM python",
    ]
    if config.build.system_packages:
        lines.append(f"RUN {_apt_install(list(config.build.system_packages))}")
    lines += [f"COPY --from=deps {VENV} {VENV}", f"ENV VIRTUAL_ENV={VENV} PATH={VENV}/bin:$PATH"]
    lines += [f"RUN {run.command}" for run in config.build.run]
    lines.append(f"COPY sprocket/runtime/ {VENV}/lib/python{config.build.python_minor}/site-packages/runtime/")
    if config.environment:
        lines.append("ENV " + " ".join(f"{k}={json.dumps(v)}" for k, v in config.environment))
    lines += [
        _label("run.cog.config", json.dumps(config.to_json_dict(), sort_keys=True, separators=(",", ":"))),
        'LABEL run.cog.has_init="true"',
        "WORKDIR /src",
        f"EXPOSE {PORT}",
        f"HEALTHCHECK --interval=5s --timeout=5s --start-period=600s --retries=3 CMD {json.dumps(HEALTHCHECK_COMMAND)}",
        f'ENTRYPOINT ["{TINI}", "--"]',
        'CMD ["python", "-P", "-m", "runtime"]',
        "COPY src/ /src/",
        "",
    ]
    return "\n".join(lines)
