"""Medical entities of a text as UMLS concept ids (``med_umls_ids``).

- ``lexicon`` (default): lexicon terms found in the text that carry a CUI in the shipped lexicon.
- ``scispacy``: scispaCy's UMLS ``EntityLinker`` over ``en_core_sci_sm`` when the user has
  installed scispacy and that model (neither is installed in this project's test environment:
  this path is real code but untested here). Lexicon CUIs are added to its answer.
"""

from __future__ import annotations

from functools import lru_cache

from quilt_hf.errors import QuiltError
from quilt_hf.text.lexicon import Lexicon, load_lexicon, normalize


def lexicon_umls_ids(text: str, lexicon: Lexicon | None = None) -> list[str]:
    """CUIs of the lexicon terms in ``text``, unique, in order of first appearance."""
    lexicon = lexicon or load_lexicon()
    ids: list[str] = []
    for match in lexicon.find(text):
        if match.term.cui:
            ids.append(match.term.cui)
            continue
        # A term without a CUI ("classic Hodgkin lymphoma"): take the CUIs of the terms inside it.
        surface = text[match.start : match.end]
        words = len(normalize(surface).split())
        if words > 1:
            ids.extend(lexicon_umls_ids_within(surface, lexicon, words - 1))
    return list(dict.fromkeys(ids))


def lexicon_umls_ids_within(text: str, lexicon: Lexicon, max_words: int) -> list[str]:
    ids: list[str] = []
    for match in lexicon.find(text, max_words=max_words):
        if match.term.cui:
            ids.append(match.term.cui)
        elif max_words > 1:
            ids.extend(
                lexicon_umls_ids_within(text[match.start : match.end], lexicon, max_words - 1)
            )
    return ids


@lru_cache(maxsize=1)
def _scispacy_pipeline(model: str):
    try:
        import spacy
        from scispacy.linking import EntityLinker  # noqa: F401 - registers "scispacy_linker"
    except ImportError as exc:
        raise QuiltError(
            "entities=scispacy needs scispacy and a model: pip install scispacy "
            "and the en_core_sci_sm wheel from the scispacy releases"
        ) from exc
    try:
        nlp = spacy.load(model)
    except OSError as exc:
        raise QuiltError(f"scispacy model {model!r} is not installed: {exc}") from exc
    nlp.add_pipe("scispacy_linker", config={"resolve_abbreviations": True, "linker_name": "umls"})
    return nlp


def scispacy_umls_ids(
    text: str, model: str = "en_core_sci_sm", min_score: float = 0.85
) -> list[str]:
    """CUIs of the entities scispaCy links with a score >= ``min_score`` (best candidate each)."""
    nlp = _scispacy_pipeline(model)
    ids: list[str] = []
    for entity in nlp(text).ents:
        candidates = getattr(entity._, "kb_ents", [])
        if candidates and candidates[0][1] >= min_score:
            ids.append(candidates[0][0])
    return list(dict.fromkeys(ids))


def med_umls_ids(text: str, backend: str = "lexicon", lexicon: Lexicon | None = None) -> list[str]:
    if backend == "lexicon":
        return lexicon_umls_ids(text, lexicon)
    if backend == "scispacy":
        return list(dict.fromkeys(scispacy_umls_ids(text) + lexicon_umls_ids(text, lexicon)))
    raise QuiltError(f"unknown entity backend {backend!r} (lexicon or scispacy)")
