"""The ``quilt`` command line.

Every module in ``quilt_hf.commands`` adds its own sub-command through ``register(subparsers)``
and sets ``func`` on its parser; this file only discovers them. Command modules import heavy
libraries (torch, transformers, av...) inside their functions so ``quilt --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys

from quilt_hf import __version__, commands
from quilt_hf.errors import QuiltError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="quilt",
        description="Curate QUILT-1M-style histopathology image-text datasets, train CLIP on them, "
        "evaluate, and publish to the Hugging Face Hub.",
    )
    parser.add_argument("--version", action="version", version=f"quilt-hf {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except QuiltError as error:
        print(f"quilt: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("quilt: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
