"""Command-line entry point shared by ``python -m trainer`` and ``accelerate launch trainer/``."""

from __future__ import annotations

import os
import sys

from quilt_hf.errors import QuiltError


def main(argv: list[str] | None = None) -> int:
    # Tokenisation runs inside DataLoader workers: keep the Rust tokenizer single-threaded there.
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from trainer.config import load_config
    from trainer.loop import train

    try:
        config = load_config(argv)
        train(config)
    except QuiltError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0
