"""End-to-end training runs with tiny models on a tiny dataset (CPU, a few epochs each)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import lightning as L
import pytest
import torch
from train_fixtures import tiny_overrides

from synthboost.checkpoints import load_checkpoint
from synthboost.training import runfolder
from synthboost.training.config import load_config
from synthboost.training.run import train

CLIPSEG = "configs/experiment/demo_tiny_clipseg.yaml"
CRIS = "configs/experiment/demo_tiny_cris.yaml"


def tiny_config(path: str, root: Path, **extra: str):
    return load_config(path, tiny_overrides(root, **extra))


class Probe(L.Callback):
    """Records the model and optimiser at the start of training."""

    def on_train_start(self, trainer, pl_module) -> None:
        self.state = {k: v.detach().clone() for k, v in pl_module.model.state_dict().items()}
        self.optimizer_state_size = len(trainer.optimizers[0].state)
        self.lr = trainer.optimizers[0].param_groups[0]["lr"]
        self.epoch = trainer.current_epoch
        self.stop_best = float(trainer.early_stopping_callback.best_score)


class Crash(L.Callback):
    """Simulates a job killed after the first epoch (its checkpoint already written)."""

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        if trainer.current_epoch == 1:
            raise RuntimeError("simulated crash")


@pytest.fixture(scope="session")
def real_run(real_root, tmp_path_factory) -> Path:
    cfg = tiny_config(CLIPSEG, real_root, **{"data.prompt": "p2"})
    return train(cfg, tmp_path_factory.mktemp("runs") / "real")


@pytest.fixture(scope="session")
def synth_run(synth_root, tmp_path_factory) -> Path:
    cfg = tiny_config(CLIPSEG, synth_root, **{"data.prompt": "p6", "strategy.name": "synthetic",
                                              "trainer.max_epochs": "2"})  # fmt: skip
    return train(cfg, tmp_path_factory.mktemp("runs") / "synth")


def test_real_run_writes_folder_and_learns(real_run: Path) -> None:
    for rel in ("config.yaml", "run.json", "metrics.csv", "convergence.json", "result.json", "DONE",
                "checkpoints/best.ckpt", "checkpoints/last.ckpt", "model/config.json", "model/README.md"):  # fmt: skip
        assert (real_run / rel).is_file(), rel
    assert list((real_run / "logs" / "tb").rglob("events.out.tfevents*"))
    rows = runfolder.read_metrics(real_run)
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2]
    assert rows[-1]["train_loss"] < rows[0]["train_loss"]
    assert all(r["lr"] == pytest.approx(5e-4) and r["epoch_time_s"] > 0 for r in rows)
    result = runfolder.read_result(real_run)
    assert result["best_val_dice"] > 0.05  # an all-zeros prediction scores 0 on these non-empty masks
    assert result["loss_preset"] == "default" and result["threshold"] == 0.5 and result["seed"] == 42
    conv = json.loads((real_run / "convergence.json").read_text())
    assert conv["best_val_dice"] == pytest.approx(result["best_val_dice"]) and 1 <= conv["epochs"] <= 3
    saved = load_config(real_run / "config.yaml")
    assert saved.data.prompt == "p2" and saved.trainer.max_epochs == 3


def test_saved_model_is_the_best_checkpoint(real_run: Path) -> None:
    from synthboost.models import load_pretrained

    model = load_pretrained(real_run / "model")
    best = load_checkpoint(real_run / "checkpoints" / "best.ckpt")  # our checkpoints are weights-only
    for key, value in model.state_dict().items():
        torch.testing.assert_close(value, best["state_dict"][f"model.{key}"])


def test_rerun_of_finished_run_is_noop(real_root, real_run: Path) -> None:
    before = (real_run / "checkpoints" / "last.ckpt").stat().st_mtime_ns
    probe = Probe()
    train(tiny_config(CLIPSEG, real_root, **{"data.prompt": "p2"}), real_run, callbacks=[probe])
    assert not hasattr(probe, "state")
    assert (real_run / "checkpoints" / "last.ckpt").stat().st_mtime_ns == before
    # Execution settings may change on a rerun; what the run computes may not.
    train(tiny_config(CLIPSEG, real_root, **{"data.prompt": "p2", "data.num_workers": "1"}), real_run)
    with pytest.raises(FileExistsError, match=r"another config \(differs in data.prompt, loss.preset\)"):
        train(tiny_config(CLIPSEG, real_root, **{"data.prompt": "p5", "loss.preset": "reference"}), real_run)
    assert (real_run / "checkpoints" / "last.ckpt").stat().st_mtime_ns == before


def test_ptft_loads_synthetic_weights_with_fresh_optimizer(real_root, synth_run, tmp_path) -> None:
    from synthboost.models import load_pretrained

    synth = load_pretrained(synth_run / "model").state_dict()
    extra = {"data.prompt": "p7", "strategy.name": "ptft", "strategy.init_from": str(synth_run),
             "trainer.max_epochs": "1"}  # fmt: skip
    probe = Probe()
    out = train(tiny_config(CLIPSEG, real_root, **extra), tmp_path / "ptft", callbacks=[probe])
    assert probe.optimizer_state_size == 0 and probe.lr == pytest.approx(5e-4)
    for key, value in synth.items():
        torch.testing.assert_close(probe.state[key], value)
    assert runfolder.is_done(out)

    assert probe.epoch == 0 and probe.stop_best == float("-inf")

    # --resume-compat is a Lightning resume of the synthetic best.ckpt, as the reference did.
    compat = Probe()
    extra.update({"strategy.resume_compat": "true", "trainer.max_epochs": "4"})
    run = train(tiny_config(CLIPSEG, real_root, **extra), tmp_path / "compat", callbacks=[compat])
    pt = torch.load(synth_run / "checkpoints" / "best.ckpt", map_location="cpu", weights_only=False)
    assert compat.optimizer_state_size > 0
    assert compat.epoch == pt["epoch"] + 1  # the epoch counter carries on
    assert compat.stop_best == pytest.approx(runfolder.read_result(synth_run)["best_val_dice"], rel=1e-4)
    rows = runfolder.read_metrics(run)
    assert [int(r["epoch"]) for r in rows] == list(range(pt["epoch"] + 1, 4))
    assert runfolder.read_result(run)["optimizer_steps"] == rows[-1]["step"] > 0


def test_runs_record_steps_and_the_equal_step_baseline_matches_pt_plus_ft(real_root, synth_run, tmp_path):
    ptft = {"data.prompt": "p7", "strategy.name": "ptft", "strategy.init_from": str(synth_run),
            "trainer.max_epochs": "1"}  # fmt: skip
    ft = train(tiny_config(CLIPSEG, real_root, **ptft), tmp_path / "ptft")
    pt_steps, ft_steps = (runfolder.read_result(r)["optimizer_steps"] for r in (synth_run, ft))
    assert pt_steps > 0 and ft_steps > 0 and runfolder.chain_steps(ft) == pt_steps + ft_steps
    base = {"data.prompt": "p7", "trainer.match_steps_of": str(ft), "trainer.early_stop_patience": "100"}
    out = train(tiny_config(CLIPSEG, real_root, **base), tmp_path / "equal")
    res = runfolder.read_result(out)
    assert res["optimizer_steps"] == res["max_steps"] == pt_steps + ft_steps
    assert res["wall_s"] > 0 and res["epochs"] > 1 and res["match_steps_of"] == str(ft)
    train(tiny_config(CLIPSEG, real_root, **base), out)  # rerun: same resolved budget, nothing to do
    with pytest.raises(ValueError, match="match_steps_of' is for a baseline"):
        tiny_config(CLIPSEG, real_root, **ptft, **{"trainer.match_steps_of": str(ft)})


def test_ptft_mismatches_are_clear_errors(real_root, synth_root, synth_run, tmp_path) -> None:
    ptft = {"strategy.name": "ptft", "strategy.init_from": str(synth_run)}
    with pytest.raises(ValueError, match="holds a clipseg model"):
        train(tiny_config(CRIS, real_root, **ptft, **{"data.prompt": "p6"}), tmp_path / "a")
    with pytest.raises(ValueError, match="pre-trained with prompt p6.*needs the p2 run"):
        train(tiny_config(CLIPSEG, real_root, **ptft, **{"data.prompt": "p2"}), tmp_path / "b")
    with pytest.raises(ValueError, match="prompt level 'p7' not available"):
        train(tiny_config(CLIPSEG, synth_root, **{"data.prompt": "p7"}), tmp_path / "c")
    with pytest.raises(FileNotFoundError, match="dataset not found"):
        train(tiny_config(CLIPSEG, tmp_path / "nowhere"), tmp_path / "d")
    compat = {"strategy.name": "ptft", "strategy.init_from": str(synth_run / "model"),
              "strategy.resume_compat": "true", "data.prompt": "p6"}  # fmt: skip
    with pytest.raises(ValueError, match="no checkpoints/best.ckpt with Lightning state"):
        train(tiny_config(CLIPSEG, real_root, **compat), tmp_path / "e")


def test_frozen_encoders_keep_weights_and_norm_buffers(real_root, tmp_path) -> None:
    cfg = tiny_config(CRIS, real_root, **{"model.freeze_encoders": "true", "trainer.max_epochs": "2",
                                          "data.prompt": "p1"})  # fmt: skip
    probe = Probe()
    out = train(cfg, tmp_path / "frozen", callbacks=[probe])
    best = load_checkpoint(out / "checkpoints" / "last.ckpt")["state_dict"]
    enc = {k: v for k, v in probe.state.items() if k.startswith("backbone.")}
    assert any("running_mean" in k for k in enc)
    for key, value in enc.items():
        torch.testing.assert_close(best[f"model.{key}"], value, msg=key)
    changed = [k for k, v in probe.state.items() if not k.startswith("backbone.") and v.is_floating_point()
               and not torch.equal(best[f"model.{k}"], v)]  # fmt: skip
    assert changed  # the decoder trained


def test_killed_run_resumes_and_finishes(real_root, tmp_path) -> None:
    cfg = tiny_config(CLIPSEG, real_root, **{"trainer.max_epochs": "2", "data.prompt": "p1"})
    out = tmp_path / "killed"
    with pytest.raises(RuntimeError, match="simulated crash"):
        train(cfg, out, callbacks=[Crash()])
    assert (out / "checkpoints" / "last.ckpt").is_file() and not runfolder.is_done(out)
    with pytest.raises(FileExistsError, match="--resume"):
        train(cfg, out)
    probe = Probe()
    train(cfg, out, resume=True, callbacks=[probe])
    assert runfolder.is_done(out)
    assert probe.optimizer_state_size > 0  # optimiser state came back from last.ckpt
    assert [int(r["epoch"]) for r in runfolder.read_metrics(out)] == [0, 1]


def test_zero_shot_writes_run_with_the_initial_model(real_root, tmp_path) -> None:
    cfg = tiny_config(CLIPSEG, real_root, **{"strategy.name": "zero_shot", "data.prompt": "p1"})
    out = train(cfg, tmp_path / "zs")
    result = runfolder.read_result(out)
    assert result["epochs"] == 0 and 0.0 <= result["best_val_dice"] <= 1.0
    assert (out / "model" / "model.safetensors").is_file() and not (out / "checkpoints").exists()


def test_joint_puts_domain_in_prompt(real_root, synth_root, tmp_path) -> None:
    from synthboost.training.dataset import SegmentationDataModule

    extra = {"strategy.name": "joint", "data.synthetic_root": str(synth_root), "data.prompt": "p2",
             "data.mix_ratio": "0.25", "trainer.max_epochs": "1"}  # fmt: skip
    out = train(tiny_config(CLIPSEG, real_root, **extra), tmp_path / "joint")
    assert runfolder.is_done(out)
    tok = lambda texts: {"input_ids": torch.zeros(len(texts), 4), "attention_mask": torch.ones(len(texts), 4)}  # noqa: E731
    dm = SegmentationDataModule([real_root, synth_root], "p2", 64, tok, mix_ratio=0.25, domain_in_prompt=True)
    assert "real cardiac ultrasound" in dm.dataset("train").prompt(0)
    assert "synthetic cardiac ultrasound" in dm.dataset("train", synth_root).prompt(0)
    sampler = dm.train_dataloader().sampler
    drawn = torch.tensor(list(iter(sampler)))
    n_real = len(dm.dataset("train"))
    assert 0.1 < (drawn >= n_real).float().mean() < 0.45  # about a quarter synthetic


def test_training_batches_never_hold_a_single_sample(real_root) -> None:
    from synthboost.training.dataset import SegmentationDataModule

    tok = lambda texts: {"input_ids": torch.zeros(len(texts), 4), "attention_mask": torch.ones(len(texts), 4)}  # noqa: E731
    n = len(SegmentationDataModule([real_root], "p2", 32, tok).dataset("train"))
    dm = SegmentationDataModule([real_root], "p2", 32, tok, batch_size=n - 1)  # would leave a batch of 1
    sizes = [len(b["index"]) for b in dm.train_dataloader()]
    assert sizes == [n - 1]
    assert [
        len(b["index"])
        for b in SegmentationDataModule([real_root], "p2", 32, tok, batch_size=2 * n).train_dataloader()
    ] == [n]


def test_seeds_run_in_subfolders(real_root, tmp_path) -> None:
    from synthboost.training.run import train_seeds

    cfg = tiny_config(CLIPSEG, real_root, **{"trainer.max_epochs": "1", "trainer.limit_train_batches": "1"})
    runs = train_seeds(cfg, tmp_path / "seeds", [1, 2])
    assert [r.name for r in runs] == ["seed_1", "seed_2"]
    assert [runfolder.read_result(r)["seed"] for r in runs] == [1, 2]


def test_predict_writes_valid_prediction_folder(real_root, real_run, tmp_path) -> None:
    from synthboost.evaluation.predict import predict
    from synthboost.evaluation.predictions import read_predictions
    from synthboost.prompts.annotate import load_annotations

    out = predict(real_run, real_root, "test", tmp_path / "preds")
    preds = read_predictions(out)
    assert len(preds.items) == len(load_annotations(real_root, "test"))
    assert preds.info["prompt_level"] == "p2" and preds.info["threshold"] == 0.5
    from PIL import Image

    from synthboost.data.processed import read_info

    item = preds.items[0]
    size = read_info(real_root).image_size  # the reference grid is the dataset's grid
    assert size == 64 and Image.open(out / item.mask).size == (size, size)
    assert Image.open(out / item.native).size == (40, 48)


@pytest.mark.slow
def test_ddp_two_cpu_processes(real_root, tmp_path) -> None:
    import subprocess
    import sys

    out = tmp_path / "ddp"
    sets = [a for s in tiny_overrides(real_root, **{"trainer.max_epochs": "1"}) for a in ("--set", s)]
    cmd = [str(Path(sys.executable).parent / "synthboost"), "train", CLIPSEG, "--out", str(out),
           "--devices", "2", "--strategy", "ddp", *sets]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert runfolder.is_done(out)


def test_a_step_budget_ending_inside_an_epoch_leaves_it_unvalidated(real_root, tmp_path) -> None:
    sets = {"data.prompt": "p2", "data.batch_size": "8", "trainer.max_steps": "4", "trainer.max_epochs": "-1"}
    out = train(tiny_config(CLIPSEG, real_root, **sets), tmp_path / "budget")
    rows = runfolder.read_metrics(out)
    assert [r["step"] for r in rows] == [3, 4]  # 3 batches per epoch, cut after one of the second
    assert rows[0]["val_dice"] > 0 and all(
        math.isnan(rows[1][k]) for k in ("val_loss", "val_dice", "val_iou")
    )
    res = runfolder.read_result(out)
    assert (
        res["optimizer_steps"] == 4 and res["best_epoch"] == 0 and res["best_val_dice"] == rows[0]["val_dice"]
    )
