"""`python -m runtime`: serve the predictor named in ./cog.yaml over Cog's HTTP API.

Exit codes: 0 after a clean shutdown, 2 when the configuration is wrong (one line on stderr).
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys

from runtime.config import ConfigError, load_config
from runtime.server import serve


def _event_loop_factory() -> object:
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop
    return uvloop.new_event_loop


def main() -> None:
    try:
        config = load_config(sys.argv[1:], os.environ, os.getcwd())
        logging.basicConfig(
            level=config.log_level, stream=sys.stderr,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        with asyncio.Runner(loop_factory=_event_loop_factory()) as runner:  # type: ignore[arg-type]
            runner.run(serve(config))
    except ConfigError as error:
        print(f"sprocket: {error}", file=sys.stderr)
        sys.exit(2)


main()
