"""Narrated lecture videos whose truth is known, for the YouTube pipeline's tests and benchmarks.

A video is a sequence of slides (title, chart, "speaker", and histology crops of the two real
slides at several zooms, see ``histology.py``) joined by cuts or cross-fades. Histology slides may
hold still, carry a moving mouse cursor, or pan / zoom between two still holds, as a lecturer does.
Each slide has its own narration: WebVTT captions with word timings (YouTube's rolling auto-caption
style with inline ``<00:00:01.000><c>`` timings, or plain sentence cues) and, where ``espeak-ng``
is installed, spoken audio muxed into the mp4 as AAC. ``truth.json`` records the slide intervals,
which slides are histology, their magnification, motion, and narration with word timings.

Everything is parametric (``VideoSpec``: seed, slides, transitions, cursor paths, lengths, size,
frame rate) so tests and the quality benchmark can draw videos the pipeline has never seen.
"""

from __future__ import annotations

import html
import json
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

KINDS_NON_HISTOLOGY = ("title", "chart", "speaker")
MOTIONS = ("still", "cursor", "pan", "zoom")
TRANSITIONS = ("cut", "fade")
HOLD = 4.0  # seconds a pan/zoom slide stays still before and after moving (> the 3 s window)

TOPICS = [
    ("colon", "colonic adenocarcinoma", "gastrointestinal"),
    ("skin", "basal cell carcinoma", "dermatopathology"),
    ("breast", "invasive ductal carcinoma", "breast"),
    ("lymph node", "follicular lymphoma", "hematopathology"),
    ("kidney", "clear cell renal cell carcinoma", "genitourinary"),
    ("lung", "adenocarcinoma in situ", "pulmonary"),
    ("liver", "hepatocellular carcinoma", "gastrointestinal"),
]
FEATURES = [
    "crowded hyperchromatic nuclei",
    "prominent nucleoli",
    "glandular architecture",
    "mitotic figures",
    "a desmoplastic stroma",
    "lymphocytic infiltrate",
    "nuclear pleomorphism",
    "goblet cells",
    "necrotic debris",
    "fibrovascular cores",
]
MAG_WORDS = {0: "low power", 1: "medium power", 2: "high power"}


@dataclass
class SlideSpec:
    kind: str  # "histology" or one of KINDS_NON_HISTOLOGY
    duration: float
    transition: str = "cut"  # how this slide enters
    motion: str = "still"  # histology only: still | cursor | pan | zoom
    magnification: int = -1  # histology only
    stain: str = ""  # histology only: "H&E" | "IHC"
    narration: str = ""


@dataclass
class VideoSpec:
    video_id: str
    seed: int
    slides: list[SlideSpec]
    width: int = 640
    height: int = 360
    fps: int = 25
    fade: float = 1.0  # cross-fade length, seconds
    caption_style: str = "rolling"  # "rolling" | "plain"
    audio: bool = True  # speak narration when espeak-ng is installed
    topic: int = 0


@dataclass
class TimedWord:
    start: float
    end: float
    text: str


@dataclass
class SlideTruth:
    index: int
    kind: str
    histology: bool
    start: float
    end: float
    transition: str
    motion: str
    magnification: int
    stain: str
    narration: str
    words: list[TimedWord] = field(default_factory=list)


def random_spec(
    rng: np.random.Generator,
    video_id: str,
    *,
    n_slides: int | None = None,
    seconds_per_slide: tuple[float, float] = (5.0, 11.0),
    motions: tuple[str, ...] = MOTIONS,
    transitions: tuple[str, ...] = TRANSITIONS,
    histology_share: float = 0.6,
    **video: object,
) -> VideoSpec:
    """A random lecture: a title slide, then histology mixed with charts and speaker shots."""
    n_slides = n_slides or int(rng.integers(5, 9))
    topic = int(rng.integers(0, len(TOPICS)))
    slides = [SlideSpec("title", float(rng.uniform(*seconds_per_slide)))]
    for _ in range(n_slides - 1):
        if rng.random() < histology_share:
            motion = str(rng.choice(motions))
            stain = "IHC" if rng.random() < 0.25 else "H&E"
            magnification = int(rng.integers(1, 3) if stain == "IHC" else rng.integers(0, 3))
            if motion == "pan":  # a low-power crop wide enough to pan over exceeds the real slide
                magnification = max(magnification, 1)
            low = 2 * HOLD + 2.5 if motion in ("pan", "zoom") else seconds_per_slide[0]
            duration = float(
                rng.uniform(max(low, seconds_per_slide[0]), max(low + 2, seconds_per_slide[1]))
            )
            slides.append(
                SlideSpec(
                    "histology", duration, motion=motion, magnification=magnification, stain=stain
                )
            )
        else:
            kind = str(rng.choice(["chart", "speaker"]))
            slides.append(SlideSpec(kind, float(rng.uniform(*seconds_per_slide))))
    for slide in slides[1:]:
        slide.transition = str(rng.choice(transitions))
    spec = VideoSpec(video_id, int(rng.integers(0, 2**31)), slides, topic=topic, **video)  # type: ignore[arg-type]
    for slide in slides:
        slide.narration = narration_for(slide, spec, rng)
    return spec


def _sentences(slide: SlideSpec, organ: str, diagnosis: str, rng: np.random.Generator) -> list[str]:
    feature = lambda: str(rng.choice(FEATURES))  # noqa: E731
    if slide.kind == "title":
        return [
            f"Welcome to this lecture on the pathology of the {organ}.",
            f"Today we will review {diagnosis} and its mimics.",
            "Please pause the video whenever you want to study an image.",
        ]
    if slide.kind == "chart":
        return [
            f"This chart shows how often {diagnosis} is diagnosed at each age.",
            "The incidence rises steadily after the fifth decade.",
            "Screening programs have changed these numbers considerably.",
        ]
    if slide.kind == "speaker":
        return [
            "Let me say a few words about how we approach these cases in practice.",
            "Always correlate the slide with the clinical history.",
            "When in doubt, ask a colleague for a second opinion.",
        ]
    stain = "hematoxylin and eosin" if slide.stain == "H&E" else "an immunohistochemical"
    return [
        f"Here is a {MAG_WORDS[slide.magnification]} view of the {organ}.",
        f"The section is stained with {stain} stain.",
        f"Notice the {feature()} and the {feature()} in this field.",
        f"These findings are typical of {diagnosis}.",
        f"Compare the {feature()} with the surrounding normal tissue.",
    ]


def narration_for(slide: SlideSpec, spec: VideoSpec, rng: np.random.Generator) -> str:
    """About 2.3 spoken words per second of the slide's speaking time, in whole sentences."""
    organ, diagnosis, _ = TOPICS[spec.topic]
    budget = max(4, int(2.3 * (slide.duration - 1.4)))
    words: list[str] = []
    for sentence in _sentences(slide, organ, diagnosis, rng):
        if words and len(words) + len(sentence.split()) > budget:
            break
        words.extend(sentence.split())
    return " ".join(words)  # the first sentence is kept whole even when it runs over


# --------------------------------------------------------------------------- slide pictures


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()


def title_picture(size: tuple[int, int], title: str, rng: np.random.Generator) -> Image.Image:
    colour = tuple(int(c) for c in rng.integers(20, 90, size=3))
    image = Image.new("RGB", size, colour)
    draw = ImageDraw.Draw(image)
    w, h = size
    draw.text((w // 12, h // 3), title, fill=(255, 255, 255), font=_font(max(12, h // 12)))
    draw.text(
        (w // 12, h // 2),
        "Department of Pathology",
        fill=(200, 200, 200),
        font=_font(max(10, h // 18)),
    )
    draw.rectangle([0, h - h // 10, w, h], fill=(240, 240, 240))
    return image


def chart_picture(size: tuple[int, int], rng: np.random.Generator) -> Image.Image:
    image = Image.new("RGB", size, (255, 255, 255))
    draw = ImageDraw.Draw(image)
    w, h = size
    draw.text((w // 20, h // 20), "Incidence by age", fill=(0, 0, 0), font=_font(max(10, h // 16)))
    bars = rng.uniform(0.15, 0.8, size=int(rng.integers(5, 9)))
    x0, base = w // 8, h - h // 8
    width = (w - 2 * x0) // len(bars)
    for i, value in enumerate(sorted(bars)):
        colour = tuple(int(c) for c in rng.integers(30, 200, size=3))
        draw.rectangle(
            [x0 + i * width + 4, base - int(value * h * 0.7), x0 + (i + 1) * width - 4, base],
            fill=colour,
        )
    draw.line([x0, base, w - x0, base], fill=(0, 0, 0), width=2)
    draw.line([x0, base, x0, h // 6], fill=(0, 0, 0), width=2)
    return image


def speaker_picture(size: tuple[int, int], rng: np.random.Generator) -> Image.Image:
    """A person-like shot: wall gradient, a head and shoulders, a desk."""
    w, h = size
    wall = np.linspace(rng.uniform(120, 200), rng.uniform(60, 120), w)[None, :, None]
    tint = rng.uniform(0.8, 1.1, size=3)[None, None, :]
    image = Image.fromarray(
        np.clip(np.broadcast_to(wall * tint, (h, w, 3)), 0, 255).astype(np.uint8)
    )
    draw = ImageDraw.Draw(image)
    cx = int(w * rng.uniform(0.35, 0.65))
    skin = tuple(int(c) for c in rng.integers([150, 100, 80], [240, 190, 160]))
    shirt = tuple(int(c) for c in rng.integers(0, 255, size=3))
    draw.ellipse([cx - h // 5, int(h * 0.55), cx + h // 5, int(h * 1.3)], fill=shirt)
    draw.ellipse([cx - h // 9, int(h * 0.2), cx + h // 9, int(h * 0.55)], fill=skin)
    draw.rectangle([0, int(h * 0.85), w, h], fill=(90, 60, 40))
    return image


def histology_source(
    slide: SlideSpec, rng: np.random.Generator, size: tuple[int, int]
) -> Image.Image:
    """A real-slide crop at the slide's magnification, big enough for its motion."""
    from quilt_hf.synthetic.histology import make_tile

    w, h = size
    margin = 1.45 if slide.motion == "pan" else 1.0
    side = int(max(w, h) * margin)
    tile = make_tile(rng, stain=slide.stain, magnification=slide.magnification, side=side)
    return tile.image


def _cover(
    image: Image.Image, size: tuple[int, int], box: tuple[float, float, float, float]
) -> Image.Image:
    """Crop ``box`` (left, top, width, height in source pixels) and resize to ``size``."""
    left, top, width, height = box
    return image.resize(
        size, Image.Resampling.BILINEAR, box=(left, top, left + width, top + height)
    )


class SlideRenderer:
    """Frames of one slide at times relative to the slide start."""

    def __init__(self, slide: SlideSpec, spec: VideoSpec, rng: np.random.Generator) -> None:
        self.slide = slide
        self.size = (spec.width, spec.height)
        w, h = self.size
        organ, diagnosis, _ = TOPICS[spec.topic]
        self.cursor_path: np.ndarray | None = None
        if slide.kind == "title":
            self.still = np.asarray(title_picture(self.size, f"Pathology of the {organ}", rng))
        elif slide.kind == "chart":
            self.still = np.asarray(chart_picture(self.size, rng))
        elif slide.kind == "speaker":
            self.still = np.asarray(speaker_picture(self.size, rng))
        else:
            self.source = histology_source(slide, rng, self.size)
            self.still = np.asarray(self._view(0.0))
            if slide.motion == "cursor":
                waypoints = rng.uniform(
                    [0.1 * w, 0.1 * h], [0.9 * w, 0.9 * h], size=(int(rng.integers(3, 7)), 2)
                )
                self.cursor_path = waypoints
        self._cache: dict[int, np.ndarray] = {}

    def _progress(self, t: float) -> float:
        """0 before the motion, 1 after it, smooth in between (pan/zoom slides)."""
        moving = self.slide.duration - 2 * HOLD
        return float(np.clip((t - HOLD) / max(moving, 1e-3), 0.0, 1.0))

    def _view(self, progress: float) -> Image.Image:
        w, h = self.size
        sw, sh = self.source.size
        if self.slide.motion == "pan":
            scale = sw / (w * 1.45)  # source pixels per output pixel
            vw, vh = w * scale, h * scale
            x = progress * (sw - vw)
            y = (sh - vh) * (0.3 + 0.4 * progress)
            return _cover(self.source, self.size, (x, y, vw, vh))
        scale = sw / w
        vw, vh = w * scale, h * scale
        if self.slide.motion == "zoom":
            zoom = 1.0 + 0.5 * progress
            vw, vh = vw / zoom, vh / zoom
        return _cover(self.source, self.size, ((sw - vw) / 2, (sh - vh) / 2, vw, vh))

    def frame(self, t: float) -> np.ndarray:
        if self.slide.kind != "histology" or self.slide.motion in ("still", "cursor"):
            picture = self.still
        else:
            progress = self._progress(t)
            if progress in (0.0, 1.0):
                key = int(progress)
                if key not in self._cache:
                    self._cache[key] = np.asarray(self._view(progress))
                picture = self._cache[key]
            else:
                picture = np.asarray(self._view(progress))
        if self.cursor_path is not None:
            picture = draw_cursor(picture, self._cursor_at(t))
        return picture

    def _cursor_at(self, t: float) -> tuple[float, float]:
        path = self.cursor_path
        assert path is not None
        u = (t / max(self.slide.duration, 1e-3)) * (len(path) - 1)
        i = min(int(u), len(path) - 2)
        a, b = path[i], path[i + 1]
        x, y = a + (b - a) * (u - i)
        return float(x), float(y)


def draw_cursor(picture: np.ndarray, at: tuple[float, float]) -> np.ndarray:
    """A white arrow pointer with a black outline, ~3% of the frame height."""
    image = Image.fromarray(picture)
    draw = ImageDraw.Draw(image)
    x, y = at
    s = max(8, picture.shape[0] // 30)
    arrow = [
        (x, y),
        (x, y + 1.6 * s),
        (x + 0.45 * s, y + 1.15 * s),
        (x + 0.8 * s, y + 1.8 * s),
        (x + 1.05 * s, y + 1.65 * s),
        (x + 0.7 * s, y + 1.0 * s),
        (x + 1.2 * s, y + 1.0 * s),
    ]
    draw.polygon(arrow, fill=(255, 255, 255), outline=(0, 0, 0))
    return np.asarray(image)


# --------------------------------------------------------------------------- timing and speech


def slide_intervals(spec: VideoSpec) -> list[tuple[float, float]]:
    intervals, t = [], 0.0
    for slide in spec.slides:
        intervals.append((round(t, 3), round(t + slide.duration, 3)))
        t += slide.duration
    return intervals


def speak(text: str, seconds: float, out_wav: Path) -> np.ndarray | None:
    """Speak ``text`` with espeak-ng to fit ``seconds``; mono float32 at 22050 Hz, or None."""
    espeak = shutil.which("espeak-ng")
    if not espeak:
        return None
    import soundfile

    words = len(text.split())
    wpm = int(np.clip(words / max(seconds, 0.5) * 60 * 1.05, 80, 400))
    for _ in range(3):
        subprocess.run(
            [espeak, "-v", "en-us", "-s", str(wpm), "-w", str(out_wav), text],
            check=True,
            capture_output=True,
        )
        audio, rate = soundfile.read(out_wav, dtype="float32")
        if audio.ndim > 1:
            audio = audio.mean(axis=1)
        if len(audio) / rate <= seconds or wpm >= 400:
            break
        wpm = int(min(400, wpm * len(audio) / rate / seconds * 1.05))
    if rate != 22050:
        import librosa

        audio = librosa.resample(audio, orig_sr=rate, target_sr=22050)
    return audio[: int(seconds * 22050)]


def word_timings(text: str, start: float, end: float) -> list[TimedWord]:
    """Spread words over [start, end] in proportion to their length (speech is roughly so)."""
    words = text.split()
    weights = np.array([len(w) + 1.5 for w in words], dtype=float)
    edges = start + (end - start) * np.concatenate([[0.0], np.cumsum(weights) / weights.sum()])
    return [
        TimedWord(round(float(a), 3), round(float(b) - 0.02, 3), w)
        for w, a, b in zip(words, edges[:-1], edges[1:], strict=True)
    ]


# --------------------------------------------------------------------------- captions


def _ts(seconds: float) -> str:
    ms = int(round(seconds * 1000))
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


def plain_vtt(words: list[TimedWord], per_cue: int = 8) -> str:
    """Sentence-ish cues of up to ``per_cue`` words, as a human captioner writes them."""
    lines = ["WEBVTT", ""]
    for i in range(0, len(words), per_cue):
        cue = words[i : i + per_cue]
        lines += [f"{_ts(cue[0].start)} --> {_ts(cue[-1].end)}", " ".join(w.text for w in cue), ""]
    return "\n".join(lines)


def rolling_vtt(words: list[TimedWord], per_line: int = 6) -> str:
    """YouTube's automatic-caption layout: each cue repeats the previous line, the new line carries
    inline ``<time><c>`` word timings, and a 10 ms cue shows the finished line alone."""
    lines = ["WEBVTT", "Kind: captions", "Language: en", ""]
    previous = ""
    groups = [words[i : i + per_line] for i in range(0, len(words), per_line)]
    for n, group in enumerate(groups):
        end = groups[n + 1][0].start if n + 1 < len(groups) else group[-1].end
        timed = group[0].text + "".join(f"<{_ts(w.start)}><c> {w.text}</c>" for w in group[1:])
        lines += [
            f"{_ts(group[0].start)} --> {_ts(end)} align:start position:0%",
            previous if previous else " ",
            timed,
            "",
        ]
        previous = " ".join(w.text for w in group)
        lines += [f"{_ts(end)} --> {_ts(end + 0.01)} align:start position:0%", previous, " ", ""]
    return "\n".join(lines)


# --------------------------------------------------------------------------- rendering


def render_video(spec: VideoSpec, out_dir: Path, *, frames_dir: Path | None = None) -> dict:
    """Write ``{id}.mp4``, ``{id}.vtt`` (and ``{id}.plain.vtt``/``{id}.rolling.vtt``),
    ``{id}.truth.json`` into ``out_dir``; optionally labelled slide frames into ``frames_dir``.
    Returns the truth dict."""
    import av

    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(spec.seed)
    intervals = slide_intervals(spec)
    total = intervals[-1][1]
    renderers = [SlideRenderer(slide, spec, rng) for slide in spec.slides]

    truths: list[SlideTruth] = []
    audio_parts: list[tuple[float, np.ndarray]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, (slide, (start, end)) in enumerate(zip(spec.slides, intervals, strict=True)):
            # speech stays clear of the cross-fades on both sides
            s0 = start + (spec.fade / 2 if slide.transition == "fade" else 0) + 0.5
            s1 = end - 0.6
            next_fade = i + 1 < len(spec.slides) and spec.slides[i + 1].transition == "fade"
            s1 -= spec.fade / 2 if next_fade else 0
            audio = speak(slide.narration, s1 - s0, Path(tmp) / f"{i}.wav") if spec.audio else None
            if audio is not None:
                audio_parts.append((s0, audio))
                s1 = min(s1, s0 + len(audio) / 22050)
            truths.append(
                SlideTruth(
                    i,
                    slide.kind,
                    slide.kind == "histology",
                    start,
                    end,
                    slide.transition,
                    slide.motion,
                    slide.magnification,
                    slide.stain,
                    slide.narration,
                    word_timings(slide.narration, s0, s1),
                )
            )

    path = out_dir / f"{spec.video_id}.mp4"
    container = av.open(str(path), "w")
    vstream = container.add_stream("libx264", rate=spec.fps)
    vstream.width, vstream.height, vstream.pix_fmt = spec.width, spec.height, "yuv420p"
    vstream.options = {"preset": "veryfast", "crf": "23", "g": str(spec.fps * 4)}
    astream = container.add_stream("aac", rate=22050, layout="mono") if audio_parts else None
    n_frames = int(round(total * spec.fps))
    for k in range(n_frames):
        t = k / spec.fps
        i = int(np.searchsorted([b for _, b in intervals], t, side="right"))
        i = min(i, len(intervals) - 1)
        picture = renderers[i].frame(t - intervals[i][0])
        # cross-fade centred on the boundary with the previous or the next slide
        if spec.slides[i].transition == "fade" and i > 0 and t - intervals[i][0] < spec.fade / 2:
            alpha = 0.5 + (t - intervals[i][0]) / spec.fade
            other = renderers[i - 1].frame(t - intervals[i - 1][0])
            picture = _blend(other, picture, alpha)
        elif (
            i + 1 < len(intervals)
            and spec.slides[i + 1].transition == "fade"
            and intervals[i][1] - t < spec.fade / 2
        ):
            alpha = 0.5 - (intervals[i][1] - t) / spec.fade
            other = renderers[i + 1].frame(t - intervals[i + 1][0])
            picture = _blend(picture, other, alpha)
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(picture), format="rgb24")
        for packet in vstream.encode(frame):
            container.mux(packet)
    for packet in vstream.encode():
        container.mux(packet)
    if astream is not None:
        _encode_audio(container, astream, audio_parts, total)
    container.close()

    words = [w for truth in truths for w in truth.words]
    plain, rolling = plain_vtt(words), rolling_vtt(words)
    (out_dir / f"{spec.video_id}.plain.vtt").write_text(plain)
    (out_dir / f"{spec.video_id}.rolling.vtt").write_text(rolling)
    (out_dir / f"{spec.video_id}.vtt").write_text(
        rolling if spec.caption_style == "rolling" else plain
    )

    if frames_dir is not None:
        for truth, renderer in zip(truths, renderers, strict=True):
            label = "histology" if truth.histology else "not_histology"
            (frames_dir / label).mkdir(parents=True, exist_ok=True)
            for k, share in enumerate((0.2, 0.5, 0.8)):  # still, cursor and mid-motion views
                picture = renderer.frame(share * (truth.end - truth.start))
                name = f"{spec.video_id}_{truth.index:02d}_{k}.jpg"
                Image.fromarray(picture).save(frames_dir / label / name, quality=90)

    truth = {
        "video_id": spec.video_id,
        "duration": total,
        "fps": spec.fps,
        "width": spec.width,
        "height": spec.height,
        "has_audio": astream is not None,
        "caption_style": spec.caption_style,
        "spec": asdict(spec),
        "slides": [asdict(t) for t in truths],
    }
    (out_dir / f"{spec.video_id}.truth.json").write_text(json.dumps(truth, indent=1))
    return truth


def _blend(a: np.ndarray, b: np.ndarray, alpha: float) -> np.ndarray:
    alpha = float(np.clip(alpha, 0.0, 1.0))
    return (a.astype(np.float32) * (1 - alpha) + b.astype(np.float32) * alpha + 0.5).astype(
        np.uint8
    )


def _encode_audio(container, stream, parts: list[tuple[float, np.ndarray]], total: float) -> None:
    import av

    track = np.zeros(int(total * 22050) + 1, dtype=np.float32)
    for start, audio in parts:
        i = int(start * 22050)
        track[i : i + len(audio)] = audio[: len(track) - i]
    for i in range(0, len(track), 1024):
        chunk = track[i : i + 1024][None, :]
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(chunk), format="fltp", layout="mono"
        )
        frame.sample_rate = 22050
        frame.pts = i
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)


def video_page(video_id: str, title: str) -> str:
    """An HTML page that yt-dlp's generic extractor reads: one <video> with a captions <track>."""
    vid = html.escape(video_id)
    return (
        "<!doctype html>\n<html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title></head><body>\n<h1>{html.escape(title)}</h1>\n"
        f'<video controls src="{vid}.mp4">\n'
        f'  <source src="{vid}.mp4" type="video/mp4">\n'
        f'  <track kind="captions" srclang="en" label="English" src="{vid}.vtt" default>\n'
        "</video>\n</body></html>\n"
    )


SAMPLE_VIDEOS = 4


def write_sample_videos(out_dir: Path, rng: np.random.Generator, base_url: str) -> dict:
    """Write the sample lectures under ``out_dir/web/videos`` and labelled frames under
    ``out_dir/frames``; return the ``sources:`` entry for build.yaml."""
    videos_dir = out_dir / "web" / "videos"
    frames_dir = out_dir / "frames"
    styles = ["rolling", "plain"]
    pages = []
    for n in range(SAMPLE_VIDEOS):
        video_id = f"lecture{n:02d}"
        spec = random_spec(
            rng, video_id, n_slides=int(rng.integers(6, 9)), caption_style=styles[n % 2]
        )
        truth = render_video(spec, videos_dir, frames_dir=frames_dir)
        organ = TOPICS[spec.topic][0]
        (videos_dir / f"{video_id}.html").write_text(
            video_page(video_id, f"Pathology of the {organ} ({truth['duration']:.0f} s)")
        )
        pages.append(f"{base_url.rstrip('/')}/videos/{video_id}.html")
    (videos_dir / "index.json").write_text(json.dumps({"pages": pages}, indent=1))
    return {
        "quilt": {
            "videos": ["web/videos/*.mp4"],
            "captions": "vtt",
            "asr": "captions",
            "pages": pages,
        }
    }


def score_pairs(pairs: list[dict], truth: dict) -> dict:
    """Score a video's ``pairs.jsonl`` rows against its ``truth.json``.

    A pair is correct when its image (the middle of its window) lies in a histology slide and most
    of the narration words inside its text window (truth word timings) belong to that slide.
    """
    slides = truth["slides"]

    def slide_at(t: float) -> dict:
        for slide in slides:
            if slide["start"] <= t < slide["end"]:
                return slide
        return slides[-1]

    words = [(w, s["index"]) for s in slides for w in s["words"]]
    correct_slides: set[int] = set()
    correct = non_histology = 0
    magnification_hits = magnification_total = 0
    for pair in pairs:
        end_time = pair.get("image_end_time", pair["image_time"])
        slide = slide_at((pair["image_time"] + end_time) / 2)
        inside = [
            index
            for w, index in words
            if pair["start_time"] <= (w["start"] + w["end"]) / 2 < pair["end_time"]
        ]
        own = sum(1 for index in inside if index == slide["index"])
        # a zoom's truth magnification is that of its first view only
        zoomed = slide["motion"] == "zoom" and pair["image_time"] > slide["start"] + HOLD
        if not slide["histology"]:
            non_histology += 1
        elif inside and own / len(inside) >= 0.5:
            correct += 1
            correct_slides.add(slide["index"])
            if slide["stain"] == "H&E" and not zoomed:
                magnification_total += 1
                magnification_hits += int(pair.get("magnification") == slide["magnification"])
    histology_slides = [s["index"] for s in slides if s["histology"]]
    return {
        "pairs": len(pairs),
        "correct": correct,
        "non_histology_pairs": non_histology,
        "histology_slides": len(histology_slides),
        "slides_with_correct_pair": len(correct_slides),
        "magnification_hits": magnification_hits,
        "magnification_total": magnification_total,
    }
