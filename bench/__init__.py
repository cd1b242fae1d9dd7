"""Benchmarks: standalone scripts, run with ``uv run python bench/<name>.py``."""
