"""Start-up: setup() running, succeeding with its logs, failing; and configuration mistakes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import PREDICTORS, Server


def test_predictions_get_503_while_setup_runs(start_server, tmp_path: Path) -> None:
    release = tmp_path / "release"
    server = start_server("slow_setup", env={"RELEASE_SETUP": str(release)})
    health = server.health()
    assert (health["status"], health["setup"]) == ("STARTING", {})
    response = server.post("/predictions", json={})
    assert response.status_code == 503
    body = response.json()
    assert "Setup has not finished yet" in body["detail"]
    assert (body["status"], body["error"]) == ("failed", body["detail"])  # what coglet's clients read
    release.touch()
    health = server.wait_for_status("READY")
    assert health["setup"]["logs"] == "setup waiting\nsetup done\n"
    assert server.predict()["output"] == "ok"


def test_setup_logs_hold_every_line_including_fd_writes_and_the_last(start_server) -> None:
    server = start_server("logs")
    logs = server.wait_for_status("READY")["setup"]["logs"]
    assert "setting up\n" in logs
    assert "setup on fd 2\n" in logs
    assert "last setup line" in logs  # printed without a newline, just before setup() returned


def test_failed_setup_is_reported_with_its_traceback_and_the_server_stays_up(start_server) -> None:
    server = start_server("setup_fails")
    health = server.wait_for_status("SETUP_FAILED")
    assert health["setup"]["status"] == "failed"
    logs = health["setup"]["logs"]
    assert logs.startswith("loading weights\n")
    assert "Traceback (most recent call last)" in logs
    assert "RuntimeError: no weights found" in logs
    response = server.post("/predictions", json={})
    assert response.status_code == 503
    body = response.json()
    assert "no weights found" in body["detail"]
    assert (body["status"], body["error"]) == ("failed", body["detail"])
    assert server.get("/openapi.json").status_code == 200  # the module imported fine
    assert server.process.poll() is None


def test_missing_predictor_class_names_what_is_missing(start_server) -> None:
    server = start_server("missing_class")
    health = server.wait_for_status("SETUP_FAILED")
    assert health["error"] == "missing_class.py has no 'Predictor'; cog.yaml's predict names it"
    assert server.get("/openapi.json").status_code == 503


def test_import_error_keeps_the_traceback_in_setup_logs(start_server) -> None:
    server = start_server("import_error")
    health = server.wait_for_status("SETUP_FAILED")
    assert "ModuleNotFoundError" in health["error"]
    assert "import a_module_that_does_not_exist" in health["setup"]["logs"]


def _run_front(
    workdir: Path, env: dict[str, str] | None = None, args: list[str] | None = None
) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("COG_")}
    return subprocess.run(
        [sys.executable, "-P", "-m", "runtime", *(args or [])],
        cwd=workdir,
        env={**environment, **(env or {})},
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_configuration_mistakes_are_one_line_and_exit_2(tmp_path: Path) -> None:
    cases = [
        ({}, [], "no cog.yaml in"),
        ({}, ["--x-mode", "serve"], "--x-mode has value 'serve'"),
        ({"COG_PREDICT_TYPE_STUB": "nothere.py:Predictor"}, [], "predictor file nothere.py not found"),
        ({"COG_PREDICT_TYPE_STUB": "p.py:P", "COG_LOG_LEVEL": "loud"}, [], "COG_LOG_LEVEL has value 'loud'"),
        ({"COG_PREDICT_TYPE_STUB": "p.py:P", "PORT": "70000"}, [], "PORT has value '70000': 70000 is not a port"),
        ({"COG_PREDICT_TYPE_STUB": "p.py:P", "PORT": "http"}, [], "PORT has value 'http'"),
        ({"COG_PREDICT_TYPE_STUB": "p.py:P", "LOG_FORMAT": "Console"}, [], "LOG_FORMAT has value 'Console': use json"),
    ]
    (tmp_path / "p.py").write_text("")
    for env, args, message in cases:
        result = _run_front(tmp_path, env, args)
        assert result.returncode == 2, result
        assert result.stderr.count("\n") == 1 and message in result.stderr, result.stderr


def test_bad_cog_yaml_is_one_line_and_read_as_sprocket_build_reads_it(tmp_path: Path) -> None:
    (tmp_path / "p.py").write_text("")
    for text, message in [
        ("build: [unclosed", "cog.yaml is not valid YAML at line"),
        ("- a list", "cog.yaml: the file must be a mapping of keys"),
        ("build: {}", "cog.yaml: no 'predict' key"),
        ("predict: 5", 'cog.yaml: predict must be a reference like "predict.py:Predictor"'),
        ('predict: "p.py:P"\nenvironment: [JUSTANAME]', "environment[0] must be a KEY=VALUE string"),
        ('predict: "p.py:P"\nenvironment: ["PATH=/x"]', "sets PATH, which the image manages"),
        ('predict: "p.py:P"\nbulid: {}', "unknown key 'bulid'"),
    ]:
        (tmp_path / "cog.yaml").write_text(text)
        result = _run_front(tmp_path)
        assert result.returncode == 2 and message in result.stderr, (text, result.stderr)
        assert "Traceback" not in result.stderr


def test_port_in_use_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _run_front(
            PREDICTORS, {"COG_PREDICT_TYPE_STUB": "hello.py:Predictor", "PORT": str(port)}, ["--host", "127.0.0.1"]
        )
    assert result.returncode == 2
    assert f"port {port} is already in use" in result.stderr


def test_default_listener_takes_ipv4_and_ipv6(start_server) -> None:
    server: Server = start_server("hello", host=None)
    assert server.url.startswith("http://[::]:")
    server.wait_for_status("READY")
    for host in ("127.0.0.1", "[::1]"):
        body = server.session.post(f"http://{host}:{server.port}/predictions", json={}, timeout=30).json()
        assert body["output"] == "hello world"


def test_cog_yaml_in_the_working_directory_names_the_predictor(tmp_path: Path, start_server) -> None:
    (tmp_path / "cog.yaml").write_text('build:\n  python_version: "3.11"\npredict: "hello.py:Predictor"\n')
    (tmp_path / "hello.py").write_text((PREDICTORS / "hello.py").read_text())
    server = start_server("", workdir=tmp_path)
    server.wait_for_status("READY")
    assert server.predict(text="yaml")["output"] == "hello yaml"


def test_cog_yaml_environment_reaches_the_worker_and_the_process_environment_wins(tmp_path: Path, start_server) -> None:
    (tmp_path / "cog.yaml").write_text('predict: "p.py:Predictor"\nenvironment:\n  - GREETING=hi\n  - NAME=yaml\n')
    (tmp_path / "p.py").write_text(
        "import os\nfrom cog import BasePredictor\n\nclass Predictor(BasePredictor):\n"
        "    def predict(self) -> str:\n"
        "        return os.environ['GREETING'] + ' ' + os.environ['NAME']\n"
    )
    server = start_server("", workdir=tmp_path, env={"NAME": "process"})
    server.wait_for_status("READY")
    assert server.predict()["output"] == "hi process"


@pytest.mark.parametrize("name", ["runtime.py", "runtime/__init__.py"])
def test_a_model_directory_holding_a_runtime_module_is_refused_naming_it(tmp_path: Path, name: str) -> None:
    (tmp_path / "cog.yaml").write_text('predict: "predict.py:Predictor"')
    (tmp_path / "predict.py").write_text("")
    (tmp_path / name).parent.mkdir(exist_ok=True)
    (tmp_path / name).write_text("print('the model file ran'); raise SystemExit(0)\n")
    result = _run_front(tmp_path)
    assert result.returncode == 2, result
    assert result.stderr.count("\n") == 1 and f"the model directory has {name}" in result.stderr, result.stderr
    assert "the model file ran" not in result.stdout
