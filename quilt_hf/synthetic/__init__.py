"""Synthetic data used by ``quilt sample``, the demo, tests and benchmarks (not by the core library)."""
