"""Download benchmark: our downloader vs img2dataset on the same loopback url list.

A separate process serves N small real-histology JPEGs (tiles cut from scikit-image's IHC image)
over HTTP/1.1 on 127.0.0.1. Both peers fetch the same urls, decode, resize to at most 256 px
(never upscaling) and write one JPEG file per image; both keep a JPEG that needs no resize as it
came instead of re-encoding it (ours always; img2dataset with ``skip_reencode=True``):

- ours: ``quilt_hf.download.download_many`` (16 threads, one shared keep-alive pool) +
  ``quilt_hf.images.load_image`` + a file write;
- img2dataset: ``img2dataset.download`` run in its own venv (``--img2dataset-python``), 2 processes x
  16 threads, ``resize_mode=keep_ratio, resize_only_if_bigger=True, skip_reencode=True``,
  output_format ``files``; the time is measured inside its process around ``download()`` only
  (interpreter start excluded).

Each peer runs ``--repeats`` times, interleaved; medians are printed with the ratio.

    python benchmarks/bench_download.py --images 2400 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

DEFAULT_IMG2DATASET_PYTHON = str(
    Path(__file__).resolve().parents[1] / ".peers" / "img2dataset" / "bin" / "python"
)


def make_tiles(count: int, side: int = 160) -> list[bytes]:
    """``count`` distinct JPEG tiles cropped from a real IHC histology image."""
    from quilt_hf.synthetic.histology import slide_jpegs

    return slide_jpegs("IHC", count, side, seed=0, quality=85)


def serve(count: int, ready: multiprocessing.Queue) -> None:
    """Serve ``/i/{n}.jpg`` for n < count until killed (runs in its own process)."""
    tiles = make_tiles(count)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            # Real image hosts disable Nagle; without it a keep-alive client waits ~40 ms per
            # response (headers and body go out as two writes and meet the delayed ACK).
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802
            try:
                body = tiles[int(self.path.rsplit("/", 1)[-1].split(".")[0])]
            except (ValueError, IndexError):
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    ThreadingHTTPServer.request_queue_size = 256
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    ready.put(httpd.server_address[1])
    httpd.serve_forever()


def run_ours_download_only(urls: list[str], threads: int) -> float:
    from quilt_hf.download import DownloadOptions, download_many

    started = time.perf_counter()
    fetched = sum(
        r.ok for r in download_many(urls, DownloadOptions(timeout=10, retries=2, threads=threads))
    )
    seconds = time.perf_counter() - started
    if fetched != len(urls):
        raise SystemExit(f"ours fetched only {fetched}/{len(urls)} images")
    return len(urls) / seconds


def run_ours(urls: list[str], out: Path, threads: int) -> float:
    from quilt_hf.download import DownloadOptions, download_many
    from quilt_hf.errors import SkipRecord
    from quilt_hf.images import load_image

    out.mkdir(parents=True)
    started = time.perf_counter()
    done = 0
    for result in download_many(urls, DownloadOptions(timeout=10, retries=2, threads=threads)):
        if not result.ok:
            continue
        try:
            stored = load_image(result.data, max_side=256)
        except SkipRecord:
            continue
        (out / f"{result.index:06d}.jpg").write_bytes(stored.jpeg)
        done += 1
    seconds = time.perf_counter() - started
    if done != len(urls):
        raise SystemExit(f"ours fetched only {done}/{len(urls)} images")
    return len(urls) / seconds


IMG2DATASET_SCRIPT = textwrap.dedent(
    """
    import json, sys, time
    from img2dataset import download

    if __name__ == "__main__":
        url_list, output, per_shard, processes, threads = sys.argv[1:6]
        started = time.perf_counter()
        download(
            url_list=url_list, output_folder=output, input_format="txt", output_format="files",
            image_size=256, resize_mode="keep_ratio", resize_only_if_bigger=True,
            processes_count=int(processes), thread_count=int(threads),
            number_sample_per_shard=int(per_shard), timeout=10, retries=2,
            enable_wandb=False, compute_hash="sha256", skip_reencode=True,
        )
        print(json.dumps({"seconds": time.perf_counter() - started}))
    """
)


def run_img2dataset(
    python: str, urls: list[str], work: Path, processes: int, threads: int
) -> float:
    work.mkdir(parents=True)
    url_list = work / "urls.txt"
    url_list.write_text("\n".join(urls) + "\n")
    script = work / "run_img2dataset.py"
    script.write_text(IMG2DATASET_SCRIPT)
    per_shard = -(-len(urls) // processes)
    completed = subprocess.run(
        [
            python,
            str(script),
            str(url_list),
            str(work / "out"),
            str(per_shard),
            str(processes),
            str(threads),
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=work,
        env={"NO_ALBUMENTATIONS_UPDATE": "1", "PATH": "/usr/bin:/bin"},
        timeout=900,
    )
    if completed.returncode != 0:
        raise SystemExit(f"img2dataset failed:\n{completed.stderr[-3000:]}")
    seconds = json.loads(completed.stdout.strip().splitlines()[-1])["seconds"]
    stats = [json.loads(p.read_text()) for p in (work / "out").glob("*_stats.json")]
    successes = sum(s.get("successes", 0) for s in stats)
    if successes != len(urls):
        raise SystemExit(f"img2dataset fetched only {successes}/{len(urls)} images: {stats}")
    return len(urls) / seconds


def ensure_img2dataset(python: str) -> None:
    """Create img2dataset's own venv (it pins its own opencv/numpy) when it is not there yet."""
    if Path(python).exists():
        return
    venv = Path(python).parent.parent
    print(f"creating img2dataset's venv at {venv} (one-off)", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([python, "-m", "pip", "install", "-q", "img2dataset"], check=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2400, help="urls to fetch per run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--threads", type=int, default=16, help="threads (ours; per process for img2dataset)"
    )
    parser.add_argument("--img2dataset-processes", type=int, default=2)
    parser.add_argument("--img2dataset-python", default=DEFAULT_IMG2DATASET_PYTHON)
    parser.add_argument("--skip-img2dataset", action="store_true")
    args = parser.parse_args()

    if not args.skip_img2dataset:
        ensure_img2dataset(args.img2dataset_python)
    ready: multiprocessing.Queue = multiprocessing.Queue()
    server = multiprocessing.Process(target=serve, args=(args.images, ready), daemon=True)
    server.start()
    port = ready.get(timeout=120)
    urls = [f"http://127.0.0.1:{port}/i/{n}.jpg" for n in range(args.images)]
    ours: list[float] = []
    fetch_only: list[float] = []
    peer: list[float] = []
    work = Path(tempfile.mkdtemp(prefix="bench_download_"))
    try:
        for repeat in range(args.repeats):
            ours.append(run_ours(urls, work / f"ours{repeat}", args.threads))
            fetch_only.append(run_ours_download_only(urls, args.threads))
            print(
                f"run {repeat + 1}: ours {ours[-1]:.0f} img/s (download only {fetch_only[-1]:.0f})",
                end="",
                flush=True,
            )
            if not args.skip_img2dataset:
                peer.append(
                    run_img2dataset(
                        args.img2dataset_python,
                        urls,
                        work / f"img2dataset{repeat}",
                        args.img2dataset_processes,
                        args.threads,
                    )
                )
                print(f", img2dataset {peer[-1]:.0f} img/s", end="")
            print()
    finally:
        server.terminate()
        shutil.rmtree(work, ignore_errors=True)
    ours_median = statistics.median(ours)
    print(f"\n{args.images} images from 127.0.0.1, median of {args.repeats} runs")
    print(
        f"  ours (download_many {args.threads} threads + load_image): {ours_median:8.0f} images/s"
    )
    print(
        f"  ours, download only (no decode/resize/write):    "
        f"{statistics.median(fetch_only):8.0f} images/s"
    )
    if peer:
        peer_median = statistics.median(peer)
        print(
            f"  img2dataset ({args.img2dataset_processes} proc x {args.threads} threads):      "
            f"{peer_median:8.0f} images/s"
        )
        print(f"  ratio ours / img2dataset: {ours_median / peer_median:.2f}x (target >= 2x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
