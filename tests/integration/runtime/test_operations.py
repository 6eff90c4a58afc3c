"""What operators see: probes, metrics, the restart policy, the memory limit, healthcheck()."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import psutil

from tests.support import GatedPrediction, Server, wait_until


def probe(server: Server, *flags: str) -> int:
    return subprocess.run(
        [sys.executable, "-m", "runtime.probe", "--port", str(server.port), *flags], capture_output=True, timeout=30
    ).returncode


def test_probes_while_setup_runs_then_ready_then_busy(start_server, tmp_path: Path) -> None:
    release = tmp_path / "release"
    server: Server = start_server("slow_setup", env={"RELEASE_SETUP": str(release)})
    assert server.get("/readyz").status_code == 503
    assert server.get("/livez").status_code == 200
    assert probe(server) == 1
    release.touch()
    server.wait_for_status("READY")
    assert server.get("/readyz").json() == {"status": "READY"}
    assert probe(server) == 0


def test_readyz_is_503_while_the_only_slot_is_busy(start_server, tmp_path: Path) -> None:
    server: Server = start_server("gated")
    server.wait_for_status("READY")
    with GatedPrediction(server, tmp_path) as running:
        busy = server.get("/readyz")
        assert busy.status_code == 503 and busy.json()["status"] == "BUSY"
        assert server.get("/livez").status_code == 200
        assert probe(server) == 1 and probe(server, "--allow-busy") == 0
        assert running.release()["status"] == "succeeded"


def test_after_a_crash_without_restarts_the_replica_is_not_alive(start_server) -> None:
    server: Server = start_server("crash")
    server.wait_for_status("READY")
    server.predict(how="exit")
    health = server.health()
    assert health["status"] == "FAILED" and health["restart_pending"] is False
    assert health["last_failure"] == "worker exited with code 7"
    assert server.get("/readyz").status_code == 503
    livez = server.get("/livez")
    assert livez.status_code == 503 and livez.json()["reason"] == "worker exited with code 7"


def test_on_failure_restarts_the_worker_and_the_next_prediction_succeeds(start_server) -> None:
    server: Server = start_server(
        "crash", env={"SPROCKET_RESTART_POLICY": "on-failure", "SPROCKET_RESTART_BACKOFF": "0.2"}
    )
    server.wait_for_status("READY")
    first = server.worker().pid
    assert server.predict(how="sigkill")["status"] == "failed"
    server.wait_for_log("restart 1 of 5 in 0.2 s")
    health = server.wait_for_status("READY")
    assert health["restarts"] == 1 and health["worker"]["pid"] != first
    assert server.predict(how="none")["output"] == "survived"
    assert server.metric("sprocket_worker_restarts_total") == 1
    assert server.metric("sprocket_state_transitions_total", from_state="FAILED", to_state="STARTING") == 1
    # A second crash waits twice as long.
    server.predict(how="exit")
    server.wait_for_log("restart 2 of 5 in 0.4 s")
    server.wait_for_status("READY")


def test_memory_limit_kills_the_worker_and_says_why(start_server, tmp_path: Path) -> None:
    server: Server = start_server("leak", env={"SPROCKET_MEMORY_LIMIT_MB": "150", "SPROCKET_WATCH_INTERVAL": "0.1"})
    server.wait_for_status("READY")
    body = server.predict(mb=300, entered=str(tmp_path / "entered"))
    assert body["status"] == "failed"
    assert re.fullmatch(r"prediction failed: exceeded memory limit 150 MiB \(RSS \d+ MiB\)", body["error"])
    health = server.health()
    assert health["status"] == "FAILED" and health["error"].startswith("exceeded memory limit 150 MiB")


def test_health_check_reports_worker_memory_and_no_gpus(start_server) -> None:
    server: Server = start_server("hello", env={"SPROCKET_WATCH_INTERVAL": "0.1"})
    server.wait_for_status("READY")
    health = wait_until(lambda: (h := server.health())["worker"].get("rss_bytes") and h, 10, "a memory sample")
    assert health["worker"]["pid"] == server.worker().pid
    assert health["worker"]["rss_bytes"] > 1_000_000
    assert health["gpus"] == []
    assert server.metric("sprocket_worker_resident_memory_bytes") > 1_000_000


def test_metrics_after_a_known_sequence(start_server) -> None:
    server: Server = start_server("raises")
    server.wait_for_status("READY")
    for _ in range(3):
        server.predict()
    assert server.metric("sprocket_predictions_total", status="failed") == 3
    assert server.metric("sprocket_predict_duration_seconds_count", status="failed") == 3
    assert server.metric("sprocket_prediction_queue_wait_seconds_count") == 3
    assert server.metric("sprocket_state", state="READY") == 1
    assert server.metric("sprocket_state", state="STARTING") == 0
    assert server.metric("sprocket_predictions_in_flight") == 0
    assert server.metric("sprocket_setup_duration_seconds") > 0
    assert server.get("/metrics").headers["Content-Type"].startswith("text/plain")


def test_user_healthcheck_reports_unhealthy_without_blocking(start_server, tmp_path: Path) -> None:
    mood = tmp_path / "mood"
    mood.write_text("fine")
    server: Server = start_server(
        "moody", env={"MOOD": str(mood), "SPROCKET_HEALTHCHECK_INTERVAL": "0.1", "SPROCKET_HEALTHCHECK_TIMEOUT": "0.5"}
    )
    server.wait_for_status("READY")
    for state, complaint in [
        ("sick", "healthcheck() returned False"),
        ("broken", "healthcheck() raised RuntimeError: the model's cache is gone"),
        ("stuck", "healthcheck() did not return within 0.5 s"),
    ]:
        mood.write_text(state)
        health = server.wait_for_status("UNHEALTHY")
        assert health["user_healthcheck_error"] == complaint
        assert server.get("/readyz").status_code == 503
        assert server.predict()["output"] == "ok"  # predictions still run
        mood.write_text("fine")
        server.wait_for_status("READY", timeout=15)


def test_kubernetes_ready_file_is_written_once_setup_succeeds(start_server, tmp_path: Path) -> None:
    ready = tmp_path / "cog" / "ready"
    server: Server = start_server(
        "crash", env={"KUBERNETES_SERVICE_HOST": "10.0.0.1", "SPROCKET_READY_FILE": str(ready)}
    )
    server.wait_for_status("READY")
    assert ready.exists()
    server.predict(how="exit")
    assert not ready.exists()


def test_shutdown_can_require_a_token(start_server) -> None:
    server: Server = start_server("hello", env={"SPROCKET_SHUTDOWN_TOKEN": "s3cret"})
    server.wait_for_status("READY")
    refused = server.post("/shutdown")
    assert refused.status_code == 401
    assert server.post("/shutdown", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert server.post("/shutdown", headers={"Authorization": "Bearer s3cret"}).status_code == 200
    assert server.wait_exit() == 0


def test_the_worker_runs_at_a_lower_priority_than_the_front(start_server) -> None:
    server: Server = start_server("hello", env={"SPROCKET_WORKER_NICE": "7"})
    server.wait_for_status("READY")
    front = psutil.Process(server.process.pid)
    assert server.worker().nice() == front.nice() + 7
