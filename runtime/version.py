"""Sprocket's version, reported by GET / and the CLI."""

VERSION = "0.1.0"
