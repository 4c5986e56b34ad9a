"""Our Accelerate CLIP trainer vs open_clip's training loop, side by side on this machine.

Same tiny CLIP shape (ViT 32px/patch 8, width 32, 2 layers, 2 heads; text width 32, 2 layers,
77 tokens; 32-d embedding), the same images (real IHC crops, JPEG in parquet for us, the same
JPEG files + CSV for open_clip) and the same batch size, on CPU. Each trainer runs as a subprocess;
we report samples/s and the fraction of step time spent waiting for data, both over all steps but
the first, the peak RSS of the process tree (main process + data workers), and the CPU seconds of
the whole run (start-up included). The machine is shared: the two run alternately for --rounds
rounds, every round is printed and each side's best round is compared.

open_clip needs torchvision, which does not import beside this project's torch 2.13: it runs from
its own virtualenv (default .peers/openclip: torch 2.14.1, torchvision 0.29.1,
open-clip-torch, braceexpand, webdataset, pandas).

    python benchmarks/bench_trainer.py [--images 1024] [--batch 64] [--epochs 2]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
OPENCLIP_PYTHON = str(
    Path(__file__).resolve().parents[1] / ".peers" / "openclip" / "bin" / "python"
)
OPENCLIP_MODEL = {
    "embed_dim": 32,
    "vision_cfg": {
        "image_size": 32,
        "layers": 2,
        "width": 32,
        "patch_size": 8,
        "head_width": 16,
        "mlp_ratio": 4,
    },
    "text_cfg": {
        "context_length": 77,
        "vocab_size": 49408,
        "width": 32,
        "heads": 2,
        "layers": 2,
        "mlp_ratio": 4,
    },
}
OPENCLIP_RUNNER = (
    "import sys, open_clip\n"
    "open_clip.add_model_config(sys.argv[1])\n"
    "from open_clip_train.main import main\n"
    "main(sys.argv[2:])\n"
)
OPENCLIP_LINE = re.compile(
    r"Train Epoch: (\d+) .*?Data \(t\): ([\d.]+) Batch \(t\): ([\d.]+), ([\d.]+)/s"
)


def run_measured(
    cmd: list[str], env: dict[str, str]
) -> tuple[subprocess.CompletedProcess, float, float]:
    """Run ``cmd``; return its result, the peak RSS (MiB) of its whole process tree and the CPU
    seconds (user + sys) of that tree - a figure the shared machine's load barely moves."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.Popen(
        cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    peak = 0.0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        root = psutil.Process(proc.pid)
        while not done.is_set():
            try:
                tree = [root, *root.children(recursive=True)]
                peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()) / 2**20)
            except psutil.Error:
                pass
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    output, _ = proc.communicate()
    done.set()
    sampler.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return subprocess.CompletedProcess(cmd, proc.returncode, output, ""), peak, cpu


def write_data(root: Path, images: int) -> tuple[Path, Path]:
    """The quilt_1m-layout parquet dataset (ours) and a CSV of the same unique images (open_clip)."""
    from datasets import load_dataset

    from quilt_hf.synthetic.trainer_dataset import CORRUPT_BYTES, write_tiny_dataset

    dataset = write_tiny_dataset(
        root / "quilt_1m", num_train=images, num_val=8, image_size=128, shards=4
    )
    train = load_dataset(str(dataset), split="train", cache_dir=str(root / "hf_cache"))
    folder = root / "jpg"
    folder.mkdir()
    seen: set[str] = set()
    with (root / "train.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["filepath", "title"])
        for row in train.cast_column("image", train.features["image"].__class__(decode=False)):
            data = row["image"]["bytes"]
            if row["image_sha256"] in seen or data == CORRUPT_BYTES:
                continue
            seen.add(row["image_sha256"])
            path = folder / f"{row['image_sha256'][:16]}.jpg"
            path.write_bytes(data)
            writer.writerow([str(path), row["caption"]])
    return dataset, root / "train.csv"


def bench_ours(dataset: Path, out: Path, batch: int, steps: int, workers: int, env) -> dict:
    cmd = [sys.executable, "-m", "trainer", "--config", "trainer/configs/tiny.yaml", "--dataset", str(dataset),
           "--output_dir", str(out), "--per_device_batch_size", str(batch), "--max_steps", str(steps),
           "--eval_split", "null", "--report_to", "none", "--checkpoint_every", "0", "--num_workers", str(workers),
           "--warmup_steps", "2", "--log_every", "5"]  # fmt: skip
    result, peak, cpu = run_measured(cmd, env)
    if result.returncode != 0:
        raise SystemExit(f"our trainer failed:\n{result.stdout[-3000:]}")
    summary = json.loads((out / "summary.json").read_text())
    return {
        "samples_per_s": summary["samples_per_s"],
        "data_wait": summary["data_wait_frac"],
        "peak_mib": peak,
        "cpu_s": cpu,
    }


def bench_openclip(csv_path: Path, out: Path, batch: int, epochs: int, workers: int, env) -> dict:
    config_dir = out / "model_configs"
    config_dir.mkdir(parents=True)
    (config_dir / "TinyBench.json").write_text(json.dumps(OPENCLIP_MODEL))
    args = ["--model", "TinyBench", "--train-data", str(csv_path), "--dataset-type", "csv",
            "--csv-img-key", "filepath", "--csv-caption-key", "title", "--csv-separator", ",",
            "--batch-size", str(batch), "--epochs", str(epochs), "--workers", str(workers),
            "--lr", "5e-4", "--wd", "0.2", "--beta1", "0.9", "--beta2", "0.98", "--warmup", "2",
            "--precision", "fp32", "--seed", "0", "--save-frequency", "0", "--zeroshot-frequency", "0",
            "--val-frequency", "0", "--log-every-n-steps", "5", "--logs", str(out / "logs"), "--name", "bench",
            "--device", "cpu"]  # fmt: skip
    result, peak, cpu = run_measured(
        [OPENCLIP_PYTHON, "-c", OPENCLIP_RUNNER, str(config_dir), *args], env
    )
    lines = OPENCLIP_LINE.findall(result.stdout)
    if result.returncode != 0 or not lines:
        raise SystemExit(f"open_clip failed:\n{result.stdout[-3000:]}")
    # open_clip resets its Data/Batch (t) meters after every log line (and its "/s" figure is the
    # last batch only): its last line averages the last log window of the last epoch - a steady
    # state with no epoch start in it. Ours averages every step but the first, epoch starts
    # included: the stricter of the two figures.
    _, data_time, batch_time, _ = lines[-1]
    return {
        "samples_per_s": batch / float(batch_time),
        "data_wait": float(data_time) / float(batch_time),
        "peak_mib": peak,
        "cpu_s": cpu,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=1024, help="unique training images")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--workers", type=int, default=1, help="data workers for both")
    parser.add_argument(
        "--rounds", type=int, default=2, help="alternating runs of each (best kept)"
    )
    args = parser.parse_args()
    env = dict(os.environ, TOKENIZERS_PARALLELISM="false", HF_HUB_OFFLINE="1")
    with tempfile.TemporaryDirectory(prefix="bench_trainer_") as tmp:
        root = Path(tmp)
        env["HF_DATASETS_CACHE"] = str(root / "hf_cache")
        dataset, csv_path = write_data(root, args.images)
        steps = args.epochs * (args.images // args.batch)
        # Alternate the two (the machine is shared: load changes minute to minute); keep each
        # side's best round, and print every round so the spread is visible.
        runs: dict[str, list[dict]] = {"quilt-hf": [], "open_clip": []}
        for k in range(args.rounds):
            runs["quilt-hf"].append(
                bench_ours(dataset, root / f"ours{k}", args.batch, steps, args.workers, env)
            )
            runs["open_clip"].append(
                bench_openclip(
                    csv_path, root / f"openclip{k}", args.batch, args.epochs, args.workers, env
                )
            )
        for name, rows in runs.items():
            speeds = ", ".join(f"{r['samples_per_s']:.1f}" for r in rows)
            cpus = ", ".join(f"{r['cpu_s']:.1f}" for r in rows)
            print(f"{name} rounds: samples/s {speeds} | CPU s per run {cpus}")
        ours = max(runs["quilt-hf"], key=lambda r: r["samples_per_s"])
        theirs = max(runs["open_clip"], key=lambda r: r["samples_per_s"])
    print(f"tiny CLIP, {args.images} images 128px -> 32px, batch {args.batch}, {steps} steps, "
          f"{args.workers} data worker(s), {os.cpu_count()} CPU cores")  # fmt: skip
    print(f"{'':12}{'samples/s':>12}{'data wait':>12}{'peak RSS':>12}{'CPU s/run':>12}")
    for name, row in (("quilt-hf", ours), ("open_clip", theirs)):
        print(
            f"{name:12}{row['samples_per_s']:12.1f}{row['data_wait']:12.1%}"
            f"{row['peak_mib']:8.0f} MiB{row['cpu_s']:12.1f}"
        )
    print(
        f"ratio quilt-hf / open_clip samples/s: {ours['samples_per_s'] / theirs['samples_per_s']:.2f}x"
    )


if __name__ == "__main__":
    main()
