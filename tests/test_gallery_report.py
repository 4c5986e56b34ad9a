"""quilt report: a training run's metrics, eval results and model card as one page."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from quilt_hf.cli import main
from quilt_hf.errors import QuiltError
from quilt_hf.eval.results import load_results, save_result
from quilt_hf.gallery.report import build_report, markdown_to_html, read_metrics

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


def write_run(run: Path) -> None:
    """A trainer output_dir as trainer/loop.py writes it (metrics.jsonl, summary.json, final/)."""
    lines = []
    for step in (1, 5, 10, 15, 20):
        lines.append(
            {
                "step": step,
                "epoch": 0,
                "loss": 3.2 - 0.02 * step,
                "lr": 5e-4 * (1 - step / 20),
                "logit_scale": 14.28 - 0.003 * step,
                "samples_per_s": 40.0,
                "data_wait_frac": 0.01,
            }
        )
        if step in (10, 20):
            lines.append(
                {
                    "step": step,
                    "eval/i2t_R@1": step / 100,
                    "eval/t2i_R@1": step / 120,
                    "eval/i2t_R@5": step / 40,
                    "eval/t2i_R@5": step / 50,
                    "eval/loss": 2.9 - step / 100,
                }
            )
    run.mkdir(parents=True)
    text = "".join(json.dumps(line) + "\n" for line in lines) + "{truncated\n"
    (run / "metrics.jsonl").write_text(text)
    (run / "summary.json").write_text(
        json.dumps({"steps": 20, "samples": 320, "samples_per_s": 18.9})
    )
    (run / "final").mkdir()


@pytest.fixture
def run_and_eval(tmp_path) -> tuple[Path, Path]:
    from quilt_hf.eval.plot import plot_zeroshot_accuracy
    from quilt_hf.model_card import render_model_card

    run, evals = tmp_path / "run", tmp_path / "eval"
    write_run(run)
    for dataset, accuracy in (("crc100k", 0.41), ("sicap", 0.33)):
        save_result(evals, dataset, "run/final", "zeroshot", {"metrics": {"accuracy": accuracy}})
    save_result(
        evals, "quilt_val", "run/final", "retrieval", {"metrics": {"image_to_text_R@1": 0.03}}
    )
    records = load_results(evals)
    chart = plot_zeroshot_accuracy(records, tmp_path / "chart.png")
    render_model_card(run / "final", "someone/tiny-quiltnet", results=records, chart=chart)
    return run, evals


def test_read_metrics_splits_train_and_eval(run_and_eval):
    run, _ = run_and_eval
    metrics = read_metrics(run / "metrics.jsonl")
    assert [r["step"] for r in metrics.train] == [1, 5, 10, 15, 20]
    assert [r["step"] for r in metrics.evals] == [10, 20]
    assert metrics.bad_lines == 1


def test_markdown_card_front_matter():
    front, body = markdown_to_html(
        "---\nlicense: mit\n---\n# Title\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"
    )
    assert front == "license: mit"
    assert "<h1>Title</h1>" in body and "<td>1</td>" in body


def test_report_files(run_and_eval, tmp_path):
    run, evals = run_and_eval
    index = build_report(run, tmp_path / "report", evals)
    html = index.read_text()
    names = {p.name for p in (tmp_path / "report").glob("*.png")}
    assert {"loss.png", "lr.png", "logit_scale.png", "recall.png", "zeroshot_accuracy.png"} <= names
    assert "card_zeroshot_accuracy.png" in names  # the card's own chart, for its preview
    assert "crc100k" in html and "image_to_text_R@1 0.0300" in html
    assert "unreadable metrics lines" in html
    card = (tmp_path / "report" / "model_card.html").read_text()
    assert "tiny-quiltnet" in card and 'src="card_zeroshot_accuracy.png"' in card


def test_report_bad_inputs(tmp_path, capsys):
    with pytest.raises(QuiltError, match="no metrics.jsonl"):
        build_report(tmp_path, tmp_path / "out")
    (tmp_path / "metrics.jsonl").write_text("not json\n")
    with pytest.raises(QuiltError, match="no training or evaluation records"):
        build_report(tmp_path, tmp_path / "out")
    assert main(["report", str(tmp_path), "--out", str(tmp_path / "out")]) == 1
    assert "no training or evaluation records" in capsys.readouterr().err


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is missing")
def test_report_in_chromium(run_and_eval, tmp_path):
    from playwright.sync_api import sync_playwright

    run, evals = run_and_eval
    assert main(["report", str(run), "--eval", str(evals), "--out", str(tmp_path / "report")]) == 0
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu", "--no-first-run"]
        )
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("console", lambda m: m.type == "error" and errors.append(m.text))
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto((tmp_path / "report" / "index.html").resolve().as_uri())
        page.wait_for_function(
            "[...document.images].length === 5 && [...document.images].every(i => i.complete && i.naturalWidth > 0)"
        )
        card = page.frame_locator("iframe.model-card")
        assert "tiny-quiltnet" in card.locator("h1").first.inner_text()
        card.locator("img").first.wait_for()
        assert card.locator("img").first.evaluate("i => i.complete && i.naturalWidth > 0")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
        browser.close()
    assert errors == []
