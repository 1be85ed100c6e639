"""The paper's training strategies: which data, which initial weights, which checks.

- ``zero_shot``: evaluate the (pretrained) model on the validation split, no training;
- ``real`` / ``synthetic``: train on ``data.root`` (a CAMUS or a synthetic dataset);
- ``ptft``: synthetic pre-training → real fine-tuning: start from ``strategy.init_from`` (the
  synthetic run folder, or a model folder) with a fresh optimiser, scheduler and early stopping;
  ``resume_compat`` resumes the synthetic run's Lightning checkpoint instead, as the reference did:
  optimiser, scheduler, early-stopping state and the epoch/step counters carry on;
- ``joint``: real + synthetic datasets together, domain in the prompt, ``data.mix_ratio``.

Synthetic (SDM) prompts have no image-quality clause and stop at P6, so a CAMUS P7 fine-tuning
starts from the P6 synthetic run: :func:`pretrain_prompt`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from synthboost.data.processed import read_info
from synthboost.logs import get_logger
from synthboost.models import build_model, load_pretrained
from synthboost.models.adapters import adapter_config, add_lora, is_adapter_folder, lora_config
from synthboost.models.factory import is_model_folder, read_model_config
from synthboost.prompts.templates import levels_for
from synthboost.training.config import TrainConfig, from_dict, read_yaml

log = get_logger("training.strategies")


@dataclasses.dataclass(frozen=True)
class InitSource:
    """Where a fine-tuning run takes its weights (and optionally optimiser state) from."""

    model_dir: Path
    checkpoint: Path | None
    run_config: TrainConfig | None


def pretrain_prompt(level: str, source: str) -> str:
    """The prompt level of the pre-training run on ``source`` for a fine-tuning at ``level``.

    ``p7`` on CAMUS fine-tunes from ``p6`` on SDM (SDM prompts lack the quality clause, so their
    last level, the shape, is P6); other levels map to themselves.
    """

    levels = levels_for(source)
    if level in levels:
        return level
    if int(level[1:]) > int(levels[-1][1:]):
        return levels[-1]
    raise ValueError(f"prompt level {level!r} has no counterpart in {source} prompts {list(levels)}")


def data_roots(cfg: TrainConfig) -> list[Path]:
    """The datasets a run reads: one, or (real, synthetic) for joint training; each must exist."""
    if not cfg.data.root:
        raise ValueError("no dataset given: set data.root (or --set data.root=PATH)")
    roots = [Path(cfg.data.root)]
    if cfg.strategy.name == "joint":
        roots.append(Path(cfg.data.synthetic_root))
    for root in roots:
        if not (root / "dataset.json").is_file():
            raise FileNotFoundError(f"{root}: dataset not found (no dataset.json; run synthboost prepare)")
    return roots


def resolve_init(init_from: str | Path) -> InitSource:
    """Accept a run folder (``model/`` + ``checkpoints/best.ckpt`` + ``config.yaml``) or a model folder."""

    path = Path(init_from)
    if is_model_folder(path / "model"):
        ckpt = path / "checkpoints" / "best.ckpt"
        cfg_file = path / "config.yaml"
        run_cfg = from_dict(read_yaml(cfg_file), str(cfg_file)) if cfg_file.is_file() else None
        return InitSource(path / "model", ckpt if ckpt.is_file() else None, run_cfg)
    if is_model_folder(path):
        return InitSource(path, None, None)
    raise FileNotFoundError(
        f"{path}: not a finished run folder (no model/config.json nor model/adapter_config.json) nor a model folder"
    )


def check_init(cfg: TrainConfig, init: InitSource) -> None:
    """Refuse a fine-tuning whose initial weights do not fit: other model, other prompt mapping."""

    model_type = read_model_config(init.model_dir).get("model_type")
    if model_type != cfg.model.name:
        raise ValueError(
            f"{init.model_dir}: holds a {model_type} model, but the config trains {cfg.model.name} (model.name)"
        )
    if cfg.strategy.resume_compat and init.checkpoint is None:
        raise ValueError(
            f"{cfg.strategy.init_from}: no checkpoints/best.ckpt with Lightning state to resume "
            "(--resume-compat needs the synthetic run folder, not a model folder)"
        )
    if init.run_config is None or not init.run_config.data.root:
        return
    pre_root = Path(init.run_config.data.root)
    if not (pre_root / "dataset.json").is_file():
        return
    expected = pretrain_prompt(cfg.data.prompt, read_info(pre_root).source)
    if init.run_config.data.prompt != expected:
        raise ValueError(
            f"{init.model_dir.parent}: pre-trained with prompt {init.run_config.data.prompt}, but "
            f"fine-tuning at {cfg.data.prompt} needs the {expected} run"
        )


def _check_pretrained_type(cfg: TrainConfig) -> None:

    pre = cfg.model.pretrained
    if pre and Path(pre).is_dir():
        model_type = read_model_config(pre).get("model_type")
        if model_type != cfg.model.name:
            raise ValueError(f"{pre}: holds a {model_type} model, but model.name is {cfg.model.name}")


def base_reference(cfg: TrainConfig) -> str | None:
    """How an adapter run names its base: ``model.pretrained`` when ``load_pretrained`` rebuilds it
    as built (a model folder, absolute, or a hub id, without ``model.overrides``), else ``None``
    (random init, a checkpoint file, overrides: the base is saved next to the adapter)."""
    pre, path = cfg.model.pretrained, Path(cfg.model.pretrained or "")
    if not pre or cfg.model.overrides or (path.exists() and not path.is_dir()):
        return None
    return str(path.resolve()) if path.is_dir() else str(pre)


def _check_continued_adapter(cfg: TrainConfig, model, init_dir: Path) -> None:
    """PT→FT continuing the pre-training's adapters: the config must describe the same adapters."""

    a = cfg.model.adapter
    have, want = adapter_config(model), lora_config(model, a.rank, a.alpha, a.targets)
    diffs = [k for k in ("r", "lora_alpha", "target_modules") if getattr(have, k) != getattr(want, k)]
    if diffs:
        raise ValueError(
            f"{init_dir}: its adapters differ from model.adapter in {', '.join(diffs)} (rank {have.r} vs "
            f"{a.rank}); match them or start fresh adapters (model.adapter.continue_adapters=false, --fresh-adapters)"
        )


def build(cfg: TrainConfig, trust_pickle: bool = False):
    """The model of a run and, for PT→FT, its :class:`InitSource` (else ``None``).

    ``trust_pickle`` lets ``model.pretrained`` be a checkpoint that needs pickle (OpenAI ``RN50.pt``).

    With ``model.adapter.method: lora`` the model carries LoRA adapters (:mod:`synthboost.models.adapters`):
    fresh ones on the built model, or for PT→FT the pre-training run's (continued) or fresh ones on
    its model with any adapters merged in.
    """

    m, a = cfg.model, cfg.model.adapter
    lora = a.method == "lora"
    if cfg.strategy.name == "ptft":
        init = resolve_init(cfg.strategy.init_from)
        check_init(cfg, init)
        from_adapter = is_adapter_folder(init.model_dir)
        keep = lora and from_adapter and a.continue_adapters
        if cfg.strategy.resume_compat and (lora or from_adapter) and not keep:
            raise ValueError(
                f"{init.model_dir}: strategy.resume_compat resumes the pre-training's whole training state, "
                "so the model must stay the same: continue its adapters (model.adapter.method=lora, "
                "continue_adapters) or, from a run without adapters, train without them"
            )
        log.info("initialising from %s%s", init.model_dir, " (continuing its adapters)" if keep else "")
        model = load_pretrained(init.model_dir, freeze_encoders=m.freeze_encoders, merge=not keep)
        if keep:
            _check_continued_adapter(cfg, model, init.model_dir)
        elif lora:
            base = None if from_adapter else str(init.model_dir.resolve())
            add_lora(model, a.rank, a.alpha, a.targets, base=base)
        return model, init
    _check_pretrained_type(cfg)
    model = build_model(m.name, m.pretrained, m.config, m.freeze_encoders, trust_pickle, **dict(m.overrides))
    if lora:
        add_lora(model, a.rank, a.alpha, a.targets, base=base_reference(cfg))
    return model, None
