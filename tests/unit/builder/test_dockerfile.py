"""Dockerfile generation: CPU and GPU bases, layer order, and what the classic builder can parse."""

from __future__ import annotations

import json
import re

import pytest

from builder.dockerfile import CUDA_BASES, HEALTHCHECK_COMMAND, base_image, cuda_base, generate
from runtime.cog_yaml import CogYamlError, loads


def instructions(dockerfile: str) -> list[str]:
    return [line for line in dockerfile.splitlines() if line and not line.startswith("#")]


def test_cpu_image() -> None:
    text = generate(loads('build: {python_version: "3.11"}\npredict: "predict.py:Predictor"\n'))
    lines = instructions(text)
    assert lines[0] == "FROM python:3.11-slim AS python"
    assert "FROM python AS deps" in lines and "FROM python" in lines
    assert lines[-1] == "COPY src/ /src/", "model code must be the last layer"
    final = lines[lines.index("FROM python") :]
    for expected in (
        "WORKDIR /src",
        "EXPOSE 5000",
        'ENTRYPOINT ["/usr/bin/tini", "--"]',
        'CMD ["python", "-P", "-m", "runtime"]',
        'LABEL run.cog.has_init="true"',
    ):
        assert expected in final
    assert "nvidia" not in text


def test_packages_install_offline_from_the_context() -> None:
    lines = instructions(generate(loads("build: {python_packages: [six]}\n")))
    install = next(line for line in lines if "/opt/venv/bin/pip install" in line)
    assert "--no-index" in install and "/tmp/deps/*.whl" in install
    # Sprocket's server package alone, into the venv's site-packages.
    assert "COPY sprocket/runtime/ /opt/venv/lib/python3.11/site-packages/runtime/" in lines
    # Only the venv reaches the final stage, not the wheels.
    assert "COPY --from=deps /opt/venv /opt/venv" in lines
    assert lines.index("COPY deps/ /tmp/deps/") < lines.index("FROM python")


def test_layer_order_cheapest_change_last() -> None:
    lines = instructions(
        generate(loads("build: {system_packages: [ffmpeg, libgl1], run: [echo one, 'echo two && echo three']}\n"))
    )
    order = [
        next(i for i, line in enumerate(lines) if pattern in line)
        for pattern in (
            "apt-get install -y -qq --no-install-recommends ffmpeg libgl1",
            "COPY --from=deps",
            "RUN echo one",
            "RUN echo two && echo three",
            "COPY sprocket/",
            "LABEL run.cog.config",
            "COPY src/",
        )
    ]
    assert order == sorted(order)


def test_system_package_names_are_quoted() -> None:
    text = generate(loads("build: {system_packages: ['libfoo=1.2~rc1']}\n"))
    assert "--no-install-recommends 'libfoo=1.2~rc1'" in text


def test_environment_is_one_sorted_env_line() -> None:
    text = generate(loads('environment: [ZED="quoted value", ALPHA=1]\n'))
    assert 'ENV ALPHA="1" ZED="\\"quoted value\\""' in text


def test_config_label_is_the_json_of_cog_yaml() -> None:
    config = loads('build: {python_version: "3.12", run: [echo "hi"]}\npredict: "predict.py:Predictor"\n')
    line = next(line for line in generate(config).splitlines() if line.startswith("LABEL run.cog.config="))
    value = json.loads(line.split("=", 1)[1])  # the Dockerfile string is JSON-escaped
    assert json.loads(value) == config.to_json_dict()
    assert json.loads(value)["build"]["run"] == [{"command": 'echo "hi"'}]


def test_healthcheck_is_the_exec_probe_allowing_busy() -> None:
    # runtime.probe's own exits are tested in tests/test_probe.py; the e2e test sees Docker's
    # health status turn healthy.
    line = next(line for line in generate(loads("{}")).splitlines() if line.startswith("HEALTHCHECK"))
    assert (
        json.loads(line.split(" CMD ", 1)[1])
        == HEALTHCHECK_COMMAND
        == ["python", "-P", "-m", "runtime.probe", "--allow-busy"]
    )


def test_secret_mounts_need_buildkit() -> None:
    config = loads("build:\n  run:\n    - {command: x, mounts: [{type: secret, id: a, target: /a}]}\n")
    with pytest.raises(CogYamlError, match=r"build.run\[0\].mounts needs BuildKit secret mounts"):
        generate(config)


def test_no_buildkit_only_syntax() -> None:
    text = generate(loads('build: {gpu: true, system_packages: [x], run: ["echo"], python_version: "3.11"}\n'))
    assert "--mount" not in text and "<<" not in text and "# syntax" not in text


# ------------------------------------------------------------------------------------- GPU


def test_gpu_default_base() -> None:
    config = loads('build: {gpu: true, python_version: "3.11"}\n')
    assert base_image(config) == "nvidia/cuda:12.4.1-cudnn-runtime-ubuntu22.04"
    lines = instructions(generate(config))
    assert lines[0] == "FROM nvidia/cuda:12.4.1-cudnn-runtime-ubuntu22.04 AS python"
    python = next(line for line in lines if "python3.11-venv" in line)
    assert "ppa:deadsnakes/ppa" in python  # Ubuntu 22.04 ships 3.10, not 3.11
    assert "tini" in python and "ln -sf /usr/bin/python3.11 /usr/local/bin/python " in python
    assert "ENV NVIDIA_DRIVER_CAPABILITIES=all" in lines


@pytest.mark.parametrize(
    "cuda, cudnn, python, image, ppa",
    [
        ("11.8", None, "3.11", "nvidia/cuda:11.8.0-cudnn8-runtime-ubuntu22.04", True),
        ("12.1", "8", "3.11", "nvidia/cuda:12.1.1-cudnn8-runtime-ubuntu22.04", True),
        ("12.4.1", "9", "3.11", "nvidia/cuda:12.4.1-cudnn-runtime-ubuntu22.04", True),
        ("12.6", None, "3.12", "nvidia/cuda:12.6.3-cudnn-runtime-ubuntu24.04", False),
        ("12", None, "3.11", "nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04", True),
        ("11", "8.9", "3.11", "nvidia/cuda:11.8.0-cudnn8-runtime-ubuntu22.04", True),
    ],
)
def test_gpu_table(cuda: str, cudnn: str | None, python: str, image: str, ppa: bool) -> None:
    cudnn_line = f', cudnn: "{cudnn}"' if cudnn else ""
    config = loads(f'build: {{gpu: true, cuda: "{cuda}"{cudnn_line}, python_version: "{python}"}}\n')
    assert base_image(config) == image
    assert ("deadsnakes" in generate(config)) is ppa


def test_gpu_unknown_versions_name_what_exists() -> None:
    with pytest.raises(
        CogYamlError, match=r'^cog.yaml: build.cuda must be one of 11.8, 12.1, 12.2, 12.4, 12.6, 12.8, got "10.2"$'
    ):
        cuda_base(loads('build: {gpu: true, cuda: "10.2"}\n'))
    with pytest.raises(CogYamlError, match=r'^cog.yaml: build.cudnn for CUDA 12.4 must be "9", got "8"$'):
        cuda_base(loads('build: {gpu: true, cuda: "12.4", cudnn: "8"}\n'))


def test_every_gpu_row_is_a_wellformed_tag() -> None:
    for key, base in CUDA_BASES.items():
        assert base.cuda.startswith(key + ".")
        assert re.match(r"^nvidia/cuda:\d+\.\d+\.\d+-cudnn\d*-runtime-ubuntu\d\d\.04$", base.image)


def test_cpu_ignores_cuda() -> None:
    assert base_image(loads('build: {cuda: "12.4", python_version: "3.12"}\n')) == "python:3.12-slim"


def test_an_image_needs_a_python_the_server_runs_on() -> None:
    with pytest.raises(CogYamlError, match=r"build.python_version must be 3.11 or newer .*got 3.10$"):
        generate(loads("build:\n  python_version: 3.10\n"))
