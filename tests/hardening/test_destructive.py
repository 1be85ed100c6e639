"""``--force`` never deletes what is not ours: the input, a parent of it, a plain file, a symlink or a
folder of the user's files is refused with one line and left byte for byte as it was."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hardening_helpers import assert_unchanged, leftovers, one_line_error, raw_camus, tree_state

CRIS = "configs/experiment/demo_tiny_cris.yaml"


@pytest.fixture
def raw(tmp_path: Path) -> Path:
    return raw_camus(tmp_path / "RAW", n_training=2, n_testing=1)


@pytest.fixture
def user_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "thesis"
    (folder / "chapters").mkdir(parents=True)
    (folder / "chapters" / "intro.tex").write_text("\\section{Intro}")
    (folder / "notes.txt").write_text("do not delete")
    return folder


def test_prepare_raw_raw_force_keeps_raw(cli, raw: Path) -> None:
    before = tree_state(raw)
    one_line_error(cli("prepare", "camus", raw, raw, "--force"), f"{raw}: is the input", "refusing")
    assert_unchanged(raw, before)


def test_prepare_into_a_parent_of_the_input_is_refused(cli, raw: Path, tmp_path: Path) -> None:
    before = tree_state(tmp_path)
    one_line_error(cli("prepare", "camus", raw, tmp_path, "--force"), "contains it")
    assert_unchanged(tmp_path, before)


def test_prepare_force_refuses_user_folder_file_and_symlink(
    cli, raw: Path, user_folder: Path, tmp_path
) -> None:
    targets = [user_folder, tmp_path / "results.csv", tmp_path / "link"]
    targets[1].write_text("a,b\n1,2\n")
    targets[2].symlink_to(user_folder, target_is_directory=True)
    before = {t: tree_state(t) for t in targets}
    for target in targets:
        line = one_line_error(
            cli("prepare", "camus", raw, target, "--force"), str(target), "refusing to replace"
        )
        assert "not a folder written by" in line or "is not a folder" in line
    for target in targets:
        assert_unchanged(target, before[target])
    assert targets[2].is_symlink() and not leftovers(tmp_path)


def test_prepare_force_replaces_only_its_own_dataset(cli, raw: Path, tmp_path: Path) -> None:
    out = tmp_path / "processed"
    out.mkdir()  # an empty folder may be used
    assert cli("prepare", "camus", raw, out, "--image-size", "32", "--force").code == 0
    first = tree_state(out)
    one_line_error(cli("prepare", "camus", raw, out, "--image-size", "32"), "already exists", "--force")
    assert_unchanged(out, first)
    assert cli("prepare", "camus", raw, out, "--image-size", "48", "--force").code == 0
    assert (out / "dataset.json").is_file() and tree_state(out) != first and not leftovers(tmp_path)


def test_train_force_refuses_user_folder_and_dataset(cli, tiny_root: Path, user_folder: Path) -> None:
    sets = ["--set", f"data.root={tiny_root}", "--set", "trainer.accelerator=cpu"]
    before, data_before = tree_state(user_folder), tree_state(tiny_root)
    one_line_error(cli("train", CRIS, "--out", user_folder, "--force", *sets), "no run.json", "refusing")
    one_line_error(cli("train", CRIS, "--out", tiny_root, "--force", *sets), "is the input", "refusing")
    one_line_error(cli("train", CRIS, "--out", tiny_root.parent, "--force", *sets), "contains it")
    assert_unchanged(user_folder, before)
    assert_unchanged(tiny_root, data_before)


def test_predict_force_refuses_user_folder(cli, tiny_root: Path, user_folder: Path, tmp_path: Path) -> None:
    from synthboost.models import build_model

    torch.manual_seed(0)
    model = build_model("cris", config="tiny").save_pretrained(tmp_path / "model")
    before = tree_state(user_folder)
    args = ("predict", model, tiny_root, "--prompt", "p2", "--device", "cpu", "--force", "--out")
    one_line_error(cli(*args, user_folder), "no prediction.json", "refusing")
    one_line_error(cli(*args, tiny_root), "is the input")
    assert_unchanged(user_folder, before)


def test_convert_cris_never_replaces_a_user_folder(cli, user_folder: Path, tmp_path: Path) -> None:
    from synthboost.models import build_model

    torch.manual_seed(0)
    torch.save(build_model("cris", config="tiny").state_dict(), tmp_path / "cris_best.pth")
    before = tree_state(user_folder)
    one_line_error(cli("convert-cris", tmp_path / "cris_best.pth", user_folder, "--config", "tiny"),
                   "no config.json + model.safetensors")  # fmt: skip
    assert_unchanged(user_folder, before)
    out = tmp_path / "model"
    for _ in range(2):  # its own model folder is replaced
        assert cli("convert-cris", tmp_path / "cris_best.pth", out, "--config", "tiny").code == 0
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "model.safetensors"]


def test_synth_force_refuses_its_input(cli, tiny_root: Path, tmp_path: Path) -> None:
    before = tree_state(tiny_root)
    one_line_error(cli("synth", "perturb", tiny_root, tiny_root, "--force", "--size", "32"), "is the input")
    assert_unchanged(tiny_root, before)
    shapes = tmp_path / "shapes"
    assert cli("synth", "shapes", shapes, "--count", "2").code == 0
    shapes_before = tree_state(shapes)
    from synthboost.synth.render import render_folder

    with pytest.raises(FileExistsError, match="is the input"):
        render_folder(shapes, shapes, overwrite=True)
    assert_unchanged(shapes, shapes_before)


def test_phantom_force_refuses_user_folder(cli, user_folder: Path) -> None:
    before = tree_state(user_folder)
    one_line_error(cli("phantom", user_folder, "--patients", "1", "--force"), "no phantom.json", "refusing")
    assert_unchanged(user_folder, before)
