"""Synthetic inputs with known truth: test fixtures and the unseen lectures of the benchmarks."""
