"""Run `python -m cli` as a user would: a subprocess in a model directory, with a deadline."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]

FILE_MODEL = """\
from cog import BasePredictor, Input, Path


class Predictor(BasePredictor):
    def predict(self, image: Path = Input(description="a file"), times: int = 1) -> Path:
        data = image.read_bytes()
        out = Path("/tmp") / f"out-{os.getpid()}.bin"
        out.write_bytes(data[::-1] * times)
        return out
""".replace("from cog import", "import os\nfrom cog import")


def sprocket(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "cli", *args], cwd=cwd, env=environment, capture_output=True, text=True, timeout=timeout
    )


def error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The last stderr line, which must be the one `sprocket: error: ...` line."""
    lines = result.stderr.strip().splitlines()
    assert lines, f"no stderr; stdout: {result.stdout!r}"
    assert "Traceback" not in result.stderr, result.stderr
    return lines[-1]


def hello_model(directory: Path) -> Path:
    (directory / "cog.yaml").write_text('build:\n  python_version: "3.11"\npredict: "predict.py:Predictor"\n')
    (directory / "predict.py").write_text(
        "from cog import BasePredictor\n\n\nclass Predictor(BasePredictor):\n"
        "    def predict(self, text: str) -> str:\n        return 'hello ' + text\n"
    )
    return directory


def file_model(directory: Path) -> Path:
    (directory / "cog.yaml").write_text('build:\n  python_version: "3.11"\npredict: "predict.py:Predictor"\n')
    (directory / "predict.py").write_text(FILE_MODEL)
    return directory
