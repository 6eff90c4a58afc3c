import logging
import sys

from cog import BasePredictor


class Predictor(BasePredictor):
    def setup(self) -> None:
        print("loading model")

    def predict(self) -> str:
        print("step 1")
        print("warning on stderr", file=sys.stderr)
        logging.getLogger("model").warning("from logging")
        return "done"
