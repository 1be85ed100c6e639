"""Our prompts against the authors' released task files, character by character.

Reference data: Adhikari et al., *Synthetic Boost*, ASMUS 2023 (arXiv 2309.12829), CC-BY 4.0.
The CAMUS cfg files are not available here, so the metadata table (patient, view) -> sex, age,
quality is parsed from the reference's own text of ONE entry per (patient, view); view, phase
and structure come from the file names, the shape from the cached VQA answers. Then every level
of every entry is regenerated with ``build_prompts`` and compared.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from synthboost.data.format import LABELS
from synthboost.prompts.annotate import read_tasks
from synthboost.prompts.shapes import ShapeCache, extract_shape_cache
from synthboost.prompts.templates import age_words, build_prompts, levels_for

REFERENCE = Path(
    os.environ.get("SYNTHBOOST_REFERENCE", Path(__file__).resolve().parents[3] / "shared" / "reference")
)
TASKS = REFERENCE / "tasks"
pytestmark = pytest.mark.skipif(not TASKS.is_dir(), reason=f"reference data not found at {TASKS}")

WORD_AGE = {age_words(n): n for n in range(131)}
SUBJECT_RE = re.compile(
    r"of a ([a-z-]+-year-old) (female|male)(?: with (good|medium|poor) image quality)?\.$"
)


def _frame(entry: dict) -> tuple[str, str, str, str]:
    """(patient, view, phase, structure) from the file names."""
    patient, view, phase = entry["img_name"].split("_")[:3]
    label = int(re.match(r"mask_(\d)/", entry["mask_name"]).group(1))
    return patient, view, phase.removesuffix(".png"), LABELS[label]


def parse_metadata(entries: list[dict], level: str) -> dict[tuple[str, str], tuple]:
    """(patient, view) -> (sex, age, quality), parsed from ``level`` of the first entry of each."""
    table = {}
    for e in entries:
        patient, view, _, _ = _frame(e)
        if (patient, view) not in table:
            m = SUBJECT_RE.search(e["prompts"][level][0])
            assert m, e["prompts"][level][0]
            age_text, sex, quality = m.groups()
            table[(patient, view)] = (sex, WORD_AGE[age_text], quality)
    return table


def regenerate(entries, meta, cache, group, source):
    """Mismatches (entry, level, ours, theirs) of regenerating every prompt of ``entries``."""
    bad = []
    for e in entries:
        patient, view, phase, structure = _frame(e)
        sex, age, quality = meta[(patient, view)]
        shape = cache.get(group, e["img_name"], e["mask_name"])
        ours = build_prompts(structure, view, phase, sex, age, quality, shape, source=source)
        if list(ours) != list(e["prompts"]):
            bad.append((e["img_name"], "levels", list(ours), list(e["prompts"])))
        bad += [(e["img_name"], k, ours[k], v) for k, v in e["prompts"].items() if ours.get(k) != v]
    return bad


def _load(name: str) -> list[dict]:
    return read_tasks(TASKS / name)


@pytest.fixture(scope="module")
def cache() -> ShapeCache:
    """The authors' VQA shape words (CAMUS and SDM file names do not collide)."""
    files = ("camus/val.json", "camus/test.json", "sdm/val.json", "sdm/test.json")
    return ShapeCache(extract_shape_cache(TASKS / f for f in files))


@pytest.mark.parametrize("split,group", [("val", "train"), ("test", "test")])
def test_camus_reference_reproduced(split, group, cache):
    entries = _load(f"camus/{split}.json")
    assert len(entries) == 600
    meta = parse_metadata(entries, "p6")
    assert len(meta) == 100 and all(q is not None for _, _, q in meta.values())
    assert regenerate(entries, meta, cache, group, "camus") == []
    assert levels_for("camus") == tuple(entries[0]["prompts"])


def test_sdm_val_reproduced(cache):
    entries = _load("sdm/val.json")
    assert len(entries) == 3000
    meta = parse_metadata(entries, "p5")
    assert regenerate(entries, meta, cache, "train", "sdm") == []
    assert levels_for("sdm") == tuple(entries[0]["prompts"])
    # Same 50 training patients as CAMUS val: the same sex and age.
    camus = parse_metadata(_load("camus/val.json"), "p6")
    assert {k: v[:2] for k, v in camus.items()} == {k: v[:2] for k, v in meta.items()}


def test_sdm_test_carries_training_metadata(cache):
    """The known defect: SDM test uses the metadata of the training patients with the same number."""
    entries = _load("sdm/test.json")
    training = {k: (s, a, None) for k, (s, a, _) in parse_metadata(_load("sdm/val.json"), "p5").items()}
    assert regenerate(entries, training, cache, "test", "sdm") == []
    real = {k: (s, a, None) for k, (s, a, _) in parse_metadata(_load("camus/test.json"), "p6").items()}
    assert len(regenerate(entries, real, cache, "test", "sdm")) > 100


def test_shape_vocabulary_of_reference(cache):
    words = {w for table in cache.table.values() for w in table.values()}
    assert words == {"circle", "oval", "square", "rectangle", "triangle", "triangular", "rectangular"}
    assert len(cache) == 600 + 600 + 3000 + 600
