"""JATS inline markup -> plain text, as a caption reader needs it (JATS 1.1-1.3, any publisher).

``itertext()`` over a caption gets three things wrong that publishers use all the time: a
superscript runs into its base ("(36.57)<sup>2</sup>" -> "36.57)2"), an ``<alternatives>`` block
gives its MathML, TeX and image forms one after another, and citations (``<xref ref-type="bibr">``)
stay as "[28,39]". ``inline_text`` renders:

- ``<sup>``/``<sub>``: Unicode super-/subscript characters where every character has one ("m²",
  "T₃", "CD4⁺"), else ``^x`` / ``_x``; a ``<sup>`` holding a citation is dropped with it;
- ``<xref ref-type="bibr">`` (citations): dropped; the brackets left around them are removed by
  the caption cleaner;
- ``<alternatives>``: one form only, MathML first, else the first textual form, else TeX;
- MathML (``mml:`` or unprefixed): ``msup``/``msub``/``msubsup`` as above, ``mfrac`` as a/b,
  ``msqrt`` as √x, token elements (``mi``, ``mn``, ``mo``, ``mtext``) as their text;
- ``<tex-math>``: the formula between ``\\begin{document}`` and ``\\end{document}`` without ``$``;
- ``<inline-graphic>``, ``<graphic>``, ``<media>``: nothing; ``<break/>``: a space.
"""

from __future__ import annotations

import re
from xml.etree.ElementTree import Element

_SUPERSCRIPT = str.maketrans(
    "0123456789+-\u2212=()ni", "\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079"
    "\u207a\u207b\u207b\u207c\u207d\u207e\u207f\u2071"
)  # fmt: skip
_SUBSCRIPT = str.maketrans(
    "0123456789+-\u2212=()aeoxhklmnpst",
    "\u2080\u2081\u2082\u2083\u2084\u2085\u2086\u2087\u2088\u2089\u208a\u208b\u208b\u208c\u208d"
    "\u208e\u2090\u2091\u2092\u2093\u2095\u2096\u2097\u2098\u2099\u209a\u209b\u209c",
)
_NO_TEXT = {"inline-graphic", "graphic", "media", "object-id", "tex-math-preamble"}
_TEX_BODY = re.compile(r"\\begin\{document\}(.*?)\\end\{document\}", re.DOTALL)


def local_name(element: Element) -> str:
    """The tag without its namespace: ``{http://www.w3.org/1998/Math/MathML}msup`` -> ``msup``."""
    tag = element.tag if isinstance(element.tag, str) else ""
    return tag.rsplit("}", 1)[-1].split(":")[-1]


def script(text: str, *, superscript: bool) -> str:
    """``text`` raised or lowered: Unicode characters when all have one, else ``^text``/``_text``."""
    text = text.strip()
    if not text:
        return ""
    table = _SUPERSCRIPT if superscript else _SUBSCRIPT
    if all(ord(c) in table for c in text):
        return text.translate(table)
    mark = "^" if superscript else "_"
    return f"{mark}{text}" if len(text) == 1 or text.isalnum() else f"{mark}({text})"


def _is_citation(element: Element) -> bool:
    return local_name(element) == "xref" and element.get("ref-type") == "bibr"


def _tex(text: str) -> str:
    body = _TEX_BODY.search(text)
    formula = body[1] if body else text
    return " ".join(formula.replace("$", " ").split())


def _children(element: Element) -> str:
    return "".join(inline_text(child) + (child.tail or "") for child in element)


def _math(element: Element) -> str:
    """MathML presentation markup as linear text."""
    name = local_name(element)
    parts = [_math(child) for child in element]
    if name in ("msup", "msub") and len(parts) == 2:
        return parts[0] + script(parts[1], superscript=name == "msup")
    if name == "msubsup" and len(parts) == 3:
        return parts[0] + script(parts[1], superscript=False) + script(parts[2], superscript=True)
    if name == "mfrac" and len(parts) == 2:
        return f"{parts[0]}/{parts[1]}"
    if name == "msqrt":
        return "\u221a" + "".join(parts)
    if name == "mspace":
        return " "
    if name in ("annotation", "annotation-xml"):
        return ""
    return (element.text or "").strip() + "".join(parts)


def _alternative(element: Element) -> str:
    children = list(element)
    for child in children:
        if local_name(child) == "math":
            return _math(child)
    for child in children:
        if local_name(child) not in _NO_TEXT and local_name(child) != "tex-math":
            text = inline_text(child)
            if text.strip():
                return text
    for child in children:
        if local_name(child) == "tex-math":
            return _tex("".join(child.itertext()))
    return ""


def inline_text(element: Element | None) -> str:
    """The text of ``element`` and its descendants, rendered as the module doc says (its own
    tail excluded)."""
    if element is None:
        return ""
    name = local_name(element)
    if name in _NO_TEXT or _is_citation(element):
        return ""
    if name == "break":
        return " "
    if name == "alternatives":
        return _alternative(element)
    if name == "math":
        return _math(element)
    if name == "tex-math":
        return _tex("".join(element.itertext()))
    if name in ("sup", "sub"):
        if any(_is_citation(child) for child in element.iter()):
            return ""
        return script((element.text or "") + _children(element), superscript=name == "sup")
    return (element.text or "") + _children(element)
