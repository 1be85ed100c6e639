"""LoRA adapters (peft) on the encoders of every VLSM: what trains, what stays, save/load/merge."""

import json

import pytest
import torch
from vlsm_helpers import make_batch, tiny_model

from synthboost.models import load_pretrained
from synthboost.models.adapters import (
    ADAPTER_CONFIG_NAME,
    ADAPTER_WEIGHTS_NAME,
    add_lora,
    encoder_prefixes,
    has_adapters,
    head_modules,
    merge_adapters,
    save_adapter,
)

NAMES = ["clipseg", "cris"]


def _train_steps(model, steps: int = 3) -> None:
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2, weight_decay=0.1)
    model.train()
    for i in range(steps):
        batch = make_batch(model, seed=i)
        opt.zero_grad(set_to_none=True)
        target = (batch["pixel_values"][:, :1] > 0).float()
        torch.nn.functional.binary_cross_entropy_with_logits(model(**batch), target).backward()
        opt.step()


def _base_key(key: str) -> str:
    """The name a base weight has without the peft wrapper layers."""
    return key.replace(".base_layer", "")


@pytest.mark.parametrize("name", NAMES)
def test_only_adapters_and_head_train_base_stays_bit_identical(name):
    model = tiny_model(name)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    add_lora(model, rank=4)
    prefixes = encoder_prefixes(model)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all(
        "lora_" in n or not any(n.startswith(p + ".") for p in prefixes) for n in trainable
    )
    assert any("lora_" in n for n in trainable) and any("lora_" not in n for n in trainable)
    assert all(not m.training for enc in model.encoder_modules().values() for m in enc.modules())

    _train_steps(model)
    after = {_base_key(k): v for k, v in model.state_dict().items() if "lora_" not in k}
    assert set(after) == set(before)
    enc_keys = [k for k in before if any(k.startswith(p + ".") for p in prefixes)]
    if name == "cris":
        assert any("running_mean" in k for k in enc_keys)  # BatchNorm buffers are among the checked
    for key in enc_keys:
        assert torch.equal(after[key], before[key]), key
    head_changed = [k for k in before if k not in enc_keys and before[k].is_floating_point()
                    and not torch.equal(after[k], before[k])]  # fmt: skip
    assert head_changed
    lora_b = [p for n, p in model.named_parameters() if "lora_B" in n]
    assert any(p.abs().sum() > 0 for p in lora_b)  # the adapters trained (they start at zero)


@pytest.mark.parametrize("name", NAMES)
def test_fresh_adapters_leave_the_output_unchanged(name):
    model = tiny_model(name).eval()
    batch = make_batch(model)
    with torch.no_grad():
        base = model(**batch)
        add_lora(model, rank=8)
        # B = 0 adds exactly nothing, but peft's adapted layers take a code path of their own: with
        # peft 0.22 CRIS's logits differ by float rounding (7e-7 of logits of order 1)
        torch.testing.assert_close(model.eval()(**batch), base, rtol=0, atol=1e-5)


@pytest.mark.parametrize("name", NAMES)
def test_save_reload_and_merge_give_the_same_logits(name, tmp_path):
    model = add_lora(tiny_model(name), rank=4)
    _train_steps(model, 2)
    model.eval()
    batch = make_batch(model, seed=7)
    with torch.no_grad():
        expected = model(**batch)
    folder = save_adapter(model, tmp_path / "adapter")
    assert (folder / ADAPTER_CONFIG_NAME).is_file() and (folder / ADAPTER_WEIGHTS_NAME).is_file()
    config = json.loads((folder / ADAPTER_CONFIG_NAME).read_text())
    assert config["peft_type"] == "LORA" and config["r"] == 4 and config["base_model_name_or_path"] == "base"
    assert config["modules_to_save"] == head_modules(model)
    assert (folder / "base" / "config.json").is_file()  # a random-init base is written next to it

    reloaded = load_pretrained(folder).eval()
    assert has_adapters(reloaded)
    merged = load_pretrained(folder, merge=True).eval()
    assert not has_adapters(merged) and not any("lora_" in k for k in merged.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(reloaded(**batch), expected, rtol=0, atol=0)
        torch.testing.assert_close(merged(**batch), expected, rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(merge_adapters(model)(**batch), expected, rtol=1e-4, atol=1e-4)


def test_adapter_on_a_named_base_references_it(tmp_path):
    base = tiny_model("cris")
    base.save_pretrained(tmp_path / "base_model")
    model = add_lora(load_pretrained(tmp_path / "base_model"), rank=2, base=str(tmp_path / "base_model"))
    folder = save_adapter(model, tmp_path / "adapter")
    assert not (folder / "base").exists()
    config = json.loads((folder / ADAPTER_CONFIG_NAME).read_text())
    assert config["base_model_name_or_path"] == str(tmp_path / "base_model")
    assert load_pretrained(folder).model_type == "cris"
    (tmp_path / "base_model" / "config.json").unlink()
    with pytest.raises(FileNotFoundError, match="base_model"):
        load_pretrained(folder)


def test_clipseg_adapter_folder_loads_with_peft_itself(tmp_path):
    from peft import PeftModel

    model = add_lora(tiny_model("clipseg"), rank=4)
    _train_steps(model, 1)
    model.eval()
    batch = make_batch(model)
    folder = save_adapter(model, tmp_path / "adapter")
    peft_model = PeftModel.from_pretrained(load_pretrained(folder / "base"), folder).eval()
    with torch.no_grad():
        torch.testing.assert_close(peft_model(**batch), model(**batch), rtol=0, atol=0)


def test_targets_select_layers_and_errors_are_clear():
    model = add_lora(tiny_model("clipseg"), rank=2, targets=["q_proj"])
    lora = [n for n, _ in model.named_parameters() if "lora_A" in n]
    assert lora and all(".q_proj." in n and ".clip." in n for n in lora)  # never the decoder's q_proj
    with pytest.raises(ValueError, match="match no encoder layer"):
        add_lora(tiny_model("cris"), targets=["no_such_layer"])
    with pytest.raises(ValueError, match="rank must be >= 1"):
        add_lora(tiny_model("cris"), rank=0)
    with pytest.raises(ValueError, match="already has adapters"):
        add_lora(model)
    with pytest.raises(ValueError, match="nn.MultiheadAttention"):  # peft would drift the frozen weight
        add_lora(tiny_model("cris"), targets=["attn"])
