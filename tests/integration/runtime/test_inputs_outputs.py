"""Every input type the SDK offers, and file and object outputs, through the real server."""

from __future__ import annotations

import base64

from tests.conftest import module_server
from tests.peers import Peer, respond
from tests.support import Server

all_inputs = module_server("all_inputs")
outputs = module_server("outputs")


def data_uri(data: bytes, media_type: str = "text/plain") -> str:
    return f"data:{media_type};base64,{base64.b64encode(data).decode()}"


def test_every_input_type_reaches_predict(all_inputs: Server) -> None:
    body = all_inputs.predict(
        text="hi",
        count=3,
        ratio=2,
        flag=True,
        image=data_uri(b"pixels"),
        document=data_uri(b"doc"),
        token="s3cret",
        tags=["a", "b"],
        maybe=None,
        mode="slow",
        color="green",
        name="abc",
    )
    assert body["status"] == "succeeded", body["logs"]
    assert body["output"] == {
        "text": "hi",
        "count": 3,
        "ratio": 2.0,
        "ratio_type": "float",
        "flag": True,
        "tags": ["a", "b"],
        "maybe": None,
        "mode": "slow",
        "color": "green",
        "name": "abc",
        "image": "pixels",
        "image_is_path": True,
        "document": "doc",
        "token": "s3cret",
    }
    assert body["input"]["token"] == "**********"
    assert body["input"]["image"].startswith("data:text/plain;base64,")


def test_optional_inputs_default_to_none(all_inputs: Server) -> None:
    output = all_inputs.predict(text="only")["output"]
    assert output["image"] is None and output["token"] is None and output["maybe"] is None
    assert output["count"] == 1 and output["tags"] == []


def _errors(server: Server, **inputs: object) -> list[dict]:
    response = server.post("/predictions", json={"input": inputs})
    assert response.status_code == 422, response.text
    return response.json()["detail"]


def test_all_invalid_inputs_are_reported_at_once(all_inputs: Server) -> None:
    errors = _errors(all_inputs, count=11, flag="yes", mode="medium", color="blue", tags=["a", 2])
    locations = {tuple(e["loc"]) for e in errors}
    assert locations == {
        ("body", "input", "text"),
        ("body", "input", "count"),
        ("body", "input", "flag"),
        ("body", "input", "mode"),
        ("body", "input", "color"),
        ("body", "input", "tags", 1),
    }
    missing = next(e for e in errors if e["loc"][-1] == "text")
    assert missing["type"] == "value_error.missing"


def test_string_constraints_are_enforced(all_inputs: Server) -> None:
    [short] = _errors(all_inputs, text="x", name="a")
    assert short["loc"] == ["body", "input", "name"]
    [pattern] = _errors(all_inputs, text="x", name="AB")
    assert pattern["loc"] == ["body", "input", "name"]


def test_path_inputs_must_be_http_or_data_urls(all_inputs: Server) -> None:
    for url in ("file:///etc/passwd", "ftp://example.com/x", "/etc/passwd"):
        [error] = _errors(all_inputs, text="x", image=url)
        assert error["loc"] == ["body", "input", "image"]


def test_undecodable_data_uri_is_rejected(all_inputs: Server) -> None:
    for uri in ("data:text/plain;base64,@@@@", "data:nocomma", "data:text plain,x"):
        [error] = _errors(all_inputs, text="x", image=uri)
        assert error["loc"] == ["body", "input", "image"]
        assert "data URL" in error["msg"]


def test_badly_padded_data_uri_is_rejected_naming_the_input(all_inputs: Server) -> None:
    [error] = _errors(all_inputs, text="x", image="data:text/plain;base64,QUJ")
    assert error["loc"] == ["body", "input", "image"]
    assert error["msg"] == "the data URL does not decode: its base64 payload is not a multiple of 4 characters"


def test_urls_with_credentials_are_rejected(all_inputs: Server) -> None:
    [error] = _errors(all_inputs, text="x", image="https://user:secret@example.com/a.png")
    assert "must not carry credentials" in error["msg"]


def test_big_data_urls_are_not_echoed_back_whole(all_inputs: Server) -> None:
    body = all_inputs.predict(text="x", image=data_uri(b"p" * 3000))
    assert body["output"]["image"] == "p" * 3000
    assert body["input"]["image"] == "data:text/plain;base64,...(4000 characters not echoed)"


def test_path_output_becomes_a_data_uri(outputs: Server) -> None:
    assert outputs.predict(kind="path")["output"] == data_uri(b"hello")


def test_model_output_is_an_object_with_encoded_files(outputs: Server) -> None:
    output = outputs.predict(kind="model")["output"]
    assert output == {"label": "cat", "picture": data_uri(b"\x89PNG", "image/png")}


def test_files_nested_in_containers_are_encoded(outputs: Server) -> None:
    output = outputs.predict(kind="nested")["output"]
    assert output == {"files": [data_uri(b"a"), data_uri(b"b", "application/octet-stream")], "n": 2}


def test_data_and_http_inputs_in_one_request(all_inputs: Server, peer: Peer) -> None:
    url = peer.on("GET", "/doc.txt", respond(200, b"from http"))
    body = all_inputs.predict(text="x", image=data_uri(b"from data"), document=url)
    assert body["status"] == "succeeded", body["error"]
    assert (body["output"]["image"], body["output"]["document"]) == ("from data", "from http")
