"""Per-source dataset builders and the unified quilt_1m builder (datasets.GeneratorBasedBuilder)."""
