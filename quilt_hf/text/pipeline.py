"""The text stage facade: one chunk's transcript text in, the released text columns out.

    stage = TextStage(asr="captions", corrector="lexicon")
    result = stage.process("here we see eosin a fill in the lamina propria")
    result.corrected_text  # "here we see eosinophil in the lamina propria"

Correction backends: ``lexicon`` (offline), ``openai`` (any OpenAI-compatible endpoint:
``llm_base_url``, ``llm_model``, key from ``OPENAI_API_KEY``), ``transformers`` (a local causal
LM: ``llm_model`` is its Hub id or folder), ``none``. ROI text and pathology use the heuristic and
the lexicon unless ``roi``/``pathology`` say ``llm`` (which uses the same LLM as the corrector).
Entities (``med_umls_ids``) and pathology are computed on the corrected text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from quilt_hf.errors import QuiltError
from quilt_hf.text.correction import LexiconCorrector, apply_corrections, clean_corrections
from quilt_hf.text.entities import med_umls_ids
from quilt_hf.text.lexicon import load_lexicon
from quilt_hf.text.llm import JsonChat, LLMCorrector, LocalCausalLM, OpenAIChat
from quilt_hf.text.pathology import lexicon_pathology, llm_pathology
from quilt_hf.text.roi import heuristic_roi, llm_roi

CORRECTORS = ("lexicon", "openai", "transformers", "none")


@dataclass
class TextResult:
    noisy_text: str
    corrected_text: str
    asr_correction: dict[str, str] = field(default_factory=dict)
    med_umls_ids: list[str] = field(default_factory=list)
    roi_text: list[str] = field(default_factory=list)
    pathology: list[str] = field(default_factory=list)


class TextStage:
    def __init__(
        self,
        asr: str = "captions",
        corrector: str = "lexicon",
        llm_base_url: str | None = None,
        llm_model: str | None = None,
        *,
        roi: str = "heuristic",
        pathology: str = "lexicon",
        entities: str = "lexicon",
        llm_timeout: float = 60.0,
        llm_retries: int = 3,
        chat: JsonChat | None = None,
    ) -> None:
        if corrector not in CORRECTORS:
            raise QuiltError(
                f"unknown corrector {corrector!r}; choose one of {', '.join(CORRECTORS)}"
            )
        if roi not in ("heuristic", "llm") or pathology not in ("lexicon", "llm"):
            raise QuiltError("roi must be heuristic|llm and pathology lexicon|llm")
        self.asr = asr
        self.lexicon = load_lexicon()
        self.entities = entities
        self.roi = roi
        self.pathology = pathology
        self.chat = chat
        if self.chat is None and (
            corrector in ("openai", "transformers") or "llm" in (roi, pathology)
        ):
            self.chat = self._make_chat(
                corrector, llm_base_url, llm_model, llm_timeout, llm_retries
            )
        self.corrector: Any
        if corrector == "lexicon":
            self.corrector = LexiconCorrector(self.lexicon)
        elif corrector in ("openai", "transformers"):
            self.corrector = LLMCorrector(self.chat)
        else:
            self.corrector = None

    @staticmethod
    def _make_chat(
        corrector: str, base_url: str | None, model: str | None, timeout: float, retries: int
    ) -> JsonChat:
        if corrector == "transformers":
            return LocalCausalLM(model) if model else LocalCausalLM()
        kwargs: dict[str, Any] = {"base_url": base_url, "timeout": timeout, "max_retries": retries}
        return OpenAIChat(model, **kwargs) if model else OpenAIChat(**kwargs)

    def process(self, transcript_text: str, restored: str | None = None) -> TextResult:
        """``transcript_text``: the raw words (kept as ``noisy_text``); ``restored``: the same
        words as sentences (``quilt_hf.text.sentences``), which the correction is applied to."""
        noisy = " ".join(transcript_text.split())
        text = noisy if restored is None else " ".join(restored.split())
        mapping = (
            clean_corrections(self.corrector.corrections(text), text) if self.corrector else {}
        )
        corrected = apply_corrections(text, mapping)
        if self.roi == "llm":
            roi_text = llm_roi(corrected, self.chat)
        else:
            roi_text = heuristic_roi(corrected, self.lexicon)
        if self.pathology == "llm":
            pathology = llm_pathology(corrected, self.chat)
        else:
            pathology = lexicon_pathology(corrected, self.lexicon)
        return TextResult(
            noisy_text=noisy,
            corrected_text=corrected,
            asr_correction=mapping,
            med_umls_ids=med_umls_ids(corrected, self.entities, self.lexicon),
            roi_text=roi_text,
            pathology=pathology,
        )
