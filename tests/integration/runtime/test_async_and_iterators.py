"""async def setup/predict, and iterator outputs."""

from __future__ import annotations

from tests.conftest import module_server
from tests.support import Server

async_hello = module_server("async_hello")
iterator = module_server("iterator")


def test_async_predictor_shares_setups_event_loop(async_hello: Server) -> None:
    body = async_hello.predict(text="async")
    assert body["status"] == "succeeded"
    assert body["output"] == "hello async (same loop: True)"
    assert body["logs"] == "async predicting async\n"


def test_iterator_output_is_the_list_of_items(iterator: Server) -> None:
    body = iterator.predict(count=3)
    assert body["output"] == ["t0 ", "t1 ", "t2 "]
    assert body["logs"] == "token 0\ntoken 1\ntoken 2\n"


def test_iterator_that_yields_nothing_returns_an_empty_list(iterator: Server) -> None:
    assert iterator.predict(count=0)["output"] == []


def test_iterator_schema_marks_concatenation(iterator: Server) -> None:
    output = iterator.get("/openapi.json").json()["components"]["schemas"]["Output"]
    assert output["type"] == "array"
    assert output["x-cog-array-type"] == "iterator"
    assert output["x-cog-array-display"] == "concatenate"
