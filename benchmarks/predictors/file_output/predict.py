"""Returns a file of BENCH_FILE_BYTES bytes (env, default 1 GiB) as a `Path`: with --upload-url
the server PUTs it there.

setup() writes the bytes once; predict() returns a hard link to them in a fresh temporary
directory (a copy where a link cannot be made), so the figure is the server's handling of the
file, not how fast this machine's disk takes a gigabyte of new writes (0.2 to 2.5 s between runs).
"""

import os
import shutil
import tempfile

from cog import BasePredictor, Path

_BLOCK = 8 * 1024 * 1024


class Predictor(BasePredictor):
    def setup(self) -> None:
        size = int(os.environ.get("BENCH_FILE_BYTES", 1024**3))
        self.source = os.path.join(tempfile.mkdtemp(), "big.bin")
        block = os.urandom(_BLOCK)
        with open(self.source, "wb") as out:
            for offset in range(0, size, _BLOCK):
                out.write(block[: min(_BLOCK, size - offset)])

    def predict(self) -> Path:
        path = os.path.join(tempfile.mkdtemp(), "big.bin")
        try:
            os.link(self.source, path)
        except OSError:
            shutil.copyfile(self.source, path)
        return Path(path)
