"""Sleeps `delay` seconds (100 ms by default) and says which replica answered (its hostname): the
model behind the gateway in the replicas scenario and in tests/e2e."""

import socket
import time

from cog import BasePredictor, Input


class Predictor(BasePredictor):
    def predict(self, delay: float = Input(description="seconds to sleep", default=0.1)) -> str:
        time.sleep(delay)
        return socket.gethostname()
