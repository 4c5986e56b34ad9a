"""``quilt youtube process`` / ``run``: bad input at the CLI, resumable per-video tasks, failures
recorded with reasons while the other videos go on."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import av
import pytest
from test_youtube_media import VTT, make_video, serve, write_page

from quilt_hf.cli import main
from quilt_hf.commands.youtube import check_llm_endpoint
from quilt_hf.errors import QuiltError
from quilt_hf.sources.youtube import run as run_module
from quilt_hf.sources.youtube.run import ProcessOptions, run_videos


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_youtube_help_lists_the_steps(capsys):
    with pytest.raises(SystemExit):
        main(["youtube", "--help"])
    text = capsys.readouterr().out
    for step in ("discover", "fetch", "process", "run"):
        assert step in text


def test_process_rejects_bad_input_with_clear_errors(tmp_path, capsys):
    video = make_video(tmp_path / "clip.mp4", seconds=1)
    vtt = tmp_path / "clip.vtt"
    vtt.write_text(VTT)
    out = str(tmp_path / "out")
    cases = [
        (["--video", str(tmp_path / "none.mp4"), "--captions", str(vtt)], "video not found"),
        (["--video", str(video), "--captions", str(tmp_path / "none.vtt")], "captions not found"),
        (["--video", str(video)], "--asr captions needs --captions"),
        (
            ["--video", str(video), "--captions", str(vtt), "--video-id", "../../x"],
            "invalid video id",
        ),
        (
            ["--video", str(video), "--captions", str(vtt), "--info", str(vtt)],
            "cannot read info json",
        ),
        (
            ["--video", str(video), "--captions", str(vtt), "--corrector", "openai"],
            "needs --llm-base-url",
        ),
        (
            ["--video", str(video), "--captions", str(vtt), "--corrector", "openai"]
            + ["--llm-base-url", f"http://127.0.0.1:{closed_port()}/v1", "--llm-model", "m"],
            "is unreachable",
        ),
    ]
    for extra, message in cases:
        assert main(["youtube", "process", *extra, "--out", out]) == 1, extra
        assert message in capsys.readouterr().err, extra
    assert not (tmp_path / "out").exists()  # nothing was started


def test_llm_endpoint_check_accepts_a_live_server_and_hides_nothing_secret():
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # an OpenAI-style server that wants a key answers 401: still reachable
            self.send_response(401)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        check_llm_endpoint(f"http://127.0.0.1:{server.server_address[1]}/v1")
    finally:
        server.shutdown()
        server.server_close()
    with pytest.raises(QuiltError, match="unreachable") as error:
        check_llm_endpoint(f"http://user:secret@127.0.0.1:{closed_port()}/v1")
    assert "secret" not in str(error.value) and "Connection refused" in str(error.value)
    with pytest.raises(QuiltError, match="http"):
        check_llm_endpoint("ftp://example.org")


@pytest.fixture
def lectures(tmp_path) -> tuple[str, Path]:
    """Two good pages, one whose video is truncated, one that 404s; yields (base_url, videos.jsonl)."""
    web = tmp_path / "web"
    web.mkdir()
    for name in ("good1", "good2"):
        make_video(web / f"{name}.mp4", seconds=1)
        (web / f"{name}.vtt").write_text(VTT)
        write_page(web, name, [(f"{name}.mp4", 240)], f"{name}.vtt")
    data = make_video(web / "cut.mp4", seconds=1).read_bytes()
    (web / "cut.mp4").write_bytes(data[: len(data) // 3])
    (web / "cut.vtt").write_text(VTT)
    write_page(web, "cut", [("cut.mp4", 240)], "cut.vtt")
    return web


def write_videos(path: Path, base: str, ids: list[str]) -> Path:
    rows = [{"id": i, "webpage_url": f"{base}/{i}.html"} for i in ids]
    rows.append({"id": "../../escape", "webpage_url": f"{base}/good1.html"})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_run_records_every_failure_and_resumes(lectures, tmp_path, monkeypatch):
    """Runner logic with a recording stand-in for process_video (the real one is tested below)."""
    processed: list[str] = []

    def fake_process_files(video_id, folder, files, options):
        with av.open(str(files.video)) as container:  # the truncated file fails here
            sum(1 for _ in container.decode(video=0))
        processed.append(video_id)
        (folder / "pairs.jsonl").write_text("")
        (folder / "stats.json").write_text(json.dumps({"pairs": 2}))
        return {"pairs": 2}

    monkeypatch.setattr(run_module, "process_files", fake_process_files)
    out = tmp_path / "run"
    with serve(lectures) as base:
        rows = [
            json.loads(x)
            for x in write_videos(tmp_path / "v.jsonl", base, ["good1", "cut", "missing", "good2"])
            .read_text()
            .splitlines()
        ]
        summary = run_videos(rows, out)
        assert summary["status"] == {"processed": 2, "failed": 3}
        assert summary["failures"] == {"crash": 1, "not_found": 1, "unsafe_id": 1}
        assert summary["pairs"] == 4
        by_id = {r["id"]: r for r in summary["results"]}
        assert by_id["cut"]["stage"] == "process" and "InvalidDataError" in by_id["cut"]["detail"]
        assert by_id["missing"]["stage"] == "fetch"
        assert json.loads((out / "run_summary.json").read_text())["status"] == summary["status"]
        assert not (tmp_path / "escape").exists() and not (out.parent / "escape").exists()
        # rerun: finished videos are skipped, failed ones retried
        again = run_videos(rows, out)
        assert again["status"] == {"done_before": 2, "failed": 3}
        assert processed == ["good1", "good2"]


def test_run_without_captions_needs_a_fallback(lectures, tmp_path):
    make_video(lectures / "mute.mp4", seconds=1, audio=False)
    write_page(lectures, "mute", [("mute.mp4", 240)], None)
    with serve(lectures) as base:
        summary = run_videos([{"id": "mute", "webpage_url": f"{base}/mute.html"}], tmp_path / "o")
    assert summary["failures"] == {"no_captions": 1}


def test_run_refuses_an_unreachable_llm_before_touching_any_video(tmp_path, capsys):
    videos = tmp_path / "v.jsonl"
    videos.write_text(json.dumps({"id": "abc", "webpage_url": "http://127.0.0.1:9/a.html"}) + "\n")
    url = f"http://127.0.0.1:{closed_port()}/v1"
    args = ["youtube", "run", "--videos", str(videos), "--out", str(tmp_path / "out")]
    assert main([*args, "--corrector", "openai", "--llm-base-url", url, "--llm-model", "m"]) == 1
    assert "is unreachable" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_run_a_video_without_audio_is_a_reasoned_failure(lectures, tmp_path):
    """No captions and no audio track: the ASR fallback fails clearly; the other video is kept."""
    make_video(lectures / "mute.mp4", seconds=1, audio=False)
    write_page(lectures, "mute", [("mute.mp4", 240)], None)
    with serve(lectures) as base:
        rows = [{"id": "mute", "webpage_url": f"{base}/mute.html"}]
        summary = run_videos(
            rows,
            tmp_path / "o",
            process_options=ProcessOptions(asr_fallback="pocketsphinx"),
        )
    [result] = summary["results"]
    assert result["status"] == "failed" and result["stage"] == "process"
    assert "no audio track" in result["detail"], result
