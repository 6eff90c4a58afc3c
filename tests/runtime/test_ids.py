"""Prediction ids: uuid4-shaped hex, never repeated, across refills of the random pool."""

import re

from runtime.http.ids import new_id


def test_ids_are_32_hex_digits_and_never_repeat_across_pool_refills() -> None:
    ids = [new_id() for _ in range(5000)]  # about 20 refills of the 4 KiB pool
    assert all(re.fullmatch(r"[0-9a-f]{32}", value) for value in ids)
    assert len(set(ids)) == len(ids)
