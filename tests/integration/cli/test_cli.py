"""The `sprocket` command as a subprocess: user errors are one line and a documented exit code."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from cli.init import TEMPLATES
from tests.integration.cli.helpers import error_line, file_model, hello_model, sprocket


def test_help() -> None:
    result = sprocket("--help", cwd=Path.cwd())
    assert result.returncode == 0
    for command in ("init", "build", "predict", "serve", "run", "push", "schema"):
        assert command in result.stdout


def test_init_writes_starter_files(tmp_path: Path) -> None:
    result = sprocket("init", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [".dockerignore", "cog.yaml", "predict.py"]
    assert ".sprocket" in (tmp_path / ".dockerignore").read_text().splitlines()
    # The starter passes our own validation.
    from runtime.cog_yaml import load

    assert load(str(tmp_path)).predict == "predict.py:Predictor"


def test_init_refuses_to_overwrite(tmp_path: Path) -> None:
    (tmp_path / "predict.py").write_text("mine\n")
    result = sprocket("init", cwd=tmp_path)
    assert result.returncode == 2
    assert error_line(result) == (
        f"sprocket: error: predict.py already exists in {tmp_path}; "
        f"sprocket init does not overwrite files (remove them first)"
    )
    assert (tmp_path / "predict.py").read_text() == "mine\n"
    assert not (tmp_path / "cog.yaml").exists(), "nothing is written when anything exists"
    assert set(TEMPLATES) == {"cog.yaml", "predict.py", ".dockerignore"}


def test_no_cog_yaml(tmp_path: Path) -> None:
    result = sprocket("build", cwd=tmp_path)
    assert result.returncode == 3
    assert error_line(result).startswith("sprocket: error: no cog.yaml in ")


def test_invalid_cog_yaml(tmp_path: Path) -> None:
    (tmp_path / "cog.yaml").write_text("build:\n  python_version: [3]\n")
    result = sprocket("build", "--print-dockerfile", cwd=tmp_path)
    assert result.returncode == 3
    assert error_line(result) == (
        'sprocket: error: cog.yaml: build.python_version must be a string like "3.11", got a list'
    )


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    result = sprocket("--debug", "build", cwd=tmp_path)
    assert result.returncode == 3
    assert "Traceback" in result.stderr


def test_bad_input_flag(tmp_path: Path) -> None:
    hello_model(tmp_path)
    result = sprocket("predict", "--local", "-i", "text", cwd=tmp_path)
    assert result.returncode == 2
    assert error_line(result) == "sprocket: error: -i expects name=value (or name=@file), got 'text'"


def test_missing_input_file(tmp_path: Path) -> None:
    file_model(tmp_path)
    result = sprocket("predict", "--local", "-i", "image=@nope.jpg", cwd=tmp_path)
    assert result.returncode == 2
    assert error_line(result) == "sprocket: error: input image: no such file nope.jpg"


def test_unknown_flag() -> None:
    result = sprocket("predict", "--bogus", cwd=Path.cwd())
    assert result.returncode == 2
    assert error_line(result).startswith("sprocket: error: unrecognized arguments: --bogus")


def test_no_engine(tmp_path: Path) -> None:
    hello_model(tmp_path)
    result = sprocket("build", cwd=tmp_path, env={"DOCKER_HOST": f"unix://{tmp_path}/no.sock"})
    assert result.returncode == 4
    assert error_line(result) == (
        f"sprocket: error: cannot reach the Docker engine at unix://{tmp_path}/no.sock "
        f"(no engine socket there); start it (e.g. scripts/docker-up.sh) or use --local"
    )


def test_port_taken(tmp_path: Path) -> None:
    hello_model(tmp_path)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = sprocket("serve", "--local", "-p", str(port), cwd=tmp_path)
    assert result.returncode == 6
    assert error_line(result) == f"sprocket: error: port {port} on 127.0.0.1 is already in use: pick another with -p"


def test_print_dockerfile(tmp_path: Path) -> None:
    hello_model(tmp_path)
    result = sprocket("build", "--print-dockerfile", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "FROM python:3.11-slim AS python" in result.stdout


# ------------------------------------------------------- --local: the real runtime, no Docker


def test_predict_local(tmp_path: Path) -> None:
    hello_model(tmp_path)
    result = sprocket("predict", "--local", "-i", "text=world", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "hello world\n"


def test_predict_local_file_in_file_out(tmp_path: Path) -> None:
    file_model(tmp_path)
    (tmp_path / "in.bin").write_bytes(b"abc")
    result = sprocket("predict", "--local", "-i", "image=@in.bin", "-i", "times=2", "-o", "result.bin", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "result.bin").read_bytes() == b"cbacba"
    assert "written to result.bin" in result.stderr


def test_predict_local_json_input(tmp_path: Path) -> None:
    hello_model(tmp_path)
    result = sprocket("predict", "--local", "--json", json.dumps({"text": "json"}), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "hello json\n"


def test_predict_local_failure_exits_1(tmp_path: Path) -> None:
    hello_model(tmp_path)
    (tmp_path / "predict.py").write_text(
        "class Predictor:\n    def predict(self, text: str) -> str:\n        raise ValueError('no ' + text)\n"
    )
    result = sprocket("predict", "--local", "-i", "text=way", cwd=tmp_path)
    assert result.returncode == 1
    assert error_line(result) == "sprocket: error: prediction failed: no way"


def test_predict_local_rejected_input_exits_2(tmp_path: Path) -> None:
    hello_model(tmp_path)
    result = sprocket("predict", "--local", "-i", "txt=1", cwd=tmp_path)
    assert result.returncode == 2
    assert error_line(result) == "sprocket: error: unknown input 'txt'; this model takes: text"


def test_predict_local_setup_failure_exits_6(tmp_path: Path) -> None:
    hello_model(tmp_path)
    (tmp_path / "predict.py").write_text(
        "class Predictor:\n    def setup(self):\n        raise RuntimeError('weights missing')\n"
        "    def predict(self, text: str) -> str:\n        return text\n"
    )
    result = sprocket("predict", "--local", "-i", "text=x", cwd=tmp_path)
    assert result.returncode == 6
    # The model's own traceback (its setup logs) comes first, then our one line.
    assert "raise RuntimeError('weights missing')" in result.stderr
    assert result.stderr.strip().splitlines()[-1] == ("sprocket: error: setup() failed: RuntimeError: weights missing")


def test_schema_without_building(tmp_path: Path) -> None:
    hello_model(tmp_path)
    result = sprocket("schema", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    schema = json.loads(result.stdout)
    assert schema["components"]["schemas"]["Input"]["properties"]["text"]["type"] == "string"


def test_schema_of_a_predictor_that_cannot_be_described_says_why_at_once(tmp_path: Path) -> None:
    hello_model(tmp_path)
    (tmp_path / "predict.py").write_text(
        "class Predictor:\n    def predict(self, tags: set) -> str:\n        return ''\n"
    )
    result = sprocket("schema", cwd=tmp_path)  # before: it waited 120 s for /openapi.json
    assert result.returncode == 6
    assert error_line(result).startswith(
        "sprocket: error: predict() argument 'tags' has unsupported type set; "
        "annotate it as one of str, int, float, bool, Path"
    )


def test_predict_prints_a_concatenated_token_stream_as_text(tmp_path: Path) -> None:
    (tmp_path / "cog.yaml").write_text('build:\n  python_version: "3.11"\npredict: "predict.py:Predictor"\n')
    (tmp_path / "predict.py").write_text(
        "from cog import BasePredictor, ConcatenateIterator\n\n"
        "class Predictor(BasePredictor):\n"
        "    def predict(self) -> ConcatenateIterator[str]:\n"
        "        yield from ['Hello', ', ', 'world']\n"
    )
    result = sprocket("predict", "--local", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Hello, world\n"
