"""Soak: many predictions against one server, watching its resources for drift (`python -m benchmarks.soak`)."""
