"""Sub-pathology of a chunk's text (dermatopathology, gastrointestinal, breast, ...).

Lexicon backend (default): every lexicon term found votes for its sub-pathologies (diagnoses
weigh 2, organs/tissues/cells/markers 1); labels with at least ``min_votes`` and at least half
the top label's votes are returned, best first. The LLM backend asks for labels from the same
closed list and drops anything else.
"""

from __future__ import annotations

from collections import Counter

from quilt_hf.text.lexicon import Lexicon, load_lexicon
from quilt_hf.text.llm import JsonChat

SUB_PATHOLOGIES = (
    "bone",
    "breast",
    "cardiac",
    "cytopathology",
    "dermatopathology",
    "endocrine",
    "gastrointestinal",
    "genitourinary",
    "gynecologic",
    "head_and_neck",
    "hematopathology",
    "hepatobiliary",
    "neuropathology",
    "ophthalmic",
    "pediatric",
    "pulmonary",
    "renal",
    "soft_tissue",
)
_WEIGHT = {"diagnoses": 2.0}

PATHOLOGY_SYSTEM_PROMPT = (
    "Classify the sub-pathology of a histopathology lecture excerpt. Allowed labels: "
    + ", ".join(SUB_PATHOLOGIES)
    + '. Answer with JSON only: {"pathology": ["<label>", ...]} (most likely first; [] if unclear).'
)


def lexicon_pathology(
    text: str, lexicon: Lexicon | None = None, min_votes: float = 2.0, max_labels: int = 3
) -> list[str]:
    lexicon = lexicon or load_lexicon()
    votes: Counter[str] = Counter()
    for match in lexicon.find(text):
        for sub in match.term.sub_pathologies:
            votes[sub] += _WEIGHT.get(match.term.category, 1.0)
    if not votes:
        return []
    top = votes.most_common(1)[0][1]
    ranked = sorted(votes.items(), key=lambda kv: (-kv[1], kv[0]))
    return [sub for sub, n in ranked if n >= min_votes and n >= top / 2][:max_labels]


def llm_pathology(text: str, chat: JsonChat) -> list[str]:
    answer = chat.complete_json(PATHOLOGY_SYSTEM_PROMPT, text)
    labels = answer.get("pathology", []) if isinstance(answer, dict) else []
    if isinstance(labels, str):
        labels = [labels]
    if not isinstance(labels, list):
        return []
    cleaned = [str(x).strip().lower().replace(" ", "_").replace("-", "_") for x in labels]
    return list(dict.fromkeys(x for x in cleaned if x in SUB_PATHOLOGIES))
