"""`python -m runtime`: serve the predictor named in ./cog.yaml over Cog's HTTP API.

Exit codes: 0 after a clean shutdown, 2 when the configuration is wrong (one line on stderr).
"""

from __future__ import annotations

import asyncio
import os
import sys

from runtime.config import ConfigError, load_config
from runtime.logs import configure_logging
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
        configure_logging(config.log_level, config.log_format)
        with asyncio.Runner(loop_factory=_event_loop_factory()) as runner:  # type: ignore[arg-type]
            runner.run(serve(config))
    except ConfigError as error:
        print(f"sprocket: {error}", file=sys.stderr)
        sys.exit(2)


main()
