"""Is this image histology? One small interface, three backends, and the paper's ensemble rule.

- ``StainClassifier``: the offline default. A logistic model over stain colour and texture
  statistics (``stain_features``); its coefficients ship as JSON in ``quilt_hf/resources`` and were
  fitted by ``python -m quilt_hf.filters.stain_fit`` (the JSON records its fitting and held-out
  scores).
- ``HFImageClassifier``: any ``AutoModelForImageClassification`` checkpoint (local folder or Hub
  id), e.g. one trained by ``quilt histo train``.
- ``EnsembleClassifier``: QUILT's rule: a frame is histology if ANY member says so.

Every backend returns P(histology) with shape ``(n,)``; concrete classes also carry ``threshold``
and ``predict(images) -> bool array`` so callers need not know which backend they hold.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
from PIL import Image

from quilt_hf.errors import QuiltError
from quilt_hf.filters.stain_features import FEATURE_NAMES, stain_feature_matrix

DEFAULT_STAIN_MODEL = Path(__file__).resolve().parent.parent / "resources" / "stain_classifier.json"
DEFAULT_HF_MODEL = (
    "google/vit-base-patch16-224-in21k"  # a base to fine-tune with `quilt histo train`
)
# What builds and video processing use when nothing else is configured.
DEFAULT_CLASSIFIER: dict[str, Any] = {"backend": "stain", "threshold": 0.5}
CLASSIFIER_KEYS = frozenset(
    {"backend", "threshold", "model", "histology_labels", "stain_model", "members", "device"}
    | {"batch_size"}
)
_NEGATED_LABEL = re.compile(r"^(not|non|no)([\W_]|$)|^(not|non)histo", re.IGNORECASE)


@runtime_checkable
class HistologyClassifier(Protocol):
    def predict_proba(self, images: Sequence[Image.Image]) -> np.ndarray:
        """P(histology) for each image, shape ``(n,)``, values in [0, 1]."""
        ...


class _Thresholded:
    threshold: float = 0.5

    def predict_proba(self, images: Sequence[Image.Image]) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def predict(self, images: Sequence[Image.Image]) -> np.ndarray:
        """True where P(histology) >= ``threshold``."""
        return self.predict_proba(images) >= self.threshold


def _check_threshold(threshold: float) -> float:
    threshold = float(threshold)
    if not 0.0 < threshold < 1.0:
        raise QuiltError(f"a histology threshold must be in (0, 1), got {threshold}")
    return threshold


class StainClassifier(_Thresholded):
    """Logistic model over stain/texture features; no weights to download."""

    def __init__(self, model_path: str | Path | None = None, threshold: float | None = None):
        path = Path(model_path) if model_path else DEFAULT_STAIN_MODEL
        try:
            spec = json.loads(path.read_text())
        except (OSError, ValueError) as error:
            raise QuiltError(f"cannot read stain model {path}: {error}") from error
        if spec.get("feature_names") != list(FEATURE_NAMES):
            raise QuiltError(
                f"stain model {path} was fitted on other features; refit it with "
                "`python -m quilt_hf.filters.stain_fit`"
            )
        self.mean = np.asarray(spec["mean"], dtype=np.float64)
        self.scale = np.asarray(spec["scale"], dtype=np.float64)
        self.coef = np.asarray(spec["coef"], dtype=np.float64)
        self.intercept = float(spec["intercept"])
        self.threshold = _check_threshold(
            spec.get("threshold", 0.5) if threshold is None else threshold
        )

    def predict_proba(self, images: Sequence[Image.Image]) -> np.ndarray:
        features = stain_feature_matrix(list(images)).astype(np.float64)
        logits = ((features - self.mean) / self.scale) @ self.coef + self.intercept
        return 1.0 / (1.0 + np.exp(-np.clip(logits, -50, 50)))


def histology_label_ids(
    id2label: Mapping[int, str], histology_labels: Sequence[str] | None
) -> list[int]:
    """Ids of the labels that mean histology: the named ones, or by default every label containing
    "histo" or "patholog" that is not negated ("not_histology", "non-histo", "no_pathology")."""
    if histology_labels is not None:
        wanted = {label.lower() for label in histology_labels}
        ids = [int(i) for i, label in id2label.items() if label.lower() in wanted]
        missing = wanted - {id2label[i].lower() for i in ids}
        if missing:
            raise QuiltError(
                f"labels {sorted(missing)} are not in the model's labels {sorted(id2label.values())}"
            )
    else:
        ids = [
            int(i)
            for i, label in id2label.items()
            if re.search("histo|patholog", label, re.IGNORECASE)
            and not _NEGATED_LABEL.search(label)
        ]
    if not ids:
        raise QuiltError(
            f"no histology label among the model's labels {sorted(id2label.values())}; "
            "name them with histology_labels"
        )
    return sorted(ids)


class HFImageClassifier(_Thresholded):
    """Any ``AutoModelForImageClassification`` checkpoint: P(histology) = sum of the softmax over
    the labels that mean histology."""

    def __init__(
        self,
        model: str | Path,
        histology_labels: Sequence[str] | None = None,
        device: str | None = None,
        batch_size: int = 32,
        threshold: float = 0.5,
    ):
        import torch
        from transformers import AutoImageProcessor, AutoModelForImageClassification

        try:
            self.processor = AutoImageProcessor.from_pretrained(str(model))
            self.model = AutoModelForImageClassification.from_pretrained(str(model))
        except (OSError, ValueError) as error:
            raise QuiltError(f"cannot load image classifier {model!r}: {error}") from error
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.model.to(self.device).eval()
        id2label = {int(i): str(label) for i, label in self.model.config.id2label.items()}
        self.histology_ids = histology_label_ids(id2label, histology_labels)
        self.batch_size = int(batch_size)
        self.threshold = _check_threshold(threshold)

    def predict_proba(self, images: Sequence[Image.Image]) -> np.ndarray:
        import torch

        out = np.zeros(len(images), dtype=np.float64)
        for start in range(0, len(images), self.batch_size):
            batch = [image.convert("RGB") for image in images[start : start + self.batch_size]]
            inputs = self.processor(images=batch, return_tensors="pt").to(self.device)
            with torch.inference_mode():
                probs = self.model(**inputs).logits.float().softmax(dim=-1)
            out[start : start + len(batch)] = probs[:, self.histology_ids].sum(dim=-1).cpu().numpy()
        return out


class EnsembleClassifier(_Thresholded):
    """Histology if ANY member says so (the QUILT frame rule).

    ``members`` are classifiers (judged at their own ``threshold`` attribute, else the ensemble's)
    or ``(classifier, threshold)`` pairs. Each member's probability is mapped piecewise-linearly
    so that its own threshold lands on the ensemble's threshold, then the maximum is taken:
    ``ensemble >= threshold`` exactly when some member reaches its own threshold.
    """

    def __init__(self, members: Sequence[Any], threshold: float = 0.5):
        if not members:
            raise QuiltError("an ensemble needs at least one member")
        self.threshold = _check_threshold(threshold)
        self.members: list[tuple[HistologyClassifier, float]] = []
        for member in members:
            if isinstance(member, tuple):
                classifier, member_threshold = member
            else:
                classifier, member_threshold = member, getattr(member, "threshold", self.threshold)
            self.members.append((classifier, _check_threshold(member_threshold)))

    def _rescale(self, probs: np.ndarray, member_threshold: float) -> np.ndarray:
        low = probs / member_threshold * self.threshold
        high = self.threshold + (probs - member_threshold) / (1 - member_threshold) * (
            1 - self.threshold
        )
        return np.where(probs < member_threshold, low, high)

    def predict_proba(self, images: Sequence[Image.Image]) -> np.ndarray:
        scores = [
            self._rescale(np.asarray(classifier.predict_proba(images), dtype=np.float64), t)
            for classifier, t in self.members
        ]
        return np.clip(np.max(scores, axis=0), 0.0, 1.0)


def load_classifier(config: Mapping[str, Any] | None) -> HistologyClassifier:
    """Build the classifier that build.yaml's ``filters.histology`` describes::

    filters:
      histology:
        backend: stain | hf | ensemble      # default stain
        threshold: 0.5
        model: path/or/hub-id               # hf only (default: google/vit-base-... base model)
        histology_labels: [histology]       # hf only, optional
        stain_model: path/to/model.json     # stain only, optional
        members: [{backend: stain}, {backend: hf, model: ..., threshold: 0.3}]   # ensemble
    """
    config = dict(config or {})
    check_classifier_config(config)
    backend = str(config.get("backend", "stain")).lower()
    threshold = config.get("threshold")
    if backend == "stain":
        return StainClassifier(config.get("stain_model"), threshold=threshold)
    if backend == "hf":
        return HFImageClassifier(
            config.get("model") or DEFAULT_HF_MODEL,
            histology_labels=config.get("histology_labels"),
            device=config.get("device"),
            batch_size=int(config.get("batch_size", 32)),
            threshold=0.5 if threshold is None else threshold,
        )
    if backend == "ensemble":
        members = config.get("members") or []
        if not isinstance(members, list) or not all(isinstance(m, Mapping) for m in members):
            raise QuiltError("filters.histology.members must be a list of classifier configs")
        if any(str(m.get("backend", "stain")).lower() == "ensemble" for m in members):
            raise QuiltError("ensembles cannot be nested")
        return EnsembleClassifier(
            [load_classifier(m) for m in members], threshold=0.5 if threshold is None else threshold
        )
    raise QuiltError(f"unknown histology backend {backend!r}: use stain, hf or ensemble")


def check_classifier_config(config: Mapping[str, Any], where: str = "classifier") -> None:
    """Unknown keys (in ensemble members too) are errors that name the key."""
    if not isinstance(config, Mapping):
        raise QuiltError(f"{where} must be a mapping, got {type(config).__name__}")
    unknown = set(config) - CLASSIFIER_KEYS
    if unknown:
        raise QuiltError(
            f"{where}: unknown key(s) {sorted(unknown)}; valid keys: {sorted(CLASSIFIER_KEYS)}"
        )
    for index, member in enumerate(config.get("members") or []):
        if isinstance(member, Mapping):
            check_classifier_config(member, f"{where}.members[{index}]")
