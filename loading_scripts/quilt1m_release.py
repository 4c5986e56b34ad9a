"""Builder for the released Quilt-1M (``quilt_1M_lookup.csv`` + images): ``quilt import quilt1m``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from loading_scripts.released_builder import ReleasedDatasetBuilder
from quilt_hf.importers.quilt1m import run_import


class ReleasedQuilt1MBuilder(ReleasedDatasetBuilder):
    """The released Quilt-1M, imported into the unified schema (released splits kept)."""

    LICENSE = "other"  # the release's terms: non-commercial research, no redistribution

    def import_into(self, work_dir: Path) -> dict[str, Any]:
        report = run_import(self.config.options, work_dir)
        return {
            "missing_images": sorted(report.missing_images),
            "duplicate_members": report.duplicate_members,
        }
