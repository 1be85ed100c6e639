"""The frozen, validated configuration of a semantic diffusion model run.

Defaults live in ``configs/sdm/echo_from_noise.yaml`` (the paper: DDPM × 1000 sampling),
``configs/sdm/echo_from_noise_fast.yaml`` (the same model sampled DDIM × 50, ``base:`` the paper
file) and ``configs/sdm/tiny.yaml`` (CPU tests); every training run writes its resolved config to
``<run>/config.yaml``. Classifier-free guidance applies for ``sample.guidance > 1`` only (SDM).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from synthboost.configs import find_config
from synthboost.synth.unet import UNetConfig
from synthboost.utils.files import read_yaml_mapping

SAMPLERS = ("ddpm", "ddim", "dpm")
SCHEDULES = ("cosine", "linear")
PRECISIONS = ("no", "fp16", "bf16")


@dataclasses.dataclass(frozen=True)
class DiffusionConfig:
    """Forward process and loss."""

    num_timesteps: int = 1000
    noise_schedule: str = "cosine"
    lambda_vb: float = 0.001  # hybrid loss weight of L_vb (Echo from noise 0.001, SDM 1.0)
    clip_sample: bool = True

    def __post_init__(self) -> None:
        if self.noise_schedule not in SCHEDULES:
            raise ValueError(f"diffusion.noise_schedule {self.noise_schedule!r} not one of {SCHEDULES}")
        if self.num_timesteps < 2 or self.lambda_vb < 0:
            raise ValueError("diffusion: num_timesteps must be ≥ 2 and lambda_vb ≥ 0")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Optimisation (AdamW, linear decay, EMA) and data."""

    steps: int = 50000
    batch_size: int = 4
    lr: float = 1e-4
    weight_decay: float = 0.0
    lr_anneal_steps: int = 50000  # linear decay to 0 over this many steps (0: constant)
    ema_rate: float = 0.9999
    drop_rate: float = 0.0  # classifier-free guidance: probability of an empty mask
    random_flip: bool = True
    splits: tuple[str, ...] = ("train",)
    save_interval: int = 5000
    log_interval: int = 10
    mixed_precision: str = "bf16"  # used on CUDA only
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "splits", tuple(self.splits))
        if self.mixed_precision not in PRECISIONS:
            raise ValueError(f"train.mixed_precision {self.mixed_precision!r} not one of {PRECISIONS}")
        if min(self.steps, self.batch_size, self.save_interval, self.log_interval) < 1:
            raise ValueError("train: steps, batch_size, save_interval and log_interval must be ≥ 1")
        if not 0.0 <= self.drop_rate < 1.0 or not 0.0 <= self.ema_rate < 1.0:
            raise ValueError("train: drop_rate and ema_rate must lie in [0, 1)")


@dataclasses.dataclass(frozen=True)
class SampleConfig:
    """Defaults of the mask → image pipeline."""

    sampler: str = "ddim"
    steps: int = 50
    guidance: float = 1.0
    mask_outside_sector: bool = True  # zero the pixels outside the ultrasound sector

    def __post_init__(self) -> None:
        if self.sampler not in SAMPLERS:
            raise ValueError(f"sample.sampler {self.sampler!r} not one of {SAMPLERS}")


@dataclasses.dataclass(frozen=True)
class SDMConfig:
    """Everything a run needs: ``model``, ``diffusion``, ``train``, ``sample``."""

    model: UNetConfig = dataclasses.field(default_factory=UNetConfig)
    diffusion: DiffusionConfig = dataclasses.field(default_factory=DiffusionConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)
    sample: SampleConfig = dataclasses.field(default_factory=SampleConfig)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (lists instead of tuples) for YAML."""

        def plain(v: Any) -> Any:
            return [plain(x) for x in v] if isinstance(v, (tuple, list)) else v

        return {k: {f: plain(x) for f, x in d.items()} for k, d in dataclasses.asdict(self).items()}


_SECTIONS = {"model": UNetConfig, "diffusion": DiffusionConfig, "train": TrainConfig, "sample": SampleConfig}


def config_from_dict(d: Mapping[str, Any], source: str = "config") -> SDMConfig:
    """Build and validate an :class:`SDMConfig`; unknown sections or keys raise ``ValueError``."""
    unknown = set(d) - set(_SECTIONS)
    if unknown:
        raise ValueError(f"{source}: unknown sections {sorted(unknown)} (expected {sorted(_SECTIONS)})")
    parts = {}
    for name, cls in _SECTIONS.items():
        section = dict(d.get(name) or {})
        fields = {f.name for f in dataclasses.fields(cls)}
        bad = set(section) - fields
        if bad:
            raise ValueError(f"{source}: unknown keys {sorted(bad)} in section {name!r}")
        try:
            parts[name] = cls(**section)
        except (TypeError, ValueError) as err:
            raise ValueError(f"{source}: {err}") from err
    return SDMConfig(**parts)


def load_config(config: str | Path | Mapping[str, Any] | SDMConfig | None = None) -> SDMConfig:
    """Load a config from a YAML file, a named file in ``configs/sdm`` (``"tiny"``), a dict, or defaults."""
    if isinstance(config, SDMConfig):
        return config
    if config is None:
        return SDMConfig()
    if isinstance(config, Mapping):
        return config_from_dict(config)
    path = find_config(config, "sdm")
    return config_from_dict(read_sections(path), str(path))


def read_sections(path: Path) -> dict[str, dict[str, Any]]:
    """A config file's sections, after the files its ``base:`` names (relative to it, or packaged
    ``sdm`` names); a later file's keys replace the same keys of a section."""
    raw = dict(read_yaml_mapping(path))
    bases = raw.pop("base", None) or []
    merged: dict[str, dict[str, Any]] = {}
    for base in [bases] if isinstance(bases, str) else bases:
        near = path.parent / base
        layer = read_sections(near if near.is_file() else find_config(base, "sdm"))
        for name, section in layer.items():
            merged.setdefault(name, {}).update(section)
    for name, section in raw.items():
        if not isinstance(section, Mapping):
            raise ValueError(f"{path}: section {name!r} must be a mapping, got {section!r}")
        merged.setdefault(name, {}).update(section)
    return merged


def dump_config(config: SDMConfig) -> str:
    """YAML text of a resolved config."""
    return yaml.safe_dump(config.to_dict(), sort_keys=False)
