"""Builder for ARCH, the paper's cross-modal retrieval benchmark: ``quilt import arch``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from loading_scripts.released_builder import ReleasedDatasetBuilder
from quilt_hf.importers.arch import run_arch_import


class ArchBuilder(ReleasedDatasetBuilder):
    """ARCH (books and PubMed sets) in the unified schema; every row in ``val``."""

    def import_into(self, work_dir: Path) -> dict[str, Any]:
        run_arch_import(self.config.options, work_dir)
        return {}
