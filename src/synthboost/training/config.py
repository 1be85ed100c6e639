"""Typed, frozen training configuration: OmegaConf structured configs over frozen dataclasses.

An experiment file (``configs/experiment/*.yaml``) has the sections of :class:`TrainConfig`
(``data``, ``model``, ``loss``, ``optim``, ``trainer``, ``strategy``) and may name files it builds
on with ``base:`` (paths relative to the file, merged in order, the file itself last; the
equivalent of Hydra's defaults list). The dataclasses are the OmegaConf schema
(``OmegaConf.structured``): files and dotted overrides (``--set trainer.max_epochs=3``, parsed by
``OmegaConf.from_dotlist``) are merged onto it, so OmegaConf checks keys and types and resolves
``${...}`` interpolations; its errors become a ``ValueError`` naming the file and the dotted key.
A layer that sets ``model.overrides`` replaces that mapping instead of merging into it.
``OmegaConf.to_object`` turns the result back into the frozen dataclasses; the resolved
configuration (:func:`to_yaml`) is written into every run folder.
"""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path
from typing import Any

import yaml
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import ConfigKeyError, OmegaConfBaseException, ValidationError

from synthboost.configs import find_config
from synthboost.models.adapters import ADAPTER_METHODS, default_targets
from synthboost.utils.files import read_yaml_mapping

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
class AdapterConfig:
    """Parameter-efficient fine-tuning of the encoders (``synthboost.models.adapters``).

    ``method: lora`` adds ``peft`` LoRA layers of rank ``rank`` (scaling ``alpha / rank``, ``alpha``
    defaults to ``rank``) to the encoder modules named by ``targets`` (module-name suffixes; empty =
    the model's defaults, written into the resolved config); base encoder weights stay frozen, the
    decoder/neck train in full. PT→FT from a run with adapters continues them (``continue_adapters``)
    or merges them into the base and starts fresh ones.
    """

    method: str = "none"
    rank: int = 8
    alpha: float | None = None
    targets: list[str] = dataclasses.field(default_factory=list)
    continue_adapters: bool = True


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Which VLSM to build (``synthboost.models.build_model``)."""

    name: str = "clipseg"
    config: str = "paper"
    pretrained: str | None = None
    freeze_encoders: bool = False
    overrides: dict[str, Any] = dataclasses.field(default_factory=dict)  # build_model kwargs
    adapter: AdapterConfig = dataclasses.field(default_factory=AdapterConfig)


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
    max_steps: int = -1  # optimiser steps (-1: no limit); set from match_steps_of when that is given
    match_steps_of: str | None = None  # a finished run: train as many optimiser steps as it and its PT run
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
    resume_compat: bool = False  # ptft: resume the synthetic run's Lightning state (reference)


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


WHOLE = "model.overrides"  # a layer that sets this mapping replaces it (no key-by-key merge)


def _merge(cfg: DictConfig, layer: Any, whole: bool | None = None) -> DictConfig:
    """``OmegaConf.merge`` of a layer; ``whole`` (default: the layer sets it) replaces ``WHOLE``."""
    layer = OmegaConf.create(layer)
    if whole is None:
        model = layer.get("model")
        whole = isinstance(model, DictConfig) and "overrides" in model
    if whole and OmegaConf.select(cfg, WHOLE, default=None) is not None:
        cfg = cfg.copy()
        OmegaConf.update(cfg, WHOLE, {}, merge=False)
    return OmegaConf.merge(cfg, layer)


def _error(err: Exception, source: str) -> ValueError:
    """An OmegaConf error as a ``ValueError`` naming ``source`` and the dotted key."""
    key = getattr(err, "full_key", None)
    msg = str(getattr(err, "msg", None) or err).splitlines()[0]
    owner = getattr(err, "object_type", None)
    if isinstance(err, ConfigKeyError) and key and dataclasses.is_dataclass(owner):
        known = [f.name for f in dataclasses.fields(owner)]
        return ValueError(f"{source}: unknown key '{key}' (known: {known})")
    if isinstance(err, ValidationError) and key and dataclasses.is_dataclass(owner):
        hint = typing.get_type_hints(owner).get(str(err.key), "?")
        hint = getattr(hint, "__name__", hint)
        return ValueError(f"{source}: key '{key}' = {err.value!r} is not of type {hint} ({msg})")
    return ValueError(f"{source}: key '{key}': {msg}" if key else f"{source}: {msg}")


def _check_sections(layer: Any, source: str) -> None:
    """A section given as a scalar would only get OmegaConf's keyless merge error."""
    for name in (f.name for f in dataclasses.fields(TrainConfig) if f.name != "name"):
        if name in layer and not isinstance(layer.get(name), dict | DictConfig):
            raise ValueError(f"{source}: key '{name}' must be a mapping, got {layer.get(name)!r}")


def _dotlist(text: str) -> tuple[DictConfig, bool]:
    """``"trainer.max_epochs=3"`` → ``({trainer: {max_epochs: 3}}, whole)`` (value parsed as YAML)."""
    key, sep, value = text.partition("=")
    key, value = key.strip(), value if value.strip() else "''"  # "a.b=" sets the empty string
    if not sep or not key:
        raise ValueError("expected key=value, e.g. trainer.max_epochs=3")
    return OmegaConf.from_dotlist([f"{key}={value}"]), key == WHOLE


def _to_config(layers: list[tuple[Any, bool | None]], source: str) -> TrainConfig:
    """Merge ``(layer, whole)`` pairs onto the :class:`TrainConfig` schema; check and validate."""
    try:
        cfg = OmegaConf.structured(TrainConfig)
        for node in (cfg, *cfg.values()):  # frozen dataclasses make read-only nodes (OmegaConf 2.3)
            if isinstance(node, DictConfig):
                OmegaConf.set_readonly(node, False)
        for layer, whole in layers:
            _check_sections(layer, source)
            cfg = _merge(cfg, layer, whole)
        obj = OmegaConf.to_object(cfg)
    except (OmegaConfBaseException, TypeError) as err:  # TypeError: OmegaConf 2.4 container clash
        raise _error(err, source) from err
    return validate(typing.cast(TrainConfig, obj), source)


def read_yaml(path: str | Path) -> dict:
    """Read a YAML mapping, following ``base:`` (one path or a list).

    ``path`` is a file or a packaged config name (:func:`synthboost.configs.find_config`); a
    ``base:`` entry is relative to the including file, else a packaged name (``train/base.yaml``).
    """

    path = find_config(path)
    raw = read_yaml_mapping(path)
    bases = raw.pop("base", None) or []
    layers = [read_yaml(_base_file(path, base)) for base in ([bases] if isinstance(bases, str) else bases)]
    try:
        merged = OmegaConf.create()
        for layer in [*layers, raw]:
            merged = _merge(merged, layer)
        return typing.cast(dict, OmegaConf.to_container(merged, resolve=False))
    except (OmegaConfBaseException, TypeError) as err:
        raise _error(err, str(path)) from err


def _base_file(including: Path, base: str) -> Path | str:
    """A ``base:`` entry relative to the including file when that file exists, else the name itself."""
    local = including.parent / base
    return local if local.is_file() else base


def validate(cfg: TrainConfig, source: str) -> TrainConfig:
    """Check choices across sections; errors name ``source`` and the key."""

    checks = [
        ("model.adapter.method", cfg.model.adapter.method, ADAPTER_METHODS),
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
    if cfg.trainer.match_steps_of and cfg.strategy.name in ("zero_shot", "ptft"):
        raise ValueError(
            f"{source}: key 'trainer.match_steps_of' is for a baseline trained from scratch, "
            f"not strategy {cfg.strategy.name!r}"
        )
    adapter = cfg.model.adapter
    if adapter.method != "none" and cfg.strategy.name == "zero_shot":
        raise ValueError(f"{source}: strategy 'zero_shot' trains nothing: 'model.adapter.method' must be none "
                         "(train adapters on a pretrained model with strategy 'real')")  # fmt: skip
    if adapter.method != "none" and adapter.rank < 1:
        raise ValueError(f"{source}: key 'model.adapter.rank' = {adapter.rank} must be >= 1")
    if adapter.method != "none" and not adapter.targets:  # name the model's defaults in the config
        targets = list(default_targets(cfg.model.name))
        model = dataclasses.replace(cfg.model, adapter=dataclasses.replace(adapter, targets=targets))
        cfg = dataclasses.replace(cfg, model=model)
    return cfg


def from_dict(raw: dict, source: str = "<config>") -> TrainConfig:
    """Build and validate a :class:`TrainConfig` from a nested mapping."""
    return _to_config([(raw, False)], source)


def load_config(path: str | Path, overrides: list[str] | None = None) -> TrainConfig:
    """Load an experiment YAML (with ``base:`` files) and apply dotted ``overrides``."""
    layers: list[tuple[Any, bool | None]] = [(read_yaml(path), False)]
    for text in overrides or []:
        try:
            layers.append(_dotlist(text))
        except (ValueError, OmegaConfBaseException, yaml.YAMLError) as err:
            raise ValueError(f"{path}: override {text!r}: {err}") from err
    return _to_config(layers, str(path))


def replace(cfg: TrainConfig, **sections: dict) -> TrainConfig:
    """Copy of ``cfg`` with some fields of some sections changed: ``replace(cfg, trainer={"seed": 1})``."""
    return _to_config([(to_dict(cfg), False), (sections, None)], "<replace>")


def to_dict(cfg: TrainConfig) -> dict:
    """Plain nested mapping (``from_dict(to_dict(c)) == c``)."""
    return dataclasses.asdict(cfg)


def to_yaml(cfg: TrainConfig) -> str:
    """The resolved configuration as YAML text."""
    return OmegaConf.to_yaml(OmegaConf.structured(cfg))
