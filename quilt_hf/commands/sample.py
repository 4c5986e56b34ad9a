"""``quilt sample`` writes the offline sample corpus (tweets, PMC packages, web pairs, videos);
``quilt serve-sample`` serves its web files on the loopback port its urls name, around a command.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "sample",
        help="write the deterministic offline sample corpus and its build.yaml",
        description=(
            "Write a small offline corpus in the real input formats of QUILT-1M's sources: "
            "Twitter API v2 tweet responses, PMC Open Access packages (JATS + figures), web "
            "(LAION-style) parquet metadata with images served by a loopback server, and sample "
            "lecture videos when that extension is installed. Histology images are crops of real "
            "slides; some inputs are bad on purpose (see DIR/README.md). The same seed gives "
            "byte-identical files. Then run: "
            "quilt serve-sample DIR -- quilt build --config DIR/build.yaml --out quilt_1m"
        ),
    )
    parser.add_argument("--out", required=True, type=Path, help="folder to write (new or empty)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument(
        "--port",
        type=int,
        default=0,
        help="port of the sample server, written into urls and build.yaml "
        "(default: a port that is free now)",
    )
    parser.add_argument(
        "--no-videos", action="store_true", help="skip the sample lecture videos (faster)"
    )
    parser.set_defaults(func=run)

    serve = subparsers.add_parser(
        "serve-sample",
        help="serve a sample corpus on loopback, around a command (e.g. quilt build)",
        description=(
            "Serve the web files of a corpus written by `quilt sample` on 127.0.0.1, on the port "
            "its urls use (DIR/server.json). With a command after `--`, run it while serving and "
            "exit with its status; a leading `quilt` runs this same installation. Without one, "
            "serve until Ctrl-C. The sample stands in for the internet: the build downloads from "
            "it as from any web server, and never starts one itself."
        ),
        epilog="example: quilt serve-sample sample -- quilt build --config sample/build.yaml "
        "--out quilt_1m",
    )
    serve.add_argument("corpus", type=Path, help="the folder `quilt sample --out` wrote")
    serve.add_argument(
        "command",
        nargs=argparse.REMAINDER,
        help="after `--`: the command to run while the corpus is served",
    )
    serve.set_defaults(func=serve_sample)


def serve_sample(args: argparse.Namespace) -> int:
    import subprocess
    import sys
    import time

    from quilt_hf.errors import QuiltError
    from quilt_hf.synthetic.sample.server import serve_corpus

    shown = args.command[1:] if args.command[:1] == ["--"] else list(args.command)
    command = list(shown)
    if command[:1] == ["quilt"]:  # this installation, whether or not its bin/ is on PATH
        command = [sys.executable, "-m", "quilt_hf", *command[1:]]
    with serve_corpus(args.corpus) as base_url:
        if command:
            print(f"serving {args.corpus} at {base_url} while running: {' '.join(shown)}")
            try:
                return subprocess.run(command, check=False).returncode
            except OSError as error:
                raise QuiltError(f"cannot run {shown[0]!r}: {error}") from error
        print(f"serving {args.corpus} at {base_url}; Ctrl-C to stop")
        while True:
            time.sleep(3600)


def run(args: argparse.Namespace) -> int:
    from quilt_hf.errors import QuiltError
    from quilt_hf.synthetic.sample.corpus import write_sample_corpus

    if not 0 <= args.port <= 65535:
        raise QuiltError(f"--port must be between 0 and 65535, not {args.port}")
    summary = write_sample_corpus(
        args.out, seed=args.seed, port=args.port or None, videos=not args.no_videos
    )
    print("\n".join(summary.lines()))
    return 0
