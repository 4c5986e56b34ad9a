"""Non-histology images drawn with PIL: what a histology filter must learn to reject.

Kinds: bar/line ``chart``, ``kaplan_meier`` survival curves (the typical non-histology figure of a
pathology paper), ``people`` (skin-toned heads and clothed bodies on a room background, like a
conference photo or a lecturer's camera), ``text_slide`` (title and bullets on a plain background)
and ``scene`` (sky, hills, sun, trees). Everything is generated from ``rng``, so it is reproducible.

Kept apart from ``quilt_hf.synthetic.labelled_images`` on purpose: the stain classifier is fitted
on that module's drawings, and the sample corpus (``benchmarks/histology_accuracy.py``, the sample
build's ``not_histology`` counts) judges it on these, drawn by other code with other shapes and
palettes. One shared renderer would score the classifier on the distribution it was fitted to.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

KINDS = ("chart", "people", "text_slide", "scene")  # the general mix
ALL_KINDS = (*KINDS, "kaplan_meier")
SKIN_TONES = ((255, 224, 189), (234, 192, 134), (198, 134, 66), (141, 85, 36), (92, 58, 30))
WORDS = [
    "results",
    "methods",
    "cohort",
    "survival",
    "analysis",
    "patients",
    "outcome",
    "review",
    "clinical",
    "study",
    "workflow",
    "introduction",
    "conclusion",
    "references",
    "questions",
    "overview",
    "staging",
    "grading",
    "diagnosis",
    "treatment",
]


@dataclass(frozen=True)
class NonHistologyImage:
    image: Image.Image  # RGB
    kind: str  # one of ALL_KINDS


def _colour(rng: np.random.Generator, low: int = 0, high: int = 256) -> tuple[int, int, int]:
    r, g, b = (int(v) for v in rng.integers(low, high, size=3))
    return r, g, b


def font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def _words(rng: np.random.Generator, count: int) -> str:
    return " ".join(str(w) for w in rng.choice(WORDS, size=count)).capitalize()


def chart(rng: np.random.Generator, size: tuple[int, int] = (480, 360)) -> Image.Image:
    """A bar or line chart with axes, ticks and a title."""
    width, height = size
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    left, top, right, bottom = 50, 40, width - 20, height - 40
    draw.text((left, 10), _words(rng, 3), fill="black", font=font(18))
    draw.line([(left, top), (left, bottom), (right, bottom)], fill="black", width=2)
    for k in range(5):  # y ticks with labels
        y = bottom - k * (bottom - top) // 4
        draw.line([(left - 5, y), (left, y)], fill="black")
        draw.text((10, y - 7), f"{k * 25}", fill="black", font=font(12))
    count = int(rng.integers(4, 9))
    values = rng.uniform(0.1, 1.0, size=count)
    step = (right - left) / count
    if rng.random() < 0.5:
        colour = _colour(rng, 30, 200)
        for k, value in enumerate(values):
            x0 = left + k * step + step * 0.15
            draw.rectangle(
                [x0, bottom - value * (bottom - top), x0 + step * 0.7, bottom - 1], fill=colour
            )
    else:
        for _ in range(int(rng.integers(1, 4))):
            values = np.clip(values + rng.normal(0, 0.15, size=count), 0.05, 1.0)
            points = [
                (left + (k + 0.5) * step, bottom - v * (bottom - top)) for k, v in enumerate(values)
            ]
            draw.line(points, fill=_colour(rng, 0, 200), width=3)
    return image


def kaplan_meier(rng: np.random.Generator, size: tuple[int, int] = (480, 360)) -> Image.Image:
    """Survival step curves for two or three groups, with axes and a legend."""
    width, height = size
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    left, top, right, bottom = 50, 30, width - 20, height - 40
    draw.line([(left, top), (left, bottom), (right, bottom)], fill="black", width=2)
    draw.text((left + 5, bottom + 10), "Time (months)", fill="black", font=font(14))
    draw.text((5, top - 20), "Survival probability", fill="black", font=font(14))
    for group in range(int(rng.integers(2, 4))):
        colour = ((200, 30, 30), (30, 30, 200), (30, 150, 30))[group]
        survival, x = 1.0, float(left)
        points = [(x, float(top))]
        while x < right and survival > 0.05:
            x += float(rng.uniform(5, 30))
            points.append((min(x, right), points[-1][1]))
            survival *= float(rng.uniform(0.8, 0.98))
            points.append((min(x, right), bottom - survival * (bottom - top)))
        draw.line(points, fill=colour, width=2)
        draw.text(
            (right - 90, top + 5 + 18 * group), f"Group {group + 1}", fill=colour, font=font(14)
        )
    return image


def people(rng: np.random.Generator, size: tuple[int, int] = (480, 360)) -> Image.Image:
    """A "photo" of one to four people: heads, bodies and hair on a wall-and-floor background."""
    width, height = size
    image = Image.new("RGB", size, _colour(rng, 120, 230))
    draw = ImageDraw.Draw(image)
    draw.rectangle([0, int(height * 0.7), width, height], fill=_colour(rng, 60, 160))
    count = int(rng.integers(1, 5))
    for k in range(count):
        cx = int((k + 0.5) * width / count + rng.integers(-20, 21))
        head = int(rng.integers(28, 45))
        cy = int(height * rng.uniform(0.3, 0.45))
        skin = SKIN_TONES[int(rng.integers(0, len(SKIN_TONES)))]
        body_colour = _colour(rng, 0, 220)
        draw.rounded_rectangle(
            [cx - 2 * head, cy + head, cx + 2 * head, height], radius=head, fill=body_colour
        )
        draw.ellipse(
            [cx - head, cy - int(1.25 * head), cx + head, cy + int(1.25 * head)], fill=skin
        )
        hair = _colour(rng, 0, 90)
        draw.chord(
            [cx - head, cy - int(1.35 * head), cx + head, cy + int(0.6 * head)], 180, 360, fill=hair
        )
        for eye in (-1, 1):  # eyes and mouth make the ellipse read as a face
            ex = cx + eye * head // 2.5
            draw.ellipse([ex - 4, cy - 6, ex + 4, cy + 2], fill=(40, 30, 30))
        draw.arc(
            [cx - head // 2, cy + head // 4, cx + head // 2, cy + head * 3 // 4],
            20,
            160,
            fill=(120, 40, 40),
            width=3,
        )
    noise = rng.normal(0, 6, size=(height, width, 3))
    pixels = np.clip(np.asarray(image, dtype=np.float32) + noise, 0, 255).astype(np.uint8)
    return Image.fromarray(pixels).filter(ImageFilter.GaussianBlur(1))


def text_slide(
    rng: np.random.Generator,
    title: str | None = None,
    lines: list[str] | None = None,
    size: tuple[int, int] = (480, 360),
) -> Image.Image:
    """A lecture title slide: a title and a few bullet lines on a plain (light or dark) background."""
    width, height = size
    dark = rng.random() < 0.3
    background = _colour(rng, 0, 60) if dark else _colour(rng, 215, 256)
    ink = (240, 240, 240) if dark else (20, 20, 40)
    image = Image.new("RGB", size, background)
    draw = ImageDraw.Draw(image)
    title = title if title is not None else _words(rng, int(rng.integers(2, 5)))
    lines = lines if lines is not None else [_words(rng, int(rng.integers(2, 5))) for _ in range(3)]
    scale = height / 360
    draw.text((int(30 * scale), int(30 * scale)), title, fill=ink, font=font(int(32 * scale)))
    draw.line(
        [(int(30 * scale), int(80 * scale)), (width - int(30 * scale), int(80 * scale))],
        fill=ink,
        width=2,
    )
    for k, line in enumerate(lines):
        y = int((110 + 45 * k) * scale)
        draw.text((int(40 * scale), y), f"- {line}", fill=ink, font=font(int(22 * scale)))
    return image


def scene(rng: np.random.Generator, size: tuple[int, int] = (480, 360)) -> Image.Image:
    """A natural-ish landscape: sky gradient, sun, layered hills and a few trees."""
    width, height = size
    top, bottom = np.array(_colour(rng, 60, 160)), np.array((230, 240, 255))
    ramp = np.linspace(0, 1, height)[:, None, None]
    sky = (top * (1 - ramp) + bottom * ramp).astype(np.uint8)
    image = Image.fromarray(np.broadcast_to(sky, (height, width, 3)).copy())
    draw = ImageDraw.Draw(image)
    sx, sy, radius = int(rng.integers(40, width - 40)), int(rng.integers(20, height // 3)), 25
    draw.ellipse([sx - radius, sy - radius, sx + radius, sy + radius], fill=(255, 230, 120))
    for layer in range(3):
        base = height * (0.55 + 0.15 * layer)
        xs = np.linspace(0, width, 12)
        ys = base + rng.normal(0, 25, size=12)
        green = (int(rng.integers(30, 90)), int(rng.integers(100, 180)), int(rng.integers(30, 80)))
        draw.polygon(
            [(0, height), *zip(xs.tolist(), ys.tolist(), strict=True), (width, height)], fill=green
        )
    for _ in range(int(rng.integers(2, 7))):
        tx, ty = int(rng.integers(0, width)), int(rng.integers(int(height * 0.6), height))
        draw.rectangle([tx - 3, ty - 30, tx + 3, ty], fill=(90, 60, 30))
        draw.ellipse(
            [tx - 15, ty - 60, tx + 15, ty - 20], fill=(20, int(rng.integers(90, 140)), 30)
        )
    return image


_DRAWERS = {
    "chart": chart,
    "kaplan_meier": kaplan_meier,
    "people": people,
    "text_slide": text_slide,
    "scene": scene,
}


def non_histology_image(
    rng: np.random.Generator, kind: str, size: tuple[int, int] = (480, 360)
) -> NonHistologyImage:
    if kind not in _DRAWERS:
        raise ValueError(f"unknown kind {kind!r}; choose from {ALL_KINDS}")
    return NonHistologyImage(_DRAWERS[kind](rng, size=size), kind)


def non_histology_images(
    rng: np.random.Generator,
    n: int,
    kind: str | None = None,
    size: tuple[int, int] = (480, 360),
) -> list[NonHistologyImage]:
    """``n`` images of ``kind``, or cycling through ``KINDS`` when ``kind`` is None."""
    kinds = [kind] if kind else list(KINDS)
    return [non_histology_image(rng, kinds[k % len(kinds)], size) for k in range(n)]
