"""``quilt youtube doctor``: what the install gives yt-dlp for YouTube, checked offline.

The install (scripts/install.sh, quilt-hf[video]) brings ``yt-dlp[default]`` (with ``yt-dlp-ejs``)
and the ``deno`` package; yt-dlp itself must then report ``JS runtimes: deno-2.x`` and list
``yt_dlp_ejs`` among its optional libraries, as ``yt-dlp -v`` does on a working machine.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from pathlib import Path

import deno  # declared in quilt-hf[video]; its absence must fail these tests, not skip them
import pytest

from quilt_hf.cli import main
from quilt_hf.sources.youtube import doctor


def doctor_json(capsys, *flags: str) -> tuple[int, dict]:
    code = main(["youtube", "doctor", "--json", *flags])
    return code, json.loads(capsys.readouterr().out)


def by_name(report: dict) -> dict[str, dict]:
    return {check["name"]: check for check in report["checks"]}


def test_yt_dlp_itself_sees_deno_and_ejs_from_the_install():
    """The acceptance check, as a user would run it: ``yt-dlp -v`` from this environment."""
    done = subprocess.run(
        [sys.executable, "-m", "yt_dlp", "-v"], capture_output=True, text=True, timeout=120
    )
    lines = {
        key: value
        for key, _, value in (
            line.removeprefix("[debug] ").partition(": ") for line in done.stderr.splitlines()
        )
    }
    assert lines["JS runtimes"].startswith("deno-2."), done.stderr
    assert "yt_dlp_ejs-" in lines["Optional libraries"]


def test_doctor_reports_a_usable_runtime_from_the_deno_package(capsys):
    code, report = doctor_json(capsys)
    checks = by_name(report)
    assert code == 0 and report["ok"] is True, report
    runtime = checks["JS runtime"]
    assert runtime["ok"] and runtime["detail"].startswith("deno-2.")
    assert deno.find_deno_bin() in runtime["detail"] and "ran a script" in runtime["detail"]
    assert checks["EJS scripts"]["ok"] and checks["ffmpeg"]["ok"]
    assert report["yt_dlp"]["JS runtimes"].startswith("deno-2.")
    assert "ffmpeg" in report["yt_dlp"]["exe versions"]
    # no cookies is a warning (optional), with the hint a bot check will need
    assert not checks["cookies"]["ok"] and not checks["cookies"]["required"]
    assert "--cookies" in checks["cookies"]["hint"]


def test_doctor_says_when_the_runtime_is_missing(capsys, tmp_path):
    code, report = doctor_json(capsys, "--js-runtime", f"deno:{tmp_path / 'no-deno'}")
    runtime = by_name(report)["JS runtime"]
    assert code == 1 and report["ok"] is False
    assert (
        not runtime["ok"] and "none" in runtime["detail"] and "pip install deno" in runtime["hint"]
    )
    # the human-readable form names what is missing
    assert main(["youtube", "doctor", "--js-runtime", f"deno:{tmp_path / 'no-deno'}"]) == 1
    assert "MISSING  JS runtime" in capsys.readouterr().out


def test_a_runtime_that_cannot_run_a_script_is_not_usable(tmp_path):
    """yt-dlp only asks ``deno --version``; the doctor also runs a script, which this one fails."""
    fake = tmp_path / "deno"
    fake.write_text(
        '#!/bin/sh\nif [ "$1" = "--version" ]; then echo "deno 2.9.8 (stable)"; exit 0; fi\n'
        'echo "error: V8 could not start" >&2; exit 70\n'
    )
    fake.chmod(0o755)
    runtimes = {"deno": {"path": str(fake)}}
    header = doctor.ytdlp_header(runtimes)
    assert header["JS runtimes"] == "deno-2.9.8"  # yt-dlp alone would take it
    check = doctor.check_js_runtime(runtimes, header)
    assert not check.ok and "exit 70" in check.detail and "V8 could not start" in check.detail


def test_an_old_runtime_is_reported_unsupported(tmp_path):
    old = tmp_path / "deno"
    old.write_text('#!/bin/sh\necho "deno 1.46.3 (stable)"\n')
    old.chmod(0o755)
    runtimes = {"deno": {"path": str(old)}}
    check = doctor.check_js_runtime(runtimes, doctor.ytdlp_header(runtimes))
    assert not check.ok and "unsupported" in check.detail


def test_ejs_missing_or_of_the_wrong_version(monkeypatch):
    import types

    import yt_dlp.dependencies

    assert doctor.check_ejs().ok
    monkeypatch.setattr(yt_dlp.dependencies, "yt_dlp_ejs", None)
    missing = doctor.check_ejs()
    assert (
        not missing.ok and "not installed" in missing.detail and "yt-dlp[default]" in missing.hint
    )
    monkeypatch.setattr(yt_dlp.dependencies, "yt_dlp_ejs", types.SimpleNamespace(version="0.1.0"))
    stale = doctor.check_ejs()
    assert not stale.ok and "0.1.0" in stale.detail and "needs" in stale.detail


def test_ffmpeg_that_is_not_ffmpeg(tmp_path):
    assert doctor.check_ffmpeg().ok
    assert not doctor.check_ffmpeg(str(tmp_path / "missing")).ok
    liar = tmp_path / "ffmpeg"
    liar.write_text("#!/bin/sh\necho hello\n")
    liar.chmod(0o755)
    assert not doctor.check_ffmpeg(str(liar)).ok


def netscape_line(domain: str, name: str, value: str, expires: int, *, http_only=False) -> str:
    """One cookies.txt line as curl and browser exporters write it (7 tab-separated fields)."""
    prefix = "#HttpOnly_" if http_only else ""
    subdomains = "TRUE" if domain.startswith(".") else "FALSE"
    return "\t".join([prefix + domain, subdomains, "/", "TRUE", str(expires), name, value])


def test_cookies_are_read_as_yt_dlp_reads_them_and_never_shown(tmp_path):
    later, earlier = int(time.time()) + 86400, int(time.time()) - 86400
    good = tmp_path / "cookies.txt"
    good.write_text(
        "# Netscape HTTP Cookie File\n# This is a generated file! Do not edit.\n\n"
        + "\n".join(
            [
                netscape_line(".youtube.com", "SAPISID", "s3cr3t-sapisid", later),
                netscape_line(".youtube.com", "LOGIN_INFO", "s3cr3t-login", later, http_only=True),
                netscape_line(".youtube.com", "PREF", "f6=40000000", earlier),
                netscape_line(".google.com", "NID", "other", later),
            ]
        )
        + "\n"
    )
    check = doctor.check_cookies(good)
    assert check.ok, check
    assert "3 youtube.com cookies, 1 expired" in check.detail
    assert "LOGIN_INFO, SAPISID" in check.detail and "s3cr3t" not in check.detail

    stale = tmp_path / "stale.txt"
    stale.write_text(
        "# Netscape HTTP Cookie File\n"
        + netscape_line(".youtube.com", "SAPISID", "x", earlier)
        + "\n"
    )
    expired = doctor.check_cookies(stale)
    assert not expired.ok and "no live login cookie" in expired.detail

    exported_as_json = tmp_path / "cookies.json"
    exported_as_json.write_text('[{"domain": ".youtube.com", "name": "SAPISID", "value": "x"}]')
    wrong = doctor.check_cookies(exported_as_json)
    assert not wrong.ok and wrong.required and "Netscape" in wrong.detail


def test_fetch_warns_before_a_youtube_run_when_the_runtime_is_missing(tmp_path, capsys):
    videos = tmp_path / "videos.jsonl"
    # an id only: fetch turns it into a youtube.com url; port 9 makes the fetch itself fail fast
    videos.write_text(json.dumps({"id": "abc", "webpage_url": "http://127.0.0.1:9/x"}) + "\n")
    main(["youtube", "fetch", "--videos", str(videos), "--out", str(tmp_path / "o")])
    assert "JS runtime" not in capsys.readouterr().err  # not a YouTube url: no warning
    videos.write_text(json.dumps({"id": "abc"}) + "\n")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("http_proxy", "http://127.0.0.1:9")  # never reach the real YouTube
        patch.setenv("https_proxy", "http://127.0.0.1:9")
        main(
            [
                "youtube",
                "fetch",
                "--videos",
                str(videos),
                "--out",
                str(tmp_path / "o2"),
                "--js-runtime",
                f"deno:{tmp_path / 'gone'}",
                "--backoff",
                "0",
            ]
        )
    err = capsys.readouterr().err
    assert "warning: JS runtime" in err and "quilt youtube doctor" in err


def test_install_script_and_pyproject_bring_the_runtime_and_ejs():
    root = Path(__file__).resolve().parents[1]
    import tomllib

    video = tomllib.loads((root / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    names = " ".join(video["video"])
    assert "yt-dlp[default]" in names and "deno" in names
    install = (root / "scripts" / "install.sh").read_text()
    assert "youtube doctor" in install  # the install ends by checking yt-dlp's runtime


def test_yt_dlp_warnings_about_lost_formats_reach_the_user(caplog):
    from quilt_hf.sources.youtube.ytdlp_log import YtdlpLogger

    logger = YtdlpLogger("yt_dlp_test")
    with caplog.at_level(logging.DEBUG, logger="yt_dlp_test"):
        # yt-dlp 2026.10's own wording (extractor/youtube/_video.py)
        logger.warning(
            "[youtube] abc: n challenge solving failed: Some formats may be missing. Ensure you "
            "have a supported JavaScript runtime and challenge solver script distribution installed."
        )
        logger.warning("[generic] Falling back on generic information extractor")
    levels = {record.getMessage().split(":")[0]: record.levelno for record in caplog.records}
    assert levels["[youtube] abc"] == logging.WARNING
    assert levels["[generic] Falling back on generic information extractor"] == logging.DEBUG
