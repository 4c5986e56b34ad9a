"""Pathology vocabulary for the sample corpus' texts (tweets, figure captions, alt-text).

The H&E slide is skin and the IHC image is colon, so texts pick entities to match the stain.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Entity:
    diagnosis: str
    organ: str
    hashtag: str  # OpenPath-style sub-specialty hashtag
    findings: tuple[str, ...]


HE_ENTITIES = (
    Entity(
        "basal cell carcinoma",
        "skin",
        "dermpath",
        (
            "nests of basaloid cells with peripheral palisading",
            "retraction artefact around tumour nests",
        ),
    ),
    Entity(
        "squamous cell carcinoma",
        "skin",
        "dermpath",
        ("keratin pearls and intercellular bridges", "atypical keratinocytes invading the dermis"),
    ),
    Entity(
        "seborrheic keratosis",
        "skin",
        "dermpath",
        (
            "horn pseudocysts in an acanthotic epidermis",
            "a sharply demarcated basaloid proliferation",
        ),
    ),
    Entity(
        "dermatofibroma",
        "skin",
        "dermpath",
        ("storiform spindle cells with collagen trapping", "overlying epidermal hyperplasia"),
    ),
    Entity(
        "lichen planus",
        "skin",
        "dermpath",
        (
            "a band-like lymphocytic infiltrate at the junction",
            "saw-tooth rete ridges and hypergranulosis",
        ),
    ),
    Entity(
        "melanocytic nevus",
        "skin",
        "dermpath",
        (
            "nests of bland melanocytes that mature with depth",
            "junctional nests at the tips of rete ridges",
        ),
    ),
)
IHC_ENTITIES = (
    Entity(
        "colonic adenocarcinoma",
        "colon",
        "GIpath",
        (
            "DAB-positive glands with cytoplasmic staining",
            "complex glands with nuclear stratification",
        ),
    ),
    Entity(
        "tubular adenoma",
        "colon",
        "GIpath",
        (
            "crowded tubular glands with diffuse brown staining",
            "haematoxylin-counterstained stroma",
        ),
    ),
)
GENERAL_HASHTAGS = ("pathology", "pathologists", "FOAMed", "MedEd", "PathTwitter")
MAGNIFICATION_WORDS = {0: "low power", 1: "medium power", 2: "high power"}


def pick(rng: np.random.Generator, options: tuple | list):
    """One element of ``options`` chosen by ``rng`` (keeps the element's own type)."""
    return options[int(rng.integers(0, len(options)))]


def entity_for(rng: np.random.Generator, stain: str) -> Entity:
    return pick(rng, IHC_ENTITIES if stain == "IHC" else HE_ENTITIES)


def finding_sentence(rng: np.random.Generator, entity: Entity, magnification: int | None) -> str:
    """A sentence naming a finding, with the power it is seen at when that is known."""
    finding = pick(rng, entity.findings)
    if magnification in MAGNIFICATION_WORDS:
        return f"At {MAGNIFICATION_WORDS[magnification]}, {finding}."
    return f"{finding[0].upper()}{finding[1:]}."
