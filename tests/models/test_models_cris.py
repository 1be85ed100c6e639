import pytest
import torch
from vlsm_helpers import make_batch, tiny_model

from synthboost.models import CRISModel, convert_cris_checkpoint, load_pretrained
from synthboost.models.cris import CRISConfig, named_config
from synthboost.models.cris_checkpoint import load_clip_state_dict, load_weights, read_state_dict

CLIP_RN50_PARAMETERS = 102_007_137  # OpenAI CLIP RN50, visual + text


@pytest.fixture(scope="module")
def model():
    return tiny_model("cris").eval()


@pytest.fixture(scope="module")
def batch(model):
    return make_batch(model)


@pytest.fixture(scope="module")
def paper_meta():
    with torch.device("meta"):
        return CRISModel(named_config("paper"))


def test_output_shape(model, batch):
    with torch.no_grad():
        out = model(**batch)
    assert out.shape == (2, 1, 64, 64) and out.dtype == torch.float32
    assert torch.isfinite(out).all() and out.std() > 0


def test_paper_structure_on_meta(paper_meta):
    state = paper_meta.state_dict()
    assert all(v.is_meta for v in state.values())
    clip = sum(
        p.numel()
        for n, p in paper_meta.named_parameters()
        if n.startswith("backbone.") and ".attnpool.connect." not in n
    )
    assert clip == CLIP_RN50_PARAMETERS
    shapes = {
        "backbone.visual.conv1.weight": (32, 3, 3, 3),
        "backbone.visual.layer4.2.bn3.running_var": (2048,),
        "backbone.visual.layer3.0.downsample.0.weight": (1024, 512, 1, 1),
        "backbone.visual.attnpool.positional_embedding": (50, 2048),
        "backbone.visual.attnpool.connect.0.weight": (1024, 2048, 1, 1),
        "backbone.transformer.resblocks.11.attn.in_proj_weight": (1536, 512),
        "backbone.transformer.resblocks.0.mlp.c_fc.weight": (2048, 512),
        "backbone.token_embedding.weight": (49408, 512),
        "backbone.positional_embedding": (77, 512),
        "backbone.ln_final.weight": (512,),
        "backbone.text_projection": (512, 1024),
        "neck.txt_proj.0.weight": (1024, 1024),
        "neck.f3_v_proj.0.weight": (256, 512, 3, 3),
        "neck.coordconv.0.conv1.0.weight": (512, 514, 3, 3),
        "decoder.layers.2.multihead_attn.in_proj_weight": (1536, 512),
        "decoder.layers.2.ffn.3.weight": (2048,),
        "decoder.norm.weight": (512,),
        "proj.vis.1.0.weight": (512, 512, 3, 3),
        "proj.vis.4.weight": (256, 256, 1, 1),
        "proj.txt.weight": (2305, 1024),
    }
    assert {k: tuple(state[k].shape) for k in shapes} == shapes
    assert len([k for k in state if k.startswith("decoder.layers.")]) == 3 * 24


def test_save_reload_identical(model, batch, tmp_path):
    model.save_pretrained(tmp_path / "cris")
    loaded = load_pretrained(tmp_path / "cris").eval()
    assert isinstance(loaded, CRISModel) and loaded.config == model.config
    with torch.no_grad():
        torch.testing.assert_close(loaded(**batch), model(**batch), rtol=0, atol=0)


def test_official_checkpoint_loads_and_converts(model, batch, tmp_path):
    src = tmp_path / "best_model.pth"
    official = {"module." + k: v for k, v in model.state_dict().items()}
    torch.save({"epoch": 50, "best_iou": 0.7, "state_dict": official, "optimizer": {}}, src)
    fresh = tiny_model("cris", seed=1).eval()
    load_weights(fresh, src)
    with torch.no_grad():
        torch.testing.assert_close(fresh(**batch), model(**batch), rtol=0, atol=0)
    out = convert_cris_checkpoint(src, tmp_path / "converted", config="tiny")
    with torch.no_grad():
        torch.testing.assert_close(load_pretrained(out).eval()(**batch), model(**batch), rtol=0, atol=0)


@pytest.mark.parametrize("defect", ["missing", "unexpected", "shape"])
def test_corrupted_checkpoint_fails_loudly(model, tmp_path, defect):
    state = {k: v.clone() for k, v in model.state_dict().items()}
    if defect == "missing":
        del state["decoder.norm.weight"]
    elif defect == "unexpected":
        state["decoder.extra.weight"] = torch.zeros(1)
    else:
        state["proj.txt.bias"] = torch.zeros(3)
    torch.save(state, tmp_path / "bad.pth")
    with pytest.raises(ValueError, match="bad.pth"):
        load_weights(tiny_model("cris"), tmp_path / "bad.pth")


def test_clip_state_dict_loads_into_backbone(model):
    clip = {k[len("backbone.") :]: torch.randn_like(v, dtype=torch.float16) if v.is_floating_point() else v
            for k, v in model.state_dict().items()
            if k.startswith("backbone.") and ".attnpool.connect." not in k}  # fmt: skip
    clip.update(
        input_resolution=torch.tensor(64), context_length=torch.tensor(77), vocab_size=torch.tensor(49408)
    )
    target = tiny_model("cris", seed=2)
    load_clip_state_dict(target, clip)
    torch.testing.assert_close(target.backbone.text_projection, clip["text_projection"].float())
    assert target.backbone.visual.conv1.weight.dtype == torch.float32
    del clip["ln_final.bias"]
    with pytest.raises(ValueError, match="missing"):
        load_clip_state_dict(target, clip)


def test_clip_torchscript_file_reads(tmp_path, model):
    class Tiny(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.token_embedding = torch.nn.Embedding(3, 2)

        def forward(self, x):
            return self.token_embedding(x)

    torch.jit.script(Tiny()).save(str(tmp_path / "clip.pt"))
    with pytest.raises(
        ValueError, match="clip.pt: refused to load: it is a TorchScript archive.*--trust-pickle"
    ):
        read_state_dict(tmp_path / "clip.pt")
    assert list(read_state_dict(tmp_path / "clip.pt", trust_pickle=True)) == ["token_embedding.weight"]


def test_padding_mask_modes(model, batch):
    ids, mask = batch["input_ids"], batch["attention_mask"]
    assert model.padding_mask(ids, mask).tolist() == (mask == 0).tolist()
    ref = CRISModel(CRISConfig.from_dict(model.config.to_dict(), reference_padding=True))
    assert not ref.padding_mask(ids, mask).any()  # end-of-text padding is never id 0
    changed = dict(batch, input_ids=torch.where(mask.bool(), ids, torch.full_like(ids, 42)))
    with torch.no_grad():  # padded words are ignored: their ids do not matter
        torch.testing.assert_close(model(**changed), model(**batch), rtol=1e-5, atol=1e-5)


def test_config_validation():
    with pytest.raises(ValueError, match="text_width"):
        named_config("tiny", text_width=48)
    with pytest.raises(ValueError, match="unknown keys"):
        CRISConfig.from_dict({"model_type": "cris", "widht": 3})
    assert named_config("paper").dropout == 0.2 and named_config("official").dropout == 0.1
