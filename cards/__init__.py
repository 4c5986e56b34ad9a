"""Jinja templates for the dataset and model cards (rendered by quilt_hf.cards)."""

from pathlib import Path

TEMPLATES_DIR = Path(__file__).parent
