"""One tester for every VLSM (tiny configs): interface, freezing, precision, speed."""

import time

import pytest
import torch
from vlsm_helpers import make_batch, tiny_model

from synthboost.models import VLSM, Preprocessing, build_model

NAMES = ["clipseg", "cris"]


def _step(model, batch, opt):
    opt.zero_grad(set_to_none=True)
    loss = torch.nn.functional.binary_cross_entropy_with_logits(
        model(**batch), (batch["pixel_values"][:, :1] > 0).float()
    )
    loss.backward()
    opt.step()


@pytest.mark.parametrize("name", NAMES)
def test_interface(name):
    model = tiny_model(name)
    assert isinstance(model, VLSM) and model.training and model.model_type == name
    assert isinstance(model.preprocessing, Preprocessing) and model.preprocessing.context_length == 77
    out = model(**make_batch(model))  # batch >= 2: CRIS's BatchNorm1d cannot train on one sample
    assert out.shape == (2, 1, model.preprocessing.image_size, model.preprocessing.image_size)


@pytest.mark.parametrize("name", NAMES)
def test_freezing_keeps_encoders_and_norm_statistics(name):
    model = tiny_model(name, freeze_encoders=True)
    model.train()
    encoders = list(model.encoder_modules().values())
    assert all(not m.training for enc in encoders for m in enc.modules())
    before = {k: v.clone() for k, v in model.state_dict().items()}
    batch = make_batch(model)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    for _ in range(2):
        _step(model, batch, opt)
    after = model.state_dict()
    prefixes = tuple(n + "." for n, m in model.named_modules() if any(m is e for e in encoders))
    frozen = [k for k in before if k.startswith(prefixes)]
    others = [k for k in before if not k.startswith(prefixes) and before[k].is_floating_point()]
    assert frozen and others
    assert all(torch.equal(before[k], after[k]) for k in frozen)  # weights and BatchNorm buffers
    assert sum(not torch.equal(before[k], after[k]) for k in others) > len(others) // 2


def test_unfrozen_cris_batchnorm_statistics_move():
    model = tiny_model("cris")
    before = model.backbone.visual.bn1.running_mean.clone()
    model(**make_batch(model))
    assert not torch.equal(before, model.backbone.visual.bn1.running_mean)


@pytest.mark.parametrize("name", NAMES)
def test_autocast_bfloat16(name):
    model = tiny_model(name).eval()
    batch = make_batch(model)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(**batch)
    with torch.no_grad():
        ref = model(**batch)
    assert out.shape == ref.shape and torch.isfinite(out).all()
    assert torch.corrcoef(torch.stack([out.float().flatten(), ref.flatten()]))[0, 1] > 0.9


@pytest.mark.parametrize("name", NAMES)
def test_training_step_is_fast(name):
    model = tiny_model(name)
    batch = make_batch(model)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one core: robust to other jobs on a shared machine
    try:
        _step(model, batch, opt)  # warm-up
        times = []
        for _ in range(3):
            start = time.perf_counter()
            _step(model, batch, opt)
            times.append(time.perf_counter() - start)
    finally:
        torch.set_num_threads(threads)
    # measured on one core of the dev machine: ~0.1-0.2 s per step
    assert min(times) < 1.0, f"{name}: {min(times):.2f} s per tiny training step (target well under 1 s)"


def test_unknown_model_and_config():
    with pytest.raises(ValueError, match="unknown model"):
        build_model("segformer")
    with pytest.raises(ValueError, match="unknown config"):
        build_model("cris", config="huge")
    with pytest.raises(ValueError, match="unknown config"):
        build_model("clipseg", config="huge")


@pytest.mark.parametrize("missing", ["weights/cris_best.pth", "./models/cris", "/nowhere/RN50.pt", "a/b/c"])
def test_missing_local_weights_fail_before_any_hub_lookup(missing: str) -> None:
    from synthboost.models import build_model

    for name in ("clipseg", "cris"):
        with pytest.raises(FileNotFoundError, match="pretrained weights not found.*demo_tiny_cris.yaml"):
            build_model(name, pretrained=missing, config="tiny")


def test_owner_name_is_left_to_the_hub() -> None:
    from synthboost.models.factory import check_local_pretrained

    check_local_pretrained("CIDAS/clipseg-rd64-refined")  # a hub id: no local check


def test_load_pretrained_typo_is_a_local_error() -> None:
    from synthboost.models import load_pretrained

    with pytest.raises(FileNotFoundError, match="pretrained weights not found"):
        load_pretrained("runs/typo/model/")


def test_normalize_leaves_its_input_alone() -> None:
    from synthboost.models.base import normalize

    x = torch.full((1, 1, 2, 2), 255.0)
    out = normalize(x, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0))
    assert torch.equal(x, torch.full((1, 1, 2, 2), 255.0)) and torch.equal(out, torch.ones(1, 3, 2, 2))


@pytest.mark.parametrize("name", NAMES)
def test_decode_of_shared_image_features_equals_forward(name):
    model = tiny_model(name).eval()
    batch = make_batch(model)
    with torch.no_grad():
        expected = model(**batch)
        features = model.encode_image(batch["pixel_values"])
        assert features.batch_size == 2 and features.size == batch["pixel_values"].shape[-2:]
        torch.testing.assert_close(
            model.decode(features, batch["input_ids"], batch["attention_mask"]), expected, rtol=0, atol=0
        )
        # one image, two prompts: one encoding, expanded, decodes as forward on the repeated image
        one = model.encode_image(batch["pixel_values"][:1]).expand(2)
        repeated = batch["pixel_values"][:1].expand(2, -1, -1, -1)
        torch.testing.assert_close(
            model.decode(one, batch["input_ids"], batch["attention_mask"]),
            model(repeated, batch["input_ids"], batch["attention_mask"]),
            rtol=1e-5,
            atol=1e-5,
        )
        with pytest.raises(ValueError, match="1 prompts for 2 images"):
            model.decode(features, batch["input_ids"][:1], batch["attention_mask"][:1])
    with pytest.raises(ValueError, match="features of 2 images"):
        features.expand(3)
