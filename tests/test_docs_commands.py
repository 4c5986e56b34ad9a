"""Every command line in README.md and docs/*.md runs, through the real entry points, as written.

The commands are extracted from the documents: every line of a ```bash block, the command lines of
plain ``` blocks (the lines that start with a program; the rest is shown output), and inline
`code` that starts with a program and has a flag. Each one must be in ``DOCUMENTED`` below, which
says how it runs here:

* ``Run``: through ``bash -c`` in a shared workspace, with ``quilt``, ``python`` and
  ``accelerate`` resolving to this checkout (``python -m quilt_hf``, ``python -m trainer``,
  ``python -m accelerate...``) and the Hub answered by the loopback double
  (``HF_ENDPOINT``). ``subs`` is the explicit, ordered list of text replacements for what cannot
  exist here (the paper's ViT-B/32 config -> the tiny one, the released Quilt-1M zips -> a small
  generated release, a real org -> the double's), ``extra`` flags only shrink the work (steps,
  sizes). Every flag that is shown stays. ``needs`` names commands whose output it reads.
* ``NotRun``: the reason it cannot run in a test (installs, the network, a GPU cluster).
* ``Same``: the same command as another entry, which runs it.

A new command in the docs that is not in the table fails ``test_every_documented_command_is_listed``;
add it. A documented command whose code path breaks fails its ``test_documented_command_runs``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
DOCUMENTS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
# A command line starts with a program (or VAR=value before one); anything else is output.
PROGRAM = re.compile(
    r"^(?:[A-Z_]+=\S+\s+)*(?:\.venv/bin/)?"
    r"(?:quilt|python|accelerate|torchrun|bash|pip|ray|hf|/usr/bin/time|for)\s"
)
TOKEN = "hf_docs_double_token"
TRAIN_FAST = "--max_steps 4 --report_to none"


# --- extraction ---------------------------------------------------------------------------------


def _is_command(line: str) -> bool:
    return bool(PROGRAM.match(line))


def _strip_comment(line: str) -> str:
    return re.sub(r"\s+#\s.*$", "", line).strip()


def extract_commands(text: str) -> list[str]:
    """Commands of one Markdown document, in order, each once."""
    commands: list[str] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        fence = re.match(r"^```(\w*)\s*$", lines[i])
        if not fence:
            i += 1
            continue
        language, body = fence[1], []
        i += 1
        while i < len(lines) and not lines[i].startswith("```"):
            body.append(lines[i])
            i += 1
        i += 1
        if language not in ("", "bash", "sh", "shell"):
            continue
        joined: list[str] = []
        for line in body:  # join backslash continuations
            if joined and joined[-1].endswith("\\"):
                joined[-1] = joined[-1][:-1].rstrip() + " " + line.strip()
            else:
                joined.append(line.strip())
        loop: list[str] = []
        for line in joined:
            line = _strip_comment(line)
            if loop:  # a for loop is one command, up to its `done`
                loop.append(line)
                if line == "done":
                    commands.append("; ".join(loop).replace("; do;", "; do"))
                    loop = []
                continue
            if not line or (language == "" and not _is_command(line)):
                continue
            if line.startswith("for "):
                loop = [line]
                continue
            commands.append(line)
    for span in re.findall(r"(?<!`)`([^`]+)`(?!`)", text):
        span = " ".join(span.split())
        if _is_command(span) and " --" in f" {span}":
            commands.append(span)
    return list(dict.fromkeys(commands))


def documented_commands() -> list[str]:
    found: list[str] = []
    for path in DOCUMENTS:
        found += extract_commands(path.read_text(encoding="utf-8"))
    return list(dict.fromkeys(found))


# --- the table --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    subs: tuple[tuple[str, str], ...] = ()  # (documented text, what runs here), in order
    extra: str = ""  # flags appended to make the work small (never to change what is shown)
    needs: tuple[str, ...] = ()  # commands whose output this one reads
    expect: str = ""  # a regex the output must match
    xfail: str = ""  # an open issue another change fixes
    timeout: int = 600


@dataclass(frozen=True)
class NotRun:
    reason: str


@dataclass(frozen=True)
class Same:
    command: str  # the entry that runs it


SAMPLE = "quilt sample --out sample"
BUILD = "quilt serve-sample sample -- quilt build --config sample/build.yaml --out quilt_1m"
# The sample's urls point at its loopback server: a build of it runs inside `quilt serve-sample`.
SERVED = (("quilt build", "quilt serve-sample sample -- quilt build"),)
TRAIN = (
    "accelerate launch trainer/ --config trainer/configs/quiltnet-b32.yaml --dataset quilt_1m "
    "--output_dir runs/quiltnet-b32"
)
ZEROSHOT = (
    "quilt eval zeroshot --model runs/quiltnet-b32/final --benchmark quilt_sample --out eval/"
)
FETCH = (
    "quilt youtube fetch --videos videos.jsonl --out lectures --sleep 5 --sleep-requests 1 "
    "--cookies cookies.txt"
)
SCALE_SAMPLE = "quilt sample --out /tmp/scale/corpus --port 44139"
# The paper recipe starts from OpenAI's ViT-B/32 on the Hub: the tiny random CLIP stands in.
TINY_CONFIG = (("trainer/configs/quiltnet-b32.yaml", "trainer/configs/tiny.yaml"),)
HUB = (("HF_TOKEN=...", f"HF_TOKEN={TOKEN}"), ("ORG/", "org/"))

DOCUMENTED: dict[str, Run | NotRun | Same] = {
    # README: install and the demo
    "bash scripts/install.sh && .venv/bin/quilt demo --out demo_out": NotRun(
        "installs Debian packages and a venv (CI has run scripts/install.sh); the demo itself "
        "runs in tests/test_demo.py"
    ),
    "bash scripts/install.sh --dev && .venv/bin/python -m pytest -q": NotRun(
        "this is CI itself: the install, then this test suite"
    ),
    # README: build
    SAMPLE: Run(),
    BUILD: Run(needs=(SAMPLE,)),
    "python -c \"from datasets import load_dataset; print(load_dataset('quilt_1m'))\"": Run(
        needs=(BUILD,), expect=r"DatasetDict\(\{\s+train: Dataset"
    ),
    "quilt build --config build.yaml --out quilt_1m": Same(
        "BUILD: the same build, of the sample corpus, inside `quilt serve-sample`"
    ),
    "quilt serve-sample DIR -- quilt build ...": Same("BUILD, with DIR = sample"),
    "quilt build --config build.yaml --out quilt_1m [--format webdataset] [--executor ray]": Same(
        "its bracketed flags, one at a time, in VARIANTS"
    ),
    # README: YouTube
    "quilt youtube doctor": Run(expect=r"JS runtime\s+deno-2\."),
    "quilt youtube discover --out videos.jsonl --max-keywords 5 --per-keyword 20": NotRun(
        "searches YouTube (ytsearch): needs the network; discover runs over loopback pages in "
        "tests/test_youtube_fetch.py and tests/test_youtube_sample.py"
    ),
    FETCH: Run(needs=(SAMPLE,), expect=r"'fetched': 1"),
    "quilt youtube run --videos videos.jsonl --out lectures --workers 2 --sleep 5 --sleep-requests 1": Run(
        needs=(FETCH,), expect=r"pairs: [1-9]"
    ),
    # README: training
    TRAIN: Run(subs=TINY_CONFIG, extra=TRAIN_FAST, needs=(BUILD,)),
    "accelerate launch trainer/ --config trainer/configs/quiltnet-b32.yaml --dataset quilt_1m": Same(
        TRAIN
    ),
    "python -m trainer --config trainer/configs/tiny.yaml --dataset quilt_1m": Run(
        extra=f"{TRAIN_FAST} --output_dir runs/tiny", needs=(BUILD,)
    ),
    "accelerate launch --multi_gpu --num_processes 8 trainer/ --config trainer/configs/multi-gpu.yaml --dataset quilt_1m": Run(
        # no GPU here: 2 CPU processes (the 2-process launch config; `--cpu` would start one) take
        # the multi-process path (gathers, global-batch loss); 12 steps reach the config's
        # periodic evaluation (eval_every 10) and the final one
        subs=(
            (
                "--multi_gpu --num_processes 8",
                "--config_file trainer/configs/accelerate-2proc.yaml",
            ),
            ("trainer/configs/multi-gpu.yaml", "trainer/configs/tiny.yaml"),
        ),
        extra="--max_steps 12 --report_to none --output_dir runs/multi --per_device_batch_size 8",
        needs=(BUILD,),
    ),
    "torchrun --nproc_per_node 2 -m trainer --config trainer/configs/tiny.yaml --dataset quilt_1m --per_device_batch_size 8": Run(
        extra="--max_steps 4 --report_to none --output_dir runs/torchrun2", needs=(BUILD,)
    ),
    "accelerate launch --config_file trainer/configs/accelerate-2proc.yaml trainer/ --config trainer/configs/tiny.yaml --dataset quilt_1m": Run(
        extra=f"{TRAIN_FAST} --output_dir runs/accelerate2", needs=(BUILD,)
    ),
    # README: released Quilt-1M and ARCH (small releases in the released formats stand in)
    "quilt import quilt1m --lookup quilt_1M_lookup.csv --images quilt_1m_part*.zip --out quilt_1m --histology-only --text-column caption": Run(
        subs=(("--out quilt_1m", "--out quilt_1m_release"),)
    ),
    "quilt import quilt1m --lookup quilt_1M_lookup.csv --images parts*.zip --out quilt_1m": Run(
        subs=(("parts*.zip", "quilt_1m_part*.zip"), ("--out quilt_1m", "--out quilt_1m_release2"))
    ),
    "quilt import arch --captions books_set/captions.json --images books_set/images --out arch": Run(),
    # README: evaluate and publish
    ZEROSHOT: Run(needs=(TRAIN,)),
    "quilt eval retrieval --model runs/quiltnet-b32/final --data quilt_1m --split val --out eval/": Run(
        needs=(TRAIN, BUILD)
    ),
    "HF_TOKEN=... quilt push model runs/quiltnet-b32/final --repo-id ORG/quiltnet-b32": Run(
        subs=HUB, needs=(TRAIN,)
    ),
    "HF_TOKEN=... quilt push dataset quilt_1m --repo-id ORG/quilt_1m --private": Run(
        subs=HUB, needs=(BUILD,)
    ),
    "quilt push model DIR --repo-id ORG/NAME": Run(
        subs=(("DIR", "runs/quiltnet-b32/final"), ("ORG/NAME", "org/name")),
        extra="",
        needs=(TRAIN,),
    ),
    "quilt push dataset quilt_1m --repo-id ORG/quilt_1m": Run(
        # a public repo beside the --private one above (HF_TOKEN is set in the workspace)
        subs=(("ORG/quilt_1m", "org/quilt_1m_public"),),
        needs=(BUILD,),
    ),
    "quilt push dataset quilt_1m --metadata-only ...": Run(
        subs=(("...", "--repo-id org/quilt_1m_metadata"),), needs=(BUILD,)
    ),
    "quilt histo train --data frames/ --out histo_model": Run(
        # the default base model is a Hub checkpoint: the tiny random ViT stands in
        extra="--model_config tiny --epochs 1 --batch_size 8"
    ),
    "quilt inspect quilt_1m --out site": Run(needs=(BUILD,), expect=r"wrote \d+ rows"),
    "quilt report runs/NAME --eval eval/ --out report": Run(
        subs=(("runs/NAME", "runs/quiltnet-b32"),), needs=(TRAIN, ZEROSHOT)
    ),
    "quilt build --executor ray --ray-address auto --ray-resources quilt=num_gpus:1": NotRun(
        "needs a running Ray cluster with a GPU node (--ray-address auto, num_gpus:1); the "
        "--executor ray path runs in the variant above"
    ),
    "python benchmarks/X.py --help": Same("one `--help` per script, in VARIANTS"),
    # docs/sentences.md
    "python benchmarks/youtube_quality.py --generator unseen --seeds 11 12 --lectures 4": Same(
        "tests/test_synthetic_lectures.py::test_benchmark_cli_scores_an_unseen_lecture runs these "
        "flags through the script on one lecture (--seeds 5 --lectures 1) and checks its results"
    ),
    "python benchmarks/youtube_quality.py --generator unseen --seeds 11 12 --lectures 4 --speaker irregular": Same(
        "tests/test_synthetic_lectures.py::test_benchmark_cli_scores_an_unseen_lecture runs these "
        "flags (with --speaker irregular) through the script on one lecture and checks its results"
    ),
    "python benchmarks/youtube_quality.py --generator unseen --seeds 11 12 --lectures 4 --sentences truth": Same(
        "tests/test_synthetic_lectures.py::test_benchmark_cli_scores_an_unseen_lecture runs these "
        "flags (with --sentences truth) through the script on one lecture and checks its results"
    ),
    "python benchmarks/youtube_quality.py --generator unseen --seeds 11 12 --lectures 4 --encode vp9": Same(
        "tests/test_synthetic_lectures.py::test_benchmark_cli_scores_an_unseen_lecture runs these "
        "flags (with --encode vp9) through the script on one lecture and checks it scored the VP9 copy"
    ),
    # docs/scaling.md
    SCALE_SAMPLE: Run(
        subs=(("/tmp/scale/corpus", "scale/corpus"),),  # nothing is written outside the workspace
        extra="--no-videos",  # the videos are made by `quilt sample --out sample`
    ),
    "for v in corpus/web/videos/lecture0*.mp4; do n=$(basename $v .mp4); /usr/bin/time -v python -m quilt_hf youtube process --video $v --captions corpus/web/videos/$n.vtt --out yt/$n; done": Run(
        subs=(("corpus/", "sample/"),), needs=(SAMPLE,)
    ),
    "python benchmarks/bench_worker_threads.py --workers 2 --tasks 8 --layers 24": Run(
        subs=(("--tasks 8 --layers 24", "--tasks 4 --layers 2"),),
        extra="--tokens 64 --passes 1 --repeats 1",
        expect=r"\nours +[\d.]+ .*\nevery core +[\d.]+ ",
    ),
    "python benchmarks/bench_download.py --images 2400 --repeats 3 --skip-img2dataset": Run(
        subs=(("--images 2400 --repeats 3", "--images 60 --repeats 1"),)
    ),
    "python benchmarks/bench_build.py --rows 20000 --dedup-images 1000 --repeats 1": Run(
        subs=(("--rows 20000 --dedup-images 1000", "--rows 300 --dedup-images 20"),)
    ),
    "python benchmarks/bench_executors.py --corpus /tmp/scale/corpus": NotRun(
        "builds the corpus with local-1, local-2 and a Ray cluster, three times: minutes of a "
        "2-core machine; its --no-builds form below runs the same executors"
    ),
    "python benchmarks/bench_executors.py --corpus /tmp/scale/corpus --no-builds": Run(
        subs=(("/tmp/scale/corpus", "scale/corpus"),),
        extra="--noop-tasks 20 --repeats 1",
        needs=(SCALE_SAMPLE,),
    ),
    "pip install 'quilt-hf[distributed]'": NotRun("installs from the package index"),
    "hf download oliverguhr/fullstop-punctuation-multilang-large --local-dir FOLDER": NotRun(
        "fetches 2.2 GB from the real Hub, on a machine with network; the fetch itself runs in "
        "test_auto_fetches_the_default_punctuation_model_from_the_hub, from the Hub double"
    ),
    "ray start --head --port=6379 --num-cpus=$(nproc)": NotRun(
        "starts a Ray head daemon for a multi-machine cluster"
    ),
    "ray start --address=HEAD_IP:6379": NotRun("joins a worker machine to the cluster"),
    "quilt build --config build.yaml --out /shared/quilt_1m --executor ray --ray-address auto": NotRun(
        "drives the multi-machine cluster started by the lines above; --executor ray runs on a "
        "local Ray in the bracketed variant of `quilt build`"
    ),
}


# Commands written in the docs as a template ([optional] flags): each form that runs.
VARIANTS: dict[str, Run] = {
    "quilt build --config build.yaml --out quilt_1m --format webdataset": Run(
        subs=(("build.yaml", "sample/build.yaml"), ("quilt_1m", "quilt_1m_wds"), *SERVED),
        needs=(SAMPLE,),
    ),
    "quilt build --config build.yaml --out quilt_1m --executor ray": Run(
        subs=(("build.yaml", "sample/build.yaml"), ("quilt_1m", "quilt_1m_ray"), *SERVED),
        needs=(SAMPLE,),
    ),
}
for _script in sorted((REPO / "benchmarks").glob("*.py")):
    if "__main__" in _script.read_text(encoding="utf-8"):  # child_process.py is a helper module
        VARIANTS[f"python benchmarks/{_script.name} --help"] = Run(timeout=180, expect=r"usage:")
TABLE: dict[str, Run | NotRun | Same] = {**DOCUMENTED, **VARIANTS}


# --- the workspace ----------------------------------------------------------------------------


def _shim(folder: Path, name: str, body: str) -> None:
    path = folder / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


class Workspace:
    """One folder the documented commands run in, as a user's shell would run them."""

    def __init__(self, root: Path, hub_endpoint: str) -> None:
        self.root = root
        self.results: dict[str, subprocess.CompletedProcess] = {}
        shims = root.parent / "bin"
        shims.mkdir()
        _shim(shims, "quilt", f'exec "{sys.executable}" -m quilt_hf "$@"')
        _shim(shims, "python", f'exec "{sys.executable}" "$@"')
        _shim(
            shims,
            "accelerate",
            f'exec "{sys.executable}" -m accelerate.commands.accelerate_cli "$@"',
        )
        _shim(shims, "yt-dlp", f'exec "{sys.executable}" -m yt_dlp "$@"')
        _shim(shims, "torchrun", f'exec "{sys.executable}" -m torch.distributed.run "$@"')
        self.env = {k: v for k, v in os.environ.items() if k not in ("HF_TOKEN", "HF_HOME")}
        self.env.update(
            PATH=f"{shims}{os.pathsep}{os.environ['PATH']}",
            PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
            HF_ENDPOINT=hub_endpoint,
            HF_HUB_DISABLE_XET="1",
            HF_HOME=str(root.parent / "hf_home"),
            HF_HUB_DISABLE_TELEMETRY="1",
            HF_HUB_OFFLINE="0",
            HF_TOKEN=TOKEN,
            TOKENIZERS_PARALLELISM="false",
        )
        # `trainer/` and `benchmarks/` are read from this checkout, as from a clone's root
        for folder in ("trainer", "benchmarks"):
            (root / folder).symlink_to(REPO / folder)

    def command_line(self, documented: str, how: Run) -> str:
        line = documented
        for old, new in how.subs:
            assert old in line, f"substitution {old!r} no longer matches {documented!r}"
            line = line.replace(old, new)
        return f"{line} {how.extra}".strip()

    def run(self, documented: str) -> subprocess.CompletedProcess:
        if documented in self.results:
            return self.results[documented]
        how = TABLE[documented]
        assert isinstance(how, Run)
        for needed in how.needs:
            done = self.run(needed)
            if done.returncode != 0:
                pytest.fail(f"needs `{needed}`, which failed:\n{done.stdout[-2000:]}")
        PREPARE.get(documented, lambda ws: None)(self)
        line = self.command_line(documented, how)
        process = subprocess.Popen(
            ["bash", "-c", line],
            cwd=self.root,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # a timeout ends the command and every child it started
        )
        try:
            output, _ = process.communicate(timeout=how.timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            output = process.communicate()[0]
            output += f"\n(killed after {how.timeout} s)"
        done = subprocess.CompletedProcess(line, process.returncode, f"$ {line}\n{output}", "")
        self.results[documented] = done
        return done


def _videos_jsonl(ws: Workspace) -> None:
    """A videos.jsonl (as `discover` writes) naming one sample lecture page, and a cookies file."""
    from quilt_hf.synthetic.sample.server import serve_sample

    context = serve_sample(ws.root / "sample" / "web")
    base = context.__enter__()  # closed with the session (the server thread is a daemon)
    ws.servers = [*getattr(ws, "servers", []), context]
    row = {"id": "lecture00", "webpage_url": f"{base}/videos/lecture00.html", "title": "Lecture"}
    (ws.root / "videos.jsonl").write_text(json.dumps(row) + "\n")
    (ws.root / "cookies.txt").write_text(
        "# Netscape HTTP Cookie File\n.youtube.com\tTRUE\t/\tTRUE\t4102444800\tPREF\tf6=40000000\n"
    )


def _quilt1m_release(ws: Workspace) -> None:
    """A lookup CSV and image zip in the released formats (see tests/test_import_quilt1m.py)."""
    if (ws.root / "quilt_1M_lookup.csv").exists():
        return
    from test_import_quilt1m import write_release

    release = write_release(ws.root)
    release["zip"].rename(ws.root / "quilt_1m_part1.zip")  # the README's part names


def _arch_release(ws: Workspace) -> None:
    from test_import_arch import write_books_set

    write_books_set(ws.root / "books_set")


def _frames(ws: Workspace) -> None:
    from quilt_hf.synthetic.labelled_images import labelled_images

    images, labels, _ = labelled_images("fit", 16, seed=5)
    for i, (image, label) in enumerate(zip(images, labels, strict=True)):
        folder = ws.root / "frames" / ("histology" if label else "not_histology")
        folder.mkdir(parents=True, exist_ok=True)
        image.resize((48, 48)).save(folder / f"frame_{i:03d}.jpg")


PREPARE = {
    FETCH: _videos_jsonl,
    "quilt import quilt1m --lookup quilt_1M_lookup.csv --images quilt_1m_part*.zip --out quilt_1m --histology-only --text-column caption": _quilt1m_release,
    "quilt import quilt1m --lookup quilt_1M_lookup.csv --images parts*.zip --out quilt_1m": _quilt1m_release,
    "quilt import arch --captions books_set/captions.json --images books_set/images --out arch": _arch_release,
    "quilt histo train --data frames/ --out histo_model": _frames,
}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    from hub_double import HubDouble

    hub = HubDouble(TOKEN).start()
    root = tmp_path_factory.mktemp("docs") / "ws"
    root.mkdir()
    ws = Workspace(root, hub.endpoint)
    yield ws
    for context in getattr(ws, "servers", []):
        context.__exit__(None, None, None)
    hub.stop()
    shutil.rmtree(root.parent / "hf_home", ignore_errors=True)


# --- the tests ----------------------------------------------------------------------------------


def test_extraction_reads_blocks_loops_continuations_and_inline_code():
    text = (
        "Run `quilt x --flag a` or `quilt y`.\n```bash\nquilt a \\\n    --b c   # note\n```\n"
        "```\nquilt z --k 1\noutput line 1.0\nfor v in a b; do n=$v\n  python -m q $v\ndone\n```\n"
        "```python\nimport os\n```\n"
    )
    assert extract_commands(text) == [
        "quilt a --b c",
        "quilt z --k 1",
        "for v in a b; do n=$v; python -m q $v; done",
        "quilt x --flag a",
    ]


def test_every_documented_command_is_listed():
    documented = documented_commands()
    unlisted = [c for c in documented if c not in DOCUMENTED]
    assert not unlisted, "add these documented commands to DOCUMENTED:\n" + "\n".join(unlisted)
    stale = [c for c in DOCUMENTED if c not in documented]
    assert not stale, "no longer in the docs; remove from DOCUMENTED:\n" + "\n".join(stale)
    for how in TABLE.values():
        if isinstance(how, Same) and how.command in TABLE:
            assert isinstance(TABLE[how.command], Run)
        if isinstance(how, Run):
            assert all(isinstance(TABLE.get(n), Run) for n in how.needs)


RUNNABLE = [
    pytest.param(command, marks=pytest.mark.xfail(reason=how.xfail, strict=False))
    if how.xfail
    else command
    for command, how in TABLE.items()
    if isinstance(how, Run)
]


@pytest.mark.slow
@pytest.mark.parametrize("command", RUNNABLE)
def test_documented_command_runs(workspace, command):
    done = workspace.run(command)
    assert done.returncode == 0, done.stdout[-4000:]
    how = TABLE[command]
    if how.expect:
        assert re.search(how.expect, done.stdout), done.stdout[-4000:]


@pytest.mark.slow
def test_the_sample_lectures_are_where_build_yaml_says(workspace):
    """`quilt sample --out sample` wrote its lectures (write_sample_videos): four videos with
    truth, captions and a yt-dlp page each, served at the port of server.json, and the labelled
    frames `quilt histo train` reads."""
    assert workspace.run(SAMPLE).returncode == 0
    sample = workspace.root / "sample"
    port = json.loads((sample / "server.json").read_text())["port"]
    quilt = yaml.safe_load((sample / "build.yaml").read_text())["sources"]["quilt"]
    assert quilt["videos"] == ["web/videos/*.mp4"]
    assert quilt["pages"][0] == f"http://127.0.0.1:{port}/videos/lecture00.html"
    videos = sorted((sample / "web" / "videos").glob("*.mp4"))
    assert [v.stem for v in videos] == [f"lecture{n:02d}" for n in range(4)]
    for video in videos:
        truth = json.loads(video.with_suffix(".truth.json").read_text())
        assert 20 <= truth["duration"] <= 90
        assert any(s["histology"] for s in truth["slides"])
        assert video.with_suffix(".html").is_file() and video.with_suffix(".vtt").is_file()
    assert list((sample / "frames" / "histology").glob("*.jpg"))


@pytest.mark.slow
def test_documented_outputs_are_where_the_docs_say(workspace):
    """The files the README names after its commands exist (checked after they ran)."""
    ws = workspace.root
    for command in (BUILD, TRAIN, ZEROSHOT):
        assert workspace.run(command).returncode == 0
    assert sorted(p.name for p in (ws / "quilt_1m" / "data").glob("*.parquet"))
    assert (ws / "quilt_1m" / "README.md").is_file()
    assert (ws / "runs" / "quiltnet-b32" / "final" / "model.safetensors").is_file()
    assert list((ws / "eval").glob("quilt_sample__*__zeroshot.json"))
