"""Predictor descriptions: read from predict() in the worker, used by the front.

`signature` (with `return_schema`, `cog_objects`, `written_defaults`, `annotations`),
`arguments` and `outputs` run in the worker; `validation` and `openapi` in the front.
"""
