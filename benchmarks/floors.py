"""The floor column: the same work with no server in between (benchmarks/no_server.py), measured
in each repeat right after the servers, so a target can be read against what this machine allows.

- Figure 11 (`streams`): the streaming predictor run in a bare aiohttp handler, in one process,
  measured by the same client as the servers.
- Figure 13 (`embed`, `embed_unbatched`): the model called in one process, no HTTP, as many
  sentences per forward pass as there are clients (the most batching can give) and one per pass
  (what a server without batching can give).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from benchmarks import batching, streams
from benchmarks.measure import Measured, Peers, Settings
from benchmarks.servers import ServerSpec, prepare_model_dir, running

FLOOR = "floor"
VERSION = "the predictor in one process, no server (benchmarks/no_server.py)"
_SCRIPT = Path(__file__).resolve().parent / "no_server.py"
_TIMEOUT_AFTER_WINDOW = 120.0  # loading the model included


def _spec(python: Path) -> ServerSpec:
    return ServerSpec(FLOOR, python, ("-P", str(_SCRIPT), "stream"), version=VERSION)


def stream(python: Path, settings: Settings, peers: Peers) -> Measured:
    with running(_spec(python), "paced_tokens") as server:
        return streams.paced_streams(server, settings, peers)


def _model_alone(python: Path, settings: Settings, batch: int) -> float:
    model_dir = prepare_model_dir("text_embed", None)
    try:
        result = subprocess.run(
            [
                str(python),
                "-P",  # the script's own directory holds modules named like the standard library's
                str(_SCRIPT),
                "embed",
                f"--batch={batch}",
                f"--seconds={settings.embed_seconds}",
                f"--warmup={batching.WARMUP}",
                f"--sentence={batching.SENTENCE}",
            ],
            cwd=model_dir,
            capture_output=True,
            text=True,
            timeout=settings.embed_seconds + batching.WARMUP + _TIMEOUT_AFTER_WINDOW,
            check=False,
        )
    finally:
        shutil.rmtree(model_dir.parent, ignore_errors=True)
    if result.returncode != 0:
        raise RuntimeError(f"the model alone exited with {result.returncode}:\n{result.stderr[-2000:]}")
    return float(json.loads(result.stdout.splitlines()[-1])["sentences_per_second"])


def embed(python: Path, settings: Settings, peers: Peers) -> Measured:
    """The model alone, `embed_clients` sentences per forward pass: the ceiling of figure 13's embed row."""
    return Measured(metrics={"embed_rps": _model_alone(python, settings, settings.embed_clients)})


def embed_unbatched(python: Path, settings: Settings, peers: Peers) -> Measured:
    """The model alone, one sentence per forward pass: the ceiling without batching."""
    return Measured(metrics={"embed_unbatched_rps": _model_alone(python, settings, 1)})
