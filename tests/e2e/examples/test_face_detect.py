"""examples/face-detect through the real runtime: boxes as JSON and an annotated image."""

from __future__ import annotations

import base64
from typing import Any

import numpy as np

from tests.e2e.examples.conftest import EXAMPLES, example_server
from tests.support import Server

face_detect = example_server("face-detect", modules=("cv2",))

PHOTO = EXAMPLES / "face-detect" / "astronaut.jpg"  # 512x512, one face


def data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def decode_image(uri: str) -> Any:
    import cv2

    header, _, payload = uri.partition(",")
    assert header == "data:image/jpeg;base64", header
    picture = cv2.imdecode(np.frombuffer(base64.b64decode(payload), np.uint8), cv2.IMREAD_COLOR)
    assert picture is not None, "the annotated image does not decode"
    return picture


def test_finds_the_face_in_the_photo_and_draws_its_box(face_detect: Server) -> None:
    body = face_detect.predict(image=data_uri(PHOTO.read_bytes(), "image/jpeg"))
    assert body["status"] == "succeeded", body["error"]
    output = body["output"]
    assert output["count"] == len(output["faces"]) >= 1
    for face in output["faces"]:
        assert face["width"] >= 30 and face["height"] >= 30
        assert face["x"] >= 0 and face["x"] + face["width"] <= 512
        assert face["y"] >= 0 and face["y"] + face["height"] <= 512
    # Eileen Collins's face is in the upper middle of the photo.
    [face] = output["faces"]
    assert 150 < face["x"] + face["width"] / 2 < 300 and 60 < face["y"] + face["height"] / 2 < 180, face

    annotated = decode_image(output["annotated"])
    assert annotated.shape == (512, 512, 3)
    blue, green, red = annotated[face["y"], face["x"] + face["width"] // 2].tolist()  # on the box's top edge
    assert green > 180 and blue < 90 and red < 90, (blue, green, red)
    assert body["logs"] == "1 face(s) in a 512x512 image\n"


def test_an_image_without_faces_gives_an_empty_list_and_the_image(face_detect: Server) -> None:
    import cv2

    gradient = np.tile(np.linspace(0, 255, 320, dtype=np.uint8), (240, 1))
    ok, png = cv2.imencode(".png", cv2.cvtColor(gradient, cv2.COLOR_GRAY2BGR))
    assert ok
    body = face_detect.predict(image=data_uri(png.tobytes(), "image/png"))
    assert body["status"] == "succeeded", body["error"]
    assert body["output"]["count"] == 0 and body["output"]["faces"] == []
    assert decode_image(body["output"]["annotated"]).shape == (240, 320, 3)


def test_a_file_that_is_not_an_image_fails_the_prediction_saying_so(face_detect: Server) -> None:
    body = face_detect.predict(image=data_uri(b"just text", "text/plain"))
    assert body["status"] == "failed"
    assert body["error"] == "the image input (9 bytes) is not an image OpenCV can read"


def test_inputs_are_validated_by_the_front(face_detect: Server) -> None:
    response = face_detect.post(
        "/predictions", json={"input": {"image": data_uri(b"x", "image/png"), "scale_factor": 1.0}}
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "input", "scale_factor"]


def test_openapi_describes_boxes_and_the_annotated_file(face_detect: Server) -> None:
    output = face_detect.get("/openapi.json").json()["components"]["schemas"]["Output"]
    assert output["required"] == ["count", "faces", "annotated"]
    assert output["properties"]["annotated"] == {"title": "Annotated", "type": "string", "format": "uri"}
    assert set(output["properties"]["faces"]["items"]["properties"]) == {"x", "y", "width", "height"}
