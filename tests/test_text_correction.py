"""Lexicon ASR correction: the map is built from realistic mis-transcriptions and applied exactly."""

from __future__ import annotations

import pytest

from quilt_hf.text.correction import LexiconCorrector, apply_corrections, clean_corrections
from quilt_hf.text.lexicon import load_lexicon, normalize


@pytest.fixture(scope="module")
def corrector() -> LexiconCorrector:
    return LexiconCorrector()


# (noisy ASR text, the correction map we expect): errors of the kinds Whisper/YouTube make.
MISHEARD = [
    ("here we see many eosin a fill in the stroma", {"eosin a fill": "eosinophil"}),
    ("stained with hemotoxin lin and eosin", {"hemotoxin lin": "hematoxylin"}),
    ("a well differentiated adeno carcinoma", {"adeno carcinoma": "adenocarcinoma"}),
    ("a moderately differentiated adenocarsinoma", {"adenocarsinoma": "adenocarcinoma"}),
    ("note the sammoma bodies here", {"sammoma bodies": "psammoma bodies"}),
    ("classic reed stern berg cells", {"reed stern berg": "Reed-Sternberg"}),
    ("marked pleomorfism of the nuclei", {"pleomorfism": "pleomorphism"}),
    ("there is hyper chromasia", {"hyper chromasia": "hyperchromasia"}),
    ("the stroma shows desmo plasia", {"desmo plasia": "desmoplasia"}),
    ("a cribiform pattern", {"cribiform pattern": "cribriform pattern"}),
    ("we did immuno histo chemistry", {"immuno histo chemistry": "immunohistochemistry"}),
    ("positive for sito keratin", {"sito keratin": "cytokeratin"}),
    ("granulomas with kaseating necrosis", {"kaseating necrosis": "caseating necrosis"}),
]

ORDINARY = [
    "Today I want to talk about the weather, my favourite football team and the new cafe.",
    "So let me zoom in a little bit here and you can see these cells are quite large.",
    "Professor Ikezogwo uploaded the powerpoint to youtube yesterday, thanks everyone.",
    "The patient was a 45 year old woman with a breast lump.",
    "We saw lots of mitoses and carcinomas and metastases in lymph nodes.",
    "I will fill a form and see a nice saw here; the eosin stain will fill the gaps.",
    "Reed Sternberg cells and psammoma bodies are spelled correctly here.",
    "Please subscribe and hit the bell icon, see you in the next video.",
]


@pytest.mark.parametrize("noisy, expected", MISHEARD)
def test_misheard_terms_are_mapped_and_applied(corrector, noisy, expected):
    mapping = corrector.corrections(noisy)
    assert mapping == expected
    # the map is applied, not a rewrite: only the wrong spans change
    expected_text = noisy
    for wrong, right in expected.items():
        expected_text = expected_text.replace(wrong, right)
    assert apply_corrections(noisy, mapping) == expected_text


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_english_and_correct_terms_are_left_alone(corrector, text):
    assert corrector.corrections(text) == {}


def test_precision_and_recall_over_the_sets(corrector):
    hits = sum(corrector.corrections(noisy) == expected for noisy, expected in MISHEARD)
    false_alarms = sum(bool(corrector.corrections(text)) for text in ORDINARY)
    assert hits / len(MISHEARD) >= 0.9
    assert false_alarms == 0


def test_apply_corrections_is_whole_word_single_pass_and_keeps_capitals():
    text = "Eosin a fill here; eosin a fillet there; EOSIN A FILL again."
    out = apply_corrections(text, {"eosin a fill": "eosinophil"})
    # sentence-initial capital kept; not inside a longer word; case-insensitive keys
    assert out == "Eosinophil here; eosin a fillet there; Eosinophil again."
    # one pass: the replacement of one key is not re-corrected by another key
    assert apply_corrections("cell", {"cell": "cells", "cells": "cellz"}) == "cells"
    # longest key wins where keys overlap; whitespace in keys matches any run of spaces
    assert apply_corrections(
        "adeno  carcinoma", {"adeno carcinoma": "adenocarcinoma", "adeno": "x"}
    ) == ("adenocarcinoma")


def test_clean_corrections_drops_keys_not_in_text_and_non_strings():
    text = "we see eosin a fill"
    mapping = {
        "eosin a fill": "eosinophil",
        "lymfoma": "lymphoma",  # not in the text: an LLM hallucination
        "see": "see",  # no change
        7: "x",
        "we": ["not", "a", "string"],
        "we see": "x " * 100,  # a rewrite, not a correction
    }
    assert clean_corrections(mapping, text) == {"eosin a fill": "eosinophil"}
    assert clean_corrections(["not", "a", "dict"], text) == {}


def test_shipped_lexicon_has_thousands_of_categorised_terms():
    lexicon = load_lexicon()
    assert len(lexicon) >= 2500
    categories = {t.category for t in lexicon.canonical.values()}
    assert {
        "diagnoses",
        "stains",
        "ihc_markers",
        "cell_types",
        "tissues",
        "morphology",
    } <= categories
    eos = lexicon.lookup("eosinophils")
    assert eos is not None and eos.cui == "C0014467" and eos.category == "cell_types"
    assert lexicon.lookup("eosinophil").cui == "C0014467"  # singular shares the CUI
    assert "gastrointestinal" in lexicon.lookup("tubular adenoma").sub_pathologies
    assert normalize("Reed-Sternberg") == "reed sternberg"
    # acronyms match only in capitals: "ALL" is a leukemia, "all" is English
    found = [m.term.text for m in lexicon.find("ALL and all, ER and er")]
    assert found.count("ALL") == 1 and found.count("ER") == 1
