"""Typed, frozen training configuration loaded from YAML, with dotted overrides.

An experiment file (``configs/experiment/*.yaml``) has the sections of :class:`TrainConfig`
(``data``, ``model``, ``loss``, ``optim``, ``trainer``, ``strategy``) and may name files it builds
on with ``base:`` (paths relative to the file, merged in order, the file itself last). Every key is
checked against the dataclasses: an unknown key or a value of the wrong type is a ``ValueError``
naming the file and the dotted key. Overrides (``--set trainer.max_epochs=3``) are YAML scalars.
The resolved configuration (:func:`to_yaml`) is written into every run folder.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path
from typing import Any

import yaml

from synthboost.utils import read_yaml_mapping

MODELS = ("clipseg", "cris")
STRATEGIES = ("zero_shot", "real", "synthetic", "ptft", "joint")
LOSS_PRESETS = ("default", "reference")


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """Datasets and loading. ``root``: real dataset (synthetic one for the synthetic strategy)."""

    root: str = ""
    synthetic_root: str = ""  # joint training: the synthetic dataset
    prompt: str = "p0"
    mix_ratio: float = 0.5  # joint: fraction of synthetic samples drawn per epoch
    domain_in_prompt: bool = True  # joint: domain attribute in the prompt
    batch_size: int = 32
    num_workers: int = 0


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Which VLSM to build (``synthboost.models.build_model``)."""

    name: str = "clipseg"
    config: str = "paper"
    pretrained: str | None = None
    freeze_encoders: bool = False
    overrides: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class LossConfig:
    """``dice_weight · soft Dice + bce_weight · BCE``; ``None`` takes the preset's value."""

    preset: str = "default"
    dice_weight: float | None = None
    bce_weight: float | None = None
    threshold: float | None = None


@dataclasses.dataclass(frozen=True)
class OptimConfig:
    """AdamW with ReduceLROnPlateau on the validation loss."""

    lr: float = 2e-3
    weight_decay: float = 1e-3
    plateau_factor: float = 0.1
    plateau_patience: int = 5
    grad_clip: float = 0.5


@dataclasses.dataclass(frozen=True)
class TrainerConfig:
    """Lightning trainer settings; ``precision: auto`` = 16-mixed on GPU, 32-true on CPU."""

    max_epochs: int = 1000
    min_epochs: int = 10
    early_stop_patience: int = 20
    early_stop_min_delta: float = 1e-4
    precision: str = "auto"
    accelerator: str = "auto"
    devices: str | int = "auto"
    strategy: str = "auto"
    seed: int = 42
    log_every_n_steps: int = 10
    limit_train_batches: float | int = 1.0
    limit_val_batches: float | int = 1.0
    progress_bar: bool = True


@dataclasses.dataclass(frozen=True)
class StrategyConfig:
    """Training strategy: zero_shot, real, synthetic, ptft (synthetic → real) or joint."""

    name: str = "real"
    init_from: str | None = None  # ptft: the synthetic run (or a model folder)
    resume_compat: bool = False  # ptft: also restore optimiser and scheduler state


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """A whole training run."""

    name: str = "run"
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    loss: LossConfig = dataclasses.field(default_factory=LossConfig)
    optim: OptimConfig = dataclasses.field(default_factory=OptimConfig)
    trainer: TrainerConfig = dataclasses.field(default_factory=TrainerConfig)
    strategy: StrategyConfig = dataclasses.field(default_factory=StrategyConfig)


def _type_ok(value: Any, hint: Any) -> bool:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_type_ok(value, h) for h in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, origin or hint)


def _build(cls: type, raw: Any, source: str, prefix: str = "") -> Any:
    """Dataclass ``cls`` from a mapping; errors name ``source`` and the dotted key."""
    if not isinstance(raw, dict):
        raise ValueError(f"{source}: {prefix.rstrip('.') or 'top level'} must be a mapping, got {raw!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in raw.items():
        if key not in fields:
            raise ValueError(f"{source}: unknown key '{prefix}{key}' (known: {sorted(fields)})")
        hint = hints[key]
        if dataclasses.is_dataclass(hint):
            kwargs[key] = _build(hint, value, source, f"{prefix}{key}.")
        elif not _type_ok(value, hint):
            raise ValueError(f"{source}: key '{prefix}{key}' = {value!r} is not of type {hint}")
        else:
            kwargs[key] = float(value) if hint is float else value
    return cls(**kwargs)


def _merge(base: dict, top: dict) -> dict:
    out = dict(base)
    for key, value in top.items():
        both = isinstance(value, dict) and isinstance(out.get(key), dict) and key != "overrides"
        out[key] = _merge(out[key], value) if both else value
    return out


def read_yaml(path: str | Path) -> dict:
    """Read a YAML mapping, following ``base:`` (one path or a list, relative to the file)."""
    path = Path(path)
    raw = read_yaml_mapping(path)
    bases = raw.pop("base", None) or []
    merged: dict = {}
    for base in [bases] if isinstance(bases, str) else bases:
        merged = _merge(merged, read_yaml(path.parent / base))
    return _merge(merged, raw)


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"trainer.max_epochs=3"`` → ``(["trainer", "max_epochs"], 3)`` (value parsed as YAML)."""
    if "=" not in text:
        raise ValueError(f"override {text!r}: expected key=value, e.g. trainer.max_epochs=3")
    key, value = text.split("=", 1)
    return key.strip().split("."), yaml.safe_load(value) if value.strip() else ""


def apply_overrides(raw: dict, overrides: list[str]) -> dict:
    """Set dotted keys in a nested mapping (copies; the input is unchanged)."""
    out = _merge({}, raw)
    for text in overrides:
        keys, value = parse_override(text)
        node = out
        for key in keys[:-1]:
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                raise ValueError(f"override {text!r}: {key} is not a section")
        node[keys[-1]] = value
    return out


def validate(cfg: TrainConfig, source: str) -> TrainConfig:
    """Check choices across sections; errors name ``source`` and the key."""
    checks = [
        ("model.name", cfg.model.name, MODELS),
        ("strategy.name", cfg.strategy.name, STRATEGIES),
        ("loss.preset", cfg.loss.preset, LOSS_PRESETS),
    ]
    for key, value, choices in checks:
        if value not in choices:
            raise ValueError(f"{source}: key '{key}' = {value!r} is not one of {choices}")
    if cfg.strategy.name == "ptft" and not cfg.strategy.init_from:
        raise ValueError(
            f"{source}: strategy 'ptft' needs 'strategy.init_from' (the synthetic run, --init-from)"
        )
    if cfg.strategy.name == "joint" and not cfg.data.synthetic_root:
        raise ValueError(f"{source}: strategy 'joint' needs 'data.synthetic_root'")
    if not 0.0 <= cfg.data.mix_ratio <= 1.0:
        raise ValueError(f"{source}: key 'data.mix_ratio' = {cfg.data.mix_ratio} must be in [0, 1]")
    if cfg.data.batch_size < 1:
        raise ValueError(f"{source}: key 'data.batch_size' must be >= 1")
    return cfg


def from_dict(raw: dict, source: str = "<config>") -> TrainConfig:
    """Build and validate a :class:`TrainConfig` from a nested mapping."""
    return validate(_build(TrainConfig, raw, source), source)


def load_config(path: str | Path, overrides: list[str] | None = None) -> TrainConfig:
    """Load an experiment YAML (with ``base:`` files) and apply dotted ``overrides``."""
    raw = read_yaml(path)
    if overrides:
        try:
            raw = apply_overrides(raw, overrides)
        except ValueError as err:
            raise ValueError(f"{path}: {err}") from None
    return from_dict(raw, str(path))


def replace(cfg: TrainConfig, **sections: dict) -> TrainConfig:
    """Copy of ``cfg`` with some fields of some sections changed: ``replace(cfg, trainer={"seed": 1})``."""
    new = {k: dataclasses.replace(getattr(cfg, k), **v) for k, v in sections.items()}
    return validate(dataclasses.replace(cfg, **new), "<replace>")


def to_dict(cfg: TrainConfig) -> dict:
    """Plain nested mapping (``from_dict(to_dict(c)) == c``)."""
    return dataclasses.asdict(cfg)


def to_yaml(cfg: TrainConfig) -> str:
    """The resolved configuration as YAML text."""
    return yaml.safe_dump(to_dict(cfg), sort_keys=False)
