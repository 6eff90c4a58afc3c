"""Face detection with the Haar cascade that ships inside OpenCV's wheel: no weights to download.

Returns the boxes as JSON and the input image with the boxes drawn on it.
"""

import tempfile

import cv2
import numpy as np
from cog import BaseModel, BasePredictor, Input, Path

CASCADE = "haarcascade_frontalface_default.xml"
BOX_COLOR = (0, 255, 0)  # BGR: green


class Face(BaseModel):
    x: int
    y: int
    width: int
    height: int


class Output(BaseModel):
    count: int
    faces: list[Face]
    annotated: Path


class Predictor(BasePredictor):
    def setup(self) -> None:
        self.detector = cv2.CascadeClassifier(cv2.data.haarcascades + CASCADE)
        if self.detector.empty():
            raise RuntimeError(f"could not load {CASCADE} from {cv2.data.haarcascades}")
        print(f"loaded {CASCADE} (OpenCV {cv2.__version__})")

    def predict(
        self,
        image: Path = Input(description="Photo to search for faces (JPEG, PNG, WebP, ...)"),
        scale_factor: float = Input(
            description="How much the search window grows per step; smaller finds more, slower",
            default=1.1,
            ge=1.01,
            le=2.0,
        ),
        min_neighbors: int = Input(
            description="Overlapping detections a face needs; higher means fewer false faces", default=5, ge=1, le=50
        ),
        min_size: int = Input(description="Smallest face, in pixels", default=30, ge=8),
    ) -> Output:
        picture = cv2.imread(str(image), cv2.IMREAD_COLOR)
        if picture is None:
            raise ValueError(f"the image input ({image.stat().st_size} bytes) is not an image OpenCV can read")
        gray = cv2.equalizeHist(cv2.cvtColor(picture, cv2.COLOR_BGR2GRAY))
        found = self.detector.detectMultiScale(
            gray, scaleFactor=scale_factor, minNeighbors=min_neighbors, minSize=(min_size, min_size)
        )
        boxes = [
            Face(x=int(x), y=int(y), width=int(w), height=int(h)) for x, y, w, h in np.asarray(found).reshape(-1, 4)
        ]

        thickness = max(2, round(max(picture.shape[:2]) / 250))
        for box in boxes:
            cv2.rectangle(picture, (box.x, box.y), (box.x + box.width, box.y + box.height), BOX_COLOR, thickness)
        # The prediction's own temporary directory: removed once the response is out.
        annotated = Path(tempfile.mkdtemp()) / "annotated.jpg"
        if not cv2.imwrite(str(annotated), picture, [cv2.IMWRITE_JPEG_QUALITY, 90]):
            raise RuntimeError("could not write the annotated image")
        print(f"{len(boxes)} face(s) in a {picture.shape[1]}x{picture.shape[0]} image")
        return Output(count=len(boxes), faces=boxes, annotated=annotated)
