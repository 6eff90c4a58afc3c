"""`python -m cli` is `sprocket`."""

from cli.main import run

run()
