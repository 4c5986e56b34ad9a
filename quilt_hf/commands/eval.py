"""``quilt eval``: zero-shot classification, linear probing, retrieval, and the results chart."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "eval",
        help="evaluate a CLIP checkpoint (zero-shot, linear probe, retrieval)",
        description="Evaluate any CLIP checkpoint (a local folder such as the trainer's "
        "output_dir/final, or a Hub id like openai/clip-vit-base-patch32, vinid/plip) the way "
        "the Quilt-1M paper does. Results go to OUT/{dataset}__{model}__{task}.json; when --model "
        "is a local model folder they are also added to its model card (DIR/README.md, "
        "model-index and .eval_results/; the result files are kept in DIR/eval_results/).",
    )
    tasks = parser.add_subparsers(title="tasks", metavar="TASK")

    def common(sub: argparse.ArgumentParser, needs_model: bool = True) -> None:
        if needs_model:
            sub.add_argument(
                "--model", required=True, help="local folder or Hub id of a CLIP model"
            )
        sub.add_argument("--out", type=Path, default=Path("eval_results"), help="results folder")
        sub.add_argument("--batch-size", type=int, default=64, help="images per forward pass")
        sub.add_argument("--limit", type=int, default=None, help="use only the first N examples")
        if needs_model:
            sub.add_argument(
                "--no-card",
                action="store_true",
                help="do not add the results to the model folder's card",
            )

    zeroshot = tasks.add_parser(
        "zeroshot",
        help="zero-shot classification on registered benchmarks",
        description="Class names (with synonyms) x templates, averaged per class; reports "
        "accuracy, balanced accuracy, weighted F1 and top-5 accuracy (> 5 classes).",
    )
    common(zeroshot)
    zeroshot.add_argument(
        "--benchmark", nargs="+", required=True, help="benchmark name(s); see `quilt eval list`"
    )
    zeroshot.add_argument("--data", help="Hub id, ImageFolder dir or CSV (one benchmark only)")
    zeroshot.add_argument("--split", help="split to evaluate (default: the benchmark's)")
    zeroshot.add_argument("--plot", type=Path, help="also write a bar chart PNG of accuracy here")
    zeroshot.set_defaults(func=run_zeroshot)

    probe = tasks.add_parser(
        "linear-probe",
        help="logistic regression on frozen image features",
        description="C is chosen on a validation split held out from training data; the test "
        "metrics are averaged over seeds (mean and std). --shots K draws K examples per class.",
    )
    common(probe)
    probe.add_argument("--benchmark", required=True)
    probe.add_argument("--data", help="Hub id, ImageFolder dir or CSV")
    probe.add_argument("--train-split", default="train")
    probe.add_argument("--test-split", default="test")
    probe.add_argument("--shots", type=int, help="k examples per class (few-shot)")
    probe.add_argument("--fraction", type=float, help="fraction of the training data (0-1]")
    probe.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    probe.set_defaults(func=run_linear_probe)

    retrieval = tasks.add_parser(
        "retrieval",
        help="image<->text Recall@K on a quilt_1m-schema dataset",
        description="Recall@K (hit if any positive is in the top K; an image's positives are "
        "all its texts) on a dataset folder or Hub id in the quilt_1m schema (ARCH too).",
    )
    common(retrieval)
    retrieval.add_argument("--data", required=True, help="dataset folder or Hub id")
    retrieval.add_argument("--split", default="val")
    retrieval.add_argument("--ks", type=int, nargs="+", default=[1, 5, 10, 50, 200])
    retrieval.add_argument("--chunk-size", type=int, default=1024, help="queries per block")
    retrieval.set_defaults(func=run_retrieval)

    plot = tasks.add_parser("plot", help="bar chart PNG of zero-shot accuracy per dataset")
    plot.add_argument("--results", type=Path, required=True, help="folder of result JSON files")
    plot.add_argument("--out", type=Path, default=Path("zeroshot_accuracy.png"))
    plot.set_defaults(func=run_plot)

    listing = tasks.add_parser("list", help="list registered benchmarks")
    listing.set_defaults(func=run_list)


def run_list(args: argparse.Namespace) -> int:
    from quilt_hf.eval.downstream import BENCHMARKS

    for bench in BENCHMARKS.values():
        print(
            f"{bench.name:22s} {bench.title:24s} {len(bench.classes):2d} classes  {bench.sub_pathology}"
        )
    return 0


def run_zeroshot(args: argparse.Namespace) -> int:
    from quilt_hf.errors import QuiltError
    from quilt_hf.eval.downstream import get_benchmark, load_benchmark
    from quilt_hf.eval.embeddings import load_clip
    from quilt_hf.eval.plot import plot_zeroshot_accuracy
    from quilt_hf.eval.results import load_results, save_result
    from quilt_hf.eval.zeroshot import evaluate_zeroshot

    if args.data and len(args.benchmark) > 1:
        raise QuiltError("--data names one dataset: pass a single --benchmark with it")
    for name in args.benchmark:
        get_benchmark(name)  # fail on a typo before loading the model
    encoder = load_clip(args.model)
    for name in args.benchmark:
        data = load_benchmark(name, args.data, args.split, args.limit)
        bench = data.benchmark
        result = evaluate_zeroshot(
            encoder, data.images, data.labels, bench.classnames, bench.templates, args.batch_size
        )
        result.update(source=data.source, classes=bench.display_names, model_path=args.model)
        path = save_result(args.out, name, encoder.name, "zeroshot", result)
        print(f"{name}: {_format(result['metrics'])} -> {path}")
        _add_to_card(args, path)
    if args.plot:
        print(f"chart -> {plot_zeroshot_accuracy(load_results(args.out, 'zeroshot'), args.plot)}")
    return 0


def run_linear_probe(args: argparse.Namespace) -> int:
    import numpy as np

    from quilt_hf.eval.downstream import load_benchmark
    from quilt_hf.eval.embeddings import load_clip
    from quilt_hf.eval.linear_probe import linear_probe, stratified_split
    from quilt_hf.eval.results import save_result

    encoder = load_clip(args.model)
    train = load_benchmark(args.benchmark, args.data, args.train_split, args.limit)
    test = (
        train
        if train.split is None
        else load_benchmark(args.benchmark, args.data, args.test_split, args.limit)
    )
    train_x = encoder.encode_images(train.images, args.batch_size, progress=True)
    if train.split is None or test.split is None:
        # one split only (e.g. quilt_sample): hold out half of each class as the test set
        train_idx, test_idx = stratified_split(train.labels, 0.5, np.random.default_rng(0))
        test_x, test_y = train_x[test_idx], train.labels[test_idx]
        train_x, train_y = train_x[train_idx], train.labels[train_idx]
    else:
        test_x = encoder.encode_images(test.images, args.batch_size, progress=True)
        train_y, test_y = train.labels, test.labels
    result = linear_probe(
        train_x, train_y, test_x, test_y, args.seeds, shots=args.shots, fraction=args.fraction
    )
    task = "linear_probe" + (f"_{args.shots}shot" if args.shots else "")
    task += f"_{args.fraction:g}" if args.fraction else ""
    path = save_result(args.out, args.benchmark, encoder.name, task, result)
    print(f"{args.benchmark}: {_format(result['metrics'])} -> {path}")
    _add_to_card(args, path)
    return 0


def run_retrieval(args: argparse.Namespace) -> int:
    from quilt_hf.eval.embeddings import load_clip
    from quilt_hf.eval.results import save_result
    from quilt_hf.eval.retrieval import evaluate_retrieval, load_pairs

    pairs = load_pairs(args.data, args.split, args.limit)
    encoder = load_clip(args.model)
    result = evaluate_retrieval(encoder, pairs, args.ks, args.chunk_size, args.batch_size)
    result.update(source=args.data, split=args.split, model_path=args.model)
    name = f"{Path(args.data).name or args.data}_{args.split}"
    path = save_result(args.out, name, encoder.name, "retrieval", result)
    print(f"{name}: {_format(result['metrics'])} -> {path}")
    _add_to_card(args, path)
    return 0


def run_plot(args: argparse.Namespace) -> int:
    from quilt_hf.eval.plot import plot_zeroshot_accuracy
    from quilt_hf.eval.results import load_results

    print(plot_zeroshot_accuracy(load_results(args.results, "zeroshot"), args.out))
    return 0


def _add_to_card(args: argparse.Namespace, result_path: Path) -> None:
    """Record the result in a local model folder's card (not for Hub ids or foreign cards)."""
    from quilt_hf.model_card import add_eval_result

    if args.no_card or not Path(args.model).is_dir():
        return
    card = add_eval_result(Path(args.model), result_path)
    if card is None:
        print(f"{args.model}: README.md is not a quilt-hf card; left as is (`quilt card model`)")
    else:
        print(f"model card updated -> {card}")


def _format(metrics: dict[str, float]) -> str:
    return ", ".join(f"{k}={v:.4f}" for k, v in metrics.items() if isinstance(v, float))
