"""Importers: turn datasets users already hold (the released Quilt-1M, ARCH) into the quilt_1m format."""
