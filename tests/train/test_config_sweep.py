"""Config loading and validation, losses and sweeps (no training)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from synthboost.training.config import from_dict, load_config, read_yaml, replace, to_dict, to_yaml
from synthboost.training.losses import dice_iou, resolve_loss, segmentation_loss
from synthboost.training.sweep import expand_sweep, write_slurm

EXPERIMENTS = sorted(Path("configs/experiment").glob("*.yaml"))


@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda p: p.stem)
def test_experiment_configs_load_and_round_trip(path: Path) -> None:
    cfg = load_config(path)
    assert from_dict(to_dict(cfg)) == cfg
    assert "model:" in to_yaml(cfg)


def test_paper_recipe_values() -> None:
    clip, cris = (
        load_config("configs/experiment/clipseg_real.yaml"),
        load_config("configs/experiment/cris_real.yaml"),
    )
    assert (clip.optim.lr, clip.data.batch_size, cris.optim.lr, cris.data.batch_size) == (2e-3, 128, 2e-5, 32)
    assert clip.optim.weight_decay == 1e-3 and clip.optim.grad_clip == 0.5 and clip.trainer.max_epochs == 1000
    assert (clip.trainer.early_stop_patience, clip.trainer.min_epochs, clip.trainer.seed) == (20, 10, 42)


def test_overrides_and_errors_name_file_and_key(tmp_path: Path) -> None:
    cfg = load_config("configs/experiment/cris_real.yaml", ["trainer.max_epochs=3", "data.root=out/x"])
    assert cfg.trainer.max_epochs == 3 and cfg.data.root == "out/x"
    bad = tmp_path / "bad.yaml"
    bad.write_text("model:\n  nmae: cris\n")
    with pytest.raises(ValueError, match=r"bad\.yaml: unknown key 'model\.nmae'"):
        load_config(bad)
    with pytest.raises(ValueError, match=r"cris_real\.yaml: unknown key 'trainer\.max_epoch'"):
        load_config("configs/experiment/cris_real.yaml", ["trainer.max_epoch=3"])
    with pytest.raises(ValueError, match=r"key 'trainer\.max_epochs' = 'many' is not of type"):
        load_config("configs/experiment/cris_real.yaml", ["trainer.max_epochs=many"])
    with pytest.raises(ValueError, match=r"key 'strategy\.name' = 'magic'"):
        load_config("configs/experiment/cris_real.yaml", ["strategy.name=magic"])
    with pytest.raises(ValueError, match="needs 'strategy.init_from'"):
        load_config("configs/experiment/cris_real.yaml", ["strategy.name=ptft"])


def test_omegaconf_types_unions_and_interpolation(tmp_path: Path) -> None:
    cris = "configs/experiment/cris_real.yaml"
    sets = ["trainer.devices=4", "trainer.limit_train_batches=10", "trainer.limit_val_batches=0.25",
            "optim.lr=1e-3", "data.mix_ratio=1", "data.root=", "name=${model.name}_x"]  # fmt: skip
    cfg = load_config(cris, sets)
    assert (cfg.trainer.devices, cfg.trainer.limit_train_batches, cfg.trainer.limit_val_batches) == (
        4,
        10,
        0.25,
    )
    assert (
        type(cfg.trainer.limit_train_batches) is int and type(cfg.data.mix_ratio) is float
    )  # batches vs fraction
    assert (cfg.optim.lr, cfg.data.mix_ratio, cfg.data.root, cfg.name) == (1e-3, 1.0, "", "cris_x")
    assert load_config(cris, ["trainer.devices=auto"]).trainer.devices == "auto"
    saved = tmp_path / "config.yaml"
    saved.write_text(to_yaml(cfg))
    assert load_config(saved) == cfg and from_dict(read_yaml(saved), str(saved)) == cfg
    with pytest.raises(ValueError, match=r"key 'trainer\.devices' = 1\.5 is not of type str \| int"):
        load_config(cris, ["trainer.devices=1.5"])
    with pytest.raises(ValueError, match=r"cris_real\.yaml: key 'name': Interpolation key 'nope'"):
        load_config(cris, ["name=${nope}"])


def test_base_includes_and_model_overrides_replace(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("model: {name: cris, overrides: {x: 1, y: 2}}\ndata: {batch_size: 4}\n")
    (tmp_path / "b.yaml").write_text("base: a.yaml\nmodel: {overrides: {z: 3}}\n")
    (tmp_path / "c.yaml").write_text("base: [a.yaml, b.yaml]\ndata: {prompt: p3}\n")
    assert read_yaml(tmp_path / "c.yaml") == {
        "model": {"name": "cris", "overrides": {"z": 3}},
        "data": {"batch_size": 4, "prompt": "p3"},
    }
    a = tmp_path / "a.yaml"
    assert load_config(a, ["model.overrides.image_size=64"]).model.overrides == {
        "x": 1,
        "y": 2,
        "image_size": 64,
    }
    assert load_config(a, ["model.overrides={w: 0}"]).model.overrides == {"w": 0}
    cfg = load_config(a)
    new = replace(cfg, trainer={"seed": 7}, model={"overrides": {"k": 1}})
    assert (new.trainer.seed, new.model.overrides, new.model.name, cfg.trainer.seed) == (
        7,
        {"k": 1},
        "cris",
        42,
    )
    with pytest.raises(ValueError, match=r"<replace>: unknown key 'trainer\.sed'"):
        replace(cfg, trainer={"sed": 1})
    with pytest.raises(ValueError, match=r"<replace>: key 'trainer\.seed' = 'x' is not of type int"):
        replace(cfg, trainer={"seed": "x"})


def test_config_errors_name_file_and_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    for text, pattern in [
        ("model: cris\n", r"bad\.yaml: key 'model' must be a mapping, got 'cris'"),
        ("optim: {lr: true}\n", r"bad\.yaml: key 'optim\.lr' = True is not of type float"),
        ("nope: 1\n", r"bad\.yaml: unknown key 'nope'"),
        ("base: missing.yaml\n", r"missing\.yaml: config file not found"),
    ]:
        bad.write_text(text)
        with pytest.raises((ValueError, FileNotFoundError), match=pattern):
            load_config(bad)
    bad.write_text("strategy: {name: real}\n")
    with pytest.raises(ValueError, match=r"bad\.yaml: override 'trainer\.max_epochs': expected key=value"):
        load_config(bad, ["trainer.max_epochs"])
    with pytest.raises(ValueError, match=r"bad\.yaml: override 'trainer\.max_epochs=\[1'"):
        load_config(bad, ["trainer.max_epochs=[1"])
    with pytest.raises(ValueError, match=r"bad\.yaml: key 'data' must be a mapping"):
        load_config(bad, ["data=3"])


def test_loss_presets_and_values() -> None:
    assert resolve_loss("reference", "cris").threshold == 0.35
    assert resolve_loss("reference", "clipseg").threshold == 0.5
    ref, ours = resolve_loss("reference", "cris"), resolve_loss("default", "cris")
    assert (ref.bce_weight, ours.bce_weight, ours.threshold) == (0.0, 0.2, 0.5)
    target = torch.zeros(1, 1, 4, 4)
    target[..., :2, :] = 1
    perfect = torch.where(target > 0, 20.0, -20.0)
    assert segmentation_loss(perfect, target, 1.0, 0.2) < 1e-3
    assert segmentation_loss(-perfect, target, 1.0, 0.0) == pytest.approx(1 - 1 / 17, abs=1e-4)  # eps = 1
    dice, iou = dice_iou(torch.zeros_like(target, dtype=torch.bool), target > 0)
    assert dice.item() == 0.0 and iou.item() == 0.0
    dice, iou = dice_iou(torch.ones_like(target, dtype=torch.bool), target > 0)
    assert dice.item() == pytest.approx(2 * 8 / 24) and iou.item() == pytest.approx(0.5)


def test_paper_sweep_grid_and_dependencies(tmp_path: Path) -> None:
    runs = expand_sweep("configs/sweeps/paper_table1.yaml", tmp_path)
    # 2 models x 2 freezing x (8 real + 7 synthetic (no SDM P7) + 8 PT->FT)
    assert len(runs) == 2 * 2 * (8 + 7 + 8)
    names = [r.name for r in runs]
    p7 = runs[names.index("cris_ptft_p7_frozen_s42")]
    assert p7.depends_on == tmp_path / "cris_synthetic_p6_frozen_s42"
    assert names.index("cris_synthetic_p6_frozen_s42") < names.index("cris_ptft_p7_frozen_s42")
    assert "model.freeze_encoders=true" in p7.overrides and p7.config.name == "cris_real.yaml"
    script = write_slurm(runs, tmp_path / "jobs.sh").read_text()
    assert script.count("synthboost train") == len(runs) and "--array=0-" in script


def test_sweep_adapter_axis(tmp_path: Path) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text(
        "experiments: {cris: {real: ../x.yaml, synthetic: ../y.yaml, zero_shot: ../z.yaml}}\n"
        "strategies: [zero_shot, synthetic, ptft]\nprompts: [p2]\nfreeze: [false, true]\n"
        "adapters: [none, lora, 'lora:16']\n"
    )
    runs = {r.name: r for r in expand_sweep(spec, tmp_path / "out")}
    # none: zero_shot/synthetic/ptft x trained/frozen = 6; each lora: synthetic + ptft, trained only = 2
    assert len(runs) == 6 + 2 + 2 and "cris_zero_shot_p2_trained_lora_s42" not in runs
    ft = runs["cris_ptft_p2_trained_lora16_s42"]
    assert ft.depends_on == tmp_path / "out" / "cris_synthetic_p2_trained_lora16_s42"
    assert {"model.adapter.method=lora", "model.adapter.rank=16"} <= set(ft.overrides)
    assert "model.adapter.method=none" in runs["cris_ptft_p2_frozen_s42"].overrides
    assert "model.adapter.rank=16" not in runs["cris_synthetic_p2_trained_lora_s42"].overrides
    spec.write_text("experiments: {cris: {real: x.yaml}}\nadapters: [dora]\n")
    with pytest.raises(ValueError, match=r"s\.yaml: adapters entry 'dora' is not none, lora or lora:<rank>"):
        expand_sweep(spec, tmp_path)


def test_sweep_equal_compute_adds_a_baseline_after_each_ptft_run(tmp_path: Path) -> None:
    spec = tmp_path / "eq.yaml"
    base = Path("src/synthboost/configs/sweeps/paper_table1.yaml").read_text()
    experiments = str(Path("src/synthboost/configs/experiment").resolve())
    spec.write_text(
        base.replace("set: []", "set: []\nequal_compute: true").replace("../experiment", experiments)
    )
    runs = expand_sweep(spec, tmp_path)
    assert len(runs) == 2 * 2 * (8 + 7 + 8 + 8)
    names = [r.name for r in runs]
    eq = runs[names.index("cris_real-equal-steps_p7_frozen_s42")]
    assert eq.depends_on == tmp_path / "cris_ptft_p7_frozen_s42"
    assert names.index("cris_ptft_p7_frozen_s42") < names.index(eq.name)
    assert f"trainer.match_steps_of={tmp_path / 'cris_ptft_p7_frozen_s42'}" in eq.overrides
    assert not any(o.startswith("strategy.") for o in eq.overrides) and eq.config.is_file()
    assert eq.config.name == "cris_real.yaml"
    assert "model.freeze_encoders=true" in eq.overrides and "data.prompt=p7" in eq.overrides
    script = write_slurm(runs, tmp_path / "jobs.sh").read_text()
    assert "PHASE3=(" in script and "--dependency=afterok:$jid2" in script
    assert script.split("PHASE3=(")[1].count("synthboost train") == 2 * 2 * 8


def test_sweep_errors_name_the_file(tmp_path: Path) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text("experiments: {cris: {real: x.yaml}}\nstrategies: [real, sideways]\n")
    with pytest.raises(ValueError, match=r"s\.yaml: unknown strategies \['sideways'\]"):
        expand_sweep(spec, tmp_path)
    spec.write_text("experiment: {}\n")
    with pytest.raises(ValueError, match=r"s\.yaml: unknown key"):
        expand_sweep(spec, tmp_path)


def test_prune_checkpoints_only_of_finished_runs(tmp_path: Path) -> None:
    from synthboost.training.runfolder import prune_checkpoints

    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "last.ckpt").write_bytes(b"x")
    (run / "model").mkdir()
    assert not prune_checkpoints(run) and (run / "checkpoints" / "last.ckpt").is_file()  # may still resume
    (run / "DONE").write_text("done\n")
    assert prune_checkpoints(run) and not (run / "checkpoints").exists() and (run / "model").is_dir()
