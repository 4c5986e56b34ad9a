"""ROI text: the sentences of a chunk that describe what is on screen.

The heuristic (offline default) keeps a sentence when it points at the image ("here we see",
"you can see", "look at", "these cells", "this shows" ...) and names something visible in a
slide (a lexicon cell type, morphology, tissue or stain term), or when it names two or more
visible morphology/cell terms in the present tense of a description ("there are", "shows",
"with"). The LLM backend asks an OpenAI-compatible model for the same sentences and keeps only
those that really occur in the chunk.
"""

from __future__ import annotations

import re

from quilt_hf.text.lexicon import Lexicon, load_lexicon, normalize
from quilt_hf.text.llm import JsonChat

VISIBLE_CATEGORIES = ("cell_types", "morphology", "tissues", "stains")
_DEICTIC = re.compile(
    r"\b(here (?:we|you) (?:see|have|can see)|we can see|you can see|can be seen|you see|we see"
    r"|look(?:ing)? at|note (?:the|how|that)|notice|this (?:shows|is showing|slide|image|field|area"
    r"|one)|these (?:are|cells|nuclei|glands)|see (?:here|the|how|these|this)|at (?:high|low|medium)"
    r" (?:power|magnification)|in this (?:case|image|field|slide|section)|right here|over here"
    r"|arrows?|pointing|zoom(?:ing)? in|on the (?:left|right))\b",
    re.IGNORECASE,
)
_DESCRIPTIVE = re.compile(
    r"\b(there (?:are|is)|shows?|showing|with|composed of|made up of)\b", re.I
)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_CLAUSE_START = re.compile(
    r"\s+(?=(?:so|and so|now|okay|here (?:we|you|is|are)|this is|these are|you can|we can|look at"
    r"|note|notice)\b)",
    re.I,
)

ROI_SYSTEM_PROMPT = (
    "From a histopathology lecture transcript, copy the sentences that describe what is visible "
    "in the image on screen (cells, tissue, structures, stains, patterns the speaker points at). "
    'Answer with JSON only: {"roi_text": ["<sentence copied exactly>", ...]}.'
)


def split_sentences(text: str, max_words: int = 40) -> list[str]:
    """Sentences; unpunctuated caption text is cut at clause openers into <= max_words pieces."""
    pieces: list[str] = []
    for sentence in _SENTENCE_END.split(" ".join(text.split())):
        if len(sentence.split()) <= max_words:
            pieces.append(sentence)
            continue
        clauses: list[list[str]] = []
        for clause in _CLAUSE_START.split(sentence):
            words = clause.split()
            # a clause with no opener for a long stretch is cut at max_words
            clauses.extend(words[i : i + max_words] for i in range(0, len(words), max_words))
        current: list[str] = []
        for words in clauses:
            if current and len(current) + len(words) > max_words // 2:
                pieces.append(" ".join(current))
                current = []
            current += words
        if current:
            pieces.append(" ".join(current))
    return [p.strip() for p in pieces if p.strip()]


def heuristic_roi(text: str, lexicon: Lexicon | None = None) -> list[str]:
    lexicon = lexicon or load_lexicon()
    kept = []
    for sentence in split_sentences(text):
        visible = [m for m in lexicon.find(sentence) if m.term.category in VISIBLE_CATEGORIES]
        if not visible:
            continue
        pointing = bool(_DEICTIC.search(sentence))
        described = len({m.term.text for m in visible}) >= 2 and bool(_DESCRIPTIVE.search(sentence))
        if pointing or described:
            kept.append(sentence)
    return kept


def llm_roi(text: str, chat: JsonChat) -> list[str]:
    answer = chat.complete_json(ROI_SYSTEM_PROMPT, text)
    found = answer.get("roi_text", []) if isinstance(answer, dict) else []
    if not isinstance(found, list):
        return []
    haystack = normalize(text)
    return [s for s in found if isinstance(s, str) and normalize(s) and normalize(s) in haystack]
