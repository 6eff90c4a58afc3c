"""Server-sent events: live events, and a reconnect that resumes from the replay buffer."""

from __future__ import annotations

from tests.conftest import module_server
from tests.support import Server
from tests.wire import SSE, read_events

streamer = module_server("streamer")
hello = module_server("hello")


def test_iterator_prediction_streams_start_outputs_logs_completed(streamer: Server) -> None:
    with streamer.session.post(
        streamer.url + "/predictions", json={"id": "s-1", "input": {"count": 3}}, headers=SSE, stream=True, timeout=30
    ) as response:
        assert response.headers["Content-Type"].startswith("text/event-stream")
        events = list(read_events(response))
    names = [name for _, name, _ in events]
    assert names[0] == "start" and names[-1] == "completed"
    assert [d for _, n, d in events if n == "output"] == [{"chunk": f"t{i} ", "index": i} for i in range(3)]
    assert "".join(d["data"] for _, n, d in events if n == "log") == "token 0\ntoken 1\ntoken 2\n"
    assert {d["source"] for _, n, d in events if n == "log"} == {"stdout"}
    assert events[0][2] == {"id": "s-1", "status": "processing"}
    assert events[-1][2]["output"] == ["t0 ", "t1 ", "t2 "]
    assert [seq for seq, _, _ in events] == list(range(1, len(events) + 1))


def test_single_value_predictor_streams_start_and_completed(hello: Server) -> None:
    with hello.session.post(
        hello.url + "/predictions", json={"input": {"text": "sse"}}, headers=SSE, stream=True, timeout=30
    ) as response:
        events = [(name, data) for _, name, data in read_events(response)]
    assert [name for name, _ in events] == ["start", "completed"]
    assert events[-1][1]["output"] == "hello sse"
    # The stream ends as its last event is published: nothing on the way may break on that. The
    # server reads this health check only after it is done with that event, and whatever it logged.
    assert hello.get("/health-check").status_code == 200
    assert '"severity":"ERROR"' not in hello.log()


def test_reconnecting_client_resumes_after_its_last_event(streamer: Server) -> None:
    response = streamer.session.post(
        streamer.url + "/predictions",
        stream=True,
        timeout=30,
        headers=SSE,
        json={"id": "s-2", "input": {"count": 6, "pause": 0.2}},
    )
    events = read_events(response)
    first = [next(events), next(events)]  # start, then the first log or output
    response.close()
    last_id = first[-1][0]
    with streamer.session.put(
        streamer.url + "/predictions/s-2",
        json={"input": {"count": 6, "pause": 0.2}},
        headers={**SSE, "Last-Event-ID": str(last_id)},
        stream=True,
        timeout=30,
    ) as resumed:
        rest = list(read_events(resumed))
    assert rest[0][0] == last_id + 1
    assert [seq for seq, _, _ in rest] == list(range(last_id + 1, rest[-1][0] + 1))
    assert rest[-1][1] == "completed"
    assert rest[-1][2]["output"] == [f"t{i} " for i in range(6)]
