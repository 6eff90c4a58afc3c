"""`sprocket init`: a starter model directory. Never overwrites: if any file exists, none is written."""

from __future__ import annotations

from pathlib import Path

__all__ = ["TEMPLATES", "init"]

COG_YAML = """\
# Configuration for Sprocket (and Cog): https://cog.run/yaml
build:
  # Set to true when the model needs a GPU (the image then starts from nvidia/cuda).
  gpu: false

  # The Python version, a string: "3.11", or "3.11.4".
  python_version: "3.11"

  # Python packages, in a pip requirements file next to this one.
  # python_requirements: requirements.txt

  # Debian/Ubuntu packages to install with apt.
  # system_packages:
  #   - "libgl1"

  # Shell commands run after the packages are installed.
  # run:
  #   - "echo environment set up"

# The predictor: file.py:ClassName
predict: "predict.py:Predictor"
"""

PREDICT_PY = '''\
# The prediction interface. Sprocket serves it over Cog's HTTP API: https://cog.run/python
from cog import BasePredictor, Input


class Predictor(BasePredictor):
    def setup(self) -> None:
        """Load the model into memory once, so predictions are fast."""
        self.greeting = "hello"

    def predict(self, text: str = Input(description="Who to greet")) -> str:
        """Run one prediction."""
        return f"{self.greeting} {text}"
'''

DOCKERIGNORE = """\
# Files kept out of the image (same syntax as Docker's .dockerignore).
# Sprocket's build cache:
.sprocket
# Version control and Python caches:
.git
.github
__pycache__
*.pyc
.mypy_cache
.pytest_cache
# Virtual environments:
venv
.venv
"""

TEMPLATES = {"cog.yaml": COG_YAML, "predict.py": PREDICT_PY, ".dockerignore": DOCKERIGNORE}


class InitError(Exception):
    """A starter file already exists; one line naming them."""


def init(directory: Path) -> list[Path]:
    """Write the starter files into `directory`; InitError (writing nothing) if any exists."""
    existing = [name for name in TEMPLATES if (directory / name).exists()]
    if existing:
        raise InitError(
            f"{', '.join(existing)} already exist{'s' if len(existing) == 1 else ''} in "
            f"{directory}; sprocket init does not overwrite files (remove them first)"
        )
    written = []
    for name, text in TEMPLATES.items():
        path = directory / name
        # "x": fail rather than overwrite a file created since the check.
        with open(path, "x", encoding="utf-8") as file:
            file.write(text)
        written.append(path)
    return written
