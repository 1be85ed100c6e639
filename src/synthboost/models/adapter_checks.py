"""Checks of LoRA adapter folders before anything is allocated or loaded (used by :mod:`.adapters`).

- :func:`read_lora_config`: ``adapter_config.json`` validated field by field, the way ``peft`` and
  ``safetensors`` validate theirs, so that any JSON either gives a ``LoraConfig`` or one
  ``ValueError`` naming the file and the field; settings synthboost does not apply (DoRA, rank
  patterns, ...) are refused rather than silently ignored.
- :func:`check_lora_budget`: the bytes the LoRA layers of ``r`` would allocate on the base, computed
  from the base's layer shapes *before* injection (``r`` = 10⁹ would ask for 134 GiB).
- :func:`check_adapter_tensors`: every tensor of ``adapter_model.safetensors`` has the shape the
  model expects and finite values (``peft`` would fail on a size mismatch with a traceback, or on
  NaN with "NaNs detected in the merged weights").
- :func:`resolve_base`: the base path of the config, relative paths resolved against the adapter
  folder (never the current folder), and :func:`check_base` / :func:`base_record`: the base is the
  one the adapter was trained on (``base.json``: its name and the SHA-256 of its encoder weights).
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from synthboost.logs import get_logger
from synthboost.utils.files import read_json, write_json_atomic

if TYPE_CHECKING:
    from torch import nn

log = get_logger("models.adapters")

#: Most bytes the LoRA layers of an adapter may allocate (float32): far above any useful rank.
MAX_ADAPTER_BYTES = 2**30
BASE_RECORD_NAME = "base.json"
#: Fields synthboost reads from ``adapter_config.json`` (validated below).
READ_FIELDS = ("r", "lora_alpha", "lora_dropout", "target_modules", "modules_to_save", "bias",
               "base_model_name_or_path")  # fmt: skip
#: Fields that describe the file, not the adapter (any value accepted).
INFO_FIELDS = ("peft_type", "peft_version", "task_type", "revision", "auto_mapping", "inference_mode",
               "megatron_core")  # fmt: skip
_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_targets(value: Any) -> str | None:
    if isinstance(value, str):
        if not value:
            return "is an empty string"
        try:
            re.compile(value)
        except re.error as err:
            return f"is not a valid regular expression ({err})"
        return None
    if isinstance(value, list) and value and all(isinstance(t, str) and t for t in value):
        return None
    return "must be a regular expression or a non-empty list of module names"


def _field_problem(name: str, value: Any) -> str | None:
    """What is wrong with one read field, or ``None``."""
    if name == "r":
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            return f"must be a positive integer (the LoRA rank, e.g. 8), got {value!r}"
    elif name == "lora_alpha":
        if not _is_number(value) or value <= 0:
            return f"must be a positive finite number, got {value!r}"
    elif name == "lora_dropout":
        if not _is_number(value) or not 0 <= value < 1:
            return f"must be a number in [0, 1), got {value!r}"
    elif name == "target_modules":
        problem = _check_targets(value)
        return None if problem is None else f"{problem} (got {str(value)[:80]!r})"
    elif name == "modules_to_save":
        if value is not None and not (isinstance(value, list) and all(isinstance(m, str) for m in value)):
            return f"must be null or a list of module names, got {str(value)[:80]!r}"
    elif name == "bias":
        if value != "none":
            return f"must be 'none' (synthboost trains no LoRA biases), got {value!r}"
    elif name == "base_model_name_or_path" and (not isinstance(value, str) or not value.strip()):
        return f"must name the base model (a folder or owner/name hub id), got {value!r}"
    return None


def _field_default(field: dataclasses.Field) -> Any:
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return dataclasses.MISSING


def validate_adapter_json(data: Any, path: Path) -> dict[str, Any]:
    """The fields of :data:`READ_FIELDS` of a parsed ``adapter_config.json`` (``ValueError`` naming the
    file and the field otherwise)."""
    from peft import LoraConfig

    if not isinstance(data, dict):
        raise ValueError(
            f"{path}: expected a JSON object {{...}} (a peft LoRA config), got {type(data).__name__}"
        )
    if data.get("peft_type") != "LORA":
        raise ValueError(f"{path}: peft_type {data.get('peft_type')!r} is not LORA")
    missing = [k for k in ("r", "target_modules", "base_model_name_or_path") if k not in data]
    if "base_model_name_or_path" in missing or data.get("base_model_name_or_path") is None:
        raise ValueError(f"{path}: no base_model_name_or_path (the base model the adapter belongs to)")
    if missing:
        raise ValueError(f"{path}: missing fields {missing}")
    for name in READ_FIELDS:
        if name in data:
            problem = _field_problem(name, data[name])
            if problem:
                raise ValueError(f"{path}: {name} {problem}")
    for field in dataclasses.fields(LoraConfig):
        if field.name in data and field.name not in READ_FIELDS + INFO_FIELDS:
            default = _field_default(field)
            if default is not dataclasses.MISSING and data[field.name] != default:
                raise ValueError(f"{path}: {field.name} = {str(data[field.name])[:60]} is not supported by "
                                 f"synthboost's LoRA adapters (expected {default!r})")  # fmt: skip
    return {k: data[k] for k in READ_FIELDS if k in data}


def read_lora_config(path: str | Path) -> Any:
    """The ``peft.LoraConfig`` of an ``adapter_config.json``; one ``ValueError`` naming the file
    and the field for anything else (see :func:`validate_adapter_json`)."""
    from peft import LoraConfig

    path = Path(path)
    fields = validate_adapter_json(read_json(path), path)
    try:
        return LoraConfig(**fields)
    except (TypeError, ValueError) as err:  # pragma: no cover - the checks above come first
        raise ValueError(f"{path}: not a valid LoRA config ({err})") from err


def _targeted(model: nn.Module, targets: Any) -> list[tuple[str, nn.Module]]:
    """The modules ``peft`` would adapt for ``target_modules`` (a regex or a list of name suffixes)."""
    out = []
    for name, module in model.named_modules():
        if isinstance(targets, str):
            hit = re.fullmatch(targets, name) is not None
        else:
            hit = any(name == t or name.endswith("." + t) for t in targets)
        if hit and hasattr(module, "weight"):
            out.append((name, module))
    return out


def lora_bytes(model: nn.Module, config: Any) -> tuple[int, int]:
    """``(layers, bytes)``: the layers ``config`` targets in ``model`` and the float32 bytes their LoRA
    weights take (``r × (out + in·k…)`` per layer: ``lora_B`` and ``lora_A``)."""
    total, layers = 0, 0
    for _, module in _targeted(model, config.target_modules):
        shape = tuple(getattr(module.weight, "shape", ()))
        if len(shape) < 2:
            continue
        layers += 1
        total += int(config.r) * (shape[0] + math.prod(shape[1:]))
    return layers, 4 * total


def check_lora_budget(model: nn.Module, config: Any, path: Path, limit: int = MAX_ADAPTER_BYTES) -> None:
    """Refuse (``ValueError`` naming ``path`` and ``r``) an adapter whose LoRA weights would take more
    than ``limit`` bytes, before anything is allocated."""
    layers, nbytes = lora_bytes(model, config)
    if nbytes > limit:
        raise ValueError(
            f"{path}: r = {config.r} would allocate {nbytes / 2**30:.1f} GiB of LoRA weights on {layers} "
            f"layers (limit {limit / 2**30:.1f} GiB); LoRA ranks are small (4-64): fix r"
        )


def check_adapter_tensors(path: Path, tensors: Mapping[str, Any], expected: Mapping[str, Any]) -> None:
    """Every tensor of the adapter file has the model's shape for its key and finite values."""
    import torch

    for key, tensor in tensors.items():
        want = expected.get(key)
        if want is not None and tuple(tensor.shape) != tuple(want.shape):
            raise ValueError(
                f"{path}: tensor {key} has shape {tuple(tensor.shape)} but the base model with this "
                f"adapter config expects {tuple(want.shape)} (adapter and config or base do not match)"
            )
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise ValueError(f"{path}: tensor {key} holds NaN or infinite values (a broken adapter)")


def resolve_base(folder: Path, ref: str, config_path: Path) -> str:
    """The base model of an adapter: an absolute path; a relative path resolved against the adapter
    folder (never the current folder); else an ``owner/name`` hub id."""
    local = folder / ref
    if Path(ref).is_absolute() or local.exists():
        path = Path(ref) if Path(ref).is_absolute() else local
        if not path.exists():
            raise FileNotFoundError(f"{config_path}: base_model_name_or_path {ref}: not found")
        return str(path.resolve())
    if _HUB_ID.fullmatch(ref) and ".." not in ref.split("/"):
        if Path(ref).exists():
            log.warning("%s: base %r read as a hub id; the folder %s in the current folder is not used "
                        "(relative bases are resolved against the adapter folder)", config_path, ref,
                        Path(ref).resolve())  # fmt: skip
        return ref
    raise FileNotFoundError(
        f"{config_path}: base_model_name_or_path {ref}: not found (relative paths are resolved against "
        f"the adapter folder: {local})"
    )


def encoder_sha256(model: nn.Module, prefixes: list[str]) -> str:
    """SHA-256 of the base encoder weights (the ones the LoRA deltas apply to), ``peft`` wrappers and
    LoRA weights left out, so a model with adapters and its base give the same digest."""
    import torch

    digest = hashlib.sha256()
    state = model.state_dict()
    names = {}
    for key in state:
        if "lora_" in key or not any(key.startswith(p + ".") for p in prefixes):
            continue
        names[key.replace(".base_layer.", ".")] = key
    for name in sorted(names):
        tensor = state[names[name]].detach().cpu().contiguous()
        digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)};".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def base_record(name: str, sha256: str) -> dict[str, str]:
    """The content of ``base.json``: the base's name and the SHA-256 of its encoder weights."""
    return {"base_model_name_or_path": name, "encoder_sha256": sha256}


def write_base_record(folder: Path, name: str, sha256: str) -> None:
    """Write ``folder/base.json`` (see :func:`base_record`)."""
    write_json_atomic(folder / BASE_RECORD_NAME, base_record(name, sha256))


def check_base(folder: Path, ref: str, model: nn.Module, prefixes: list[str]) -> None:
    """Refuse a base ``model`` (loaded from ``ref``; encoders under ``prefixes``) whose encoder weights are
    not the ones recorded in ``folder/base.json`` (warn when the folder has no record: written by an
    older synthboost; the hash is only computed when there is one)."""
    path = folder / BASE_RECORD_NAME
    if not path.is_file():
        log.warning("%s: no %s (an older adapter): cannot check that %s is the base it was trained on",
                    folder, BASE_RECORD_NAME, ref)  # fmt: skip
        return
    record = read_json(path, expect=dict)
    want = record.get("encoder_sha256")
    if not isinstance(want, str):
        raise ValueError(f"{path}: encoder_sha256 must be a string, got {want!r}")
    sha256 = encoder_sha256(model, prefixes)
    if want != sha256:
        raise ValueError(
            f"{folder}: base {ref} is not the model the adapter was trained on (encoder weights SHA-256 "
            f"{sha256[:12]}…, {path} records {want[:12]}… of {record.get('base_model_name_or_path')}); "
            "point base_model_name_or_path at that base"
        )
