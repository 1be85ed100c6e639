import pytest
import torch
from transformers import CLIPSegConfig
from vlsm_helpers import make_batch, tiny_model

from synthboost.models import load_pretrained
from synthboost.models.clipseg import CLIPSegVLSM, check_text_config, named_config


@pytest.fixture(scope="module")
def model():
    return tiny_model("clipseg")


def test_output_shape_and_hf_equality(model):
    batch = make_batch(model)
    model.eval()
    with torch.no_grad():
        ours = model(**batch)
        hf = model.model(**batch).logits
    model.train()
    assert ours.shape == (2, 1, 64, 64) and ours.dtype == torch.float32
    assert torch.isfinite(ours).all() and ours.std() > 0
    torch.testing.assert_close(ours[:, 0], hf, rtol=1e-5, atol=1e-5)


def test_paper_config_is_rd64_refined_architecture():
    config, prep = named_config("paper")
    assert (prep.image_size, prep.mean[0], prep.context_length) == (352, 0.485, 77)
    v = config.vision_config
    assert (v.hidden_size, v.num_hidden_layers, v.patch_size, v.image_size) == (768, 12, 16, 224)
    assert config.reduce_dim == 64 and list(config.extract_layers) == [3, 6, 9]
    assert config.use_complex_transposed_convolution and config.text_config.eos_token_id == 49407


def _grads(model):
    model.zero_grad(set_to_none=True)
    model(**make_batch(model)).square().mean().backward()
    return {n: p.grad for n, p in model.named_parameters()}


def _feeds_segmentation(name: str, deepest: int) -> bool:
    """Parameters that take part in segmentation (pooled image output and later layers do not)."""
    if name.startswith(("model.clip.visual_projection", "model.clip.logit_scale")):
        return False
    if name.startswith("model.clip.vision_model.post_layernorm"):
        return False
    if name.startswith("model.clip.vision_model.encoder.layers."):
        return int(name.split(".")[5]) <= deepest
    return True


def test_gradients_reach_encoders_when_unfrozen():
    model = tiny_model("clipseg")
    grads = _grads(model)
    deepest = max(model.extract_layers)
    used = [n for n in grads if _feeds_segmentation(n, deepest)]
    assert any(n.startswith("model.clip.text_model.") for n in used)
    assert any(n.startswith("model.clip.vision_model.embeddings") for n in used)
    missing = [n for n in used if grads[n] is None or grads[n].abs().sum() == 0]
    assert missing == []
    skipped = [n for n in grads if n.startswith(f"model.clip.vision_model.encoder.layers.{deepest + 1}.")]
    assert skipped and all(grads[n] is None for n in skipped)  # layers above the deepest one never run


def test_no_gradients_into_frozen_encoders():
    model = tiny_model("clipseg", freeze_encoders=True)
    grads = _grads(model)
    assert all(grads[n] is None for n in grads if n.startswith("model.clip."))
    assert all(grads[n] is not None for n in grads if n.startswith("model.decoder."))
    report = model.parameter_report()
    assert report["clip_encoder_trainable"] == 0 and 0 < report["trainable"] < report["total"]


def test_eos_check():
    config = CLIPSegConfig(text_config={"eos_token_id": 2})
    check_text_config(config)
    assert config.text_config.eos_token_id == 49407  # legacy value mapped to the tokenizer's id
    with pytest.raises(ValueError, match="eos_token_id 5"):
        check_text_config(CLIPSegConfig(text_config={"eos_token_id": 5}))
    with pytest.raises(ValueError, match="vocab_size"):
        check_text_config(
            CLIPSegConfig(text_config={"vocab_size": 1000, "eos_token_id": 999}), eos_token_id=999
        )


def test_save_reload_offline(model, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    model.eval()
    batch = make_batch(model)
    model.save_pretrained(tmp_path / "clipseg")
    assert {p.name for p in (tmp_path / "clipseg").iterdir()} >= {"config.json", "model.safetensors"}
    loaded = load_pretrained(tmp_path / "clipseg").eval()
    assert isinstance(loaded, CLIPSegVLSM) and loaded.preprocessing == model.preprocessing
    with torch.no_grad():
        torch.testing.assert_close(loaded(**batch), model(**batch), rtol=0, atol=0)
    model.train()


def test_unknown_hub_id_fails_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(Exception):  # noqa: B017 - transformers/hub raise their own error types
        load_pretrained("synthboost-none/not-a-model")
