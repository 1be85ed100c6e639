"""No pickle runs unless trusted: a checkpoint whose unpickling would create a marker file is refused,
with one line naming the file and ``--trust-pickle``, through every command that loads weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from hardening_helpers import Payload, assert_no_code_ran, one_line_error, write_evil
from PIL import Image

CRIS = "configs/experiment/demo_tiny_cris.yaml"
TINY = [
    "--set",
    "trainer.max_epochs=1",
    "--set",
    "trainer.accelerator=cpu",
    "--set",
    "trainer.progress_bar=false",
]


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    return tmp_path / "PWNED"


@pytest.fixture(scope="module")
def cris_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from synthboost.models import build_model

    torch.manual_seed(0)
    return build_model("cris", config="tiny").save_pretrained(tmp_path_factory.mktemp("m") / "cris")


def _copy_model(src: Path, dst: Path) -> Path:
    dst.mkdir(parents=True)
    for f in src.iterdir():
        (dst / f.name).write_bytes(f.read_bytes())
    return dst


def test_the_payload_is_live(tmp_path: Path, marker: Path) -> None:
    """Control: the test payload really runs when unpickled without weights_only."""
    evil = write_evil(tmp_path / "evil.pt", marker)
    torch.load(evil, weights_only=False)
    assert marker.exists()


@pytest.mark.parametrize("wrap", [lambda p: p, lambda p: {"state_dict": {"w": torch.zeros(1)}, "x": p}])
def test_convert_cris_refuses_pickle(cli, tmp_path: Path, marker: Path, wrap) -> None:
    evil = write_evil(tmp_path / "cris_best.pth", marker, wrap)
    result = cli("convert-cris", evil, tmp_path / "out", "--config", "tiny")
    one_line_error(result, f"{evil}: refused to load", "--trust-pickle")
    assert_no_code_ran(marker)
    assert not (tmp_path / "out").exists()


def test_trust_pickle_is_the_way_in(cli, tmp_path: Path, marker: Path) -> None:
    evil = write_evil(tmp_path / "cris_best.pth", marker)
    result = cli("convert-cris", evil, tmp_path / "out", "--config", "tiny", "--trust-pickle")
    assert marker.exists()  # the user said they trust it: loaded (then rejected: no state dict)
    one_line_error(result, f"{evil}: expected a state dict")
    assert not (tmp_path / "out").exists()


def test_torchscript_needs_trust(cli, tmp_path: Path) -> None:
    class Tiny(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.token_embedding = torch.nn.Embedding(3, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.token_embedding(x)

    torch.jit.script(Tiny()).save(str(tmp_path / "RN50.pt"))
    result = cli("convert-cris", tmp_path / "RN50.pt", tmp_path / "out", "--config", "tiny")
    one_line_error(result, "RN50.pt: refused to load: it is a TorchScript archive", "--trust-pickle")


def test_train_resume_refuses_a_pickled_last_ckpt(cli, tiny_root: Path, tmp_path: Path, marker: Path) -> None:
    from synthboost.training.config import load_config, to_yaml

    run = tmp_path / "run"
    sets = [*TINY, "--set", f"data.root={tiny_root}"]
    cfg = load_config(CRIS, [s for s in sets if s != "--set"])
    run.mkdir()
    (run / "config.yaml").write_text(to_yaml(cfg))
    last = write_evil(run / "checkpoints" / "last.ckpt", marker, lambda p: {"state_dict": {}, "epoch": p})
    result = cli("train", CRIS, "--out", run, "--resume", *sets)
    one_line_error(result, f"{last}: refused to load", "--trust-pickle")
    assert_no_code_ran(marker)
    assert not (run / "DONE").exists()


def test_train_resume_compat_refuses_a_pickled_best_ckpt(
    cli, tiny_root: Path, tmp_path: Path, marker: Path, cris_folder: Path
) -> None:
    pre = tmp_path / "synthetic_run"
    _copy_model(cris_folder, pre / "model")
    best = write_evil(pre / "checkpoints" / "best.ckpt", marker, lambda p: {"optimizer_states": [p]})
    result = cli("train", CRIS, "--out", tmp_path / "ft", "--init-from", pre, "--resume-compat",
                 *TINY, "--set", f"data.root={tiny_root}")  # fmt: skip
    one_line_error(result, f"{best}: refused to load", "--trust-pickle")
    assert_no_code_ran(marker)
    assert not (tmp_path / "ft" / "DONE").exists()


def test_init_from_refuses_pickled_weights(
    cli, tiny_root: Path, tmp_path: Path, marker: Path, cris_folder
) -> None:
    model = _copy_model(cris_folder, tmp_path / "model")
    write_evil(model / "model.safetensors", marker)
    result = cli("train", CRIS, "--out", tmp_path / "ft", "--init-from", model, *TINY,
                 "--set", f"data.root={tiny_root}")  # fmt: skip
    one_line_error(result, f"{model / 'model.safetensors'}: not a valid safetensors file")
    assert_no_code_ran(marker)


def test_pretrained_checkpoint_in_config_is_refused(
    cli, tiny_root: Path, tmp_path: Path, marker: Path
) -> None:
    evil = write_evil(tmp_path / "RN50.pth", marker)
    result = cli("train", CRIS, "--out", tmp_path / "run", *TINY, "--set", f"data.root={tiny_root}",
                 "--set", f"model.pretrained={evil}")  # fmt: skip
    one_line_error(result, f"{evil}: refused to load", "--trust-pickle")
    assert_no_code_ran(marker)


@pytest.fixture
def evil_models(tmp_path: Path, marker: Path, cris_folder: Path) -> list[tuple[Path, str]]:
    """A CRIS folder whose safetensors is a pickle, a CLIPSeg folder holding only a pickled .bin."""
    from synthboost.models import build_model

    cris = _copy_model(cris_folder, tmp_path / "cris_evil")
    write_evil(cris / "model.safetensors", marker)
    clipseg = build_model("clipseg", config="tiny").save_pretrained(tmp_path / "clipseg_evil")
    (clipseg / "model.safetensors").unlink()
    write_evil(clipseg / "pytorch_model.bin", marker, lambda p: {"x": p})
    return [(cris, "model.safetensors: not a valid safetensors file"), (clipseg, "pytorch_model.bin")]


def test_predict_refuses_pickled_model_files(
    cli, tiny_root: Path, tmp_path: Path, marker: Path, evil_models
) -> None:
    for folder, message in evil_models:
        result = cli("predict", folder, tiny_root, "--out", tmp_path / f"pred_{folder.name}", "--prompt", "p2",
                     "--device", "cpu")  # fmt: skip
        one_line_error(result, str(folder), message)
        assert_no_code_ran(marker)
        assert not (tmp_path / f"pred_{folder.name}").exists()


def test_segment_refuses_pickled_model_files(cli, tmp_path: Path, marker: Path, evil_models) -> None:
    image = tmp_path / "echo.png"
    Image.fromarray(np.full((32, 32), 80, np.uint8)).save(image)
    for folder, message in evil_models:
        result = cli(
            "segment", image, "--model", folder, "--prompt", "left ventricle", "--out", tmp_path / "m.png"
        )
        one_line_error(result, str(folder), message)
        assert_no_code_ran(marker)
        assert not (tmp_path / "m.png").exists()


@pytest.fixture
def evil_sdm_run(tmp_path: Path, marker: Path) -> Path:
    """An SDM run folder (tiny config) whose step-1 checkpoints are pickle payloads."""
    from synthboost.synth.config import dump_config, load_config

    run = tmp_path / "sdm_run"
    run.mkdir()
    cfg = load_config("tiny").to_dict()
    cfg["model"]["image_size"] = 16
    (run / "config.yaml").write_text(dump_config(load_config(cfg)))
    for name in ("model000001.pt", "ema_0.9999_000001.pt", "opt000001.pt"):
        write_evil(run / name, marker, lambda p: {"w": p})
    return run


def test_sdm_sample_render_and_resume_refuse_pickle(
    cli, tiny_root: Path, tmp_path: Path, marker, evil_sdm_run
):
    perturbed = tmp_path / "perturbed"
    (perturbed / "train" / "cond").mkdir(parents=True)
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(perturbed / "train" / "cond" / "a.png")
    result = cli("synth", "sample", evil_sdm_run, perturbed, tmp_path / "gen", "--device", "cpu")
    one_line_error(result, str(evil_sdm_run / "ema_0.9999_000001.pt"), "refused to load", "--trust-pickle")
    assert not list((tmp_path / "gen").rglob("*.png"))

    result = cli("synth", "render", perturbed, tmp_path / "rendered", "--renderer", f"sdm:{evil_sdm_run}")
    assert result.code == 2 and "Traceback" not in result.err
    assert not (tmp_path / "rendered").exists()

    result = cli("synth", "train", tiny_root, evil_sdm_run, "--view", "2CH", "--device", "cpu")
    one_line_error(result, str(evil_sdm_run / "model000001.pt"), "refused to load", "--trust-pickle")
    assert_no_code_ran(marker)


def test_loader_refuses_every_pickle_flavour(tmp_path: Path, marker: Path) -> None:
    from synthboost.checkpoints import UntrustedCheckpointError, load_checkpoint, load_state_dict

    for i, wrap in enumerate([lambda p: p, lambda p: [p], lambda p: {"a": {"b": (p,)}}]):
        evil = write_evil(tmp_path / f"e{i}.pt", marker, wrap)
        with pytest.raises(UntrustedCheckpointError, match=f"e{i}.pt: refused to load"):
            load_checkpoint(evil)
    with pytest.raises(UntrustedCheckpointError):
        load_state_dict(tmp_path / "e0.pt")
    assert_no_code_ran(marker)
    assert isinstance(Payload(marker).__reduce__(), tuple)
