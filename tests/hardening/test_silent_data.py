"""Nothing silent, nothing cryptic: every bad input a user can hand over ends in one line naming the file
and the problem (exit 2), writes nothing, and never becomes a garbled image or a random-weight model."""

from __future__ import annotations

import errno
import os
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from hardening_helpers import assert_unchanged, leftovers, one_line_error, raw_camus, tree_state

from camus_fixtures import toy_labels, write_medical

P1 = Path("training") / "patient0001"


def _cfg(raw: Path, pattern: str, repl: str) -> Path:
    path = raw / P1 / "Info_2CH.cfg"
    path.write_text(re.sub(pattern, repl, path.read_text()))
    return path


def _raw_bytes(raw: Path, extra: int) -> Path:
    path = raw / P1 / "patient0001_2CH_ED.raw"
    data = path.read_bytes()
    path.write_bytes(data + b"\0" * extra if extra > 0 else data[:extra])
    return path.with_suffix(".mhd")


def _mhd(raw: Path, name: str, arr: np.ndarray) -> Path:
    write_medical(raw / P1 / f"{name}.mhd", arr)
    return raw / P1 / name


def _entry(raw: Path, name: str, kind: str) -> Path:
    path = raw / "training" / name
    if kind == "dir":
        path.mkdir()
    elif kind == "loop":
        path.symlink_to(path)
    else:
        path.write_text("")
    return path


#: (id, corrupt(raw) -> file the message must name, message fragment)
BAD_RAW: list[tuple[str, Callable[[Path], Path], str]] = [
    ("age-nan", lambda r: _cfg(r, r"Age: \d+", "Age: nan"), "Age is not a finite number"),
    ("age-inf", lambda r: _cfg(r, r"Age: \d+", "Age: inf"), "Age is not a finite number"),
    ("age-200", lambda r: _cfg(r, r"Age: \d+", "Age: 200"), "Age must be between 0 and 120"),
    ("age-negative", lambda r: _cfg(r, r"Age: \d+", "Age: -3"), "Age must be between 0 and 120"),
    ("age-text", lambda r: _cfg(r, r"Age: \d+", "Age: old"), "Age is not a number"),
    ("no-quality", lambda r: _cfg(r, r"ImageQuality: \w+\n", ""), "missing keys ['ImageQuality']"),
    ("es-zero", lambda r: _cfg(r, r"ES: \d+", "ES: 0"), "ES must be a frame number"),
    ("raw-larger", lambda r: _raw_bytes(r, 64), "bytes but the header"),
    ("raw-smaller", lambda r: _raw_bytes(r, -64), "bytes but the header"),
    ("nan-pixels", lambda r: _mhd(r, "patient0001_2CH_ED", np.full((40, 32), np.nan, np.float32)), "NaN"),
    ("label-5", lambda r: _mhd(r, "patient0001_2CH_ED_gt", toy_labels() * 2 + 1), "outside 0-3"),
    ("label-empty", lambda r: _mhd(r, "patient0001_2CH_ED_gt", np.zeros((40, 32), np.uint8)), "all zero"),
    ("label-size", lambda r: _mhd(r, "patient0001_2CH_ED_gt", toy_labels(30, 32)), "does not match image"),
    ("Patient0009", lambda r: _entry(r, "Patient0009", "dir"), "looks like a patient folder"),
    ("patient9", lambda r: _entry(r, "patient9", "dir"), "looks like a patient folder"),
    ("symlink-loop", lambda r: _entry(r, "patient0009", "loop"), "unreadable patient entry"),
    ("patient-file", lambda r: _entry(r, "patient0009", "file"), "not a folder"),
]


@pytest.mark.parametrize(("corrupt", "fragment"), [b[1:] for b in BAD_RAW], ids=[b[0] for b in BAD_RAW])
def test_bad_raw_camus_is_one_line_and_writes_nothing(cli, tmp_path: Path, corrupt, fragment: str) -> None:
    raw = raw_camus(tmp_path / "RAW", n_training=2, n_testing=1)
    named = corrupt(raw)
    before = tree_state(raw)
    out = tmp_path / "processed"
    one_line_error(cli("prepare", "camus", raw, out, "--image-size", "32"), str(named), fragment)
    assert not out.exists() and not leftovers(tmp_path)
    assert_unchanged(raw, before)


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from synthboost.models import build_model

    root = tmp_path_factory.mktemp("models")
    torch.manual_seed(0)
    return {
        "cris": build_model("cris", config="tiny").save_pretrained(root / "cris"),
        "clipseg": build_model("clipseg", config="tiny").save_pretrained(root / "clipseg"),
    }


def _copy(src: Path, dst: Path) -> Path:
    dst.mkdir(parents=True)
    for f in src.iterdir():
        (dst / f.name).write_bytes(f.read_bytes())
    return dst


def _weights(kind: str, models: dict[str, Path], folder: Path) -> Path:
    path = folder / "model.safetensors"
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "cut":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif kind == "other-model":
        other = (
            "cris"
            if (folder / "preprocessor_config.json").exists() or "clipseg" in folder.name
            else "clipseg"
        )
        path.write_bytes((models[other] / "model.safetensors").read_bytes())
    elif kind == "config-list":
        path = folder / "config.json"
        path.write_text("[1, 2]")
    elif kind == "config-broken":
        path = folder / "config.json"
        path.write_text('{"model_type": "cris",')
    return path


BAD_WEIGHTS = [
    ("cris", "empty", "not a valid safetensors file"),
    ("cris", "cut", "not a valid safetensors file"),
    ("cris", "other-model", "does not fit the CRIS config"),
    ("cris", "config-list", "expected an object"),
    ("cris", "config-broken", "invalid JSON"),
    ("clipseg", "empty", "not a valid safetensors file"),
    ("clipseg", "cut", "not a valid safetensors file"),
    ("clipseg", "other-model", "holds no CLIPSeg weights"),
    ("clipseg", "config-list", "expected an object"),
]


@pytest.mark.parametrize(
    ("model", "kind", "fragment"), BAD_WEIGHTS, ids=[f"{m}-{k}" for m, k, _ in BAD_WEIGHTS]
)
def test_wrong_or_cut_weights_are_named(cli, tiny_root: Path, tmp_path: Path, models, model, kind, fragment):
    folder = _copy(models[model], tmp_path / f"{model}_model")
    named = _weights(kind, models, folder)
    out = tmp_path / "pred"
    result = cli("predict", folder, tiny_root, "--out", out, "--prompt", "p2", "--device", "cpu")
    one_line_error(result, str(named), fragment)
    assert not out.exists() and not leftovers(tmp_path)


def test_json_shapes_and_encodings(cli, tiny_root: Path, tmp_path: Path) -> None:
    data = _copy_tree(tiny_root, tmp_path / "data")
    (data / "dataset.json").write_text('["not", "an", "object"]')
    one_line_error(cli("prompts", data), f"{data / 'dataset.json'}: expected an object")
    (data / "dataset.json").write_bytes(b'{"name": "\xff\xfe"}')
    one_line_error(cli("prompts", data), f"{data / 'dataset.json'}: not UTF-8 text")
    result = cli("check", data)  # check reports problems as a list (exit 1), here too with the file
    assert result.code == 1 and f"{data / 'dataset.json'}: not UTF-8 text" in result.out + result.err
    preds = tmp_path / "preds"
    preds.mkdir()
    (preds / "prediction.json").write_text("[]")
    one_line_error(
        cli("evaluate", preds, tiny_root, "--out", tmp_path / "m.csv"), "prediction.json: expected an object"
    )
    assert not (tmp_path / "m.csv").exists()


def _copy_tree(src: Path, dst: Path) -> Path:
    import shutil

    return Path(shutil.copytree(src, dst))


def test_permission_denied_and_disk_full(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tempfile

    from PIL import Image

    raw = raw_camus(tmp_path / "RAW", n_training=2, n_testing=1)
    out = tmp_path / "processed"
    assert cli("prepare", "camus", raw, out, "--image-size", "32").code == 0
    before = tree_state(out)

    def denied(*args, dir=None, **kwargs):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(dir))

    with monkeypatch.context() as m:
        m.setattr(tempfile, "mkdtemp", denied)
        one_line_error(cli("prepare", "camus", raw, tmp_path / "other"), f"{tmp_path}: Permission denied")

    def full(self, fp, *args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with monkeypatch.context() as m:
        m.setattr(Image.Image, "save", full)
        one_line_error(cli("prepare", "camus", raw, out, "--force"), "No space left on device")
    assert_unchanged(out, before)
    assert not leftovers(tmp_path)


def test_wrong_kind_of_path_and_non_utf8_names(cli, tmp_path: Path) -> None:
    raw = raw_camus(tmp_path / "RAW", n_training=2, n_testing=1)
    (tmp_path / "a_file").write_text("x")
    one_line_error(
        cli("prepare", "camus", raw, tmp_path / "a_file" / "out"), "a_file: is a file, not a folder"
    )
    one_line_error(
        cli("prepare", "camus", tmp_path / "a_file", tmp_path / "o"), "a_file: CAMUS folder not found"
    )
    odd = tmp_path / os.fsdecode(b"caf\xe9")  # a Latin-1 name: not valid UTF-8
    one_line_error(
        cli("prepare", "camus", raw, odd, "--image-size", "32"),
        "caf\\udce9: the output path is not valid UTF-8",
    )
    assert not leftovers(tmp_path)


def test_verbose_shows_the_traceback_and_bugs_keep_theirs(cli, tmp_path: Path, monkeypatch) -> None:
    result = cli("--verbose", "prepare", "camus", tmp_path / "nope", tmp_path / "out")
    assert result.code == 2 and "Traceback" in result.err
    assert result.err.strip().splitlines()[-1] == f"error: {tmp_path / 'nope'}: CAMUS folder not found"

    import synthboost.data.sources.camus as camus

    def bug(*args, **kwargs):
        raise RuntimeError("an internal bug")

    monkeypatch.setattr(camus, "list_frames", bug)
    with pytest.raises(RuntimeError, match="an internal bug"):
        cli("prepare", "camus", tmp_path, tmp_path / "out")


def _sdm_folder(root: Path) -> Path:
    from PIL import Image

    for split, stem in (
        ("training", "patient0002_2CH_ED_training_0"),
        ("testing", "patient0001_4CH_ES_testing"),
    ):
        for sub, arr in (("images", np.full((40, 32), 90, np.uint8)), ("labels", toy_labels())):
            (root / split / sub).mkdir(parents=True, exist_ok=True)
            Image.fromarray(arr).save(root / split / sub / f"{stem}.png")
    return root


def test_sdm_files_not_read_are_named(cli, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    root = _sdm_folder(tmp_path / "sdm")
    (root / "training" / "images" / "notes.txt").write_text("x")
    (root / "training" / "labels" / "patient0003_2CH_ED_training_0.png").write_bytes(b"")
    stems = [p.stem for p in root.glob("*/images/*.png")]
    (root / "attributes.json").write_text("[" + ", ".join(f'"{s}"' for s in stems) + "]")
    one_line_error(cli("prepare", "sdm", root, tmp_path / "out"), "attributes.json: expected an object")
    (root / "attributes.json").write_text(
        "{" + ", ".join(f'"{s}": {{"sex": "male", "age": 40}}' for s in stems) + "}"
    )
    with caplog.at_level("WARNING"):
        assert cli("prepare", "sdm", root, tmp_path / "out", "--image-size", "32").code == 0
    assert "notes.txt" in caplog.text and "patient0003_2CH_ED_training_0.png" in caplog.text


def test_decompression_bomb_is_a_clear_error(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from PIL import Image

    assert cli("synth", "shapes", tmp_path / "shapes", "--count", "1").code == 0
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # the 256² maps now count as bombs
    one_line_error(
        cli("synth", "render", tmp_path / "shapes", tmp_path / "out"), ".png: not a readable image"
    )
    assert not (tmp_path / "out").exists() and not leftovers(tmp_path)


#: Wrong arguments to each command: (args with {T} for the scratch folder, fragment of the error line).
WRONG_ARGS = [
    (
        ("evaluate", "{T}/text.txt", "{T}/empty", "--out", "{T}/m.csv"),
        "{T}/text.txt: prediction folder not found",
    ),
    (
        ("evaluate", "{T}/empty", "{T}/empty", "--out", "{T}/m.csv"),
        "{T}/empty/prediction.json: file not found",
    ),
    (("report", "{T}/empty", "--out", "{T}/rep"), "{T}/empty: no */p<k>/metrics.csv files found"),
    (("clinical", "{T}/empty", "{T}/empty", "--out", "{T}/cl"), "{T}/empty/prediction.json: file not found"),
    (
        ("segment", "{T}/text.txt", "--model", "{T}/empty", "--prompt", "lv"),
        "{T}/text.txt: not a readable image",
    ),
    (("predict", "{T}/empty", "{T}/text.txt", "--out", "{T}/p"), "{T}/empty: no config.json"),
    (("sweep", "{T}/list.yaml", "--out", "{T}/sw", "--dry-run"), "{T}/list.yaml: expected a mapping"),
    (("train", "{T}/binary.yaml", "--out", "{T}/tr"), "{T}/binary.yaml: not UTF-8 text"),
    (("prompts", "{T}/empty"), "{T}/empty/dataset.json: file not found"),
    (("convert-cris", "{T}/empty.pth", "{T}/cv"), "{T}/empty.pth: not a readable PyTorch checkpoint"),
    (("convert-cris", "{T}/text.txt", "{T}/cv"), "{T}/text.txt: not a readable PyTorch checkpoint"),
    (("phantom", "{T}/text.txt", "--patients", "1", "--force"), "{T}/text.txt: exists and is not a folder"),
    (("synth", "sample", "{T}/empty", "{T}/empty", "{T}/gen"), "{T}/empty: no <split>/cond/<stem>.png maps"),
    (("synth", "perturb", "{T}/empty", "{T}/pert"), "{T}/empty/meta.csv: file not found"),
    (("synth", "render", "{T}/empty", "{T}/ren"), "{T}/empty/attributes.json: file not found"),
    (("prepare", "sdm", "{T}/empty", "{T}/sdm"), "{T}/empty: no images in <split>/images/"),
]


@pytest.mark.parametrize(("args", "fragment"), WRONG_ARGS, ids=[" ".join(a[:2]) for a, _ in WRONG_ARGS])
def test_wrong_arguments_are_one_line(cli, tmp_path: Path, args: tuple[str, ...], fragment: str) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "text.txt").write_text("hello")
    (tmp_path / "empty.pth").write_bytes(b"")
    (tmp_path / "list.yaml").write_text("- a\n")
    (tmp_path / "binary.yaml").write_bytes(b"\xff\xfe\x00")
    before = tree_state(tmp_path)
    one_line_error(cli(*(a.format(T=tmp_path) for a in args)), fragment.format(T=tmp_path))
    assert_unchanged(tmp_path, before)
