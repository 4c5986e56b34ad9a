"""From static windows to keyframes: near-duplicates merged, histology classified, magnification set.

- **Near-duplicates.** A lecturer often returns to a slide, and a cursor that stops for a while can
  split one slide into two windows. A window whose image is within ``phash_distance`` bits (64-bit
  perceptual hash) AND ``max_pixel_diff`` grey levels (mean absolute difference of 32x32
  thumbnails) of an earlier keyframe reuses that keyframe's image: one stored image, several
  windows in time, hence several texts (many-to-many pairing).
- **Histology.** Unique images go through the histology classifier (``quilt_hf.filters.histology``;
  an ensemble there says yes if any member does); P(histology) >= its threshold is histology.
- **Magnification.** ``magnification.estimate_magnification`` on histology images only.
- **Overlap.** ``WindowAnalyser`` classifies each window's image in a background thread as soon
  as the window closes, while decoding goes on (the decoder runs on about one core here);
  ``build_keyframes`` then only collects the answers. While an analyser is open the interpreter's
  thread switch interval is shortened (``ANALYSIS_SWITCH_INTERVAL``, see there): with the default
  the two threads took turns instead of running side by side.
- **Names.** ``{video_id}_image_{uuid}.jpg`` as released, with ``uuid5(video id, window start)`` so a
  rerun over the same video writes the same names.
"""

from __future__ import annotations

import sys
import threading
import uuid
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from PIL import Image

from quilt_hf.video.static_windows import StaticWindow

IMAGE_NAMESPACE = uuid.UUID("6f1b3c52-5a57-4d1e-9b0c-7175696c7431")  # fixed: names are reproducible

# The decoder (PyAV) lets go of the GIL inside FFmpeg for each packet and needs it back for the
# next; while the analysis thread runs Python or small numpy operations it holds the GIL, and
# CPython lets a waiting thread take it back only after a whole switch interval (5 ms by default:
# the "convoy effect"; a pure-Python busy thread made the decode loop 4x slower here). Measured on
# the shared 2-core machine (benchmarks/bench_frames.py video, medians of 5, one core free): the
# threaded stage took 0.84 s at 5 ms, as long as analysing after decoding (0.83 s), and 0.64 s at
# 0.2 ms. When other processes keep both cores busy there is nothing to overlap on and the
# setting makes no measurable difference. It is process-wide: it holds only while an analyser is
# open and the previous value comes back when the last one closes.
ANALYSIS_SWITCH_INTERVAL = 2e-4
_switch_lock = threading.Lock()
_switch_users = 0
_switch_saved = 0.0


def _shorten_switch_interval() -> None:
    global _switch_users, _switch_saved
    with _switch_lock:
        if _switch_users == 0:
            _switch_saved = sys.getswitchinterval()
            sys.setswitchinterval(min(_switch_saved, ANALYSIS_SWITCH_INTERVAL))
        _switch_users += 1


def _restore_switch_interval() -> None:
    global _switch_users
    with _switch_lock:
        _switch_users -= 1
        if _switch_users == 0:
            sys.setswitchinterval(_switch_saved)


@dataclass
class Keyframe:
    start: float  # when the image appears (window start), seconds
    end: float  # when the window ends
    image: Image.Image
    image_name: str  # file name under images/
    canonical: int  # index of the keyframe whose image this one shares (itself when unique)
    histology_prob: float = 0.0
    is_histology: bool = False
    magnification: int = -1
    kind: str = "still"  # "still" (a static window's median) | "moving" (a moving view's frame)
    picture_time: float = -1.0  # when the picture was on screen (window start for a still one)


def image_name(video_id: str, start: float) -> str:
    """``{video_id}_image_{uuid}.jpg`` with a uuid that depends only on the video and the time."""
    return f"{video_id}_image_{uuid.uuid5(IMAGE_NAMESPACE, f'{video_id}@{start:.3f}')}.jpg"


class Signature:
    """What the near-duplicate rule compares: a 32x32 grey thumbnail and a 64-bit pHash.

    The pHash (``imagehash.phash``: a Lanczos resize and a DCT, ~3/4 of the signature's time) is
    computed only when asked, and the rule asks only after the cheap thumbnail test has passed,
    so a video whose windows are all different slides computes none.
    """

    __slots__ = ("_image", "_phash", "small")

    def __init__(self, image: Image.Image) -> None:
        grey = image.convert("L")
        self.small = np.asarray(grey.resize((32, 32), Image.Resampling.BOX), np.float32)
        self._image: Image.Image | None = image  # the window's own image: a reference, no copy
        self._phash: int | None = None

    @property
    def phash(self) -> int:
        if self._phash is None:
            import imagehash

            self._phash = int(str(imagehash.phash(self._image)), 16)  # (converts to grey itself)
            self._image = None
        return self._phash


@dataclass(frozen=True)
class DuplicateRule:
    """When two window images are one image (see the module docstring)."""

    phash_distance: int = 8
    max_pixel_diff: float = 8.0

    def same(self, a: Signature, b: Signature) -> bool:
        # the thumbnail test first: it is cheap, and most pairs of windows fail it
        return (
            float(np.abs(a.small - b.small).mean()) <= self.max_pixel_diff
            and (a.phash ^ b.phash).bit_count() <= self.phash_distance
        )

    def first_match(self, signature: Signature, earlier: Sequence[tuple[int, Signature]]) -> int:
        """Index of the first of ``earlier`` (index, signature) pairs it duplicates, else -1."""
        return next((i for i, other in earlier if self.same(signature, other)), -1)


def canonical_indices(
    images: Sequence[Image.Image],
    *,
    phash_distance: int = 8,
    max_pixel_diff: float = 8.0,
    signatures: Sequence[Signature] | None = None,
) -> list[int]:
    """For each image, the index of the first earlier image it nearly duplicates (or itself)."""
    rule = DuplicateRule(phash_distance, max_pixel_diff)
    if signatures is None:
        signatures = [Signature(image) for image in images]
    unique: list[tuple[int, Signature]] = []
    canonical: list[int] = []
    for i, signature in enumerate(signatures):
        match = rule.first_match(signature, unique)
        if match < 0:
            unique.append((i, signature))
        canonical.append(i if match < 0 else match)
    return canonical


class WindowAnalyser:
    """P(histology) and magnification of window images, computed in one background thread.

    Windows are analysed in the order they are submitted; one that duplicates an earlier
    analysed image (``rule``, as ``build_keyframes`` merges them) reuses that image's answers
    instead of classifying it again: lecturers return to their slides, and the analysis
    competes with decoding for the same cores.
    """

    def __init__(
        self, classifier, threshold: float | None = None, rule: DuplicateRule | None = None
    ) -> None:
        self.classifier = classifier
        self.threshold = (
            float(getattr(classifier, "threshold", 0.5)) if threshold is None else threshold
        )
        self.rule = rule or DuplicateRule()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="keyframes")
        self._closed = False
        _shorten_switch_interval()
        self._futures: dict[int, Future] = {}
        self._analysed: list[tuple[int, Signature]] = []  # (submission index, signature)
        self._labels: dict[int, tuple[float, bool, int]] = {}
        self._chains: dict[int, tuple[float, bool]] = {}  # P(histology) per motion chain

    def _labels_of(self, image: Image.Image) -> tuple[float, bool, int]:
        from quilt_hf.video.magnification import estimate_magnification

        prob = float(np.asarray(self.classifier.predict_proba([image]), dtype=float)[0])
        histology = prob >= self.threshold
        return prob, histology, estimate_magnification(image) if histology else -1

    def _analyse(
        self, index: int, image: Image.Image, chain: int | None = None
    ) -> tuple[tuple[float, bool, int], Signature]:
        from quilt_hf.video.magnification import estimate_magnification

        signature = Signature(image)
        match = self.rule.first_match(signature, self._analysed)
        if match >= 0:
            return self._labels[match], signature
        if chain is not None and chain in self._chains:
            # one continuous pan/zoom stays on one slide: histology or not does not change,
            # only the magnification may (the classifier is the costlier half of the analysis)
            prob, histology = self._chains[chain]
            labels = (prob, histology, estimate_magnification(image) if histology else -1)
        else:
            labels = self._labels_of(image)
            if chain is not None:
                self._chains[chain] = labels[:2]
        self._labels[index] = labels
        self._analysed.append((index, signature))
        return labels, signature

    def submit(self, window: StaticWindow) -> None:
        """Start analysing ``window`` (use as ``find_static_windows(on_window=...)``)."""
        index = len(self._futures)
        chain = getattr(window, "chain", None)
        self._futures[id(window)] = self._pool.submit(self._analyse, index, window.image, chain)

    def _get(self, window: StaticWindow):
        future = self._futures.get(id(window))
        if future is not None:
            return future.result()
        return self._labels_of(window.image), Signature(window.image)

    def result(self, window: StaticWindow) -> tuple[float, bool, int]:
        """``(P(histology), is histology, magnification)`` of the window's image."""
        return self._get(window)[0]

    def signature(self, window: StaticWindow) -> Signature:
        """The near-duplicate signature (pHash, 32x32 grey) of the window's image."""
        return self._get(window)[1]

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        if not self._closed:
            self._closed = True
            _restore_switch_interval()

    def __enter__(self) -> WindowAnalyser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def build_keyframes(
    windows: Sequence[StaticWindow],
    video_id: str,
    classifier,
    *,
    threshold: float | None = None,
    phash_distance: int = 8,
    max_pixel_diff: float = 8.0,
    analyser: WindowAnalyser | None = None,
) -> list[Keyframe]:
    """Keyframes in time order; duplicates share the canonical image, name and labels.

    With an ``analyser`` that has seen the windows (in this order), its answers and its
    duplicate rule are used; otherwise the unique images are classified here in one batch.
    """
    from quilt_hf.video.magnification import estimate_magnification

    if analyser is not None:
        phash_distance, max_pixel_diff = analyser.rule.phash_distance, analyser.rule.max_pixel_diff
    canonical = canonical_indices(
        [w.image for w in windows],
        phash_distance=phash_distance,
        max_pixel_diff=max_pixel_diff,
        signatures=[analyser.signature(w) for w in windows] if analyser is not None else None,
    )
    unique = sorted(set(canonical))
    labels: dict[int, tuple[float, bool, int]] = {}
    if analyser is not None:
        labels = {i: analyser.result(windows[i]) for i in unique}
    else:
        probs = (
            np.asarray(classifier.predict_proba([windows[i].image for i in unique]), dtype=float)
            if unique
            else np.zeros(0)
        )
        if threshold is None:
            threshold = float(getattr(classifier, "threshold", 0.5))
        for i, prob in zip(unique, probs, strict=True):
            histology = bool(prob >= threshold)
            magnification = estimate_magnification(windows[i].image) if histology else -1
            labels[i] = (float(prob), histology, magnification)
    keyframes = []
    for i, window in enumerate(windows):
        c = canonical[i]
        prob, histology, magnification = labels[c]
        keyframes.append(
            Keyframe(
                start=window.start,
                end=window.end,
                image=windows[c].image,
                image_name=image_name(video_id, windows[c].start),
                canonical=c,
                histology_prob=prob,
                is_histology=histology,
                magnification=magnification,
                kind=window.kind,
                picture_time=window.picture_time,
            )
        )
    return keyframes
