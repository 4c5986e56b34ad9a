"""A source's ``build.yaml`` block: its keys checked, its input patterns resolved (globs relative to
the config's folder)."""

from __future__ import annotations

import glob
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from quilt_hf.errors import QuiltError


def check_source_keys(subset: str, config: Mapping[str, Any], valid: Iterable[str]) -> None:
    """A key the source does not read is an error naming it: a typo must not be ignored."""
    valid = set(valid)
    unknown = set(config) - valid
    if unknown:
        raise QuiltError(
            f"sources.{subset}: unknown key(s) {sorted(unknown)}; valid keys: {sorted(valid)}"
        )


def expand_patterns(patterns: str | list[str] | None, base_dir: Path, *, what: str) -> list[Path]:
    """Sorted, de-duplicated paths matching ``patterns``; a pattern matching nothing is an error
    (a typo in build.yaml should stop the build, not silently build an empty subset)."""
    if not patterns:
        raise QuiltError(f"{what}: no input files configured")
    if isinstance(patterns, str):
        patterns = [patterns]
    found: set[Path] = set()
    for pattern in patterns:
        full = Path(pattern) if Path(pattern).is_absolute() else Path(base_dir) / pattern
        matches = [Path(m) for m in glob.glob(str(full), recursive=True)]
        if not matches:
            raise QuiltError(f"{what}: nothing matches {pattern!r} (relative to {base_dir})")
        found.update(m.resolve() for m in matches)
    return sorted(found)
