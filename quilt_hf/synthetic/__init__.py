"""Synthetic inputs with known truth, used by ``quilt sample``, the demo, tests and benchmarks
(never by the core library): the sample corpus and the unseen lectures of the benchmarks."""
