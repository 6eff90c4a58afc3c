import pathlib
import time

from cog import BasePredictor


class Predictor(BasePredictor):
    def predict(self, started: str, seconds: float = 60) -> str:
        pathlib.Path(started).touch()  # the test cancels once predict() is running
        deadline = time.monotonic() + seconds
        try:
            while time.monotonic() < deadline:
                time.sleep(0.01)
        finally:
            print("cleaned up")
        return "finished"
