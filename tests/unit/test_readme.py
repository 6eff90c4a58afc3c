"""The README's settings table is generated from the settings' one declaration."""

from __future__ import annotations

import re

from runtime.config import settings_table
from tests.support import REPO


def test_readme_settings_table_matches_the_declared_settings() -> None:
    readme = (REPO / "README.md").read_text()
    match = re.search(r"<!-- settings-table:.*?-->\n(.*?)\n<!-- end settings-table -->", readme, re.S)
    assert match, "README has no settings table markers"
    assert match.group(1) == settings_table(), "run `make settings-table`"
