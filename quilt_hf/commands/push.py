"""``quilt push model|dataset DIR --repo-id ORG/NAME``: publish to the Hub (``HF_ENDPOINT``)."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "push",
        help="upload a trained model or built dataset folder to the Hugging Face Hub",
        description="Create the repo and upload the folder in one commit. Uses HF_TOKEN (or the "
        "saved `hf auth login`) and HF_ENDPOINT (default https://huggingface.co).",
    )
    kinds = parser.add_subparsers(title="what to push", metavar="KIND")
    for kind, what in (
        ("model", "a model folder (safetensors, config, processor, README card)"),
        ("dataset", "a dataset folder (data/*.parquet + README.md with configs)"),
    ):
        sub = kinds.add_parser(kind, help=f"push {what}")
        sub.add_argument("folder", type=Path, help=f"{what}")
        sub.add_argument("--repo-id", required=True, help="ORG/NAME on the Hub")
        sub.add_argument("--private", action="store_true", help="create the repo private")
        sub.add_argument("--gated", choices=["auto", "manual"], help="gate access to the repo")
        sub.add_argument("--revision", help="branch to commit to (created when missing)")
        sub.add_argument("--create-pr", action="store_true", help="open a pull request instead")
        sub.add_argument("--exist-ok", action="store_true", help="reuse an existing repo")
        sub.add_argument("--message", help="commit message")
        sub.add_argument("--retries", type=int, default=3, help="upload attempts before giving up")
        if kind == "dataset":
            sub.add_argument(
                "--large",
                action="store_true",
                help="use upload_large_folder (resumable, many commits) for big datasets",
            )
            sub.add_argument(
                "--metadata-only",
                action="store_true",
                help="publish without image bytes (ids, urls, times, texts); "
                "users rebuild images with `quilt rehydrate`",
            )
        sub.set_defaults(func=run_push, repo_type=kind)


def run_push(args: argparse.Namespace) -> int:
    import tempfile

    from quilt_hf.hub import push_folder

    folder = args.folder
    if args.repo_type == "model":
        _name_repo_in_card(folder, args.repo_id)
    with tempfile.TemporaryDirectory(prefix="quilt-push-") as scratch:
        if getattr(args, "metadata_only", False):
            from quilt_hf.rehydrate import make_metadata_only

            folder = make_metadata_only(args.folder, Path(scratch) / args.folder.name)
        result = push_folder(
            folder,
            args.repo_id,
            args.repo_type,
            private=args.private,
            gated=args.gated,
            revision=args.revision,
            create_pr=args.create_pr,
            exist_ok=args.exist_ok,
            large=getattr(args, "large", False),
            commit_message=args.message,
            retries=args.retries,
        )
    print(f"pushed {args.folder} -> {result.url}")
    print(f"commit: {result.commit_url}")
    if result.pr_url:
        print(f"pull request: {result.pr_url}")
    return 0


def _name_repo_in_card(folder: Path, repo_id: str) -> None:
    """A trainer-made card is rewritten so that its loading example names the pushed repo."""
    from quilt_hf.model_card import is_quilt_card, read_training_run, render_model_card

    if (
        (folder / "config.json").is_file()
        and (folder / "README.md").is_file()
        and read_training_run(folder) is not None
        and is_quilt_card(folder)
    ):
        render_model_card(folder, repo_id)
