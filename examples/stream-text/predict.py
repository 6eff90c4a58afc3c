"""A token streamer: a word-level Markov chain (two words of context) learned in setup() from
the Zen of Python.

No weights and no download: the "language model" is a table of which word follows which pair
of words, built from the text of `import this`. It streams as a real LLM predictor does, one
token at a time through a `ConcatenateIterator[str]`, so clients see the text grow: over
server-sent events (`Accept: text/event-stream`) or `output` webhooks. The same seed and prompt
give the same text.
"""

import codecs
import contextlib
import io
import random
import time
from collections import defaultdict

from cog import BasePredictor, ConcatenateIterator, Input


class Predictor(BasePredictor):
    def setup(self) -> None:
        with contextlib.redirect_stdout(io.StringIO()):  # importing `this` prints the Zen
            import this
        words = codecs.decode(this.s, "rot13").split()
        # Which word follows each pair of words, and each single word (for pairs never seen);
        # looked up case-blind.
        self.after_pair: dict[tuple[str, str], list[str]] = defaultdict(list)
        self.after_word: dict[str, list[str]] = defaultdict(list)
        for first, second, third in zip(words, words[1:], words[2:], strict=False):
            self.after_pair[first.lower(), second.lower()].append(third)
            self.after_word[second.lower()].append(third)
        self.starts = [word for word in words if word[0].isupper()]
        print(f"learned {len(self.after_pair)} word pairs from the Zen of Python")

    def predict(
        self,
        prompt: str = Input(description="Text to continue; its last two words start the chain", default="Beautiful"),
        max_tokens: int = Input(description="Tokens to generate", default=24, ge=1, le=2000),
        seed: int = Input(description="Same seed and prompt, same text", default=0),
        delay: float = Input(description="Seconds per token, as a real model would take", default=0.05, ge=0, le=5),
    ) -> ConcatenateIterator[str]:
        rng = random.Random(seed)
        before, last = ["", "", *prompt.lower().split()][-2:]
        for _ in range(max_tokens):
            word = rng.choice(self.after_pair.get((before, last)) or self.after_word.get(last) or self.starts)
            before, last = last, word.lower()
            if delay:
                time.sleep(delay)
            yield " " + word  # tokens carry their leading space, as LLM tokenizers' do
