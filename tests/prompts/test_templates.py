"""Prompt grammar beyond the reference files, and prompt selection."""

from __future__ import annotations

import random

import numpy as np
import pytest

from synthboost.prompts.select import select_prompt
from synthboost.prompts.templates import age_words, build_prompts, levels_for, render

ARGS = dict(structure="la", view="4CH", phase="ES", sex="male", age=84, quality="poor", shape="circle")


def test_levels():
    assert levels_for("camus") == levels_for("phantom") == tuple(f"p{k}" for k in range(8))
    assert levels_for("sdm") == levels_for("synth") == tuple(f"p{k}" for k in range(7))
    with pytest.raises(ValueError, match="unknown prompt source"):
        levels_for("kaggle")


def test_camus_p7_and_sdm_p6():
    camus = build_prompts(**ARGS)
    assert camus["p0"] == ""
    assert camus["p7"] == [
        "Left atrium cavity of circle shape in four-chamber view of the heart at end of the systole cycle "
        "of a eighty-four-year-old male with poor image quality.",
        "Left atrium cavity of circle shape in four-chamber view in the cardiac ultrasound at end of the "
        "systole cycle of a eighty-four-year-old male with poor image quality.",
    ]
    sdm = build_prompts(**ARGS, source="sdm")
    assert list(sdm) == list(levels_for("sdm"))
    assert sdm["p6"][0] == camus["p7"][0].replace(" with poor image quality", "")
    assert sdm["p5"] == camus["p5"]


def test_domain_tag_every_level_off_by_default():
    plain = build_prompts(**ARGS)
    tagged = build_prompts(**ARGS, domain="synthetic")
    assert tagged["p0"] == ""
    assert tagged["p1"] == [
        "Left atrium cavity of the heart in a synthetic cardiac ultrasound.",
        "Left atrium cavity in a synthetic cardiac ultrasound.",
    ]
    assert tagged["p3"][1] == plain["p3"][1].replace("the cardiac", "a synthetic cardiac")
    assert "synthetic" not in str(plain)
    with pytest.raises(ValueError, match="domain"):
        build_prompts(**ARGS, domain="fake")


def test_missing_attributes_leave_clauses_out():
    p = build_prompts("myo", "2CH", "ED", None, 56, None, None, source="camus")
    assert p["p4"] == p["p3"]
    assert p["p5"][0].endswith("diastole cycle of a fifty-six-year-old patient.")
    assert p["p7"] == p["p6"] == p["p5"]
    assert (
        render({"structure": "lv", "sex": "female"}, 0) == "Left ventricular cavity of the heart of a female."
    )


@pytest.mark.parametrize(
    "bad,match",
    [
        ({"structure": "rv"}, "structure"),
        ({"view": "3CH"}, "view"),
        ({"phase": "MD"}, "phase"),
        ({"sex": "f"}, "sex"),
        ({"quality": "bad"}, "quality"),
        ({"age": -1}, "age"),
        ({"age": 56.5}, "age"),
        ({"shape": "two words"}, "shape"),
    ],
)
def test_bad_attributes(bad, match):
    with pytest.raises(ValueError, match=match):
        build_prompts(**(ARGS | bad))


def test_age_words():
    assert age_words(56) == "fifty-six-year-old"
    assert age_words(18) == "eighteen-year-old"
    assert age_words(101) == "one-hundred-and-one-year-old"


def test_select_prompt():
    entry = {"img_name": "x.png", "prompts": build_prompts(**ARGS, source="sdm")}
    assert select_prompt(entry, "p0") == ""
    assert select_prompt(entry, "p2") == "Left atrium cavity in four-chamber view of the heart."
    assert select_prompt(entry, "p2", phrasing=1).endswith("in the cardiac ultrasound.")
    drawn = {select_prompt(entry, "p3", phrasing=None, rng=np.random.default_rng(0)) for _ in range(1)}
    rng = random.Random(0)
    drawn |= {select_prompt(entry, "p3", phrasing=None, rng=rng) for _ in range(30)}
    assert drawn == set(entry["prompts"]["p3"])
    with pytest.raises(ValueError, match="'p7' asked of an entry.*p6"):
        select_prompt(entry, "p7")
    with pytest.raises(ValueError, match="out of range"):
        select_prompt(entry, "p1", phrasing=2)
    with pytest.raises(ValueError, match="prompts"):
        select_prompt({"img_name": "x.png"}, "p1")
