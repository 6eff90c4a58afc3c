"""Predictor descriptions: read from predict() in the worker, used by the front.

`signature`, `arguments` and `outputs` run in the worker; `validation` and `openapi` in the front.
"""
