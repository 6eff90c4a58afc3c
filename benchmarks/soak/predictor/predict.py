"""The soak's one predictor: `kind` picks a behaviour, so one server sees a mix.

A generator, since a predictor either yields or returns: every kind's output is a list.
    echo      [text]
    file      [a small file written with tempfile]   (a data: URI in the response)
    big       [a 100 KiB string]
    iterator  20 items, each printing a log line
    raise     raises ValueError: a `failed` prediction, expected
"""

import os
import tempfile
from typing import Any, Iterator

from cog import BasePredictor, Input, Path

BIG = "x" * (100 * 1024)


class Predictor(BasePredictor):
    def predict(
        self,
        kind: str = Input(default="echo", choices=["echo", "file", "big", "iterator", "raise"]),
        text: str = "soak",
    ) -> Iterator[Any]:
        if kind == "echo":
            yield text
        elif kind == "file":
            directory = tempfile.mkdtemp()
            target = os.path.join(directory, "out.txt")
            with open(target, "w") as file:
                file.write(text * 16)
            yield Path(target)
        elif kind == "big":
            yield BIG
        elif kind == "iterator":
            for index in range(20):
                print(f"item {index}")
                yield f"{text}-{index}"
        else:
            raise ValueError(f"soak asked for a failure ({text})")
