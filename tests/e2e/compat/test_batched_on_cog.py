"""A predictor written for Sprocket's batching still runs on Cog 0.9.8's own server: Cog knows
nothing of predict_batch() and serves predict()."""

from __future__ import annotations

from tests.e2e.compat.cases import COG_098, PREDICTORS
from tests.e2e.compat.cog_server import CogServer
from tests.e2e.compat.envs import Env


def test_cog_0_9_8_serves_a_batching_predictor_one_prediction_at_a_time(compat_envs: dict[str, Env]) -> None:
    server = CogServer(PREDICTORS / "batched", compat_envs[COG_098].python)
    try:
        server.wait_for_status("READY", timeout=60)
        body = server.predict(text="still runs")
        assert (body["status"], body["output"]) == ("succeeded", "STILL RUNS")
    finally:
        server.stop()
