"""Writes a file of `size` bytes and returns it as a `Path`: with --upload-url the server PUTs it there."""

import os
import tempfile

from cog import BasePredictor, Input, Path

_BLOCK = os.urandom(8 * 1024 * 1024)


class Predictor(BasePredictor):
    def predict(self, size: int = Input(description="bytes to write", default=1024 ** 3)) -> Path:
        path = os.path.join(tempfile.mkdtemp(), "big.bin")
        with open(path, "wb") as out:
            for offset in range(0, size, len(_BLOCK)):
                out.write(_BLOCK[: min(len(_BLOCK), size - offset)])
        return Path(path)
