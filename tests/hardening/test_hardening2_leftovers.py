"""Issue 23, the first round's leftovers and reproducibility: ``synth sample`` never mixes two samplers in
one folder; saved weights follow the umask; NIfTI frames with NaN are refused like MetaImage ones;
every ``dataset.json`` / ``run.json`` / analysis ``summary.json`` records the package versions, and
the report names the packages whose versions differ between the compared runs."""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from hardening2_helpers import attack
from hardening_helpers import assert_unchanged, one_line_error, tree_state

from camus_fixtures import write_patient

# --- synth sample resumed with other settings ------------------------------------------------------


@pytest.fixture(scope="module")
def sdm(tiny_root: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """``(SDM run, perturbed folder)``: a 16² SDM trained 2 steps and one perturbed map per label map."""
    from synthboost.synth.config import load_config
    from synthboost.synth.perturb import perturb_dataset
    from synthboost.synth.sdm_train import train_sdm

    root = tmp_path_factory.mktemp("sdm")
    cfg = load_config("tiny").to_dict()
    cfg["model"]["image_size"] = 16
    cfg["train"].update(save_interval=2, log_interval=1, batch_size=2)
    cfg["sample"]["steps"] = 2
    run = train_sdm(tiny_root, root / "run", "2CH", "ED", cfg, max_steps=2, device="cpu")
    return run, perturb_dataset(tiny_root, root / "pert", per_mask=1, size=16)


def _sample(cli, sdm, out: Path, *extra: str):
    run, pert = sdm
    return cli("synth", "sample", run, pert, out, "--device", "cpu", "--batch-size", "4", *extra)


@pytest.mark.parametrize(("extra", "fragment"), [(("--steps", "3"), "steps 2 → 3"),
                                                 (("--sampler", "ddpm"), "sampler 'ddim' → 'ddpm'"),
                                                 (("--seed", "5"), "seed 0 → 5")])  # fmt: skip
def test_resumed_sample_with_other_settings_is_refused(cli, sdm, tmp_path, extra, fragment) -> None:
    out = tmp_path / "sampled"
    assert _sample(cli, sdm, out, "--sampler", "ddim").code == 0
    (next(out.glob("*/images/*.png"))).unlink()  # an interrupted run: one image left to do
    before = tree_state(out)
    args = ("--sampler", "ddim", *extra) if "--sampler" not in extra else extra
    with attack("silent"):
        one_line_error(_sample(cli, sdm, out, *args), str(out / "sampling.json"), fragment, "--force")
        assert_unchanged(out, before)


def test_force_restarts_the_folder_with_the_new_settings(cli, sdm, tmp_path) -> None:
    out = tmp_path / "sampled"
    assert _sample(cli, sdm, out, "--sampler", "ddim").code == 0
    n = len(list(out.glob("*/images/*.png")))
    (out / "training" / "images" / "stale.png").write_bytes(b"old")
    assert _sample(cli, sdm, out, "--sampler", "ddim", "--steps", "3", "--force").code == 0
    record = json.loads((out / "sampling.json").read_text())
    assert record["steps"] == 3 and record["sampler"] == "ddim"
    assert len(list(out.glob("*/images/*.png"))) == n and not (out / "training/images/stale.png").exists()


def test_a_folder_of_images_without_record_is_refused(cli, sdm, tmp_path) -> None:
    out = tmp_path / "old"
    (out / "training" / "images").mkdir(parents=True)
    (out / "training" / "images" / "x.png").write_bytes(b"png")
    before = tree_state(out)
    with attack("silent"):
        one_line_error(_sample(cli, sdm, out), str(out), "no sampling.json")
        assert_unchanged(out, before)


# --- weights follow the umask ---------------------------------------------------------------------


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_saved_model_and_adapter_weights_follow_the_umask(tmp_path, umask: int) -> None:
    from synthboost.models import build_model
    from synthboost.models.adapters import add_lora, save_adapter

    torch.manual_seed(0)
    model = build_model("cris", config="tiny")
    old = os.umask(umask)
    try:
        model.save_pretrained(tmp_path / "model")
        save_adapter(add_lora(model, rank=2), tmp_path / "adapter")  # with base/ written beside it
    finally:
        os.umask(old)
    want = 0o666 & ~umask
    with attack("leftover"):
        modes = {
            str(p.relative_to(tmp_path)): p.stat().st_mode & 0o777 for p in tmp_path.rglob("*") if p.is_file()
        }
        assert "model/model.safetensors" in modes and "adapter/base/model.safetensors" in modes
        assert set(modes.values()) == {want}, modes


# --- NIfTI frames with NaN ----------------------------------------------------------------------------


def _camus2023(root: Path) -> Path:
    for i in range(1, 4):
        write_patient(root / "database_nifti" / f"patient{i:04d}", f"patient{i:04d}", ".nii.gz", i)
    split = root / "database_split"
    split.mkdir(parents=True)
    for name, patients in (
        ("training", "patient0001\n"),
        ("validation", "patient0002\n"),
        ("testing", "patient0003\n"),
    ):
        (split / f"subgroup_{name}.txt").write_text(patients)
    return root


def _nan_frame(kind: str) -> np.ndarray:
    if kind == "all":
        return np.full((40, 32), np.nan, np.float32)
    frame = np.arange(40 * 32, dtype=np.float32).reshape(40, 32) % 200
    frame[5, 7] = np.nan if kind == "one" else np.inf
    return frame


@pytest.mark.parametrize(("kind", "count"), [("all", 1280), ("one", 1), ("inf", 1)])
def test_prepare_camus_refuses_nifti_frames_with_nan(cli, tmp_path, kind: str, count: int) -> None:
    from camus_fixtures import write_medical

    raw = _camus2023(tmp_path / "raw")
    bad = raw / "database_nifti" / "patient0001" / "patient0001_2CH_ED.nii.gz"
    write_medical(bad, _nan_frame(kind))
    out = tmp_path / "processed"
    with attack("silent"):
        one_line_error(cli("prepare", "camus", raw, out, "--image-size", "32"), str(bad),
                       f"{count} pixels are NaN or infinite")  # fmt: skip
        assert not out.exists()


def test_nifti_loop_with_one_nan_pixel_is_refused(tmp_path) -> None:
    import SimpleITK as sitk

    from synthboost.data.imageio.echo import read_echo

    loop = np.arange(4 * 20 * 16, dtype=np.float32).reshape(4, 20, 16) % 100
    loop[2, 3, 4] = np.nan
    path = tmp_path / "p_2CH_half_sequence.nii.gz"
    sitk.WriteImage(sitk.GetImageFromArray(loop), str(path))
    with attack("silent"), pytest.raises(ValueError, match=r"1 pixels are NaN or infinite"):
        read_echo(path)


def test_nifti_nonfinite_counts_by_hand(tmp_path) -> None:
    """The header parser on known files: float64 with 3 non-finite values, an integer file, NIfTI .nii."""
    import SimpleITK as sitk

    from synthboost.data.imageio.nifti_check import nifti_nonfinite

    arr = np.zeros((5, 6), np.float64)
    arr[0, 0], arr[1, 1], arr[4, 5] = np.nan, np.inf, -np.inf
    sitk.WriteImage(sitk.GetImageFromArray(arr), str(tmp_path / "f.nii"))
    sitk.WriteImage(sitk.GetImageFromArray(np.full((5, 6), 7, np.int16)), str(tmp_path / "i.nii.gz"))
    assert nifti_nonfinite(tmp_path / "f.nii") == 3 and nifti_nonfinite(tmp_path / "i.nii.gz") == 0
    (tmp_path / "x.nii").write_bytes(b"\0" * 400)
    with pytest.raises(ValueError, match="not a NIfTI-1 or NIfTI-2 header"):
        nifti_nonfinite(tmp_path / "x.nii")


# --- versions recorded and compared ------------------------------------------------------------------


def test_dataset_json_records_the_environment_and_readers_tolerate_it(cli, tmp_path) -> None:
    from synthboost.data.processed import check_dataset, read_info

    raw = _camus2023(tmp_path / "raw")
    out = tmp_path / "processed"
    assert cli("prepare", "camus", raw, out, "--image-size", "32").code == 0
    env = json.loads((out / "dataset.json").read_text())["environment"]
    with attack("reproducibility"):
        assert env["packages"]["numpy"] == importlib.metadata.version("numpy")
    assert env["packages"]["Pillow"] == importlib.metadata.version("pillow")
    assert set(env["packages"]) >= {"torch", "SimpleITK", "scikit-image", "transformers", "peft", "pydicom",
                                    "PyAV", "Lightning"}  # fmt: skip
    assert read_info(out).source == "camus" and check_dataset(out) == []


def test_version_differences_by_hand() -> None:
    from synthboost.utils.environment import environment_versions, version_differences

    a = environment_versions("cpu")
    b = json.loads(json.dumps(a))
    b["packages"]["Pillow"] = "0.0.1"
    assert version_differences({"run_a": a, "run_b": a, "old": None}) == []
    lines = version_differences({"run_a": a, "run_b": b, "run_c": b})
    assert lines == [f"Pillow: 0.0.1 (run_b, run_c), {a['packages']['Pillow']} (run_a)"]


def test_report_names_differing_versions(tmp_path) -> None:
    from synthboost.report.versions import versions_section
    from synthboost.utils.environment import environment_versions

    env = environment_versions("cpu")
    runs = {}
    for name, torch_version in (("real", "2.13.0"), ("ptft", "2.1.0"), ("old", None)):
        run = tmp_path / name
        run.mkdir()
        info = {"name": name}
        if torch_version:
            info["environment"] = {**env, "packages": {**env["packages"], "torch": torch_version}}
        (run / "run.json").write_text(json.dumps(info))
        runs[name] = run
    html = "".join(versions_section(runs))
    with attack("reproducibility"):
        assert "Software versions differ" in html and "torch: 2.1.0 (ptft), 2.13.0 (real)" in html
        assert "older synthboost): old" in html
    shutil.rmtree(runs.pop("old"))
    same = {n: r for n, r in runs.items() if n == "real"}
    assert versions_section(same) == []
