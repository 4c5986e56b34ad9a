"""``quilt histo``: the histology image classifier (train, refit the stain model, predict)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from quilt_hf.errors import QuiltError
from quilt_hf.filters.histology_training import DEFAULT_BASE_MODEL


def register(subparsers: argparse._SubParsersAction) -> None:
    histo = subparsers.add_parser(
        "histo",
        help="histology image classifier: train, refit the stain model, predict",
        description="The histology/not-histology image classifier used by the frame and image filters.",
    )
    commands = histo.add_subparsers(title="histo commands", metavar="COMMAND")
    histo.set_defaults(func=lambda args: histo.print_help() or 2)

    train = commands.add_parser(
        "train",
        help="fine-tune an AutoModelForImageClassification on histology / not_histology frames",
        description="Fine-tune an image classifier with Accelerate on an ImageFolder "
        "(FOLDER/histology/*.jpg, FOLDER/not_histology/*.jpg), report held-out accuracy, and save "
        "model + image processor into --out so the `hf` histology backend loads it "
        "(filters.histology: {backend: hf, model: OUT}). Run under `accelerate launch` for several "
        "GPUs.",
    )
    train.add_argument(
        "--data", type=Path, required=True, help="ImageFolder with one sub-folder per label"
    )
    train.add_argument("--out", type=Path, required=True, help="output folder (save_pretrained)")
    train.add_argument(
        "--model",
        default=DEFAULT_BASE_MODEL,
        help=f"base checkpoint, Hub id or local folder (default {DEFAULT_BASE_MODEL}; a Hub id is "
        "DOWNLOADED from the Hub on first use)",
    )
    train.add_argument(
        "--model_config",
        choices=["tiny"],
        help="train a tiny random ViT from scratch instead of --model (smoke tests, no download)",
    )
    train.add_argument("--epochs", type=int, default=3)
    train.add_argument("--batch_size", type=int, default=16)
    train.add_argument("--lr", type=float, default=5e-5)
    train.add_argument(
        "--eval_fraction", type=float, default=0.2, help="held-out share (stratified)"
    )
    train.add_argument("--seed", type=int, default=0)
    train.set_defaults(func=_train)

    fit = commands.add_parser(
        "fit-stain",
        help="refit the offline stain classifier's logistic model (writes its JSON)",
        description="Fit the stain/texture logistic model on crops of the real slides that ship "
        "offline plus seeded synthetic non-histology images; report fitting and held-out scores.",
    )
    fit.add_argument("--out", type=Path, required=True, help="model JSON to write")
    fit.add_argument("--n_fit", type=int, default=1200)
    fit.add_argument("--n_eval", type=int, default=600)
    fit.add_argument("--seed", type=int, default=0)
    fit.add_argument("--eval_seed", type=int, default=1)
    fit.set_defaults(func=_fit_stain)

    predict = commands.add_parser(
        "predict",
        help="print P(histology) for image files",
        description="Print one JSON line per image: path, P(histology) and the decision.",
    )
    predict.add_argument("images", nargs="+", type=Path)
    predict.add_argument("--backend", choices=["stain", "hf"], default="stain")
    predict.add_argument("--model", help="checkpoint for the hf backend (folder or Hub id)")
    predict.add_argument("--threshold", type=float, default=0.5)
    predict.set_defaults(func=_predict)


def _train(args: argparse.Namespace) -> int:
    from quilt_hf.filters.histology_training import train_histology_classifier

    metrics = train_histology_classifier(
        args.data,
        args.out,
        model=args.model,
        model_config=args.model_config,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        eval_fraction=args.eval_fraction,
        seed=args.seed,
    )
    print(
        f"held-out accuracy {metrics['eval_accuracy']:.4f} on {metrics['eval_size']} images "
        f"(trained on {metrics['train_size']}); saved to {args.out}"
    )
    return 0


def _fit_stain(args: argparse.Namespace) -> int:
    from quilt_hf.filters.stain_fit import main

    return main(
        [
            "--out", str(args.out), "--n_fit", str(args.n_fit), "--n_eval", str(args.n_eval),
            "--seed", str(args.seed), "--eval_seed", str(args.eval_seed),
        ]
    )  # fmt: skip


def _predict(args: argparse.Namespace) -> int:
    from PIL import Image

    from quilt_hf.filters.histology import load_classifier

    config = {"backend": args.backend, "threshold": args.threshold}
    if args.backend == "hf":
        if not args.model:
            raise QuiltError("--backend hf needs --model")
        config["model"] = args.model
    classifier = load_classifier(config)
    images, paths = [], []
    for path in args.images:
        try:
            with Image.open(path) as image:
                images.append(image.convert("RGB"))
            paths.append(path)
        except (OSError, ValueError) as error:
            print(json.dumps({"path": str(path), "error": f"{type(error).__name__}: {error}"}))
    probabilities = classifier.predict_proba(images) if images else []
    for path, probability in zip(paths, probabilities, strict=True):
        print(
            json.dumps(
                {
                    "path": str(path),
                    "p_histology": round(float(probability), 4),
                    "histology": bool(probability >= args.threshold),
                }
            )
        )
    return 0
