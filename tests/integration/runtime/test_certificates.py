"""aiohttp's default SSL contexts get their CA certificates on a thread while the front's imports
go on (runtime/http/certificates.py), and hold them before anything is served. Checked in a
fresh interpreter that imports aiohttp the way `python -m runtime` does."""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys

from tests.support import REPO

_AS_THE_FRONT_DOES = """
import json, ssl
from runtime.http.certificates import read_in_background

with read_in_background() as certificates:
    import aiohttp
    from aiohttp import connector
    held_during = connector._SSL_CONTEXT_VERIFIED.cert_store_stats()["x509_ca"]
certificates.wait()
after = ssl.create_default_context()  # made outside the block: reads its certificates itself
print(json.dumps({
    "during": held_during,
    "verified": connector._SSL_CONTEXT_VERIFIED.cert_store_stats()["x509_ca"],
    "unverified": connector._SSL_CONTEXT_UNVERIFIED.cert_store_stats()["x509_ca"],
    "outside": after.cert_store_stats()["x509_ca"],
}))
"""


def test_aiohttp_contexts_hold_the_system_certificates_once_waited_for() -> None:
    result = subprocess.run(
        [sys.executable, "-c", _AS_THE_FRONT_DOES],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert result.returncode == 0, result.stderr
    counts = json.loads(result.stdout)
    system = ssl.create_default_context().cert_store_stats()["x509_ca"]
    assert system > 0, "this machine has no CA certificates to compare with"
    assert counts["during"] == 0  # deferred: the import did not read them
    assert counts["verified"] == counts["unverified"] == counts["outside"] == system
