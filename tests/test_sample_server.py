"""The loopback sample server: files, scripted faults, ranges, and no way out of its root."""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from quilt_hf.errors import QuiltError
from quilt_hf.synthetic.sample.server import free_port, resolve_under, serve_sample

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


@pytest.fixture
def root(tmp_path: Path) -> Path:
    web = tmp_path / "web"
    (web / "laion").mkdir(parents=True)
    (web / "laion" / "a.png").write_bytes(PNG)
    (web / "laion" / "slow.png").write_bytes(PNG)
    (web / "laion" / "noai.png").write_bytes(PNG)
    (web / "laion" / "cut.png").write_bytes(PNG)
    (web / "laion" / "page.jpg").write_bytes(b"<html></html>")
    (web / "captions.vtt").write_text("WEBVTT\n")
    (tmp_path / "secret.txt").write_text("outside the root")
    faults = {
        "/laion/error.png": {"status": 500},
        "/laion/slow.png": {"delay": 1.5},
        "/laion/noai.png": {"headers": {"X-Robots-Tag": "noai"}},
        "/laion/cut.png": {"truncate": 100},
        "/laion/page.jpg": {"headers": {"Content-Type": "text/html"}},
    }
    (web / "_faults.json").write_text(json.dumps(faults))
    return web


def raw_get(base_url: str, path: str, headers: dict[str, str] | None = None):
    """GET with the path sent exactly as given (urllib would normalise ``..`` away)."""
    host, port = base_url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    connection.request("GET", path, headers=headers or {})
    response = connection.getresponse()
    return response.status, dict(response.getheaders()), response.read()


def test_serves_files_with_types_on_a_free_port(root: Path) -> None:
    with serve_sample(root) as base_url:
        assert base_url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(f"{base_url}/laion/a.png", timeout=5) as response:
            assert response.read() == PNG
            assert response.headers["Content-Type"] == "image/png"
            assert response.headers["Content-Length"] == str(len(PNG))
        with urllib.request.urlopen(f"{base_url}/captions.vtt", timeout=5) as response:
            assert response.headers["Content-Type"] == "text/vtt"
        request = urllib.request.Request(f"{base_url}/laion/a.png", method="HEAD")
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.read() == b"" and response.headers["Content-Length"] == str(len(PNG))


def test_scripted_faults(root: Path) -> None:
    with serve_sample(root) as base_url:
        with pytest.raises(urllib.error.HTTPError) as error:
            urllib.request.urlopen(f"{base_url}/laion/error.png", timeout=5)
        assert error.value.code == 500
        with pytest.raises(urllib.error.HTTPError) as error:
            urllib.request.urlopen(f"{base_url}/laion/missing.png", timeout=5)
        assert error.value.code == 404

        with urllib.request.urlopen(f"{base_url}/laion/noai.png", timeout=5) as response:
            assert response.headers["X-Robots-Tag"] == "noai" and response.read() == PNG
        with urllib.request.urlopen(f"{base_url}/laion/page.jpg", timeout=5) as response:
            assert response.headers["Content-Type"] == "text/html"

        with (
            pytest.raises(http.client.IncompleteRead) as cut,
            urllib.request.urlopen(f"{base_url}/laion/cut.png", timeout=5) as response,
        ):
            assert response.headers["Content-Length"] == str(len(PNG))
            response.read()
        assert len(cut.value.partial) == 100

        started = time.perf_counter()
        with pytest.raises((TimeoutError, socket.timeout, urllib.error.URLError)):
            urllib.request.urlopen(f"{base_url}/laion/slow.png", timeout=0.3).read()
        assert time.perf_counter() - started < 1.4  # the client's timeout fired, not the delay
        with urllib.request.urlopen(f"{base_url}/laion/slow.png", timeout=5) as response:
            assert response.read() == PNG  # a patient client gets the file


@pytest.mark.parametrize(
    "path",
    ["/../secret.txt", "/laion/../../secret.txt", "/%2e%2e/secret.txt", "/laion/%2E%2E/%2E%2E/secret.txt",
     "/..%2fsecret.txt", "/laion/..%5c..%5csecret.txt", "/laion", "/", "//etc/passwd"],
)  # fmt: skip
def test_refuses_paths_outside_the_root_and_folders(root: Path, path: str) -> None:
    with serve_sample(root) as base_url:
        status, _, body = raw_get(base_url, path)
    assert status == 404 and b"outside the root" not in body


def test_symlink_out_of_the_root_is_refused(root: Path) -> None:
    (root / "link.txt").symlink_to(root.parent / "secret.txt")
    assert resolve_under(root.resolve(), "/link.txt") is None
    assert resolve_under(root.resolve(), "/laion/a.png") == (root / "laion" / "a.png").resolve()


def test_byte_ranges(root: Path) -> None:
    with serve_sample(root) as base_url:
        status, headers, body = raw_get(base_url, "/laion/a.png", {"Range": "bytes=8-15"})
        assert status == 206 and body == PNG[8:16]
        assert headers["Content-Range"] == f"bytes 8-15/{len(PNG)}"
        status, _, body = raw_get(base_url, "/laion/a.png", {"Range": "bytes=-4"})
        assert status == 206 and body == PNG[-4:]
        status, _, _ = raw_get(base_url, "/laion/a.png", {"Range": f"bytes={len(PNG)}-"})
        assert status == 416


def test_a_chosen_port_is_used_and_reusable(root: Path) -> None:
    port = free_port()
    for _ in range(2):  # each `quilt serve-sample` restarts it on the port the corpus recorded
        with serve_sample(root, port=port) as base_url:
            assert base_url == f"http://127.0.0.1:{port}"
            with urllib.request.urlopen(f"{base_url}/laion/a.png", timeout=5) as response:
                assert response.status == 200
    with (
        serve_sample(root, port=port),
        pytest.raises(QuiltError, match="cannot serve"),
        serve_sample(root, port=port),
    ):
        pass


def test_bad_root_or_faults_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(QuiltError, match="not a folder"), serve_sample(tmp_path / "nope"):
        pass
    (tmp_path / "_faults.json").write_text("{not json")
    with pytest.raises(QuiltError, match="_faults.json"), serve_sample(tmp_path):
        pass


# --- `quilt serve-sample`: the server around a command, never inside the build ------------------


def write_corpus_stub(corpus: Path, root: Path, port: int) -> None:
    corpus.mkdir(exist_ok=True)
    (corpus / "server.json").write_text(json.dumps({"root": root.name, "port": port}))


def run_quilt(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "quilt_hf", *args], capture_output=True, text=True, timeout=120
    )


def test_serve_sample_runs_the_command_while_the_corpus_answers_on_its_port(root: Path) -> None:
    port = free_port()
    write_corpus_stub(root.parent, root, port)
    fetch = f"import urllib.request; print(len(urllib.request.urlopen('http://127.0.0.1:{port}/laion/a.png').read()))"  # fmt: skip
    done = run_quilt("serve-sample", str(root.parent), "--", "python", "-c", fetch)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith(str(len(PNG)))
    # the command's exit status is serve-sample's, and the port is free again afterwards
    failing = run_quilt("serve-sample", str(root.parent), "--", "python", "-c", "exit(3)")
    assert failing.returncode == 3
    with serve_sample(root, port=port):
        pass
    # a leading `quilt` is this installation, on PATH or not
    version = run_quilt("serve-sample", str(root.parent), "--", "quilt", "--version")
    assert version.returncode == 0 and "quilt-hf" in version.stdout


def test_serve_sample_refuses_a_folder_without_server_json_or_a_busy_port(root: Path) -> None:
    done = run_quilt("serve-sample", str(root), "--", "python", "-c", "exit(0)")
    assert done.returncode == 1 and "no server.json" in done.stderr
    port = free_port()
    write_corpus_stub(root.parent, root, port)
    with serve_sample(root, port=port):  # someone else holds the corpus' port
        busy = run_quilt("serve-sample", str(root.parent), "--", "python", "-c", "exit(0)")
    assert busy.returncode == 1 and f"use port {port}" in busy.stderr
    outside = root.parent / "server.json"
    outside.write_text(json.dumps({"root": "../..", "port": port}))
    escaped = run_quilt("serve-sample", str(root.parent), "--", "python", "-c", "exit(0)")
    assert escaped.returncode == 1 and "outside the corpus folder" in escaped.stderr
