"""Diffusion process, hybrid loss and the mask → image pipeline.

The noise schedule and the samplers are ``diffusers`` schedulers (DDPM with learned-range variance,
DDIM, DPM-Solver++); this module adds what diffusers lacks for training an improved-DDPM style
model: the variational bound term ``L_vb`` of the hybrid loss ``MSE(ε) + λ·L_vb`` (Nichol & Dhariwal
2021), which trains the learned-range variance. Classifier-free guidance (SDM) mixes the ε of the
conditional pass with that of an empty-mask pass, ``ε_u + s·(ε_c − ε_u)``, and only for ``s > 1``
as SDM's sampler does (``s ≤ 1`` is the conditional pass alone).

The samplers follow the official code: DDIM re-derives ε from the clipped x̂0 before the update
(guided-diffusion's ``ddim_sample``; diffusers ``use_clipped_model_output=True``), and DDPM uses the
learned-range variance ``exp(v·log β_t + (1 − v)·log β̃_t)``. Echo from noise sampled DDPM × 1000
(``configs/sdm/echo_from_noise.yaml``); ``echo_from_noise_fast.yaml`` is DDIM × 50, faster and
not the paper's sampler.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from synthboost.synth.config import DiffusionConfig

_LOG2 = math.log(2.0)


def make_scheduler(name: str, cfg: DiffusionConfig, learn_sigma: bool = True):
    """A diffusers scheduler for ``name`` in ``ddpm | ddim | dpm`` on the training schedule of ``cfg``."""
    from diffusers import DDIMScheduler, DDPMScheduler, DPMSolverMultistepScheduler

    scale = 1000.0 / cfg.num_timesteps  # guided-diffusion's linear schedule scaling
    common = dict(
        num_train_timesteps=cfg.num_timesteps,
        beta_schedule="squaredcos_cap_v2" if cfg.noise_schedule == "cosine" else "linear",
        beta_start=scale * 1e-4,
        beta_end=scale * 2e-2,
        prediction_type="epsilon",
    )
    if name == "ddpm":
        variance = "learned_range" if learn_sigma else "fixed_small"
        return DDPMScheduler(**common, variance_type=variance, clip_sample=cfg.clip_sample)
    if name == "ddim":
        return DDIMScheduler(**common, clip_sample=cfg.clip_sample, set_alpha_to_one=True)
    if name == "dpm":
        return DPMSolverMultistepScheduler(**common, algorithm_type="dpmsolver++", solver_order=2)
    raise ValueError(f"sampler {name!r} not one of ddpm, ddim, dpm")


def normal_kl(mean1, logvar1, mean2, logvar2) -> torch.Tensor:
    """KL divergence between two diagonal Gaussians (elementwise, nats)."""
    return 0.5 * (
        -1.0 + logvar2 - logvar1 + torch.exp(logvar1 - logvar2) + (mean1 - mean2) ** 2 * torch.exp(-logvar2)
    )


def discretized_gaussian_log_likelihood(x: torch.Tensor, means: torch.Tensor, log_scales: torch.Tensor):
    """Log-likelihood of images in [-1, 1] quantised to 8 bits under a Gaussian (elementwise, nats)."""
    inv_std = torch.exp(-log_scales)
    cdf_plus = torch.special.ndtr(inv_std * (x - means + 1.0 / 255))
    cdf_min = torch.special.ndtr(inv_std * (x - means - 1.0 / 255))
    log_cdf_plus = torch.log(cdf_plus.clamp(min=1e-12))
    log_one_minus_cdf_min = torch.log((1.0 - cdf_min).clamp(min=1e-12))
    log_delta = torch.log((cdf_plus - cdf_min).clamp(min=1e-12))
    return torch.where(x < -0.999, log_cdf_plus, torch.where(x > 0.999, log_one_minus_cdf_min, log_delta))


def _mean_flat(t: torch.Tensor) -> torch.Tensor:
    return t.flatten(1).mean(dim=1)


class GaussianDiffusion(nn.Module):
    """Forward process ``q(x_t | x_0)`` and the hybrid training loss on a diffusers beta schedule."""

    def __init__(self, cfg: DiffusionConfig):
        super().__init__()
        self.cfg = cfg
        betas = make_scheduler("ddpm", cfg).betas.double()
        ac = torch.cumprod(1.0 - betas, dim=0)
        ac_prev = torch.cat([torch.ones(1, dtype=ac.dtype), ac[:-1]])
        post_var = betas * (1.0 - ac_prev) / (1.0 - ac)
        buffers = {
            "sqrt_ac": ac.sqrt(),
            "sqrt_1m_ac": (1.0 - ac).sqrt(),
            "sqrt_recip_ac": (1.0 / ac).sqrt(),
            "sqrt_recipm1_ac": (1.0 / ac - 1.0).sqrt(),
            "post_coef1": betas * ac_prev.sqrt() / (1.0 - ac),
            "post_coef2": (1.0 - ac_prev) * (1.0 - betas).sqrt() / (1.0 - ac),
            "post_logvar": torch.log(torch.cat([post_var[1:2], post_var[1:]])),
            "log_betas": betas.log(),
        }
        for name, value in buffers.items():
            self.register_buffer(name, value.float(), persistent=False)

    @property
    def num_timesteps(self) -> int:
        return self.cfg.num_timesteps

    def _at(self, name: str, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        return getattr(self, name).to(like.device)[t].view(-1, *([1] * (like.ndim - 1))).to(like.dtype)

    def q_sample(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """Noisy images ``x_t = √ᾱ_t x_0 + √(1−ᾱ_t) ε``."""
        return self._at("sqrt_ac", t, x0) * x0 + self._at("sqrt_1m_ac", t, x0) * noise

    def q_posterior(self, x0: torch.Tensor, xt: torch.Tensor, t: torch.Tensor):
        """Mean and log-variance of ``q(x_{t−1} | x_t, x_0)``."""
        mean = self._at("post_coef1", t, xt) * x0 + self._at("post_coef2", t, xt) * xt
        return mean, self._at("post_logvar", t, xt)

    def p_mean_logvar(self, eps: torch.Tensor, var_values: torch.Tensor, xt: torch.Tensor, t: torch.Tensor):
        """Model mean and learned-range log-variance of ``p(x_{t−1} | x_t)``."""
        frac = (var_values + 1.0) / 2.0
        logvar = frac * self._at("log_betas", t, xt) + (1.0 - frac) * self._at("post_logvar", t, xt)
        x0_pred = self._at("sqrt_recip_ac", t, xt) * xt - self._at("sqrt_recipm1_ac", t, xt) * eps
        mean, _ = self.q_posterior(x0_pred, xt, t)
        return mean, logvar

    def vb_terms(self, x0, xt, t, eps, var_values) -> torch.Tensor:
        """``L_vb`` per sample in bits/dim: KL for t > 0, decoder NLL for t = 0."""
        true_mean, true_logvar = self.q_posterior(x0, xt, t)
        mean, logvar = self.p_mean_logvar(eps, var_values, xt, t)
        kl = _mean_flat(normal_kl(true_mean, true_logvar, mean, logvar)) / _LOG2
        nll = -_mean_flat(discretized_gaussian_log_likelihood(x0, mean, 0.5 * logvar)) / _LOG2
        return torch.where(t == 0, nll, kl)

    def training_losses(self, model: nn.Module, x0: torch.Tensor, y: torch.Tensor, t: torch.Tensor,
                        noise: torch.Tensor | None = None) -> dict[str, torch.Tensor]:  # fmt: skip
        """Per-sample ``loss``, ``mse`` and ``vb`` (the mean is the ε stop-gradient for ``L_vb``)."""
        noise = torch.randn_like(x0) if noise is None else noise
        xt = self.q_sample(x0, t, noise)
        out = model(xt, t, y).float()
        c = x0.shape[1]
        eps = out[:, :c]
        mse = _mean_flat((noise - eps) ** 2)
        if out.shape[1] == 2 * c:
            vb = self.vb_terms(x0, xt, t, eps.detach(), out[:, c:])
        else:
            vb = torch.zeros_like(mse)
        return {"loss": mse + self.cfg.lambda_vb * vb, "mse": mse, "vb": vb}


def drop_labels(y: torch.Tensor, rate: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Replace each one-hot mask by the empty (all-zero) mask with probability ``rate``."""
    if rate <= 0:
        return y
    keep = torch.rand(y.shape[0], generator=generator, device="cpu") >= rate
    return y * keep.to(y.device, y.dtype).view(-1, 1, 1, 1)


def guided_output(model: nn.Module, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor, scale: float):
    """Model output with classifier-free guidance on ε for ``scale > 1`` (SDM); else the conditional pass."""
    out = model(x, t, y)
    if scale <= 1.0:
        return out
    c = x.shape[1]
    eps_u = model(x, t, torch.zeros_like(y))[:, :c]
    eps = eps_u + scale * (out[:, :c] - eps_u)
    return torch.cat([eps, out[:, c:]], dim=1)


class SemanticDiffusionPipeline:
    """Denoiser + scheduler: one-hot masks in, images in [-1, 1] out."""

    def __init__(self, unet: nn.Module, scheduler, guidance: float = 1.0):
        self.unet = unet
        self.scheduler = scheduler
        self.guidance = guidance

    def _autocast(self, device: torch.device):
        if device.type != "cuda":
            return torch.autocast(device.type, enabled=False)
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.autocast("cuda", dtype=dtype)

    @torch.no_grad()
    def __call__(self, y: torch.Tensor, num_inference_steps: int = 50,
                 generator: torch.Generator | Sequence[torch.Generator] | None = None) -> torch.Tensor:  # fmt: skip
        """Sample images ``(N, in_channels, H, W)`` for the one-hot masks ``y`` ``(N, K, H, W)``."""
        from diffusers import DDIMScheduler, DDPMScheduler
        from diffusers.utils.torch_utils import randn_tensor

        cfg = self.unet.config
        device = y.device
        shape = (y.shape[0], cfg.in_channels, *y.shape[2:])
        gens = list(generator) if isinstance(generator, Sequence) else generator
        x = randn_tensor(shape, generator=gens, device=device, dtype=torch.float32)
        self.scheduler.set_timesteps(num_inference_steps, device=device)
        x = x * self.scheduler.init_noise_sigma
        keep_var = isinstance(self.scheduler, DDPMScheduler) and cfg.learn_sigma
        # guided-diffusion's DDIM: ε re-derived from the clipped x̂0
        extra = {"use_clipped_model_output": True} if isinstance(self.scheduler, DDIMScheduler) else {}
        for t in self.scheduler.timesteps:
            inp = self.scheduler.scale_model_input(x, t)
            tt = torch.full((shape[0],), int(t), device=device, dtype=torch.long)
            with self._autocast(device):
                out = guided_output(self.unet, inp, tt, y, self.guidance).float()
            out = out if keep_var else out[:, : cfg.in_channels]
            x = self.scheduler.step(out, t, x, generator=gens, **extra).prev_sample
        return x.clamp(-1.0, 1.0)


def one_hot(cond: torch.Tensor, num_classes: int) -> torch.Tensor:
    """``(N, H, W)`` integer maps → ``(N, K, H, W)`` float one-hot."""
    if int(cond.max()) >= num_classes or int(cond.min()) < 0:
        raise ValueError(
            f"conditioning map values {int(cond.min())}..{int(cond.max())} outside 0..{num_classes - 1}"
        )
    return F.one_hot(cond.long(), num_classes).permute(0, 3, 1, 2).float()
