"""The `sprocket` command line; `cli.main:main` is its entry point."""
