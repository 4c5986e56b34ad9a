"""``quilt youtube doctor``: what a YouTube fetch needs, and what is missing on this machine.

yt-dlp (>= 2025.11) downloads YouTube formats only with an external JavaScript runtime (Deno by
default) and its EJS challenge-solver scripts (the ``yt-dlp-ejs`` package); it merges video and
audio with ffmpeg; and on addresses YouTube throttles it needs a logged-in browser's cookies. Each
check says what it found, and a hint when something is missing. The runtime is judged the way
yt-dlp judges it (its own verbose header, ``JS runtimes: deno-2.x``) and then made to run a script.
"""

from __future__ import annotations

import http.cookiejar
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from quilt_hf.sources.youtube.fetch import ffmpeg_location, js_runtimes

# How each runtime yt-dlp supports evaluates a one-line script.
EVAL_ARGS = {"deno": ["eval"], "node": ["-e"], "bun": ["-e"], "quickjs": ["-e"]}
EXECUTABLES = {"deno": "deno", "node": "node", "bun": "bun", "quickjs": "qjs"}
PROBE_SCRIPT = "console.log(JSON.stringify({sum: [1, 2, 3].reduce((a, b) => a + b)}))"
PROBE_OUTPUT = '{"sum":6}'
# Cookies a browser logged in to YouTube holds (yt-dlp authenticates with the SAPISID ones).
LOGIN_COOKIES = ("LOGIN_INFO", "SAPISID", "__Secure-3PAPISID")


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    hint: str = ""
    required: bool = True  # a failed optional check warns but does not fail the doctor


def ytdlp_header(runtimes: dict[str, dict[str, str]], ffmpeg: str | None = None) -> dict[str, str]:
    """The ``[debug] KEY: VALUE`` lines yt-dlp prints with ``-v`` ("JS runtimes", "Optional
    libraries", "exe versions", ...), for the ``js_runtimes`` and ffmpeg a fetch would pass."""
    import yt_dlp

    lines: list[str] = []

    class Collect:
        def debug(self, message: str) -> None:
            lines.append(message)

        info = warning = error = debug

    params = {"verbose": True, "logger": Collect(), "js_runtimes": runtimes}
    if ffmpeg:
        params["ffmpeg_location"] = ffmpeg
    with yt_dlp.YoutubeDL(params):
        pass
    header: dict[str, str] = {}
    for line in lines:
        key, sep, value = line.removeprefix("[debug] ").partition(": ")
        if sep:
            header.setdefault(key, value)
    return header


def check_js_runtime(runtimes: dict[str, dict[str, str]], header: dict[str, str]) -> Check:
    found = header.get("JS runtimes", "none")
    hint = (
        "install the deno package into this environment (`pip install deno`, part of "
        "quilt-hf[video]) or pass --js-runtime node:/path/to/node (node >= 22)"
    )
    usable = [
        name
        for name in found.split(", ")
        if not name.startswith("none") and not name.endswith(("(unsupported)", "(unknown)"))
    ]
    if not usable:
        return Check("JS runtime", False, f"yt-dlp sees: {found}", hint)
    name = next(n for n in runtimes if any(u.startswith(n) for u in usable))
    path = runtimes[name].get("path") or EXECUTABLES[name]
    ran, detail = _run_probe(name, path)
    return Check("JS runtime", ran, f"{', '.join(usable)} at {path}: {detail}", "" if ran else hint)


def _run_probe(name: str, path: str) -> tuple[bool, str]:
    """Make the runtime evaluate a small script: a binary that exists but cannot run fails here."""
    start = time.perf_counter()
    try:
        done = subprocess.run(
            [path, *EVAL_ARGS[name], PROBE_SCRIPT],
            capture_output=True,
            text=True,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return False, f"cannot run: {error}"
    if done.returncode != 0 or done.stdout.strip() != PROBE_OUTPUT:
        return False, f"script failed (exit {done.returncode}): {done.stderr.strip()[:200]}"
    return True, f"ran a script in {time.perf_counter() - start:.2f} s"


def check_ejs() -> Check:
    hint = "install yt-dlp-ejs (`pip install 'yt-dlp[default]'`, part of quilt-hf[video])"
    from yt_dlp.dependencies import yt_dlp_ejs

    if yt_dlp_ejs is None:
        return Check("EJS scripts", False, "yt_dlp_ejs is not installed", hint)
    installed = yt_dlp_ejs.version
    try:  # the script version this yt-dlp accepts (major.minor must match)
        from yt_dlp.extractor.youtube.jsc._builtin.vendor import VERSION as wanted
    except ImportError:
        return Check("EJS scripts", True, f"yt_dlp_ejs {installed}")
    if installed.split(".")[:2] != wanted.split(".")[:2]:
        return Check(
            "EJS scripts",
            False,
            f"yt_dlp_ejs {installed}, but this yt-dlp needs {wanted}",
            "upgrade yt-dlp and yt-dlp-ejs together: `pip install -U 'yt-dlp[default]'`",
        )
    return Check("EJS scripts", True, f"yt_dlp_ejs {installed} (yt-dlp wants {wanted})")


def check_ffmpeg(location: str | None = None) -> Check:
    path = location or ffmpeg_location() or "ffmpeg"
    hint = "install ffmpeg (apt-get install ffmpeg) or imageio-ffmpeg, or pass --ffmpeg PATH"
    try:
        done = subprocess.run([path, "-version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as error:
        return Check("ffmpeg", False, f"{path}: {error}", hint)
    first = done.stdout.splitlines()[0] if done.stdout else ""
    if done.returncode != 0 or not first.startswith("ffmpeg version"):
        return Check("ffmpeg", False, f"{path} -version failed (exit {done.returncode})", hint)
    return Check("ffmpeg", True, f"{' '.join(first.split()[:3])} at {path}")


def check_cookies(path: Path | None, now: float | None = None) -> Check:
    """A Netscape cookies.txt as yt-dlp reads it; counts cookies, never shows a value."""
    hint = (
        "export cookies.txt from a browser logged in to YouTube (a private window you then close) "
        "and pass --cookies FILE: YouTube's bot check asks for it"
    )
    if path is None:
        return Check("cookies", False, "none given (--cookies FILE)", hint, required=False)
    from yt_dlp.cookies import YoutubeDLCookieJar

    jar = YoutubeDLCookieJar(str(path))
    try:
        jar.load()
    except (OSError, http.cookiejar.LoadError) as error:
        return Check("cookies", False, f"{path}: {error}", hint)
    now = time.time() if now is None else now
    youtube = [c for c in jar if c.domain.lstrip(".").endswith("youtube.com")]
    live = [c for c in youtube if c.expires is None or c.expires > now]
    login = sorted({c.name for c in live if c.name in LOGIN_COOKIES})
    detail = f"{path}: {len(youtube)} youtube.com cookies, {len(youtube) - len(live)} expired"
    if not login:
        return Check("cookies", False, f"{detail}; no live login cookie", hint)
    return Check("cookies", True, f"{detail}; login cookies {', '.join(login)}")


def run_checks(
    cookies: Path | None = None,
    ffmpeg: str | None = None,
    runtimes: dict[str, dict[str, str]] | None = None,
) -> tuple[list[Check], dict[str, str]]:
    """Every check, and yt-dlp's own verbose header for the runtimes a fetch would pass."""
    from yt_dlp.version import __version__ as ytdlp_version

    runtimes = runtimes if runtimes is not None else js_runtimes()
    header = ytdlp_header(runtimes, ffmpeg or ffmpeg_location())
    checks = [
        Check("yt-dlp", True, ytdlp_version),
        check_js_runtime(runtimes, header),
        check_ejs(),
        check_ffmpeg(ffmpeg),
        check_cookies(cookies),
    ]
    return checks, header


def as_json(checks: list[Check], header: dict[str, str]) -> dict[str, Any]:
    keys = ("Optional libraries", "JS runtimes", "exe versions")
    return {
        "ok": all(c.ok for c in checks if c.required),
        "checks": [asdict(c) for c in checks],
        "yt_dlp": {key: header.get(key) for key in keys},
    }
