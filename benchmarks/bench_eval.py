"""Evaluation speed: chunked retrieval (time, peak RSS) and zero-shot images/s beside CLIP_benchmark.

Run: python benchmarks/bench_eval.py   (needs .peers/clipbench, made by scripts/install.sh --dev, for the peer column)
Each measurement runs in a fresh subprocess so peak RSS (ru_maxrss) belongs to it alone.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

CLIPBENCH = Path(__file__).resolve().parents[1] / ".peers" / "clipbench" / "bin" / "python"
HERE = Path(__file__).resolve().parent

RETRIEVAL = r"""
import json, resource, sys, time
import numpy as np
from quilt_hf.eval.retrieval import recall_at_k
n, dim = int(sys.argv[1]), 512
rng = np.random.default_rng(0)
images = rng.normal(size=(n // 2, dim)).astype(np.float32)
owner = np.repeat(np.arange(n // 2), 2)
texts = images[owner] + rng.normal(size=(n, dim)).astype(np.float32)
images /= np.linalg.norm(images, axis=1, keepdims=True); texts /= np.linalg.norm(texts, axis=1, keepdims=True)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
metrics = recall_at_k(images, texts, owner, ks=(1, 5, 10, 50, 200), chunk_size=1024)
print(json.dumps({"seconds": time.perf_counter() - start, "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "inputs_rss_mib": base / 1024, "R@1": metrics["text_to_image_R@1"]}))
"""

OURS_ZEROSHOT = r"""
import json, sys, time
sys.path.insert(0, sys.argv[2])
from quilt_hf.eval.downstream import get_benchmark, load_benchmark
from quilt_hf.eval.embeddings import load_clip
from quilt_hf.eval.zeroshot import evaluate_zeroshot
encoder = load_clip(sys.argv[1]); bench = get_benchmark("quilt_sample")
data = load_benchmark("quilt_sample"); images = data.images * 8; labels = list(data.labels) * 8
import numpy as np
evaluate_zeroshot(encoder, images[:64], np.array(labels[:64]), bench.classnames, bench.templates)  # warm-up
start = time.perf_counter()
evaluate_zeroshot(encoder, images, np.array(labels), bench.classnames, bench.templates, batch_size=64)
print(json.dumps({"images_per_s": len(images) / (time.perf_counter() - start), "n": len(images)}))
"""

PEER_ZEROSHOT = r"""
import json, sys, time, types
import numpy as np, torch
from PIL import Image
from transformers import CLIPModel, CLIPProcessor
from clip_benchmark.metrics import zeroshot_classification as zc
model = CLIPModel.from_pretrained(sys.argv[1]).eval(); processor = CLIPProcessor.from_pretrained(sys.argv[1])
tiles = np.load(sys.argv[2]); labels = torch.from_numpy(np.load(sys.argv[3]))
class Wrapped:
    def encode_image(self, pixels):
        out = model.get_image_features(pixel_values=pixels); return out if torch.is_tensor(out) else out.pooler_output
    def encode_text(self, tokens):
        out = model.get_text_features(input_ids=tokens); return out if torch.is_tensor(out) else out.pooler_output
def tokenizer(texts): return processor.tokenizer(texts, padding="max_length", max_length=77, truncation=True, return_tensors="pt")["input_ids"]
class Loader:
    dataset = types.SimpleNamespace(classes=["a", "b"])
    def __iter__(self):  # preprocessing inside the loop, like a DataLoader with transforms
        for s in range(0, len(tiles), 64):
            batch = [Image.fromarray(t) for t in tiles[s:s + 64]]
            yield processor(images=batch, return_tensors="pt")["pixel_values"], labels[s:s + 64]
names = sys.argv[4].split("|"); templates = sys.argv[5].split("|")
zc.evaluate(Wrapped(), Loader(), tokenizer, names, templates, "cpu", amp=False)  # warm-up
start = time.perf_counter()
zc.evaluate(Wrapped(), Loader(), tokenizer, names, templates, "cpu", amp=False)
print(json.dumps({"images_per_s": len(tiles) / (time.perf_counter() - start), "n": len(tiles)}))
"""


def run(python: str, code: str, *args: str) -> dict:
    done = subprocess.run([python, "-c", code, *args], capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(done.stderr[-2000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    import argparse

    import numpy as np

    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        epilog="Each measurement runs in a fresh subprocess; the peer column needs .peers/clipbench.",
    )
    parser.add_argument(
        "--pairs",
        type=int,
        nargs="+",
        default=[10_000, 50_000],
        help="retrieval sizes (text-image pairs) to time (default: 10000 50000)",
    )
    args = parser.parse_args()
    print("retrieval (chunked, dim 512, 2 texts/image, K up to 200, chunk 1024 queries)")
    for n in args.pairs:
        r = run(sys.executable, RETRIEVAL, str(n))
        print(
            f"  {n:>6} pairs: {r['seconds']:.2f} s, peak RSS {r['peak_rss_mib']:.0f} MiB "
            f"(inputs alone {r['inputs_rss_mib']:.0f} MiB; a full N x N float32 matrix would be "
            f"{n * n // 2 * 4 / 2**20:.0f} MiB)"
        )
    from quilt_hf.eval.downstream import get_benchmark, load_benchmark
    from quilt_hf.synthetic.tiny_clip import save_tiny_clip

    with tempfile.TemporaryDirectory() as tmp:
        model = save_tiny_clip(Path(tmp) / "tiny")
        ours = run(sys.executable, OURS_ZEROSHOT, str(model), str(HERE.parent))
        print(f"zero-shot, tiny CLIP (32px), {ours['n']} tiles of 96px incl. preprocessing:")
        print(f"  quilt-hf:        {ours['images_per_s']:.0f} images/s")
        if CLIPBENCH.exists():
            data = load_benchmark("quilt_sample")
            tiles = np.stack([np.asarray(i) for i in data.images * 8])
            np.save(Path(tmp) / "tiles.npy", tiles)
            np.save(Path(tmp) / "labels.npy", np.tile(data.labels, 8))
            bench = get_benchmark("quilt_sample")
            peer = run(
                str(CLIPBENCH),
                PEER_ZEROSHOT,
                str(model),
                str(Path(tmp) / "tiles.npy"),
                str(Path(tmp) / "labels.npy"),
                "|".join(bench.display_names),
                "|".join(bench.templates),
            )
            print(
                f"  clip-benchmark:  {peer['images_per_s']:.0f} images/s  "
                f"(ratio ours/peer {ours['images_per_s'] / peer['images_per_s']:.2f})"
            )
        else:
            print("  clip-benchmark:  venv absent (.peers/clipbench: run scripts/install.sh --dev)")


if __name__ == "__main__":
    main()
