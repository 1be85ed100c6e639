"""Diffusion: hybrid loss, training progress, guidance, schedulers and the pipeline."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from test_sdm_unet import TINY, inputs, one_thread, randomized  # noqa: F401

from synthboost.synth.config import DiffusionConfig, config_from_dict, load_config
from synthboost.synth.diffusion import (
    GaussianDiffusion,
    SemanticDiffusionPipeline,
    guided_output,
    make_scheduler,
    normal_kl,
    one_hot,
)
from synthboost.synth.sdm_train import SDMTrainer


def test_kl_and_posterior_sanity():
    diff = GaussianDiffusion(DiffusionConfig())
    m, lv = torch.randn(3), torch.randn(3)
    assert torch.allclose(normal_kl(m, lv, m, lv), torch.zeros(3), atol=1e-6)
    x0, noise = torch.rand(2, 1, 4, 4) * 2 - 1, torch.randn(2, 1, 4, 4)
    t = torch.tensor([10, 500])
    xt = diff.q_sample(x0, t, noise)
    # the true ε with the posterior variance (v = -1) gives zero KL for t > 0
    vb = diff.vb_terms(x0, xt, t, noise, -torch.ones_like(x0))
    assert vb.abs().max() < 1e-3
    assert float(diff.vb_terms(x0, xt, t, noise + 0.5, -torch.ones_like(x0))[1]) > 1e-3


def test_tiny_training_loss_decreases_on_a_fixed_batch():
    cfg = load_config("tiny")
    cfg = dataclasses.replace(cfg, model=TINY, train=dataclasses.replace(cfg.train, drop_rate=0.0))
    torch.manual_seed(0)
    trainer = SDMTrainer(cfg, "cpu")
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (2, 16, 16), dtype=torch.uint8, generator=g)
    cond = torch.randint(0, 5, (2, 16, 16), generator=g)
    t, noise = torch.tensor([50, 400]), torch.randn(2, 1, 16, 16, generator=g)
    losses = [trainer.step(images, cond, g, t, noise)["loss"] for _ in range(20)]
    assert sum(losses[-3:]) / 3 < 0.7 * sum(losses[:3]) / 3
    ema = next(iter(trainer.ema.parameters()))
    assert not torch.equal(ema, next(iter(trainer.model.parameters())))  # EMA lags the model
    assert trainer.step_count == 20


def test_guidance_scale_one_is_the_conditional_pass():
    model = randomized(TINY)
    x, t, y = inputs(TINY)
    with torch.no_grad():
        cond = model(x, t, y)
        assert torch.equal(guided_output(model, x, t, y, 1.0), cond)
        uncond = model(x, t, torch.zeros_like(y))
        assert torch.equal(guided_output(model, x, t, y, 0.0), cond)  # s <= 1: no guidance (SDM)
        g2 = guided_output(model, x, t, y, 2.0)
        assert torch.allclose(g2[:, :1], 2 * cond[:, :1] - uncond[:, :1], atol=1e-5)
        assert torch.equal(g2[:, 1:], cond[:, 1:])  # variance from the conditional pass


@pytest.mark.parametrize("sampler", ["ddpm", "ddim", "dpm"])
def test_pipeline_samplers_are_per_image_deterministic(sampler):
    model = randomized(TINY)
    pipe = SemanticDiffusionPipeline(model, make_scheduler(sampler, DiffusionConfig()))
    _, _, y = inputs(TINY, n=2)
    gens = [torch.Generator().manual_seed(s) for s in (5, 6)]
    both = pipe(y, 4, gens)
    single = pipe(y[1:], 4, [torch.Generator().manual_seed(6)])
    assert both.shape == (2, 1, 16, 16) and both.abs().max() <= 1.0
    assert torch.allclose(both[1:], single, atol=1e-5)
    assert not torch.allclose(both[0], both[1])


def test_config_validation_names_the_problem(tmp_path):
    with pytest.raises(ValueError, match="unknown keys"):
        config_from_dict({"model": {"widht": 3}})
    with pytest.raises(ValueError, match="sampler"):
        config_from_dict({"sample": {"sampler": "euler"}})
    bad = tmp_path / "bad.yaml"
    bad.write_text("diffusion:\n  noise_schedule: quadratic\n")
    with pytest.raises(ValueError, match="bad.yaml"):
        load_config(bad)
    with pytest.raises(ValueError, match="outside 0..4"):
        one_hot(torch.full((1, 2, 2), 5), 5)
