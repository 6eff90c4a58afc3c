"""cog.yaml's train entry: /trainings beside /predictions, one worker serving both."""

from __future__ import annotations

import base64

from tests.conftest import module_server
from tests.support import PREDICTORS, Server

training = module_server("", workdir=PREDICTORS.parent / "training")


def test_trainings_run_train_and_predictions_still_run_predict(training: Server) -> None:
    response = training.post("/trainings", json={"input": {"steps": 3}})
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "succeeded"
    assert body["output"] == {"weights": "data:application/octet-stream;base64," + base64.b64encode(b"www").decode()}
    assert body["logs"] == "training for 3 steps\n"
    assert training.predict(prompt="p")["output"] == "predicted p"


def test_training_inputs_are_validated(training: Server) -> None:
    response = training.post("/trainings", json={"input": {"steps": 0}})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "input", "steps"]


def test_training_put_checks_the_id(training: Server) -> None:
    response = training.put("/trainings/t-1", json={"id": "t-2", "input": {}})
    assert response.status_code == 422
    assert response.json()["detail"][0]["msg"] == "training ID must match the ID supplied in the URL"
    assert training.put("/trainings/t-1", json={"input": {}}).json()["id"] == "t-1"


def test_schema_and_index_describe_training(training: Server) -> None:
    schemas = training.get("/openapi.json").json()["components"]["schemas"]
    assert {"TrainingInput", "TrainingOutput", "TrainingRequest", "TrainingResponse"} <= set(schemas)
    assert training.get("/").json()["trainings_url"] == "/trainings"


def test_predictor_without_trainer_answers_404_for_trainings(start_server) -> None:
    server: Server = start_server("hello")
    server.wait_for_status("READY")
    response = server.post("/trainings", json={})
    assert response.status_code == 404
    assert "no trainer" in response.json()["detail"]
