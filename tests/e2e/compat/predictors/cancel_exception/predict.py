import pathlib
import time

from cog import BasePredictor, CancelationException


class Predictor(BasePredictor):
    def predict(self, started: str) -> str:
        pathlib.Path(started).touch()  # the test cancels once predict() is running
        try:
            while True:
                time.sleep(0.01)
        except CancelationException:
            print("caught the cancel")
            raise
