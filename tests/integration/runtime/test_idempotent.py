"""PUT /predictions/{id}: a retry of a running prediction attaches to it instead of starting another."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.conftest import module_server
from tests.support import Server, wait_until

gated = module_server("gated")


def test_retries_attach_and_other_ids_meet_409(gated: Server, tmp_path: Path) -> None:
    entered, release = tmp_path / "entered", tmp_path / "release"
    payload = {"input": {"entered": str(entered), "release": str(release)}}
    first = gated.put("/predictions/p-1", json=payload, headers={"Prefer": "respond-async"})
    assert first.status_code == 202 and first.json()["id"] == "p-1"
    wait_until(entered.exists, 10, "the prediction to start")
    again = gated.put("/predictions/p-1", json=payload, headers={"Prefer": "respond-async"})
    assert again.status_code == 202
    assert again.json()["status"] == "processing" and again.json()["started_at"] == first.json()["started_at"]
    other = gated.put("/predictions/p-2", json=payload)
    assert other.status_code == 409
    with ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(gated.put, "/predictions/p-1", json=payload)
        gated.wait_for_log("a retried request attaches to the running prediction", count=2)
        release.touch()
        final = waiting.result(30)
    assert final.status_code == 200
    assert final.json()["status"] == "succeeded" and final.json()["output"] == "released"
    assert final.json()["started_at"] == first.json()["started_at"]  # the same prediction


def test_id_in_body_must_match_the_url(gated: Server) -> None:
    response = gated.put("/predictions/a", json={"id": "b", "input": {}})
    assert response.status_code == 422
    assert response.json() == {
        "detail": [
            {"loc": ["body", "id"], "type": "value_error", "msg": "prediction ID must match the ID supplied in the URL"}
        ]
    }
