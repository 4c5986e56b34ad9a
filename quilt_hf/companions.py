"""The repository's companion packages ``trainer``, ``cards`` and ``loading_scripts``, checked.

They install as top-level packages beside ``quilt_hf`` (the user's design card fixes that layout;
docs/architecture.md says why). A generic top-level name can be shadowed by another project's
package of the same name (Coqui's training library is also ``trainer``) with no error at install
time, so the library imports them through ``companion``, which names the clash instead of failing
later with an unrelated AttributeError.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

from quilt_hf.errors import QuiltError

# a file each companion ships, relative to its folder: present only in quilt-hf's own package
SIGNATURES = {
    "trainer": "configs/tiny.yaml",
    "cards": "dataset_card.md.j2",
    "loading_scripts": "quilt_1m.py",
}


def companion(name: str) -> ModuleType:
    """Import quilt-hf's companion package ``name``, or say which other package shadows it."""
    if name not in SIGNATURES:
        raise ValueError(f"unknown companion package {name!r}; one of {sorted(SIGNATURES)}")
    try:
        module = importlib.import_module(name)
    except ImportError as error:
        raise QuiltError(
            f"quilt-hf's `{name}` package is not importable ({error}); reinstall quilt-hf "
            "(bash scripts/install.sh, or pip install -e . in a checkout)"
        ) from error
    folder = Path(module.__file__ or "").resolve().parent
    if not (folder / SIGNATURES[name]).is_file():
        raise QuiltError(
            f"the `{name}` package imported from {folder} is not quilt-hf's (it has no "
            f"{SIGNATURES[name]}): another installed project uses the same top-level name. "
            f"Uninstall it from this environment or give quilt-hf its own virtual environment."
        )
    return module
