"""The samplers against the published update rules, written out here in float64 numpy.

DDIM: Song et al. 2021 (eq. 12, η = 0) as guided-diffusion's ``ddim_sample`` runs it — x̂0 from ε,
clipped to [-1, 1], then ε re-derived from the clipped x̂0. DDPM: Ho et al. 2020 ancestral step with
the learned-range variance of Nichol & Dhariwal 2021 (eq. 15), x̂0 clipped. Cosine schedule:
Nichol & Dhariwal eq. 17 with β capped at 0.999.
"""

from __future__ import annotations

import math
import types

import numpy as np
import pytest
import torch
from torch import nn

from synthboost.synth.config import DiffusionConfig, load_config
from synthboost.synth.diffusion import SemanticDiffusionPipeline, guided_output, make_scheduler

T = 40
SHAPE = (2, 1, 6, 6)


class Dummy(nn.Module):
    """A fixed smooth denoiser whose x̂0 leaves [-1, 1] at large t, so clipping matters."""

    config = types.SimpleNamespace(in_channels=1, learn_sigma=True)

    def forward(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        tt = t.view(-1, 1, 1, 1).to(x.dtype) / T
        eps = 0.6 * x + 0.4 * torch.sin(3 * x + tt) + 0.2 * y[:, :1]
        return torch.cat([eps, torch.tanh(x - tt)], dim=1)


def _dummy_np(x: np.ndarray, t: int, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    tt = t / T
    return 0.6 * x + 0.4 * np.sin(3 * x + tt) + 0.2 * y[:, :1], np.tanh(x - tt)


def cosine_alpha_bar(n: int) -> tuple[np.ndarray, np.ndarray]:
    f = lambda u: math.cos((u + 0.008) / 1.008 * math.pi / 2) ** 2  # noqa: E731
    betas = np.array([min(1 - f((i + 1) / n) / f(i / n), 0.999) for i in range(n)])
    return betas, np.cumprod(1 - betas)


def _noise(seeds: list[int]) -> list[torch.Generator]:
    return [torch.Generator().manual_seed(s) for s in seeds]


def _draw(gens: list[torch.Generator]) -> np.ndarray:
    return torch.cat([torch.randn((1, *SHAPE[1:]), generator=g) for g in gens]).double().numpy()


def _x0(x, eps, ab):
    return np.clip(np.sqrt(1 / ab) * x - np.sqrt(1 / ab - 1) * eps, -1, 1)


def reference_ddim(y: np.ndarray, steps: int, seeds: list[int], rederive: bool = True) -> np.ndarray:
    _, ab = cosine_alpha_bar(T)
    ts = list(range(0, T, T // steps))  # guided-diffusion's "ddimN" spacing
    x = _draw(_noise(seeds))
    for i in reversed(range(len(ts))):
        eps, _ = _dummy_np(x, ts[i], y)
        x0 = _x0(x, eps, ab[ts[i]])
        if rederive:
            eps = (np.sqrt(1 / ab[ts[i]]) * x - x0) / np.sqrt(1 / ab[ts[i]] - 1)
        ab_prev = ab[ts[i - 1]] if i > 0 else 1.0
        x = x0 * np.sqrt(ab_prev) + np.sqrt(1 - ab_prev) * eps
    return np.clip(x, -1, 1)


def reference_ddpm(y: np.ndarray, seeds: list[int]) -> np.ndarray:
    betas, ab = cosine_alpha_bar(T)
    gens = _noise(seeds)
    x = _draw(gens)
    for t in reversed(range(T)):
        eps, v = _dummy_np(x, t, y)
        x0 = _x0(x, eps, ab[t])
        ab_prev = ab[t - 1] if t > 0 else 1.0
        mean = (
            betas[t] * np.sqrt(ab_prev) / (1 - ab[t]) * x0
            + (1 - ab_prev) * np.sqrt(1 - betas[t]) / (1 - ab[t]) * x
        )
        if t > 0:
            post_var = betas[t] * (1 - ab_prev) / (1 - ab[t])
            frac = (v + 1) / 2
            logvar = frac * np.log(betas[t]) + (1 - frac) * np.log(post_var)
            x = mean + np.exp(0.5 * logvar) * _draw(gens)
        else:
            x = mean
    return np.clip(x, -1, 1)


@pytest.fixture
def y() -> torch.Tensor:
    y = torch.zeros(SHAPE[0], 5, *SHAPE[2:])
    y[:, 1, 1:4, 2:5] = 1.0
    y[:, 2] = 1 - y[:, 1]
    return y


def _ours(name: str, y: torch.Tensor, steps: int, seeds: list[int]) -> np.ndarray:
    pipe = SemanticDiffusionPipeline(Dummy(), make_scheduler(name, DiffusionConfig(num_timesteps=T)))
    return pipe(y, steps, _noise(seeds)).double().numpy()


def test_ddim_reuses_the_clipped_x0_as_guided_diffusion(y: torch.Tensor) -> None:
    ours = _ours("ddim", y, 10, [3, 4])
    np.testing.assert_allclose(ours, reference_ddim(y.double().numpy(), 10, [3, 4]), atol=2e-5)
    unclipped = reference_ddim(y.double().numpy(), 10, [3, 4], rederive=False)
    assert np.abs(ours - unclipped).max() > 0.05  # the rule the test checks is the one that matters


def test_ddpm_is_the_ancestral_step_with_learned_range_variance(y: torch.Tensor) -> None:
    ours = _ours("ddpm", y, T, [7, 8])
    np.testing.assert_allclose(ours, reference_ddpm(y.double().numpy(), [7, 8]), atol=2e-4)


def test_guidance_only_above_one_as_sdm() -> None:
    torch.manual_seed(0)
    model = nn.Conv2d(6, 2, 1)
    fwd = lambda x, t, y: model(torch.cat([x, y], 1))  # noqa: E731
    x, t, y = torch.randn(1, 1, 4, 4), torch.tensor([3]), torch.rand(1, 5, 4, 4)
    with torch.no_grad():
        cond, uncond = fwd(x, t, y), fwd(x, t, torch.zeros_like(y))
        for s in (0.0, 0.5, 1.0):  # s <= 1: the conditional pass alone, as SDM's sampler
            assert torch.equal(guided_output(fwd, x, t, y, s), cond)
        g = guided_output(fwd, x, t, y, 3.0)
        assert torch.allclose(g[:, :1], uncond[:, :1] + 3.0 * (cond[:, :1] - uncond[:, :1]), atol=1e-6)
        assert torch.equal(g[:, 1:], cond[:, 1:])


def test_paper_preset_samples_ddpm_1000_and_the_fast_preset_says_ddim_50() -> None:
    paper, fast = load_config("echo_from_noise"), load_config("echo_from_noise_fast")
    assert (paper.sample.sampler, paper.sample.steps) == ("ddpm", 1000)
    assert (fast.sample.sampler, fast.sample.steps) == ("ddim", 50)
    assert fast.model == paper.model and fast.diffusion == paper.diffusion and fast.train == paper.train
