"""Holds the GIL in a pure-Python loop for `seconds`: health checks must not wait for it."""

import time

from cog import BasePredictor, Input


class Predictor(BasePredictor):
    def predict(self, seconds: float = Input(description="how long to spin", default=5.0)) -> int:
        deadline = time.monotonic() + seconds
        spins = 0
        while time.monotonic() < deadline:
            spins += 1
        return spins
