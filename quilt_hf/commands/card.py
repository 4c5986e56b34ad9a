"""``quilt card model DIR``: (re)write a model folder's card from what the folder holds."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "card",
        help="write the model card (README.md) of a model folder",
        description="Cards are written by the trainer (OUTPUT_DIR/final/README.md) and updated by "
        "`quilt eval ... --model DIR`; this command (re)writes one.",
    )
    kinds = parser.add_subparsers(title="what", metavar="KIND")
    model = kinds.add_parser(
        "model",
        help="(re)write DIR/README.md from DIR/training_run.json and DIR/eval_results/",
        description="Renders the card from the training record the trainer saved beside the "
        "weights (base model, dataset and fingerprint, resolved config, steps, samples, losses, "
        "training-time retrieval) and the `quilt eval` results saved for this model, with "
        "model-index metadata and .eval_results/*.yaml. Replaces an existing README.md.",
    )
    model.add_argument("folder", type=Path, help="saved model folder (config.json + weights)")
    model.add_argument("--repo-id", help="ORG/NAME the card's loading example should use")
    model.add_argument("--base-model", help="override the base model the training run recorded")
    model.add_argument("--dataset", help="override the training dataset the run recorded")
    model.add_argument("--license", default="mit", help="licence id for the card metadata")
    model.set_defaults(func=run_model_card)


def run_model_card(args: argparse.Namespace) -> int:
    from quilt_hf.model_card import read_training_run, render_model_card

    card = render_model_card(
        args.folder,
        args.repo_id,
        base_model=args.base_model,
        dataset_id=args.dataset,
        license=args.license,
    )
    readme = args.folder / "README.md"
    results = len(card.data.eval_results or [])
    source = "training_run.json" if read_training_run(args.folder) else "no training record"
    print(f"model card -> {readme} ({source}; {results} eval result(s) in model-index)")
    return 0
