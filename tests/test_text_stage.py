"""Entities, ROI text, pathology and the TextStage facade (offline defaults)."""

from __future__ import annotations

import pytest

from quilt_hf.errors import QuiltError
from quilt_hf.text.entities import med_umls_ids
from quilt_hf.text.pathology import SUB_PATHOLOGIES, lexicon_pathology
from quilt_hf.text.pipeline import TextResult, TextStage
from quilt_hf.text.roi import heuristic_roi, split_sentences


def test_med_umls_ids_from_lexicon_terms_in_order():
    text = (
        "This lymph node shows classic Hodgkin lymphoma with eosinophils, "
        "next to a well differentiated adenocarcinoma."
    )
    ids = med_umls_ids(text)
    # lymph node, Hodgkin (inside "classic Hodgkin lymphoma"), eosinophils, adenocarcinoma
    assert ids == ["C0024204", "C0019829", "C0014467", "C0001418"]
    assert med_umls_ids("The weather today is lovely.") == []
    with pytest.raises(QuiltError, match="unknown entity backend"):
        med_umls_ids(text, backend="magic")


def test_scispacy_backend_is_a_clear_error_when_not_installed():
    try:
        import scispacy  # noqa: F401
    except ImportError:
        with pytest.raises(QuiltError, match="scispacy"):
            med_umls_ids("eosinophils", backend="scispacy")
    else:  # pragma: no cover - only where the user installed it
        pytest.skip("scispacy installed: the error path does not apply")


def test_roi_keeps_sentences_that_point_at_visible_morphology():
    text = (
        "Welcome back to the channel. Here we see sheets of atypical cells with prominent nucleoli. "
        "The patient was sixty years old. These glands are back-to-back with a cribriform pattern. "
        "You can see my screen now. The tumor shows necrosis and mitoses."
    )
    assert heuristic_roi(text) == [
        "Here we see sheets of atypical cells with prominent nucleoli.",
        "These glands are back-to-back with a cribriform pattern.",
        "The tumor shows necrosis and mitoses.",
    ]


def test_unpunctuated_captions_are_split_into_clauses():
    text = " ".join(["word"] * 10) + " so here we see eosinophils " + " ".join(["more"] * 40)
    pieces = split_sentences(text)
    assert len(pieces) > 1 and all(len(p.split()) <= 40 for p in pieces)
    assert any(
        p.startswith(("so here we see eosinophils", "here we see eosinophils")) for p in pieces
    )


@pytest.mark.parametrize(
    "text, label",
    [
        (
            "A tubular adenoma of the colon with crypts and goblet cells in the lamina propria.",
            "gastrointestinal",
        ),
        ("Invasive ductal carcinoma of the breast next to ductal carcinoma in situ.", "breast"),
        (
            "This skin biopsy shows a basal cell carcinoma with peripheral palisading in the dermis.",
            "dermatopathology",
        ),
        (
            "A lymph node with diffuse large B-cell lymphoma and effaced germinal centers.",
            "hematopathology",
        ),
        (
            "Glioblastoma in the brain with pseudopalisading necrosis and GFAP staining.",
            "neuropathology",
        ),
        ("Papillary thyroid carcinoma with psammoma bodies in the thyroid gland.", "endocrine"),
        ("The prostate shows prostatic adenocarcinoma, Gleason score seven.", "genitourinary"),
    ],
)
def test_lexicon_pathology_labels(text, label):
    labels = lexicon_pathology(text)
    assert labels and labels[0] == label
    assert set(labels) <= set(SUB_PATHOLOGIES)


def test_lexicon_pathology_needs_evidence():
    assert lexicon_pathology("Thanks for watching, see you next week.") == []
    assert lexicon_pathology("the colon") == []  # one organ mention is not enough


def test_text_stage_default_is_offline_and_complete():
    stage = TextStage()
    result = stage.process(
        "so here  we see a lymph node with effaced architecture and reed stern berg cells. "
        "note the eosin a fill in the background. thanks for watching"
    )
    assert isinstance(result, TextResult)
    assert result.noisy_text.startswith("so here we see")  # whitespace normalised only
    assert result.asr_correction == {
        "reed stern berg": "Reed-Sternberg",
        "eosin a fill": "eosinophil",
    }
    assert "Reed-Sternberg cells" in result.corrected_text
    assert "C0024204" in result.med_umls_ids and "C0014467" in result.med_umls_ids
    assert result.roi_text[0].startswith("so here we see a lymph node")
    assert result.pathology == ["hematopathology"]
    assert TextStage(corrector="none").process("eosin a fill").asr_correction == {}
    with pytest.raises(QuiltError, match="unknown corrector"):
        TextStage(corrector="gpt")
