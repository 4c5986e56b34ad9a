"""ASR correction as the paper did it: a backend returns a map {wrong term: corrected term} that is
then applied to the noisy text (never a free rewrite, so nothing else in the text can change).

Backends:
- ``lexicon`` (offline default): transcript n-grams (1-3 words) that are not ordinary English and
  not already lexicon words are matched against the histopathology lexicon by spelling (rapidfuzz
  ratio on the space-free form) and by sound (jellyfish Metaphone). Only confident matches are
  kept: precision over recall.
- ``openai`` / ``transformers``: an LLM asked for ``{"corrections": {wrong: right}}`` (llm.py).
Every backend's map goes through ``clean_corrections`` (keys must occur in the text) before use.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from quilt_hf.text.lexicon import TOKEN, Lexicon, Term, load_lexicon, normalize

CORRECTION_SYSTEM_PROMPT = (
    "You correct automatic speech recognition errors in transcripts of histopathology lectures. "
    "Find words or short phrases that the recogniser got wrong (usually medical terms heard as "
    "ordinary words, e.g. 'eosin a fill' for 'eosinophil'). Do not rephrase, fix grammar or "
    "change correct words. Answer with JSON only: "
    '{"corrections": {"<wrong text exactly as in the transcript>": "<corrected term>"}}; '
    'use {"corrections": {}} when nothing is wrong.'
)


class Corrector(Protocol):
    def corrections(self, text: str) -> dict[str, str]: ...


def _key_pattern(key: str) -> str:
    return r"\s+".join(re.escape(part) for part in key.split())


def clean_corrections(mapping: object, text: str) -> dict[str, str]:
    """Keep only str->str entries whose key occurs in ``text`` as whole words and that change it."""
    if not isinstance(mapping, dict):
        return {}
    cleaned: dict[str, str] = {}
    for wrong, right in mapping.items():
        if not isinstance(wrong, str) or not isinstance(right, str):
            continue
        wrong, right = " ".join(wrong.split()), " ".join(right.split())
        if not wrong or not right or wrong.lower() == right.lower():
            continue
        if len(right) > 3 * len(wrong) + 20:  # a rewrite, not a term correction
            continue
        if re.search(rf"(?<![\w-]){_key_pattern(wrong)}(?![\w-])", text, re.IGNORECASE):
            cleaned[wrong] = right
    return cleaned


def apply_corrections(text: str, mapping: dict[str, str]) -> str:
    """Replace every whole-word occurrence of each key (case-insensitive), longest keys first,
    in one pass so a replacement is never corrected again."""
    if not mapping:
        return text
    lookup = {" ".join(k.lower().split()): v for k, v in mapping.items()}
    alternatives = sorted(lookup, key=len, reverse=True)
    pattern = re.compile(
        r"(?<![\w-])(?:" + "|".join(_key_pattern(k) for k in alternatives) + r")(?![\w-])",
        re.IGNORECASE,
    )

    def replace(match: re.Match[str]) -> str:
        found = match.group()
        new = lookup[" ".join(found.lower().split())]
        if found[:1].isupper() and new[:1].islower():
            new = new[0].upper() + new[1:]  # keep a sentence-initial capital
        return new

    return pattern.sub(replace, text)


def _phonetic(compact: str) -> str:
    import jellyfish

    # Metaphone keeps silent initial letters that ASR never writes (psammoma -> "sammoma").
    if compact[:2] in ("ps", "pn", "pt", "kn", "gn", "wr"):
        compact = compact[1:]
    return jellyfish.metaphone(compact)


@dataclass(frozen=True)
class _Candidate:
    first: int  # token indices [first, last]
    last: int
    score: float
    term: Term


class LexiconCorrector:
    """Offline corrector: fuzzy + phonetic n-gram matches against the histopathology lexicon."""

    def __init__(
        self,
        lexicon: Lexicon | None = None,
        *,
        common_zipf: float = 2.5,
        max_ngram: int = 3,
        min_spelling: float = 88.0,
        min_phonetic_spelling: float = 68.0,
    ) -> None:
        from rapidfuzz import fuzz, process

        self._fuzz, self._process = fuzz, process
        self.lexicon = lexicon or load_lexicon()
        self.common_zipf = common_zipf
        self.max_ngram = max_ngram
        self.min_spelling = min_spelling
        self.min_phonetic_spelling = min_phonetic_spelling
        # Fuzzy targets: multi-letter, non-acronym terms, by their space-free form.
        self._targets: dict[str, Term] = {}
        for key, term in self.lexicon.canonical.items():
            compact = key.replace(" ", "")
            if not term.is_acronym and len(compact) >= 5 and compact.isalpha():
                self._targets.setdefault(compact, term)
        self._target_keys = list(self._targets)
        self._phonetic_cache: dict[str, str] = {}

    def _is_known(self, word: str) -> bool:
        """Ordinary English, a lexicon word, a number or too short to judge."""
        from wordfreq import zipf_frequency

        if len(word) <= 2 or not word.isalpha() or word in self.lexicon.words:
            return True
        # adverbs and participles of lexicon words ("secondarily", "metastasized") are real words
        for suffix, stem_end in (("ily", "y"), ("ly", ""), ("ally", ""), ("ed", ""), ("ing", "")):
            if word.endswith(suffix) and word[: -len(suffix)] + stem_end in self.lexicon.words:
                return True
        return zipf_frequency(word, "en") >= self.common_zipf

    def _sound(self, compact: str) -> str:
        if compact not in self._phonetic_cache:
            self._phonetic_cache[compact] = _phonetic(compact)
        return self._phonetic_cache[compact]

    def _best_term(self, words: list[str], same_sound: bool = False) -> tuple[float, Term] | None:
        compact = "".join(words)
        if len(compact) < 5:
            return None
        best: tuple[float, Term] | None = None
        for target, spelling, _ in self._process.extract(
            compact,
            self._target_keys,
            scorer=self._fuzz.ratio,
            limit=5,
            score_cutoff=self.min_phonetic_spelling,
        ):
            if not 0.7 <= len(compact) / len(target) <= 1.4:
                continue
            sound_a, sound_b = self._sound(compact), self._sound(target)
            sound = self._fuzz.ratio(sound_a, sound_b)
            if same_sound:
                confident = sound_a == sound_b
            else:
                confident = spelling >= self.min_spelling and sound >= 75
                confident |= sound_a == sound_b
                confident |= sound >= 85 and spelling >= 78 and sound_a[:1] == sound_b[:1]
            if not confident:
                continue
            score = 0.5 * spelling + 0.5 * sound
            if best is None or score > best[0]:
                best = (score, self._targets[target])
        return best

    def corrections(self, text: str) -> dict[str, str]:
        from wordfreq import zipf_frequency

        tokens = list(TOKEN.finditer(text))
        words = [t.group().lower() for t in tokens]
        known = [self._is_known(w) for w in words]
        # Very frequent function words never start or end a misheard term.
        function_word = [zipf_frequency(w, "en") >= 5.5 for w in words]
        candidates: list[_Candidate] = []
        for n in range(1, self.max_ngram + 1):
            for i in range(len(words) - n + 1):
                window = words[i : i + n]
                if function_word[i] or function_word[i + n - 1]:
                    continue
                if " ".join(window) in self.lexicon.terms:
                    continue  # already a correct term
                if all(known[i : i + n]):
                    if n == 1:
                        continue
                    # Known words only: a term split apart ("adeno carcinoma") is accepted, and
                    # a sound-alike only when one word is rare ("eosin a fill" -> eosinophil).
                    term = self._targets.get("".join(window))
                    if term is not None:
                        candidates.append(_Candidate(i, i + n - 1, 200.0, term))
                        continue
                    if all(zipf_frequency(w, "en") >= self.common_zipf for w in window):
                        continue
                    found = self._best_term(window, same_sound=True)
                else:
                    found = self._best_term(window)
                if found is not None:
                    candidates.append(_Candidate(i, i + n - 1, found[0], found[1]))
        # Best first, with a small bonus per extra word: a window that explains more of the
        # noise ("hemotoxin lin") beats its part ("hemotoxin") unless clearly worse.
        candidates.sort(
            key=lambda c: (c.score + 3 * (c.last - c.first), c.last - c.first), reverse=True
        )
        taken: set[int] = set()
        mapping: dict[str, str] = {}
        for cand in candidates:
            span = set(range(cand.first, cand.last + 1))
            if span & taken:
                continue
            surface = text[tokens[cand.first].start() : tokens[cand.last].end()]
            if normalize(surface) == normalize(cand.term.text):
                continue
            taken |= span
            mapping.setdefault(surface, cand.term.text)
        return mapping
