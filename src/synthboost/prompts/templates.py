"""The P0–P7 text prompts of *Synthetic Boost* (Adhikari et al., ASMUS 2023), word for word.

The grammar reproduces the authors' released task files (CC-BY 4.0) character by character,
e.g. for CAMUS P7::

    Left ventricular cavity of oval shape in two-chamber view of the heart at end of the
    diastole cycle of a fifty-six-year-old female with good image quality.

A sentence is the ordered list :data:`CLAUSES`; each clause renders one attribute (or is left
out when the attribute is absent). A prompt *level* switches attributes on cumulatively, in the
order :data:`LEVEL_ORDER` gives per source (CAMUS: structure, view, phase, sex, age, quality,
shape; SDM has no quality, so its P6 is the shape). Sentence order and level order are
independent: the shape is the last level but sits right after the structure. Every prompt comes in
two phrasings, ``of the heart`` and ``in the cardiac ultrasound``; P0 is the empty string.

To add an attribute (beyond the paper), add one :class:`Clause` to :data:`CLAUSES` at its place in
the sentence and, if it should be a level of its own, its name to :data:`LEVEL_ORDER`. Attributes
in :data:`EVERY_LEVEL` (the ``domain`` tag) are rendered at every non-empty level when given, e.g.
``... of the heart in a synthetic cardiac ultrasound ...``; they are off by default so the
reference wording is unchanged.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from num2words import num2words

from synthboost.data.format import DOMAINS, MAX_AGE, QUALITIES, SEXES, SOURCES

#: Structure key (``synthboost.data.format.LABELS``) -> words of the reference.
STRUCTURE_WORDS: dict[str, str] = {
    "lv": "Left ventricular cavity",
    "myo": "Myocardium",
    "la": "Left atrium cavity",
}
VIEW_WORDS: dict[str, str] = {"2CH": "two-chamber", "4CH": "four-chamber"}
PHASE_WORDS: dict[str, str] = {"ED": "diastole", "ES": "systole"}
#: Number of phrasings of every non-empty prompt.
N_PHRASINGS = 2

Attrs = Mapping[str, Any]


@dataclasses.dataclass(frozen=True)
class Clause:
    """One part of the sentence: ``render(attrs, phrasing)`` returns its words or ``None``."""

    name: str
    render: Callable[[Attrs, int], str | None]


def age_words(age: int) -> str:
    """Age as the reference writes it: ``56`` -> ``fifty-six-year-old``."""
    if isinstance(age, bool) or not isinstance(age, int) or not 0 <= age <= MAX_AGE:
        raise ValueError(f"age must be an integer in 0..{MAX_AGE}, got {age!r}")
    return num2words(age).replace(" ", "-").replace(",", "") + "-year-old"


def _structure(a: Attrs, i: int) -> str:
    return STRUCTURE_WORDS[a["structure"]]


def _shape(a: Attrs, i: int) -> str | None:
    return f"of {a['shape']} shape" if a.get("shape") else None


def _view(a: Attrs, i: int) -> str | None:
    return f"in {VIEW_WORDS[a['view']]} view" if a.get("view") else None


def _anchor(a: Attrs, i: int) -> str:
    domain = a.get("domain")
    if i == 0:
        return "of the heart" + (f" in a {domain} cardiac ultrasound" if domain else "")
    return f"in a {domain} cardiac ultrasound" if domain else "in the cardiac ultrasound"


def _phase(a: Attrs, i: int) -> str | None:
    return f"at end of the {PHASE_WORDS[a['phase']]} cycle" if a.get("phase") else None


def _subject(a: Attrs, i: int) -> str | None:
    sex, age = a.get("sex"), a.get("age")
    if sex is None and age is None:
        return None
    words = [age_words(age)] if age is not None else []
    words.append(sex if sex is not None else "patient")
    # The reference always writes "a" (also "a eighty-four-year-old"): keep it.
    return "of a " + " ".join(words)


def _quality(a: Attrs, i: int) -> str | None:
    return f"with {a['quality']} image quality" if a.get("quality") else None


#: The sentence, in order. ``structure`` and ``anchor`` are always present.
CLAUSES: tuple[Clause, ...] = (
    Clause("structure", _structure),
    Clause("shape", _shape),
    Clause("view", _view),
    Clause("anchor", _anchor),
    Clause("phase", _phase),
    Clause("subject", _subject),  # renders "sex" and "age"
    Clause("quality", _quality),
)

_CAMUS_ORDER = ("structure", "view", "phase", "sex", "age", "quality", "shape")
_SDM_ORDER = ("structure", "view", "phase", "sex", "age", "shape")
#: Attributes switched on by P1, P2, ... per source (P0 is empty).
LEVEL_ORDER: dict[str, tuple[str, ...]] = {
    "camus": _CAMUS_ORDER,
    "phantom": _CAMUS_ORDER,
    "sdm": _SDM_ORDER,
    "synth": _SDM_ORDER,
    "echonet": _CAMUS_ORDER,  # no sex, age or quality: their levels repeat the previous one
}
#: Attributes rendered at every non-empty level when given (not a level of their own).
EVERY_LEVEL: tuple[str, ...] = ("domain",)


def _check_source(source: str) -> None:
    if source not in LEVEL_ORDER:
        raise ValueError(f"unknown prompt source {source!r}; expected one of {SOURCES}")


def levels_for(source: str) -> tuple[str, ...]:
    """Prompt levels of a source: ``("p0", ..., "p7")`` for CAMUS/phantom, ``... "p6"`` for SDM/synth."""
    _check_source(source)
    return tuple(f"p{k}" for k in range(len(LEVEL_ORDER[source]) + 1))


def render(attrs: Attrs, phrasing: int) -> str:
    """One sentence from the attributes present in ``attrs`` (absent or ``None`` ones are left out)."""
    parts = (clause.render(attrs, phrasing) for clause in CLAUSES)
    return " ".join(p for p in parts if p) + "."


def prompts_for(attrs: Attrs, source: str) -> dict[str, str | list[str]]:
    """All levels of ``source`` for one (image, structure): ``{"p0": "", "p1": [a, b], ...}``."""
    _check_source(source)
    order = LEVEL_ORDER[source]
    always = {k: attrs[k] for k in EVERY_LEVEL if attrs.get(k) is not None}
    out: dict[str, str | list[str]] = {"p0": ""}
    for k in range(1, len(order) + 1):
        active = {name: attrs.get(name) for name in order[:k]} | always
        out[f"p{k}"] = [render(active, i) for i in range(N_PHRASINGS)]
    return out


def _check_choice(name: str, value: Any, allowed: Any, optional: bool = True) -> None:
    if value is None and optional:
        return
    if value not in allowed:
        raise ValueError(f"{name} must be one of {tuple(allowed)}, got {value!r}")


def build_prompts(
    structure: str,
    view: str,
    phase: str | None,
    sex: str | None,
    age: int | None,
    quality: str | None,
    shape: str | None,
    source: str = "camus",
    domain: str | None = None,
) -> dict[str, str | list[str]]:
    """Prompts P0… of one (image, structure), exactly as the reference task files.

    Args:
        structure: ``"lv"``, ``"myo"`` or ``"la"``.
        view: ``"2CH"`` or ``"4CH"``.
        phase: ``"ED"`` (diastole), ``"ES"`` (systole) or ``None`` (a frame between them).
        sex: ``"female"``, ``"male"`` or ``None``.
        age: years or ``None``.
        quality: ``"good"``, ``"medium"``, ``"poor"`` or ``None`` (SDM/synth prompts never use it).
        shape: one word (``"oval"``, ...; cached VQA words such as ``"triangular"`` too) or ``None``.
        source: ``"camus"``, ``"phantom"``, ``"echonet"`` (levels P0–P7) or ``"sdm"``, ``"synth"`` (P0–P6).
        domain: ``"real"`` or ``"synthetic"`` to tag every prompt with it; ``None`` (default) keeps
            the reference wording.

    Returns:
        ``{"p0": "", "p1": [of-the-heart phrasing, in-the-cardiac-ultrasound phrasing], ...}``.
        An absent attribute (``None``) leaves its clause out of the levels that would show it.
    """
    _check_choice("structure", structure, STRUCTURE_WORDS, optional=False)
    _check_choice("view", view, VIEW_WORDS, optional=False)
    _check_choice("phase", phase, PHASE_WORDS)
    _check_choice("sex", sex, SEXES)
    _check_choice("quality", quality, QUALITIES)
    _check_choice("domain", domain, DOMAINS)
    if age is not None:
        age_words(age)  # validates
    if shape is not None and (not isinstance(shape, str) or not shape.isalpha()):
        raise ValueError(f"shape must be a single word, got {shape!r}")
    attrs = {
        "structure": structure,
        "view": view,
        "phase": phase,
        "sex": sex,
        "age": age,
        "quality": quality,
        "shape": shape,
        "domain": domain,
    }
    return prompts_for(attrs, source)
