"""LoRA adapters on the encoders of any VLSM, through Hugging Face ``peft``.

:func:`add_lora` injects ``peft`` LoRA layers into the modules named by ``targets`` inside the
VLSM's :meth:`~synthboost.models.base.VLSM.encoder_modules` (linear, convolution and
``nn.MultiheadAttention`` layers), freezes the base encoder weights (normalisation layers kept in
eval mode, so BatchNorm statistics stay fixed) and leaves the rest of the model — the decoder,
neck and projection, the *head* — trained in full, as the adapter papers do.

:func:`save_adapter` writes a ``peft`` adapter folder: ``adapter_config.json`` (a ``LoraConfig``
whose ``base_model_name_or_path`` names the base model, ``modules_to_save`` the head) and
``adapter_model.safetensors`` (LoRA weights and the head, with ``peft``'s key names). A base that
cannot be named (random initialisation, a merged fine-tune, a checkpoint file) is written next to
it as ``base/``. :func:`load_adapter` puts the adapters back on their base; :func:`merge_adapters` folds the
LoRA weights into the base layers for fast inference (a plain VLSM again).
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from synthboost.checkpoints import load_safetensors
from synthboost.logs import get_logger
from synthboost.models.adapter_checks import (
    check_adapter_tensors,
    check_base,
    check_lora_budget,
    encoder_sha256,
    read_lora_config,
    resolve_base,
    write_base_record,
)
from synthboost.utils.files import atomic_dir

if TYPE_CHECKING:
    from torch import nn

    from synthboost.models.base import VLSM

log = get_logger("models.adapters")

ADAPTER_METHODS = ("none", "lora")
ADAPTER_CONFIG_NAME = "adapter_config.json"
ADAPTER_WEIGHTS_NAME = "adapter_model.safetensors"
BASE_FOLDER = "base"  # the base model written next to the adapter when it has no name
PEFT_PREFIX = "base_model.model."  # peft's key prefix in adapter files (PeftModel layout)

#: Default LoRA targets per model: module-name suffixes inside the encoders.
DEFAULT_TARGETS: dict[str, tuple[str, ...]] = {
    # CLIP ViT-B/16 vision + text transformers: every attention projection.
    "clipseg": ("q_proj", "k_proj", "v_proj", "out_proj"),
    # RN50: the 3x3 convolutions and the attention pool; text transformer: the MLPs (its attention is
    # an nn.MultiheadAttention, which peft adapts by merging into the frozen weight each forward).
    "cris": ("conv2", "attnpool.q_proj", "attnpool.k_proj", "attnpool.v_proj", "attnpool.c_proj",
             "mlp.c_fc", "mlp.c_proj"),
}  # fmt: skip


def default_targets(model_type: str) -> tuple[str, ...]:
    """The default LoRA targets of a model type (``ValueError`` for an unknown one)."""
    if model_type not in DEFAULT_TARGETS:
        raise ValueError(
            f"no default adapter targets for model {model_type!r} (known: {sorted(DEFAULT_TARGETS)})"
        )
    return DEFAULT_TARGETS[model_type]


def is_adapter_folder(path: str | Path) -> bool:
    """Whether ``path`` is an adapter folder written by :func:`save_adapter`."""
    return (Path(path) / ADAPTER_CONFIG_NAME).is_file()


def has_adapters(model: nn.Module) -> bool:
    """Whether ``model`` carries injected ``peft`` adapters."""
    return bool(getattr(model, "peft_config", None))


def encoder_prefixes(model: VLSM) -> list[str]:
    """Module names (in ``model``) of the VLSM's encoders."""
    wanted = {id(m) for m in model.encoder_modules().values()}
    return [name for name, module in model.named_modules() if id(module) in wanted]


def _under(name: str, prefixes: list[str]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def head_modules(model: VLSM) -> list[str]:
    """Names of the largest modules holding no encoder: the parts trained in full (decoder, neck, ...)."""
    prefixes = encoder_prefixes(model)
    names = []
    for name, _ in model.named_modules():
        if not name or _under(name, prefixes) or any(_under(p, [name]) for p in prefixes):
            continue  # an encoder, inside one, or a container of one
        if not any(_under(name, [h]) for h in names):
            names.append(name)
    return names


def target_pattern(model: VLSM, targets: list[str] | tuple[str, ...]) -> str:
    """The ``peft`` ``target_modules`` regex: modules inside the encoders whose name ends in a target."""
    if not targets:
        raise ValueError(
            "adapter targets: empty list (name module suffixes such as q_proj, or use the defaults)"
        )
    enc = "|".join(re.escape(p) for p in encoder_prefixes(model))
    tails = "|".join(re.escape(t.strip(".")) for t in targets)
    return rf"(?:{enc})\.(?:.*\.)?(?:{tails})"


def check_targets(model: VLSM, pattern: str) -> None:
    """Refuse targets inside an ``nn.MultiheadAttention`` (``ValueError`` naming them).

    ``peft`` adapts such a layer by merging the LoRA weights into the frozen ``in_proj_weight`` and
    unmerging them around every forward, so the frozen base drifts by float rounding; its
    ``out_proj`` is never called as a module, so an adapter there would be silently ignored.
    """
    from torch import nn

    inside = [n for n, m in model.named_modules() if isinstance(m, nn.MultiheadAttention)]
    bad = [n for n, _ in model.named_modules() if re.fullmatch(pattern, n) and _under(n, inside)]
    if bad:
        raise ValueError(
            f"{model.model_type}: adapter targets {bad[:3]} are (in) an nn.MultiheadAttention, which peft "
            "cannot adapt without changing the frozen weights; target linear or conv layers instead"
        )


def lora_config(model: VLSM, rank: int = 8, alpha: float | None = None, targets: Any = None) -> Any:
    """A ``peft.LoraConfig`` for ``model``'s encoders (``alpha`` defaults to ``rank``: scale 1)."""
    from peft import LoraConfig

    if rank < 1:
        raise ValueError(f"adapter rank must be >= 1, got {rank}")
    targets = list(targets) if targets else list(default_targets(model.model_type))
    check_targets(model, target_pattern(model, targets))
    return LoraConfig(
        r=int(rank), lora_alpha=float(alpha if alpha is not None else rank), lora_dropout=0.0,
        target_modules=target_pattern(model, targets), modules_to_save=head_modules(model), bias="none",
    )  # fmt: skip


def _trainable_head(model: VLSM) -> None:
    """Base encoder weights frozen (norms in eval mode), LoRA weights and the head trainable."""
    model.freeze_encoders()
    prefixes = encoder_prefixes(model)
    for name, param in model.named_parameters():
        param.requires_grad_("lora_" in name or not _under(name, prefixes))


def inject(model: VLSM, config: Any) -> VLSM:
    """Inject the LoRA layers of ``config`` into ``model`` (in place); see :func:`add_lora`."""
    from peft import inject_adapter_in_model

    if has_adapters(model):
        raise ValueError(f"{model.model_type}: already has adapters (merge_adapters first)")
    injected = copy.copy(config)
    injected.modules_to_save = None  # the head is trained in place, not through peft wrapper copies
    try:
        inject_adapter_in_model(injected, model)
    except ValueError as err:
        defaults = ", ".join(DEFAULT_TARGETS.get(model.model_type, ()))
        raise ValueError(
            f"{model.model_type}: adapter targets match no encoder layer: name module-name suffixes inside "
            f"the encoders (the defaults: {defaults}) or leave the targets out to use them "
            f"({str(err).splitlines()[0][:120]})"
        ) from err
    model.peft_config["default"] = config
    _trainable_head(model)
    return model


def add_lora(
    model: VLSM, rank: int = 8, alpha: float | None = None, targets: Any = None, base: str | None = None
) -> VLSM:
    """Add fresh LoRA adapters to ``model``'s encoders (in place; the output is unchanged at first).

    Args:
        model: a VLSM (its encoders come from ``encoder_modules()``).
        rank: LoRA rank ``r``.
        alpha: LoRA ``alpha`` (scaling ``alpha / r``); default ``rank``.
        targets: module-name suffixes inside the encoders; default :data:`DEFAULT_TARGETS`.
        base: reference of the base model (model folder or hub id) written into the adapter
            config; ``None`` = the base is written next to the adapter by :func:`save_adapter`.

    Returns:
        ``model``: base encoder weights frozen, LoRA and head parameters trainable.
    """
    config = lora_config(model, rank, alpha, targets)
    config.base_model_name_or_path = str(base) if base is not None else None
    inject(model, config)
    model.log_parameters()
    return model


def adapter_config(model: nn.Module) -> Any:
    """The ``LoraConfig`` of a model with adapters."""
    if not has_adapters(model):
        raise ValueError("model has no adapters")
    return model.peft_config["default"]


def adapter_state_dict(model: VLSM) -> dict[str, Any]:
    """LoRA weights and the head's state, under ``peft``'s adapter-file key names."""
    from peft import get_peft_model_state_dict

    lora = get_peft_model_state_dict(model, adapter_name="default", save_embedding_layers=False)
    prefixes = encoder_prefixes(model)
    head = {k: v for k, v in model.state_dict().items() if not _under(k, prefixes)}
    return {PEFT_PREFIX + k: v.detach().contiguous().cpu() for k, v in {**lora, **head}.items()}


def unload(model: VLSM, merge: bool) -> VLSM:
    """Remove the adapters from ``model`` (in place), folding them into the base layers if ``merge``."""
    from peft.tuners.tuners_utils import BaseTunerLayer

    layers = [n for n, m in model.named_modules() if isinstance(m, BaseTunerLayer)]
    for name in [n for n in layers if not any(n.startswith(o + ".") for o in layers)]:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name)
        layer = getattr(parent, child)
        if hasattr(layer, "unload_and_optionally_merge_module"):  # nn.MultiheadAttention
            plain = layer.unload_and_optionally_merge_module(merge=merge, safe_merge=True, adapter_names=None)
        else:
            if merge:
                layer.merge(safe_merge=True)
            plain = layer.get_base_layer()
        setattr(parent, child, plain)
    del model.peft_config
    return model


def merge_adapters(model: VLSM) -> VLSM:
    """Fold the LoRA weights into the base layers (in place): a plain VLSM, as fast as the base."""
    return unload(model, merge=True)


def save_adapter(model: VLSM, folder: str | Path) -> Path:
    """Write the ``peft`` adapter folder of ``model`` (and ``base/`` when its base has no reference)."""
    from safetensors.torch import save_file

    folder = Path(folder)
    config = adapter_config(model)
    tensors = adapter_state_dict(model)
    with atomic_dir(folder, overwrite=True, markers=(ADAPTER_CONFIG_NAME, ADAPTER_WEIGHTS_NAME)) as tmp:
        saved = copy.copy(config)
        if config.base_model_name_or_path is None:
            unload(copy.deepcopy(model), merge=False).save_pretrained(tmp / BASE_FOLDER)
            saved.base_model_name_or_path = BASE_FOLDER
        saved.save_pretrained(str(tmp))
        write_base_record(
            tmp, str(saved.base_model_name_or_path), encoder_sha256(model, encoder_prefixes(model))
        )
        save_file(
            tensors,
            str(tmp / ADAPTER_WEIGHTS_NAME),
            metadata={"format": "pt", "model_type": model.model_type},
        )
    return folder


def read_adapter_config(folder: str | Path) -> Any:
    """The ``LoraConfig`` of an adapter folder (``ValueError`` naming the file if it is not LoRA)."""
    return read_lora_config(Path(folder) / ADAPTER_CONFIG_NAME)


def base_reference(folder: str | Path) -> str:
    """The base model of an adapter folder: a relative local path is resolved against the folder (never
    the current folder), else an ``owner/name`` hub id (:func:`~.adapter_checks.resolve_base`)."""
    ref = str(read_adapter_config(folder).base_model_name_or_path)
    return resolve_base(Path(folder), ref, Path(folder) / ADAPTER_CONFIG_NAME)


def check_adapter_folder(folder: str | Path) -> str:
    """Check an adapter folder before its base is loaded; returns the base it names (:func:`base_reference`).

    Raises:
        FileNotFoundError: no such folder, or no adapter weights in it.
        ValueError: a bad ``adapter_config.json`` (the field named), or a base that is itself an adapter folder.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: not found")
    read_adapter_config(folder)
    ref = base_reference(folder)
    if is_adapter_folder(ref):
        raise ValueError(f"{folder}: base {ref} is itself an adapter folder (bases must be full models)")
    weights_path = folder / ADAPTER_WEIGHTS_NAME
    if not weights_path.is_file():
        raise FileNotFoundError(f"{weights_path}: missing (expected an adapter folder)")
    return ref


def load_adapter(folder: str | Path, model: VLSM, merge: bool = False) -> VLSM:
    """Add the adapters of ``folder`` to its base model and load their (and the head's) weights.

    The caller checks the folder and loads the base (:func:`check_adapter_folder` names it;
    ``models.factory.load_pretrained`` does both steps): this module never loads a model itself. The base
    must be the one the adapters were trained on (its recorded encoder hash, ``base.json``).

    Args:
        folder: written by :func:`save_adapter`.
        model: the base model the folder's ``base_model_name_or_path`` names.
        merge: fold the adapters into the base (fast inference; a plain VLSM).
    """
    from peft import set_peft_model_state_dict

    folder = Path(folder)
    ref = check_adapter_folder(folder)
    config = read_adapter_config(folder)
    weights_path = folder / ADAPTER_WEIGHTS_NAME
    check_base(folder, ref, model, encoder_prefixes(model))
    check_lora_budget(model, config, folder / ADAPTER_CONFIG_NAME)
    config.base_model_name_or_path = ref if Path(ref).resolve() != (folder / BASE_FOLDER).resolve() else None
    try:
        if isinstance(config.target_modules, str):
            check_targets(model, config.target_modules)  # as add_lora does: no nn.MultiheadAttention
        inject(model, config)
    except ValueError as err:
        raise ValueError(f"{folder / ADAPTER_CONFIG_NAME}: target_modules: {err}") from err
    tensors = {k.removeprefix(PEFT_PREFIX): v for k, v in load_safetensors(weights_path).items()}
    check_adapter_tensors(weights_path, tensors, {re.sub(r"\.(lora_[AB])\.default\.", r".\1.", k): v
                                                  for k, v in model.state_dict().items()})  # fmt: skip
    prefixes = encoder_prefixes(model)
    head = {k: v for k, v in tensors.items() if not _under(k, prefixes)}
    lora = {k: v for k, v in tensors.items() if _under(k, prefixes)}
    result = set_peft_model_state_dict(model, lora, adapter_name="default")
    missing_lora = [k for k in result.missing_keys if "lora_" in k]
    expected_head = {k for k in model.state_dict() if not _under(k, prefixes)}
    if missing_lora or set(head) != expected_head:
        absent = sorted(missing_lora + sorted(expected_head - set(head)))[:4]
        raise ValueError(f"{weights_path}: does not fit the base {ref} (missing {absent}, unexpected "
                         f"{sorted(set(head) - expected_head)[:4]})")  # fmt: skip
    model.load_state_dict(head, strict=False)
    log.info("loaded %s adapters (r=%d) on %s", model.model_type, config.r, ref)
    if not merge:
        return model
    try:
        return merge_adapters(model)
    except ValueError as err:  # peft's safe_merge: "NaNs detected in the merged weights"
        raise ValueError(f"{folder}: cannot merge the adapters into the base {ref} ({err})") from err


def save_model(model: VLSM, folder: str | Path) -> Path:
    """``save_adapter`` for a model with adapters, else its ``save_pretrained``."""
    return save_adapter(model, folder) if has_adapters(model) else model.save_pretrained(folder)
