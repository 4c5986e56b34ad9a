"""What the synthetic lecturer says: a small pathology corpus, sentences per slide, word timings.

Written independently of ``quilt_hf/synthetic/sample/videos.py``: its own topics and sentences, its own
speaking model (word length drives word duration, a per-lecture speaking rate, pauses between
sentences), so a pipeline tuned on one generator's phrasing and pacing is measured on the other's.

The truth keeps the narration properly cased and punctuated (sentence ends are known exactly);
the captions written from it (``autocaptions.py``) are lowercase and unpunctuated, as YouTube's
automatic captions are.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

# topic -> (organ, diagnosis, sentences about the histology of that diagnosis)
TOPICS: dict[str, tuple[str, str, list[str]]] = {
    "bcc": (
        "skin",
        "basal cell carcinoma",
        [
            "Nests of basaloid cells hang down from the epidermis into the dermis.",
            "Look at the palisading of the nuclei along the edge of each nest.",
            "There is a cleft of retraction between the tumor and the stroma.",
            "The stroma around the nests is loose and slightly mucinous.",
            "Mitotic figures are easy to find at this magnification.",
            "These features together are typical of basal cell carcinoma.",
            "No squamous differentiation is seen in this part of the lesion.",
        ],
    ),
    "colon": (
        "colon",
        "adenocarcinoma",
        [
            "The glands are crowded and show a cribriform architecture.",
            "Dirty necrosis fills the lumen of several malignant glands.",
            "The tumor invades through the muscularis propria into fat.",
            "Nuclei are elongated, stratified and hyperchromatic.",
            "A desmoplastic reaction surrounds the infiltrating glands.",
            "Compare these glands with the normal crypts on the left side.",
            "Lymphovascular invasion would change the stage of this tumor.",
        ],
    ),
    "breast": (
        "breast",
        "invasive ductal carcinoma",
        [
            "Cords and small tubules of tumor cells infiltrate the stroma.",
            "The cells have moderate pleomorphism and visible nucleoli.",
            "There is an adjacent focus of ductal carcinoma in situ.",
            "Tubule formation is present in less than half of the tumor.",
            "The grade depends on tubules, nuclei and the mitotic count.",
            "Dense collagen separates the groups of malignant cells.",
            "Calcifications sometimes lie inside the involved ducts.",
        ],
    ),
    "lymph": (
        "lymph node",
        "follicular hyperplasia",
        [
            "Reactive follicles of varying size crowd the cortex.",
            "Each germinal center has tingible body macrophages.",
            "The mantle zones are intact around the follicles.",
            "Polarization of the germinal center favors a reactive process.",
            "The sinuses remain open and contain histiocytes.",
            "This pattern should not be confused with follicular lymphoma.",
        ],
    ),
    "liver": (
        "liver",
        "steatohepatitis",
        [
            "Large droplets of fat fill many of the hepatocytes.",
            "Ballooned hepatocytes sit mainly around the central vein.",
            "A mixed inflammatory infiltrate is scattered in the lobules.",
            "Mallory hyaline appears as ropy pink material in the cytoplasm.",
            "Pericellular fibrosis gives a chicken wire pattern on trichrome.",
            "The portal tracts show only mild chronic inflammation.",
        ],
    ),
}

# sentences about an immunohistochemistry slide (scikit-image's IHC picture)
IHC_SENTENCES = [
    "This section is stained by immunohistochemistry with a brown chromogen.",
    "The brown signal marks cells that express the target protein.",
    "Blue hematoxylin counterstains the nuclei of negative cells.",
    "Staining intensity varies from weak to strong across the field.",
    "We score the fraction of positive nuclei in the hot spot.",
    "Background staining is low, so the result can be trusted.",
    "An internal positive control is present in the normal tissue.",
]

# sentences said over any histology view, filling the long slides and the moving views
VIEW_SENTENCES = [
    "As I move across the slide you can follow the same change.",
    "Let me zoom in so that the cell detail becomes visible.",
    "Moving a little further the pattern becomes more obvious.",
    "Pay attention to the border between the lesion and normal tissue.",
    "At higher power the nuclear features are much clearer.",
    "Here the architecture is better appreciated at low power.",
    "Notice how the color of the tissue changes in this region.",
    "The same finding continues toward the bottom of the field.",
    "Follow the edge of the tissue with me for a moment.",
    "Scanning slowly we pass from one area into the next.",
    "Now we come closer to the most interesting part.",
    "Keep an eye on the cells in the middle of the screen.",
]

# said over a histology view only when a lecture has used up the sentences above (a plan with
# many histology slides): drawn after them, so the lectures planned without them stay the same
SPARE_VIEW_SENTENCES = [
    "Take a moment to look at the overall architecture here.",
    "The cells in this area repay a closer look.",
    "This field shows the features we have been describing.",
    "Compare this area with the one we looked at before.",
    "The changes here are subtle but they are real.",
    "Look at how the tissue is organised in this field.",
    "There is more to see as we look around this section.",
    "This part of the section is typical of the lesion.",
]

RETURN_SENTENCES = [
    "Let us go back to the section we saw at the beginning.",
    "Returning to this field, the earlier findings are confirmed.",
    "Seen again after the others, the diagnosis is straightforward.",
]

TITLE_SENTENCES = [
    "Welcome to this short lecture on the pathology of the {organ}.",
    "Today we discuss {diagnosis} and the features that define it.",
]

BULLET_SENTENCES = [
    "Here is a summary of the key points to remember.",
    "First recall the clinical setting of {diagnosis}.",
    "Then check the margins and the depth of invasion.",
    "Finally report the grade and any special stains.",
]

CHART_SENTENCES = [
    "This chart shows how often each subtype is seen in practice.",
    "The largest bar belongs to the most common presentation.",
    "Numbers like these guide the differential diagnosis.",
]

MIXED_SENTENCES = [
    "On this slide the picture sits next to the main criteria.",
    "The image on the right illustrates the first bullet point.",
]

WORD = re.compile(r"[A-Za-z][A-Za-z'-]*")


@dataclass
class Word:
    text: str  # as written in the narration, with its punctuation
    start: float
    end: float


def spoken_words(sentence: str) -> list[str]:
    """The words of a sentence as an automatic caption writes them: lowercase, no punctuation."""
    return [w.lower() for w in WORD.findall(sentence)]


class SentencePool:
    """Draws sentences without repeats inside one lecture (so each sentence names one slide)."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.used: set[str] = set()

    def draw(
        self, pool: list[str], n: int, spare: list[str] | None = None, **fill: str
    ) -> list[str]:
        """``n`` sentences of ``pool`` not said yet in this lecture; when fewer are left, the
        unsaid ones of ``spare`` join them (ValueError when both run out)."""
        fresh = [s.format(**fill) for s in pool if s.format(**fill) not in self.used]
        if len(fresh) < n and spare:
            fresh += [s for s in spare if s not in self.used and s not in fresh]
        if len(fresh) < n:
            raise ValueError(f"sentence pool exhausted: wanted {n}, {len(fresh)} left")
        picked = [fresh[i] for i in sorted(self.rng.choice(len(fresh), n, replace=False))]
        self.used.update(picked)
        return picked


class Speaker:
    """Word timings: a duration that grows with a word's length, a per-lecture rate, small gaps."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.rate = float(rng.uniform(0.85, 1.15))  # > 1 speaks slower

    def duration(self, sentence: str) -> float:
        words = sentence.split()
        return sum(self._word_seconds(w) for w in words) + 0.05 * (len(words) - 1)

    def _word_seconds(self, word: str) -> float:
        return self.rate * (0.1 + 0.045 * len(word.strip(".,;:")))

    def say(self, sentence: str, start: float) -> list[Word]:
        out = []
        t = start
        for text in sentence.split():
            seconds = self._word_seconds(text) * float(self.rng.uniform(0.9, 1.1))
            out.append(Word(text, round(t, 3), round(t + seconds, 3)))
            t += seconds + float(self.rng.uniform(0.02, 0.08))
        return out

    def pause(self) -> float:
        return float(self.rng.uniform(0.3, 0.7))


class IrregularSpeaker(Speaker):
    """A speaker less regular than ``Speaker``, closer to a real lecturer: word durations scatter
    (x lognormal, sigma 0.35: stress and syllables, not letters, set a word's length), the last
    word of a sentence is drawn out (x1.3, phrase-final lengthening), and 12% of the gaps inside
    a sentence are hesitations of 0.15-0.5 s, as long as a short pause between sentences."""

    def say(self, sentence: str, start: float) -> list[Word]:
        texts = sentence.split()
        out = []
        t = start
        for i, text in enumerate(texts):
            seconds = self._word_seconds(text) * float(self.rng.lognormal(0.0, 0.35))
            if i == len(texts) - 1:
                seconds *= 1.3
            out.append(Word(text, round(t, 3), round(t + seconds, 3)))
            hesitation = self.rng.random() < 0.12 and i < len(texts) - 1
            t += seconds + float(
                self.rng.uniform(0.15, 0.5) if hesitation else self.rng.uniform(0.02, 0.08)
            )
        return out


SPEAKERS = {"regular": Speaker, "irregular": IrregularSpeaker}
