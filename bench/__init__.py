"""Benchmarks of the Hailo Face server: ``python -m bench`` (see docs/performance.md)."""
