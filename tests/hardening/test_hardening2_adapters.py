"""Issue 23, LoRA adapter folders: every bad adapter is one line naming the file and the field, checked
before anything is allocated; the base is the one beside the adapter (never the current folder's) and
the one it was trained on."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from hardening2_helpers import attack, edit_json
from hardening_helpers import one_line_error
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from synthboost.models.adapter_checks import lora_bytes, read_lora_config
from synthboost.models.adapters import ADAPTER_CONFIG_NAME, ADAPTER_WEIGHTS_NAME

CONFIG = ADAPTER_CONFIG_NAME


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``base_model/`` (a tiny CRIS) and ``adapter/`` (rank-2 LoRA whose base is ``../base_model``,
    LoRA B weights set so that the adapter changes the output)."""
    from synthboost.models import build_model
    from synthboost.models.adapters import add_lora, save_adapter

    root = tmp_path_factory.mktemp("adapters")
    torch.manual_seed(0)
    base = build_model("cris", config="tiny")
    base.save_pretrained(root / "base_model")
    model = add_lora(base, rank=2, base="../base_model")
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.5, generator=torch.Generator().manual_seed(1))
    save_adapter(model, root / "adapter")
    Image.fromarray((np.arange(48 * 40) % 251).reshape(48, 40).astype(np.uint8)).save(root / "echo.png")
    return root


@pytest.fixture
def work(source: Path, tmp_path: Path) -> Path:
    """A fresh copy of the adapter, its base and the test image."""
    for name in ("base_model", "adapter", "echo.png"):
        (shutil.copytree if (source / name).is_dir() else shutil.copyfile)(source / name, tmp_path / name)
    return tmp_path


def _segment(cli, work: Path, model: Path | str):
    return cli("segment", work / "echo.png", "--model", model, "--prompt", "left ventricle",
               "--out", work / "seg", "--device", "cpu")  # fmt: skip


def _write_config(work: Path, data: object) -> Path:
    path = work / "adapter" / CONFIG
    path.write_text(json.dumps(data))
    return path


BAD_CONFIGS = [
    ("list", lambda c: [c], "expected a JSON object"),
    ("string", lambda c: "LORA", "expected a JSON object"),
    ("r-string", lambda c: {**c, "r": "8"}, "r must be a positive integer"),
    ("r-zero", lambda c: {**c, "r": 0}, "r must be a positive integer"),
    ("r-float", lambda c: {**c, "r": 2.5}, "r must be a positive integer"),
    ("alpha-nan-text", lambda c: {**c, "lora_alpha": "x"}, "lora_alpha must be a positive finite number"),
    ("dropout-2", lambda c: {**c, "lora_dropout": 2}, "lora_dropout must be a number in [0, 1)"),
    ("targets-int", lambda c: {**c, "target_modules": 5}, "target_modules must be a regular expression"),
    ("targets-bad-regex", lambda c: {**c, "target_modules": "(("}, "not a valid regular expression"),
    ("no-base", lambda c: {k: v for k, v in c.items() if k != "base_model_name_or_path"}, "no base_model"),
    ("dora", lambda c: {**c, "use_dora": True}, "use_dora = True is not supported"),
    ("bias-all", lambda c: {**c, "bias": "all"}, "bias must be 'none'"),
]


@pytest.mark.parametrize(("edit", "fragment"), [b[1:] for b in BAD_CONFIGS], ids=[b[0] for b in BAD_CONFIGS])
def test_malformed_adapter_config_is_one_line_naming_file_and_field(cli, work, edit, fragment) -> None:
    config = json.loads((work / "adapter" / CONFIG).read_text())
    path = _write_config(work, edit(config))
    with attack("traceback"):
        one_line_error(_segment(cli, work, work / "adapter"), str(path), fragment)
    assert not (work / "seg").exists()


@pytest.mark.parametrize("rank", [10**9, 4 * 10**7])
def test_huge_rank_is_refused_before_allocating(cli, work, rank: int) -> None:
    import resource

    path = edit_json(work / "adapter" / CONFIG, r=rank)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with attack("unbounded"):
        line = one_line_error(_segment(cli, work, work / "adapter"), str(path), f"r = {rank} would allocate")
        assert "GiB" in line and "fix r" in line
        # the peak grew by far less than what the rank would have asked for (ru_maxrss in KiB)
        assert (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024 < 500 * 2**20


def test_lora_bytes_counts_each_targeted_layer_by_hand(work) -> None:
    """Budget arithmetic on a known layer: a Linear(6 → 4) at r = 3 holds 3·(4 + 6) floats."""
    from types import SimpleNamespace

    model = torch.nn.Sequential(torch.nn.Linear(6, 4), torch.nn.Conv2d(2, 5, 3))
    assert lora_bytes(model, SimpleNamespace(r=3, target_modules=r"0")) == (1, 4 * 3 * (4 + 6))
    assert lora_bytes(model, SimpleNamespace(r=2, target_modules=["1"])) == (1, 4 * 2 * (5 + 2 * 9))


def _rewrite_weights(work: Path, change) -> Path:
    from safetensors.torch import load_file, save_file

    path = work / "adapter" / ADAPTER_WEIGHTS_NAME
    tensors = load_file(path)
    key = next(k for k in sorted(tensors) if "lora_A" in k)
    tensors[key] = change(tensors[key])
    save_file(tensors, path)
    return path


def test_adapter_weights_of_the_wrong_shape_are_one_line(cli, work) -> None:
    path = _rewrite_weights(work, lambda t: torch.zeros(t.shape[0] + 1, *t.shape[1:]))
    with attack("traceback"):
        one_line_error(_segment(cli, work, work / "adapter"), str(path), "has shape", "expects")


def test_nan_adapter_weights_are_named_not_peft_text(cli, work) -> None:
    path = _rewrite_weights(work, lambda t: torch.full_like(t, float("nan")))
    with attack("message"):
        line = one_line_error(_segment(cli, work, work / "adapter"), str(path), "NaN or infinite values")
        assert "seems to be broken" not in line


def test_targets_matching_nothing_say_what_to_do(cli, work) -> None:
    path = edit_json(work / "adapter" / CONFIG, target_modules=r"nothing\.here")
    with attack("message"):
        one_line_error(_segment(cli, work, work / "adapter"), str(path), "match no encoder layer",
                       "leave the targets out")  # fmt: skip


def test_targets_inside_multihead_attention_are_refused_on_load(cli, work) -> None:
    """CRIS's text transformer attention is an nn.MultiheadAttention: peft would change its frozen weights."""
    path = edit_json(work / "adapter" / CONFIG, target_modules=r"(?:backbone)\.(?:.*\.)?(?:attn)")
    with attack("message"):
        one_line_error(_segment(cli, work, work / "adapter"), str(path), "nn.MultiheadAttention")


def test_missing_folder_is_not_found_not_a_hub_error(cli, work) -> None:
    with attack("message"):
        line = one_line_error(_segment(cli, work, "nosuch/adapter"), "nosuch/adapter: not found")
        assert "Internet connection" not in line


def _probability(work: Path, model: Path) -> np.ndarray:
    from synthboost.evaluation.segmenter import Segmenter

    return Segmenter.from_pretrained(model, device="cpu")(
        str(work / "echo.png"), "left ventricle"
    ).probability


def test_relative_base_is_resolved_against_the_adapter_folder(work, monkeypatch, tmp_path_factory) -> None:
    """A different model under the same relative name in the current folder is never used."""
    from synthboost.models import build_model

    expected = _probability(work, work / "adapter")
    elsewhere = tmp_path_factory.mktemp("cwd") / "sub"
    elsewhere.mkdir()
    torch.manual_seed(7)
    build_model("cris", config="tiny").save_pretrained(elsewhere.parent / "base_model")
    monkeypatch.chdir(elsewhere)  # ../base_model from here is the other model
    with attack("silent"):
        assert np.array_equal(_probability(work, work / "adapter"), expected)


def test_relative_base_missing_beside_the_adapter_is_not_taken_from_the_current_folder(
    cli, work, monkeypatch
) -> None:
    edit_json(work / "adapter" / CONFIG, base_model_name_or_path="base_model")  # not beside the adapter
    monkeypatch.chdir(work)  # but ./base_model exists here
    with attack("silent"):
        one_line_error(_segment(cli, work, work / "adapter"), str(work / "adapter" / CONFIG),
                       "base_model_name_or_path base_model: not found", "resolved against the adapter folder")  # fmt: skip


def test_a_different_base_is_refused(cli, work) -> None:
    from synthboost.models import build_model

    torch.manual_seed(3)
    shutil.rmtree(work / "base_model")
    build_model("cris", config="tiny").save_pretrained(work / "base_model")
    with attack("silent"):
        one_line_error(_segment(cli, work, work / "adapter"), str(work / "adapter"),
                       "is not the model the adapter was trained on")  # fmt: skip


def test_saved_adapter_records_base_name_and_hash(work) -> None:
    record = json.loads((work / "adapter" / "base.json").read_text())
    assert record["base_model_name_or_path"] == "../base_model"
    assert len(record["encoder_sha256"]) == 64


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)
FIELDS = st.sampled_from(["r", "lora_alpha", "lora_dropout", "target_modules", "modules_to_save", "bias",
                          "base_model_name_or_path", "peft_type", "use_dora", "rank_pattern", "layers_pattern"])  # fmt: skip


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=JSON | st.dictionaries(FIELDS, JSON, max_size=4), keep=st.booleans())
def test_any_json_config_loads_or_gives_one_value_error(work, data, keep) -> None:
    """Property: any JSON document (or a valid config with fields replaced by any JSON) either reads as a
    LoraConfig or raises one ValueError naming the file."""
    path = work / "adapter" / CONFIG
    base = (
        json.loads((work / "source_config.json").read_text())
        if (work / "source_config.json").is_file()
        else None
    )
    if base is None:
        base = json.loads(path.read_text())
        (work / "source_config.json").write_text(json.dumps(base))
    doc = {**base, **data} if keep and isinstance(data, dict) else data
    path.write_text(json.dumps(doc, allow_nan=True))
    try:
        config = read_lora_config(path)
    except ValueError as err:
        assert str(err).startswith(str(path)), err
        return
    assert isinstance(config.r, int) and config.r >= 1 and config.base_model_name_or_path


def test_lora_budget_at_its_edge(source) -> None:
    """The budget refuses one byte over what ``r`` asks for and accepts exactly that much."""
    from synthboost.models import load_pretrained
    from synthboost.models.adapter_checks import check_lora_budget

    config = read_lora_config(source / "adapter" / CONFIG)
    base = load_pretrained(source / "base_model")
    _, nbytes = lora_bytes(base, config)
    with_adapters = load_pretrained(source / "adapter")  # what peft really allocates for this r
    assert nbytes == 4 * sum(p.numel() for n, p in with_adapters.named_parameters() if "lora_" in n) > 0
    check_lora_budget(base, config, source / "adapter" / CONFIG, limit=nbytes)
    with attack("unbounded"), pytest.raises(ValueError, match=r"r = 2 would allocate .* fix r"):
        check_lora_budget(base, config, source / "adapter" / CONFIG, limit=nbytes - 1)
