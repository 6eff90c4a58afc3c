"""Sprocket side by side with Cog 0.9.8 and coglet: `python -m benchmarks` (see README.md)."""
