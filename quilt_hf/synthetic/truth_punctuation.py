"""A punctuation "model" that knows a generated lecture's sentence ends: the benchmark's upper bound.

``benchmarks/youtube_quality.py --sentences truth`` restores sentences with it in place of a
token classifier (``--sentences model``), so the figures show what the pipeline pairs when every
sentence end is right, and the gap to ``pauses`` is what sentence restoration costs. It answers as
a ``transformers`` token-classification pipeline does (one entity per word, with character
offsets), so it exercises the same code path as a real model. It is a diagnostic, never a method.
"""

from __future__ import annotations

from quilt_hf.text.sentences import bare_word

LOCATE_WORDS = 12  # words of a window matched against the lecture to find where it is


class TruthPunctuation:
    """Call with the text of a window of caption words; ``truth`` is ``score.load_truth``'s."""

    def __init__(self, truth: dict) -> None:
        words = truth["words"]
        self.words = [bare_word(w["text"]) for w in words]
        self.ends = [
            i == len(words) - 1 or words[i + 1]["sentence"] != w["sentence"]
            for i, w in enumerate(words)
        ]
        self.unplaced = 0  # windows whose words were not found in the truth (none expected)

    def _locate(self, tokens: list[str]) -> int:
        probe = tokens[:LOCATE_WORDS]
        for start in range(len(self.words) - len(probe) + 1):
            if self.words[start : start + len(probe)] == probe:
                return start
        return -1

    def __call__(self, text: str) -> list[dict]:
        tokens = text.split()
        start = self._locate([bare_word(t) for t in tokens])
        if start < 0:
            self.unplaced += 1
        entities, offset = [], 0
        for k, token in enumerate(tokens):
            offset = text.index(token, offset)
            at = start + k
            ends = start >= 0 and at < len(self.ends) and self.ends[at]
            entities.append(
                {"start": offset, "end": offset + len(token), "entity": "." if ends else "0"}
            )
            offset += len(token)
        return entities
