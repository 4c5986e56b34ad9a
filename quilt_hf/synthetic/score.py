"""The strict pair score: right picture, text spoken over it, whole sentences.

A pair (a row of ``pairs.jsonl``) is **correct** only when all three hold:

(a) **image** - at ``image_time`` the timeline shows a histology slide (``histology`` or
    ``mixed``) cleanly: not mid cross-fade (the other slide >= 10% of the frame), not out of
    focus; and the pair's image looks like the video frame at that time (Pearson correlation of
    64x36 grey thumbnails >= ``IMAGE_MATCH``, best over the frames within 1.5 frame periods) and
    is about as sharp as that frame (high-pass energy >= ``SHARPNESS_RATIO`` of the frame's, so
    an out-of-focus frame cannot pass under the time of a sharp one). The timeline says which
    slide was on screen; the pixels say the image really is that moment, not a frame from
    elsewhere. So ``image_time`` must be the time of the frame the image was taken from.
(b) **spoken over it** - at least ``OWN_SHARE`` of the pair's words are narration words spoken
    while that slide was on screen. A sentence that straddles a cut counts for the slide it was
    mostly spoken over (the issue's rule: lecturers finish a sentence after the cut), so each
    truth sentence gets one owner slide by time overlap. Words of the pair that match no truth
    word count against it.
(c) **whole sentences** - every truth sentence the text touches is in it from its first word to
    its last (so the text starts at a sentence start, ends at a sentence end, and skips nothing
    inside).

The pair's text (``caption``, else ``corrected_text``, else ``noisy_text``) is lowercased, split
into words and aligned to the truth words spoken within 1 s of its ``start_time``-``end_time``
window, or within ``SEARCH_SECONDS`` when that explains more of it (``difflib`` opcodes, so a
corrected spelling aligns as a replacement).

Reported apart: **fragment** (fails (c)), **bleed** (more than ``BLEED_SHARE`` of the pair's
words are another slide's narration, by narration ownership), **non-histology** (the slide at
``image_time`` is a title, bullet or chart slide). **Recall** is per showing (one slide from a cut
to the next): a still or moving histology showing is recalled when a correct pair's
``image_time`` falls inside it. Still: histology and mixed slides whose view holds (a cursor or
a webcam box may move over them); moving: views that pan, zoom or drift while shown.

Two truth formats are read: this package's ``lectures.py`` truth, and ``quilt_hf.synthetic.sample.videos``
truth (converted by ``from_sample_truth``: slide intervals, fades centred on boundaries, sentence
ends from the narration's punctuation, pan/zoom slides counted as moving).
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from quilt_hf.synthetic.lectures import FADE_VISIBLE

IMAGE_MATCH = 0.8
# a pair image's high-pass energy over the frame's: the pipeline's images measured >= 0.46 on
# both generators (JPEG, a frame next to a fade's tail); a Gaussian defocus of radius 2 px per
# 360 lines gives <= 0.23, radius 1.5 <= 0.36. So this catches clear defocus, not slight blur.
SHARPNESS_RATIO = 0.35
OWN_SHARE = 0.8
BLEED_SHARE = 0.2
SEARCH_SECONDS = 20.0
HISTOLOGY_KINDS = ("histology", "mixed")
TOKEN = re.compile(r"[a-z][a-z'-]*")


def tokens(text: str) -> list[str]:
    return TOKEN.findall(text.lower())


# ---------------------------------------------------------------- truth


def from_sample_truth(truth: dict) -> dict:
    """``quilt_hf.synthetic.sample.videos`` truth -> this module's truth (showings, timeline, words)."""
    fade = float(truth.get("spec", {}).get("fade", 1.0))
    slides, showings, timeline, words, sentences = {}, [], [], [], []
    raw = truth["slides"]
    for s in raw:
        sid = f"s{s['index']}"
        kind = "histology" if s["histology"] else s["kind"]
        slides[sid] = {"id": sid, "kind": kind, "histology": s["histology"]}
        moving = s["motion"] in ("pan", "zoom")
        showings.append(
            {
                "index": s["index"],
                "slide": sid,
                "kind": kind,
                "motion": s["motion"],
                "category": "non_histology"
                if not s["histology"]
                else ("moving" if moving else "still"),
                "start": s["start"],
                "end": s["end"],
            }
        )
    # fades are centred on the boundary into a slide whose transition is "fade"; as in
    # lectures.py a frame is mid-fade while the other slide is >= FADE_VISIBLE of it, and the
    # slide on screen is the one that dominates (so each fade is two spans, split at the cut)
    visible = (0.5 - FADE_VISIBLE) * fade
    edges = [0.0]
    for i, s in enumerate(raw):
        if i > 0 and s["transition"] == "fade":
            edges += [s["start"] - visible, s["start"], s["start"] + visible]
        elif i > 0:
            edges.append(s["start"])
    edges.append(raw[-1]["end"])
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        if b <= a:
            continue
        middle = (a + b) / 2
        k = next((i for i, s in enumerate(raw) if middle < s["end"]), len(raw) - 1)
        in_fade = any(
            i > 0 and s["transition"] == "fade" and abs(middle - s["start"]) < visible
            for i, s in enumerate(raw)
        )
        timeline.append(
            {
                "start": a,
                "end": b,
                "showing": k,
                "slide": f"s{k}",
                "state": "fade" if in_fade else "clean",
            }
        )
    for s in raw:
        sentence_start = len(words)
        for w in s["words"]:
            for token in tokens(w["text"]):
                words.append(
                    {
                        "text": token,
                        "start": w["start"],
                        "end": w["end"],
                        "slide": f"s{s['index']}",
                        "showing": s["index"],
                        "sentence": len(sentences),
                    }
                )
            ends = w["text"].rstrip("\"')").endswith((".", "?", "!"))
            if (ends or w is s["words"][-1]) and len(words) > sentence_start:
                sentences.append(
                    {
                        "index": len(sentences),
                        "slide": f"s{s['index']}",
                        "showing": s["index"],
                        "start": words[sentence_start]["start"],
                        "end": words[-1]["end"],
                        "first_word": sentence_start,
                        "last_word": len(words) - 1,
                    }
                )
                sentence_start = len(words)
    return {
        "generator": "quilt_hf.synthetic.sample.videos",
        "video_id": truth["video_id"],
        "fps": truth["fps"],
        "duration": truth["duration"],
        "slides": slides,
        "showings": showings,
        "timeline": timeline,
        "sentences": sentences,
        "words": words,
    }


def load_truth(path: Path) -> dict:
    truth = json.loads(Path(path).read_text())
    if truth.get("generator") == "quilt_hf.synthetic.lectures":
        return truth
    return from_sample_truth(truth)


def span_at(truth: dict, t: float) -> dict:
    for span in truth["timeline"]:
        if span["start"] <= t < span["end"]:
            return span
    return truth["timeline"][-1]


def sentence_owners(truth: dict) -> list[str]:
    """For each sentence, the slide on screen for most of its duration."""
    owners = []
    for sentence in truth["sentences"]:
        overlap: dict[str, float] = {}
        for span in truth["timeline"]:
            seconds = min(span["end"], sentence["end"]) - max(span["start"], sentence["start"])
            if seconds > 0:
                overlap[span["slide"]] = overlap.get(span["slide"], 0.0) + seconds
        owners.append(max(overlap, key=overlap.get) if overlap else sentence["slide"])
    return owners


# ---------------------------------------------------------------- images


def thumbnail(picture: Image.Image) -> np.ndarray:
    grey = np.asarray(picture.convert("L").resize((64, 36), Image.Resampling.BOX), np.float32)
    grey = grey - grey.mean()
    return grey / (np.linalg.norm(grey) + 1e-6)


def sharpness(picture: Image.Image) -> float:
    """Mean absolute high-pass (the grey picture minus its 3x3 box blur): falls when blurred."""
    grey = picture.convert("L")
    blurred = grey.filter(ImageFilter.BoxBlur(1))
    return float(np.abs(np.asarray(grey, np.float32) - np.asarray(blurred, np.float32)).mean())


@dataclass
class FrameLook:
    thumb: np.ndarray
    sharpness: float
    size: tuple[int, int]


def frame_looks(video: Path, times: list[float], tolerance: float) -> dict[float, list[FrameLook]]:
    """Thumbnail and sharpness of the decoded frames within ``tolerance`` of each wanted time."""
    import av

    wanted = sorted(set(times))
    found: dict[float, list[FrameLook]] = {t: [] for t in wanted}
    if not wanted:
        return found
    with av.open(str(video)) as container:
        for frame in container.decode(video=0):
            t = float(frame.time)
            near = [w for w in wanted if abs(w - t) <= tolerance]
            if near:
                picture = frame.to_image()
                look = FrameLook(thumbnail(picture), sharpness(picture), picture.size)
                for w in near:
                    found[w].append(look)
            if t > wanted[-1] + tolerance:
                break
    return found


def image_match(image_path: Path, looks: list[FrameLook]) -> tuple[float, float]:
    """(similarity, sharpness ratio) of a pair's image against the best-matching nearby frame:
    thumbnail correlation, and the image's sharpness over that frame's (at the frame's size)."""
    if not image_path.is_file() or not looks:
        return -1.0, 0.0
    with Image.open(image_path) as opened:
        picture = opened.convert("RGB")
    mine = thumbnail(picture)
    best = max(looks, key=lambda look: float(np.dot(mine.ravel(), look.thumb.ravel())))
    similarity = float(np.dot(mine.ravel(), best.thumb.ravel()))
    if picture.size != best.size:
        picture = picture.resize(best.size, Image.Resampling.BILINEAR)
    return similarity, sharpness(picture) / max(best.sharpness, 1e-6)


# ---------------------------------------------------------------- pairs


@dataclass
class PairVerdict:
    image_time: float
    slide: str
    kind: str
    state: str
    image_similarity: float
    image_sharpness_ratio: float
    words: int
    own_share: float
    other_narration_share: float
    whole: bool
    image_ok: bool
    correct: bool
    reasons: list[str] = field(default_factory=list)


def pair_text(pair: dict) -> str:
    return str(pair.get("caption") or pair.get("corrected_text") or pair.get("noisy_text") or "")


def align_words(truth: dict, said: list[str], lo: float, hi: float) -> tuple[list[int], set[int]]:
    """Align ``said`` to the truth words spoken in ``[lo, hi)``: for each pair word the truth
    word it stands for (or -1), and the truth words the text covers. Equal runs align; a
    replacement (a corrected or merged spelling) between two equal runs covers the truth words
    it replaces, one at the text's start or end only as many truth words as it has words."""
    index = [i for i, w in enumerate(truth["words"]) if lo <= w["start"] < hi]
    window = [truth["words"][i]["text"] for i in index]
    ops = difflib.SequenceMatcher(None, window, said, autojunk=False).get_opcodes()
    equal = [k for k, op in enumerate(ops) if op[0] == "equal"]
    stands_for = [-1] * len(said)
    covered: set[int] = set()
    if not equal:
        return stands_for, covered
    for k, (op, i1, i2, j1, j2) in enumerate(ops):
        if op == "replace" and k < equal[0]:  # keep the truth words next to the first match
            i1 = max(i1, i2 - (j2 - j1))
            j1 = max(j1, j2 - (i2 - i1))
        elif op == "replace" and k > equal[-1]:  # ... and next to the last one
            i2 = min(i2, i1 + (j2 - j1))
            j2 = min(j2, j1 + (i2 - i1))
        elif op != "equal" and op != "replace":
            continue
        covered.update(index[i1:i2])
        for d in range(j2 - j1):
            stands_for[j1 + d] = index[min(i1 + d, i2 - 1)]
    return stands_for, covered


def _number(value: object, default: float) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return default
    return number if np.isfinite(number) else default


def judge_text(
    truth: dict, pair: dict, slide: str, owners: list[str]
) -> tuple[int, float, float, bool]:
    """(words, share spoken over ``slide``, share of other slides' narration, whole sentences).

    The text is aligned to the words spoken near its time window first (lecturers repeat
    sentences), then to a wider window when that explains more of it.
    """
    said = tokens(pair_text(pair))
    if not said:
        return 0, 0.0, 0.0, False
    start = _number(pair.get("start_time"), 0.0)
    end = _number(pair.get("end_time"), truth["duration"])
    near = align_words(truth, said, start - 1.0, end + 1.0)
    wide = align_words(truth, said, start - SEARCH_SECONDS, end + SEARCH_SECONDS)
    stands_for, covered = near if len(near[1]) >= len(wide[1]) else wide
    own = other = 0
    for w in stands_for:
        if w >= 0:
            word = truth["words"][w]
            own += owners[word["sentence"]] == slide
            other += word["slide"] != slide
    n = len(said)
    if not covered:
        return n, 0.0, 0.0, False
    # whole: every sentence the text touches is there from its first word to its last
    touched = {truth["words"][w]["sentence"] for w in covered}
    whole = all(
        set(range(s["first_word"], s["last_word"] + 1)) <= covered
        for s in (truth["sentences"][i] for i in touched)
    )
    return n, own / n, other / n, whole


def _image_time(pair: dict, duration: float) -> float | None:
    t = _number(pair.get("image_time"), -1.0)
    return t if 0.0 <= t <= duration else None


def score_video(truth: dict, pairs: list[dict], pair_dir: Path, video: Path) -> dict:
    """Verdicts for one video's pairs and its counts (see the module docstring)."""
    fps = float(truth["fps"])
    owners = sentence_owners(truth)
    tolerance = 1.5 / fps
    times = [_image_time(p, truth["duration"]) for p in pairs]
    looks = frame_looks(video, [t for t in times if t is not None], tolerance)
    verdicts: list[PairVerdict] = []
    for pair, t in zip(pairs, times, strict=True):
        if t is None:  # a row without a usable time is wrong, not the end of the run
            span, kind, t = {"slide": "", "state": "no image_time"}, "unknown", float("nan")
        else:
            span = span_at(truth, t)
            kind = truth["slides"][span["slide"]]["kind"]
        image_path = Path(pair_dir) / str(pair.get("image_path", ""))
        similarity, sharp = image_match(image_path, looks.get(t, []))
        if kind == "unknown":
            n, own, other, whole = len(tokens(pair_text(pair))), 0.0, 0.0, True
        else:
            n, own, other, whole = judge_text(truth, pair, span["slide"], owners)
        reasons = []
        if kind not in HISTOLOGY_KINDS:
            reasons.append("non-histology slide")
        if span["state"] != "clean":
            reasons.append(f"image time is {span['state']}")
        if similarity < IMAGE_MATCH:
            reasons.append(f"image unlike the frame at image_time ({similarity:.2f})")
        if sharp < SHARPNESS_RATIO:
            reasons.append(f"image blurrier than the frame at image_time ({sharp:.2f})")
        if own < OWN_SHARE:
            reasons.append(f"only {own:.0%} of the words spoken over the slide")
        if not whole:
            reasons.append("not whole sentences")
        image_ok = kind in HISTOLOGY_KINDS and span["state"] == "clean"
        image_ok = image_ok and similarity >= IMAGE_MATCH and sharp >= SHARPNESS_RATIO
        verdicts.append(
            PairVerdict(
                image_time=t,
                slide=span["slide"],
                kind=kind,
                state=span["state"],
                image_similarity=round(similarity, 3),
                image_sharpness_ratio=round(sharp, 3),
                words=n,
                own_share=round(own, 3),
                other_narration_share=round(other, 3),
                whole=whole,
                image_ok=image_ok,
                correct=image_ok and own >= OWN_SHARE and whole,
                reasons=reasons,
            )
        )
    counts = {
        "pairs": len(pairs),
        "correct": sum(v.correct for v in verdicts),
        "image_ok": sum(v.image_ok for v in verdicts),
        "no_image_time": sum(v.kind == "unknown" for v in verdicts),
        "non_histology": sum(v.kind not in (*HISTOLOGY_KINDS, "unknown") for v in verdicts),
        "fragments": sum(not v.whole for v in verdicts),
        "bleed": sum(v.other_narration_share > BLEED_SHARE for v in verdicts),
    }
    for category in ("still", "moving"):
        shown = [s for s in truth["showings"] if s["category"] == category]
        recalled = [
            s
            for s in shown
            if any(v.correct and s["start"] <= v.image_time < s["end"] for v in verdicts)
        ]
        counts[f"{category}_showings"] = len(shown)
        counts[f"{category}_recalled"] = len(recalled)
    return {"counts": counts, "verdicts": [asdict(v) for v in verdicts]}
