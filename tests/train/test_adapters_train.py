"""LoRA runs end to end (tiny models, CPU): CLI and Python API, every strategy, save/reload/merge."""

from __future__ import annotations

import json
from pathlib import Path

import lightning as L
import pytest
import torch
from train_fixtures import tiny_overrides
from typer.testing import CliRunner

from synthboost.training import runfolder
from synthboost.training.config import load_config
from synthboost.training.run import config_differences, train

CLIPSEG = "configs/experiment/demo_tiny_clipseg.yaml"
CRIS = "configs/experiment/demo_tiny_cris.yaml"
LORA = {"model.adapter.method": "lora", "model.adapter.rank": "4"}


class Probe(L.Callback):
    """The model's state at the start of training."""

    def on_train_start(self, trainer, pl_module) -> None:
        self.state = {k: v.detach().clone() for k, v in pl_module.model.state_dict().items()}


def tiny(path: str, root: Path, **extra: str):
    return load_config(path, tiny_overrides(root, **extra))


def _last_state(run: Path) -> dict[str, torch.Tensor]:
    ckpt = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    return {k.removeprefix("model."): v for k, v in ckpt["state_dict"].items()}


@pytest.fixture(scope="module")
def cris_lora(real_root, tmp_path_factory):
    probe = Probe()
    cfg = tiny(CRIS, real_root, **LORA, **{"trainer.max_epochs": "2", "data.prompt": "p2"})
    return train(cfg, tmp_path_factory.mktemp("lora") / "cris", callbacks=[probe]), probe


def test_lora_run_changes_only_adapters_and_head(cris_lora) -> None:
    run, probe = cris_lora
    last = _last_state(run)
    base = {k: v for k, v in probe.state.items() if k.startswith("backbone.") and "lora_" not in k}
    assert any("running_mean" in k for k in base) and any(".base_layer." in k for k in base)
    for key, value in base.items():
        assert torch.equal(last[key], value), key  # frozen base, BatchNorm buffers included: bit-identical
    moved = [k for k, v in probe.state.items() if v.is_floating_point() and not torch.equal(last[k], v)]
    assert any("lora_" in k for k in moved) and any(
        k.startswith(("neck.", "decoder.", "proj.")) for k in moved
    )
    assert all("lora_" in k or not k.startswith("backbone.") for k in moved)


def test_lora_run_folder_records_parameters_and_saves_a_peft_adapter(cris_lora) -> None:
    run, _ = cris_lora
    model_dir = run / "model"
    for rel in ("adapter_config.json", "adapter_model.safetensors", "base/config.json", "README.md"):
        assert (model_dir / rel).is_file(), rel
    result = runfolder.read_result(run)
    assert result["adapter"] == "lora-r4" and 0 < result["trainable_params"] < result["total_params"]
    assert "| adapter | lora-r4 |" in (model_dir / "README.md").read_text()
    config = json.loads((model_dir / "adapter_config.json").read_text())
    assert config["r"] == 4 and set(config["modules_to_save"]) == {"neck", "decoder", "proj"}
    saved = load_config(run / "config.yaml")
    assert "conv2" in saved.model.adapter.targets  # the model's default targets are named in the config


def test_lora_run_reloads_merges_and_predicts(cris_lora, real_root, tmp_path) -> None:
    from synthboost.evaluation.predict import predict
    from synthboost.evaluation.segmenter import Segmenter
    from synthboost.models import get_tokenizer, load_pretrained
    from synthboost.models.adapters import has_adapters

    run, _ = cris_lora
    model = load_pretrained(run).eval()
    merged = load_pretrained(run, merge=True).eval()
    assert has_adapters(model) and not has_adapters(merged)
    last = _last_state(run)
    best = torch.load(run / "checkpoints" / "best.ckpt", map_location="cpu", weights_only=True)["state_dict"]
    assert set(model.state_dict()) == set(last)
    for key, value in model.state_dict().items():  # base + adapter folder = the best checkpoint
        torch.testing.assert_close(value, best[f"model.{key}"], rtol=0, atol=0, msg=key)
    torch.manual_seed(0)
    pixels = torch.randn(2, 3, 64, 64)
    tokens = get_tokenizer(model.preprocessing)(["left ventricle", "left atrium"])
    with torch.no_grad():
        torch.testing.assert_close(merged(pixels, **tokens), model(pixels, **tokens), rtol=1e-4, atol=1e-4)
    segmenter = Segmenter.from_pretrained(run)
    assert not has_adapters(segmenter.model)  # inference runs merged
    from synthboost.evaluation.predictions import read_predictions
    from synthboost.prompts.annotate import load_annotations

    preds = read_predictions(predict(run, real_root, "test", tmp_path / "preds", device="cpu"))
    assert len(preds.items) == len(load_annotations(real_root, "test")) and preds.info["prompt_level"] == "p2"


def test_ptft_continues_the_same_adapters_or_starts_fresh(real_root, synth_root, tmp_path) -> None:
    from synthboost.models import load_pretrained

    pre_cfg = tiny(CLIPSEG, synth_root, **LORA, **{"data.prompt": "p6", "strategy.name": "synthetic",
                                                    "trainer.max_epochs": "1"})  # fmt: skip
    pre = train(pre_cfg, tmp_path / "synth")
    pre_state = load_pretrained(pre).state_dict()
    ft = {**LORA, "data.prompt": "p7", "strategy.name": "ptft", "strategy.init_from": str(pre),
          "trainer.max_epochs": "1"}  # fmt: skip

    cont = Probe()
    train(tiny(CLIPSEG, real_root, **ft), tmp_path / "continue", callbacks=[cont])
    assert set(cont.state) == set(pre_state)
    for key, value in pre_state.items():
        assert torch.equal(cont.state[key], value), key  # the same adapters (and head) continue
    assert any("lora_B" in k and v.abs().sum() > 0 for k, v in cont.state.items())

    fresh = Probe()
    train(tiny(CLIPSEG, real_root, **ft, **{"model.adapter.continue_adapters": "false"}), tmp_path / "fresh",
          callbacks=[fresh])  # fmt: skip
    lora_b = [v for k, v in fresh.state.items() if "lora_B" in k]
    assert lora_b and all(v.abs().sum() == 0 for v in lora_b)  # fresh adapters start at zero
    merged = load_pretrained(pre, merge=True).state_dict()
    for key, value in merged.items():  # ... on the pre-training model with its adapters merged in
        plain = key if key in fresh.state else key.rsplit(".", 1)[0] + ".base_layer." + key.rsplit(".", 1)[1]
        torch.testing.assert_close(fresh.state[plain], value, msg=key)
    assert (tmp_path / "fresh" / "model" / "base" / "config.json").is_file()

    with pytest.raises(ValueError, match="adapters differ from model.adapter in r"):
        train(tiny(CLIPSEG, real_root, **{**ft, "model.adapter.rank": "2"}), tmp_path / "mismatch")
    compat = train(tiny(CLIPSEG, real_root, **{**ft, "strategy.resume_compat": "true", "trainer.max_epochs": "2"}),
                   tmp_path / "compat")  # fmt: skip
    assert runfolder.read_result(compat)["adapter"] == "lora-r4" and runfolder.read_metrics(compat)
    fresh_compat = {**ft, "model.adapter.continue_adapters": "false", "strategy.resume_compat": "true"}
    with pytest.raises(ValueError, match="resume_compat resumes the pre-training's whole training state"):
        train(tiny(CLIPSEG, real_root, **fresh_compat), tmp_path / "fresh_compat")


def test_full_run_to_lora_ft_references_its_model(real_root, synth_root, tmp_path) -> None:
    pre_cfg = tiny(
        CRIS, synth_root, **{"data.prompt": "p2", "strategy.name": "synthetic", "trainer.max_epochs": "1"}
    )
    pre = train(pre_cfg, tmp_path / "synth_full")
    ft = {**LORA, "data.prompt": "p2", "strategy.name": "ptft", "strategy.init_from": str(pre),
          "trainer.max_epochs": "1"}  # fmt: skip
    out = train(tiny(CRIS, real_root, **ft), tmp_path / "lora_ft")
    config = json.loads((out / "model" / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == str((pre / "model").resolve())
    assert not (out / "model" / "base").exists()
    with pytest.raises(ValueError, match="sit on the local base"):  # checked before any network access
        runfolder.push_to_hub(out, "someone/cris-lora")


def test_cli_flags_train_a_joint_lora_run(real_root, synth_root, tmp_path) -> None:
    from synthboost.cli import app
    from synthboost.cli.training import _adapter_overrides

    assert _adapter_overrides("lora", 16, "q_proj, v_proj", True) == [
        "model.adapter.method=lora", "model.adapter.rank=16", "model.adapter.targets=[q_proj,v_proj]",
        "model.adapter.continue_adapters=false",
    ]  # fmt: skip
    joint = {"trainer.max_epochs": "1", "data.prompt": "p1", "strategy.name": "joint",
             "data.synthetic_root": str(synth_root)}  # fmt: skip
    sets = [a for s in tiny_overrides(real_root, **joint) for a in ("--set", s)]
    args = ["train", CLIPSEG, "--out", str(tmp_path / "cli"), "--adapter", "lora", "--adapter-rank", "2",
            "--adapter-targets", "q_proj,v_proj", *sets]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    config = json.loads((tmp_path / "cli" / "model" / "adapter_config.json").read_text())
    assert config["r"] == 2 and "q_proj|v_proj" in config["target_modules"]
    result = runfolder.read_result(tmp_path / "cli")
    assert result["strategy"] == "joint" and result["adapter"] == "lora-r2"


def test_adapter_config_validation_and_old_runs(real_root) -> None:
    with pytest.raises(ValueError, match="'model.adapter.method' = 'dora' is not one of"):
        tiny(CRIS, real_root, **{"model.adapter.method": "dora"})
    with pytest.raises(ValueError, match="zero_shot' trains nothing"):
        tiny(CRIS, real_root, **LORA, **{"strategy.name": "zero_shot"})
    with pytest.raises(ValueError, match="model.adapter.rank' = 0 must be >= 1"):
        tiny(CRIS, real_root, **{"model.adapter.method": "lora", "model.adapter.rank": "0"})
    cfg = tiny(CRIS, real_root)
    assert cfg.model.adapter.method == "none" and cfg.model.adapter.targets == []
    stored = json.loads(json.dumps(__import__("dataclasses").asdict(cfg)))
    del stored["model"]["adapter"]  # a run written before the adapter key existed
    assert config_differences(cfg, stored) == []
    assert config_differences(tiny(CRIS, real_root, **LORA), stored) == ["model.adapter"]
