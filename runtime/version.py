"""Sprocket's version, reported by GET / and the CLI, and the version of Cog's API it implements."""

import functools

VERSION = "0.1.0"

# The Cog release whose SDK names and HTTP API Sprocket offers: the stand-in `cog` package reports
# it as `cog.__version__`, and GET / as `cog_version` when no real `cog` is installed.
COG_API_VERSION = "0.23.1"


@functools.cache
def cog_version() -> str:
    """The installed `cog` package's version (predictors run against it), else COG_API_VERSION.
    Read from the package's metadata: the front never imports `cog`."""
    import importlib.metadata  # here: the front's start-up does not need it

    try:
        return importlib.metadata.version("cog")
    except importlib.metadata.PackageNotFoundError:
        return COG_API_VERSION
