"""End to end against the real Docker engine: build, run, health, predict, CLI, push.

These FAIL (never skip) when the engine or the base image is missing: CI runs
`scripts/base-image.sh` (which runs `scripts/docker-up.sh`) first. Every container, image and
registry process a test starts is removed by that test's fixtures; waits have deadlines.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any, Iterator

import docker.errors
import pytest
import requests

from builder.build import BuildResult, EngineError, build_image, connect
from builder.serve import ContainerServer, free_port
from runtime.cog_yaml import load
from tests.integration.cli.helpers import REPO, error_line, file_model, sprocket
from tests.support import wait_until

pytestmark = [pytest.mark.docker, pytest.mark.slow]

BASE_IMAGE = "python:3.11-slim"
RUN_ID = f"{os.getpid()}-{int(time.time())}"


@pytest.fixture(scope="module")
def client() -> Any:
    try:
        engine = connect()
    except EngineError as error:
        pytest.fail(f"{error}\nThese tests need the engine: run scripts/docker-up.sh", pytrace=False)
    try:
        engine.inspect_image(BASE_IMAGE)
    except docker.errors.ImageNotFound:
        pytest.fail(f"base image {BASE_IMAGE} is missing: run scripts/base-image.sh", pytrace=False)
    return engine


def _remove_image(client: Any, name: str) -> None:
    try:
        client.remove_image(name, force=True)
    except docker.errors.NotFound:
        pass


@pytest.fixture(scope="module")
def hello(client: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, BuildResult]]:
    directory = tmp_path_factory.mktemp("hello")
    shutil.copytree(REPO / "examples" / "hello", directory, dirs_exist_ok=True)
    shutil.rmtree(directory / ".sprocket", ignore_errors=True)
    (directory / ".dockerignore").write_text(".sprocket\nsecret.txt\n")
    (directory / "secret.txt").write_text("must not reach the image\n")
    tag = f"sprocket-test-hello:{RUN_ID}"
    result = build_image(client, directory, load(str(directory)), tag)
    try:
        yield directory, result
    finally:
        _remove_image(client, tag)


@pytest.fixture
def container(client: Any, hello: tuple[Path, BuildResult]) -> Iterator[ContainerServer]:
    server = ContainerServer(client, hello[1].tag)
    try:
        yield server
    finally:
        server.stop()
    with pytest.raises(docker.errors.NotFound):
        client.inspect_container(server.id)


def test_image_metadata(client: Any, hello: tuple[Path, BuildResult]) -> None:
    directory, result = hello
    assert result.has_schema
    image = client.inspect_image(result.tag)
    config = image["Config"]
    assert config["WorkingDir"] == "/src"
    assert "5000/tcp" in config["ExposedPorts"]
    assert config["Entrypoint"] == ["/usr/bin/tini", "--"]
    assert config["Cmd"] == ["python", "-P", "-m", "runtime"]
    assert config["Healthcheck"]["Test"][:2] == ["CMD", "python"]
    labels = config["Labels"]
    assert json.loads(labels["run.cog.config"]) == load(str(directory)).to_json_dict()
    schema = json.loads(labels["run.cog.openapi_schema"])
    assert schema["components"]["schemas"]["Input"]["properties"]["text"]["type"] == "string"
    assert labels["run.cog.has_init"] == "true"


def test_dockerignore_is_respected(client: Any, hello: tuple[Path, BuildResult]) -> None:
    created = client.create_container(hello[1].tag, command=["ls", "-A", "/src"])
    try:
        client.start(created["Id"])
        assert client.wait(created["Id"], timeout=60)["StatusCode"] == 0
        listing = client.logs(created["Id"]).decode().split()
    finally:
        client.remove_container(created["Id"], force=True)
    assert "predict.py" in listing and "cog.yaml" in listing
    assert "secret.txt" not in listing and ".sprocket" not in listing


def test_health_and_prediction_over_http(client: Any, container: ContainerServer) -> None:
    def status() -> str | None:
        try:
            body = requests.get(f"{container.url}/health-check", timeout=2).json()
        except requests.ConnectionError:
            return None
        return body["status"] if body["status"] == "READY" else None

    wait_until(status, 60, "GET /health-check to say READY", interval=0.1)
    response = requests.post(f"{container.url}/predictions", json={"input": {"text": "docker"}}, timeout=30)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "succeeded"
    assert response.json()["output"] == "hello docker"
    # The image's HEALTHCHECK agrees (it probes every 5 s).
    wait_until(
        lambda: client.inspect_container(container.id)["State"]["Health"]["Status"] == "healthy",
        30,
        "the container's health status to be healthy",
        interval=0.5,
    )
    # tini is PID 1 and the server is its child.
    exec_id = client.exec_create(container.id, ["cat", "/proc/1/cmdline"])["Id"]
    assert client.exec_start(exec_id).split(b"\0")[0] == b"/usr/bin/tini"


def test_code_edit_rebuilds_only_the_last_layer(client: Any, hello: tuple[Path, BuildResult]) -> None:
    directory, first = hello
    predict = directory / "predict.py"
    edited = f'"hi {time.time_ns()}"'  # never built before, so no earlier layer can stand in for it
    predict.write_text(predict.read_text().replace('"hello"', edited))
    import io

    out = io.StringIO()
    build_image(client, directory, load(str(directory)), first.tag, out=out, schema=False)
    steps = [line for line in out.getvalue().splitlines() if line.strip().startswith("-> layer")]
    assert all("cached" in line for line in steps[:-1]), out.getvalue()
    assert "cached" not in steps[-1]
    # Put it back so other tests see the original model.
    predict.write_text(predict.read_text().replace(edited, '"hello"'))
    build_image(client, directory, load(str(directory)), first.tag, out=io.StringIO())


@pytest.fixture(scope="module")
def file_dir(client: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    directory = file_model(tmp_path_factory.mktemp(f"files-{RUN_ID}"))
    yield directory
    _remove_image(client, f"sprocket-{directory.name.lower()}")


def test_cli_predict_builds_and_writes_file_output(file_dir: Path) -> None:
    (file_dir / "input.bin").write_bytes(b"12345")
    result = sprocket("predict", "-i", "image=@input.bin", "-i", "times=2", "-o", "out.bin", cwd=file_dir, timeout=600)
    assert result.returncode == 0, result.stderr
    assert (file_dir / "out.bin").read_bytes() == b"5432154321"
    assert re.search(r"\[(\d+)/\1\] COPY src/ /src/", result.stderr)  # it built the image first
    assert "written to out.bin" in result.stderr


def test_cli_run_mounts_the_model_dir(file_dir: Path) -> None:
    (file_dir / "late.txt").write_text("added after the build\n")
    result = sprocket("run", "cat", "/src/late.txt", cwd=file_dir, timeout=600)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "added after the build\n"
    failed = sprocket("run", "sh", "-c", "exit 3", cwd=file_dir, timeout=600)
    assert failed.returncode == 3


def test_failing_run_step_shows_command_and_output(client: Any, tmp_path: Path) -> None:
    (tmp_path / "cog.yaml").write_text('build:\n  run:\n    - "echo boom-output >&2 && false"\n')
    result = sprocket("build", "-t", f"sprocket-test-broken:{RUN_ID}", cwd=tmp_path, timeout=600)
    assert result.returncode == 5
    assert "        | boom-output" in result.stderr
    line = error_line(result)
    assert line.startswith("sprocket: error: image build failed at step ")
    assert (
        "(RUN echo boom-output >&2 && false): The command '/bin/sh -c echo boom-output >&2 && false' "
        "returned a non-zero code: 1" in line
    )


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[str]:
    """Debian's docker-registry on 127.0.0.1:<free port>, storing in tmp_path."""
    binary = shutil.which("docker-registry") or "/usr/bin/docker-registry"
    if not os.path.exists(binary):
        pytest.fail("docker-registry is not installed: run scripts/docker-up.sh", pytrace=False)
    port = free_port()
    config = tmp_path / "registry.yml"
    config.write_text(f"""version: 0.1
log: {{level: warn}}
storage:
  filesystem: {{rootdirectory: {tmp_path / "data"}}}
http:
  addr: 127.0.0.1:{port}
""")
    log = open(tmp_path / "registry.log", "w")  # noqa: SIM115 - the registry writes it until it stops
    process = subprocess.Popen([binary, "serve", str(config)], stdout=log, stderr=subprocess.STDOUT)
    try:

        def answers() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"registry exited: {(tmp_path / 'registry.log').read_text()}")
            try:
                return requests.get(f"http://127.0.0.1:{port}/v2/", timeout=1).status_code == 200
            except requests.ConnectionError:
                return False

        wait_until(answers, 30, "the registry to answer /v2/", interval=0.1)
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)
        log.close()


def test_push_to_local_registry(client: Any, hello: tuple[Path, BuildResult], registry: str) -> None:
    directory = hello[0]
    image = f"{registry}/sprocket-hello:test"
    try:
        result = sprocket("push", image, "--no-schema", cwd=directory, timeout=600)
        assert result.returncode == 0, result.stderr
        assert f"sprocket: pushed {image}@sha256:" in result.stderr
        tags = requests.get(f"http://{registry}/v2/sprocket-hello/tags/list", timeout=5).json()
        assert tags["tags"] == ["test"]
    finally:
        _remove_image(client, image)
