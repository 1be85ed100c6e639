"""Pick the text prompt of a task entry for a given level, or build one from image attributes
(:func:`prompt_from_attributes`: the most specific P-level they allow).

Validation and testing use a fixed phrasing (index 0, ``... of the heart.``) so results are
reproducible; training draws one of the phrasings at random (``phrasing=None``) with the given
random generator, as a light text augmentation.
"""

from __future__ import annotations

import random
from typing import Any

from synthboost.prompts.templates import LEVEL_ORDER, build_prompts, prompts_for


def _draw(n: int, rng: Any) -> int:
    if rng is None:
        return random.randrange(n)
    if hasattr(rng, "integers"):  # numpy.random.Generator
        return int(rng.integers(n))
    return int(rng.randrange(n))  # random.Random


def select_prompt(entry: dict, level: str, phrasing: int | None = 0, rng: Any = None) -> str:
    """The prompt of ``entry`` at ``level`` (``"p0"``…``"p7"``).

    Args:
        entry: a task entry with a ``prompts`` mapping (``docs/formats.md``, ``anns`` section).
        level: prompt level; ``"p0"`` is always the empty string.
        phrasing: index of the phrasing (0: ``of the heart``, 1: ``in the cardiac ultrasound``);
            ``None`` draws one at random with ``rng``.
        rng: ``numpy.random.Generator`` or ``random.Random`` used when ``phrasing`` is ``None``
            (the module-level ``random`` when omitted).

    Raises:
        ValueError: the level is not in the entry (e.g. ``p7`` asked of an SDM dataset, whose
            levels stop at ``p6``) or the phrasing index is out of range.
    """
    prompts = entry.get("prompts") if isinstance(entry, dict) else None
    if not isinstance(prompts, dict):
        raise ValueError(f"task entry without a 'prompts' mapping: {entry!r:.120}")
    if level not in prompts:
        levels = sorted(prompts, key=lambda k: int(k[1:]) if k[1:].isdigit() else -1)
        raise ValueError(
            f"prompt level {level!r} asked of an entry whose levels are {levels} "
            f"({entry.get('img_name', '?')}); SDM and synthetic datasets stop at p6, CAMUS at p7"
        )
    value = prompts[level]
    if isinstance(value, str):
        return value
    if phrasing is None:
        return value[_draw(len(value), rng)]
    if not 0 <= phrasing < len(value):
        raise ValueError(f"phrasing {phrasing} out of range: level {level!r} has {len(value)} phrasings")
    return value[phrasing]


def prompt_from_attributes(
    structure: str,
    view: str | None = None,
    phase: str | None = None,
    sex: str | None = None,
    age: int | None = None,
    quality: str | None = None,
    shape: str | None = None,
    phrasing: int = 0,
) -> str:
    """The most specific prompt the given attributes allow (the paper's wording, ``of the heart``).

    With view and phase the P-level is the highest one whose attribute is given (e.g. structure,
    view, phase and sex -> P4; absent attributes in between are left out of the sentence).
    """
    level, prompts = prompts_from_attributes(structure, view, phase, sex, age, quality, shape)
    return prompts[level][phrasing]


def prompts_from_attributes(
    structure: str,
    view: str | None = None,
    phase: str | None = None,
    sex: str | None = None,
    age: int | None = None,
    quality: str | None = None,
    shape: str | None = None,
) -> tuple[str, dict[str, Any]]:
    """``(level, every level's prompts)`` of :func:`prompt_from_attributes` (QC asks several of them)."""
    attrs = {"structure": structure, "view": view, "phase": phase, "sex": sex, "age": age,
             "quality": quality, "shape": shape}  # fmt: skip
    order = LEVEL_ORDER["camus"]
    level = max(k for k in range(1, len(order) + 1) if attrs[order[k - 1]] is not None or k == 1)
    if view is not None and phase is not None:
        prompts = build_prompts(structure, view, phase, sex, age, quality, shape, source="camus")
    else:
        build_prompts(structure, view or "2CH", phase or "ED", sex, age, quality, shape)  # validates
        prompts = prompts_for(attrs, "camus")
    return f"p{level}", prompts
