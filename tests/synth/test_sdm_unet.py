"""SDM UNet: paper parameter count and keys, zero init, mask conditioning, checkpoints, qkv layouts."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from synthboost.synth.config import load_config
from synthboost.synth.convert import convert_qkv_layout, permute_qkv
from synthboost.synth.unet import SDMUNet, UNetConfig, count_parameters, load_weights

TINY = dataclasses.replace(load_config("tiny").model, image_size=16)


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models run fastest single-threaded on a shared CPU."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def randomized(cfg: UNetConfig, seed: int = 0) -> SDMUNet:
    """A tiny model whose zero-initialised layers are given random weights (so outputs are non-trivial)."""
    torch.manual_seed(seed)
    model = SDMUNet(cfg).eval()
    with torch.no_grad():
        for p in model.parameters():
            if not p.any():
                p.normal_(0, 0.05)
    return model


def inputs(cfg: UNetConfig, n: int = 2, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, cfg.in_channels, cfg.image_size, cfg.image_size, generator=g)
    cond = torch.randint(0, cfg.num_classes, (n, cfg.image_size, cfg.image_size), generator=g)
    y = torch.nn.functional.one_hot(cond, cfg.num_classes).permute(0, 3, 1, 2).float()
    return x, torch.tensor([3, 700][:n]), y


def test_echo_from_noise_parameter_count_and_keys():
    cfg = load_config("echo_from_noise").model
    with torch.device("meta"):
        model = SDMUNet(cfg)
    assert count_parameters(model) == 652_198_918
    keys = model.state_dict().keys()
    assert {k.split(".")[0] for k in keys} == {
        "time_embed",
        "input_blocks",
        "middle_block",
        "output_blocks",
        "out",
    }
    assert len(model.input_blocks) == 18 and len(model.output_blocks) == 18
    for key in ("time_embed.0.weight", "input_blocks.0.0.weight", "input_blocks.1.0.in_layers.0.weight",
                "input_blocks.1.0.emb_layers.1.weight", "input_blocks.3.0.in_layers.2.weight",
                "input_blocks.13.1.qkv.weight", "middle_block.0.in_norm.mlp_shared.0.weight",
                "middle_block.1.proj_out.bias", "middle_block.2.out_norm.mlp_gamma.weight",
                "output_blocks.0.0.skip_connection.weight", "output_blocks.2.2.out_layers.2.weight",
                "out.0.weight", "out.2.bias"):  # fmt: skip
        assert key in keys, key
    assert tuple(model.out[2].weight.shape) == (6, 256, 3, 3)


def test_zero_initialised_output_is_exactly_zero():
    model = SDMUNet(TINY).eval()
    with torch.no_grad():
        out = model(*inputs(TINY))
    assert out.shape == (2, 2, 16, 16) and torch.count_nonzero(out) == 0


def test_mask_changes_output_but_not_encoder():
    model = randomized(TINY)
    x, t, y = inputs(TINY)
    y2 = torch.roll(y, shifts=1, dims=1)
    with torch.no_grad():
        enc1, _ = model.encode(x, t)
        enc2, _ = model.encode(x, t)
        hooks = []
        acts: list[torch.Tensor] = []
        for block in model.input_blocks:
            hooks.append(block.register_forward_hook(lambda m, i, o: acts.append(o)))
        out1 = model(x, t, y)
        out2 = model(x, t, y2)
        for h in hooks:
            h.remove()
    n = len(model.input_blocks)
    assert all(torch.equal(a, b) for a, b in zip(acts[:n], acts[n:], strict=True))
    assert all(torch.equal(a, b) for a, b in zip(enc1, acts[:n], strict=True)) and len(enc2) == n
    assert (out1 - out2).abs().max() > 1e-3


def test_save_load_identical_and_readable_errors(tmp_path):
    model = randomized(TINY)
    path = tmp_path / "ema_0.9999_000010.pt"
    torch.save(model.state_dict(), path)
    loaded = load_weights(SDMUNet(TINY).eval(), path)
    x, t, y = inputs(TINY)
    with torch.no_grad():
        assert torch.equal(model(x, t, y), loaded(x, t, y))
    state = model.state_dict()
    state.pop("out.2.bias")
    state["extra.weight"] = torch.zeros(1)
    torch.save(state, path)
    with pytest.raises(
        ValueError, match=r"(?s)1 missing keys.*out\.2\.bias.*1 unexpected keys.*extra\.weight"
    ):
        load_weights(SDMUNet(TINY), path)
    wide = dataclasses.replace(TINY, model_channels=64)
    torch.save(model.state_dict(), path)
    with pytest.raises(ValueError, match="shape mismatches"):
        load_weights(SDMUNet(wide), path)


def test_qkv_layout_conversion_round_trip():
    legacy_cfg = dataclasses.replace(TINY, use_new_attention_order=False, num_head_channels=8)
    new_cfg = dataclasses.replace(legacy_cfg, use_new_attention_order=True)
    legacy = randomized(legacy_cfg)
    state = legacy.state_dict()
    converted = convert_qkv_layout(state, "new", num_head_channels=8)
    new = SDMUNet(new_cfg).eval()
    new.load_state_dict(converted, strict=True)
    x, t, y = inputs(TINY)
    with torch.no_grad():
        a, b = legacy(x, t, y), new(x, t, y)
        unconverted = SDMUNet(new_cfg).eval()
        unconverted.load_state_dict(state)
        c = unconverted(x, t, y)
    assert torch.allclose(a, b, atol=1e-5) and not torch.allclose(a, c, atol=1e-3)
    back = convert_qkv_layout(converted, "legacy", num_head_channels=8)
    assert all(torch.equal(back[k], state[k]) for k in state)
    w = torch.arange(12.0)  # 2 heads × (q, k, v) × 2 channels, legacy order
    assert permute_qkv(w, 2, "new").tolist() == [0, 1, 6, 7, 2, 3, 8, 9, 4, 5, 10, 11]
