"""docs/settings.md's table is generated from the settings' one declaration, runtime/config.py's
SETTINGS (`make settings-table` writes it)."""

from __future__ import annotations

import re

from runtime.config import settings_table
from tests.support import REPO


def test_settings_page_table_matches_the_declared_settings() -> None:
    page = (REPO / "docs" / "settings.md").read_text()
    match = re.search(r"<!-- settings-table:.*?-->\n(.*?)\n<!-- end settings-table -->", page, re.S)
    assert match, "docs/settings.md has lost its settings-table markers"
    assert match.group(1) == settings_table(), "docs/settings.md's table is out of date: run `make settings-table`"
