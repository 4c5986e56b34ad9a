"""The companion packages (trainer, cards, loading_scripts) import as quilt-hf's, or name the clash."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest

from quilt_hf.companions import SIGNATURES, companion
from quilt_hf.errors import QuiltError

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", sorted(SIGNATURES))
def test_each_companion_is_this_checkouts_package(name: str) -> None:
    module = companion(name)
    assert Path(module.__file__).resolve().parent == REPO / name


def test_a_same_named_package_from_another_project_is_named(tmp_path, monkeypatch) -> None:
    # what `pip install trainer` (Coqui's training library) puts where quilt-hf's trainer was
    other = tmp_path / "site-packages" / "trainer"
    other.mkdir(parents=True)
    (other / "__init__.py").write_text("class Trainer: ...\n")
    impostor = types.ModuleType("trainer")
    impostor.__file__ = str(other / "__init__.py")
    monkeypatch.setitem(sys.modules, "trainer", impostor)
    with pytest.raises(
        QuiltError, match=r"imported from .*site-packages/trainer is not quilt-hf's"
    ):
        companion("trainer")
    from quilt_hf.demo import trainer_config_dir

    with pytest.raises(QuiltError, match="another installed project uses the same top-level name"):
        trainer_config_dir()


def test_a_missing_companion_says_how_to_reinstall(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "cards", None)  # import of `cards` raises ImportError
    with pytest.raises(QuiltError, match="reinstall quilt-hf"):
        companion("cards")
    with pytest.raises(ValueError, match="unknown companion"):
        companion("quilt_hf")
