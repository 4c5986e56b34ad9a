"""The histopathology lexicon shipped in ``quilt_hf/resources/lexicon/`` and exact term matching.

Files are one per category; a line is ``term`` or ``term | sub_pathology | UMLS CUI``, and
``@sub NAME`` sets the default sub-pathology of the lines after it (see the folder's README).
Terms are matched on normalised word tokens (lower case, punctuation and hyphens as spaces),
longest first, with simple plural/singular variants of the last word. All-capital short acronyms
(ER, PR, ALL, PIN...) only match in capitals, because their lower-case forms are English words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

TOKEN = re.compile(r"[A-Za-z0-9]+")
MAX_TERM_WORDS = 8


@dataclass(frozen=True)
class Term:
    text: str  # the term as written in the lexicon
    category: str  # file stem: diagnoses, stains, ihc_markers, cell_types, tissues, morphology
    sub_pathologies: tuple[str, ...]
    cui: str | None

    @property
    def is_acronym(self) -> bool:
        letters = [c for c in self.text if c.isalpha()]
        return len(self.text) <= 6 and bool(letters) and not any(c.islower() for c in letters)


@dataclass(frozen=True)
class Match:
    start: int  # character span in the matched text
    end: int
    term: Term


def normalize(text: str) -> str:
    """Lower-case word tokens joined by single spaces: 'Reed-Sternberg' -> 'reed sternberg'."""
    return " ".join(TOKEN.findall(text.lower()))


def _variants(key: str) -> set[str]:
    """Plural/singular forms of the last word (cells <-> cell, nuclei <-> nucleus...)."""
    head, _, last = key.rpartition(" ")
    forms = {last}
    if last.endswith("us"):
        forms.add(last[:-2] + "i")
    elif last.endswith("i") and len(last) > 4:
        forms.add(last[:-1] + "us")
    if last.endswith("oma"):
        forms |= {last + "s", last + "ta"}
    elif last.endswith("y") and len(last) > 3:
        forms.add(last[:-1] + "ies")
    elif last.endswith("ies"):
        forms.add(last[:-3] + "y")
    elif last.endswith(("sis",)):
        forms.add(last[:-3] + "ses")
    elif last.endswith("ses") and len(last) > 5:
        forms |= {last[:-3] + "sis", last[:-1]}
    elif last.endswith(("s", "x", "ch", "sh")):
        if last.endswith("s") and not last.endswith("ss"):
            forms.add(last[:-1])
        forms.add(last + "es")
    elif last[-1:].isalpha():
        forms.add(last + "s")
    return {f"{head} {f}" if head else f for f in forms} - {key}


class Lexicon:
    """Terms by normalised key, plus the set of every word that occurs in a term."""

    def __init__(self, terms: list[Term]) -> None:
        self.terms: dict[str, Term] = {}
        for term in terms:
            key = normalize(term.text)
            if not key:
                continue
            known = self.terms.get(key)
            if known is None:
                self.terms[key] = term
            else:  # the same term in two files or groups: keep both sub-pathologies
                subs = tuple(dict.fromkeys(known.sub_pathologies + term.sub_pathologies))
                self.terms[key] = Term(known.text, known.category, subs, known.cui or term.cui)
        self.canonical = dict(self.terms)  # exact keys only (no generated variants)
        for key, term in list(self.canonical.items()):
            if term.cui is None:  # "eosinophil" shares the CUI given to "eosinophils"
                cuis = [self.canonical[v].cui for v in _variants(key) if v in self.canonical]
                cui = next((c for c in cuis if c), None)
                if cui:
                    self.canonical[key] = self.terms[key] = Term(
                        term.text, term.category, term.sub_pathologies, cui
                    )
        for key, term in list(self.canonical.items()):
            if term.is_acronym:
                continue
            for variant in _variants(key):
                self.terms.setdefault(variant, term)
        self.words: set[str] = {w for key in self.terms for w in key.split()}
        self.max_words = min(MAX_TERM_WORDS, max(len(k.split()) for k in self.terms))

    def __len__(self) -> int:
        return len(self.canonical)

    def lookup(self, phrase: str) -> Term | None:
        return self.terms.get(normalize(phrase))

    def find(self, text: str, max_words: int | None = None) -> list[Match]:
        """Non-overlapping term occurrences in ``text``, longest match first, left to right."""
        tokens = list(TOKEN.finditer(text))
        lowered = [t.group().lower() for t in tokens]
        matches: list[Match] = []
        longest = min(max_words or self.max_words, self.max_words)
        i = 0
        while i < len(tokens):
            for n in range(min(longest, len(tokens) - i), 0, -1):
                term = self.terms.get(" ".join(lowered[i : i + n]))
                if term is None:
                    continue
                surface = text[tokens[i].start() : tokens[i + n - 1].end()]
                if term.is_acronym and not _same_capitals(surface, term.text):
                    continue
                matches.append(Match(tokens[i].start(), tokens[i + n - 1].end(), term))
                i += n
                break
            else:
                i += 1
        return matches


def _same_capitals(surface: str, term: str) -> bool:
    return [c for c in surface if c.isalnum()] == [c for c in term if c.isalnum()]


def _parse_file(text: str, category: str) -> list[Term]:
    terms: list[Term] = []
    default_sub: str | None = None
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip() if not raw.lstrip().startswith("#") else ""
        if not line:
            continue
        if line.startswith("@sub"):
            value = line[4:].strip()
            default_sub = None if value in ("", "-") else value
            continue
        fields = [f.strip() for f in line.split("|")]
        sub = fields[1] if len(fields) > 1 and fields[1] else default_sub
        cui = fields[2] if len(fields) > 2 and fields[2] else None
        terms.append(Term(fields[0], category, (sub,) if sub else (), cui))
    return terms


@lru_cache(maxsize=4)
def load_lexicon(folder: str | None = None) -> Lexicon:
    """The shipped lexicon, or every ``*.txt`` in ``folder``."""
    if folder is None:
        root = resources.files("quilt_hf") / "resources" / "lexicon"
        files = [(p.name, p.read_text(encoding="utf-8")) for p in root.iterdir()]
    else:
        files = [(p.name, p.read_text(encoding="utf-8")) for p in Path(folder).iterdir()]
    terms: list[Term] = []
    for name, text in sorted(files):
        if name.endswith(".txt"):
            terms.extend(_parse_file(text, name[: -len(".txt")]))
    if not terms:
        raise FileNotFoundError(
            f"no lexicon terms found in {folder or 'quilt_hf/resources/lexicon'}"
        )
    return Lexicon(terms)
