"""Configs are package data: packaged names resolve from any folder, user YAML paths still work."""

from __future__ import annotations

from pathlib import Path

import pytest

from synthboost.configs import config_root, find_config, packaged_configs
from synthboost.training.config import load_config


def test_packaged_names_resolve_from_any_folder(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    root = config_root()
    assert root.is_relative_to(Path(__import__("synthboost").__file__).parent)
    expected = root / "experiment" / "cris_real.yaml"
    for ref in ("configs/experiment/cris_real.yaml", "experiment/cris_real.yaml", "experiment/cris_real"):
        assert find_config(ref) == expected
    assert find_config("tiny", "sdm") == root / "sdm" / "tiny.yaml"
    assert "sweeps/paper_table1.yaml" in packaged_configs()
    assert load_config("configs/experiment/cris_real.yaml").model.name == "cris"
    with pytest.raises(
        FileNotFoundError, match=r"nope\.yaml: config file not found .*experiment/cris_real\.yaml"
    ):
        find_config("nope.yaml")


def test_user_yaml_with_relative_and_packaged_bases(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "common.yaml").write_text("trainer:\n  max_epochs: 3\n")
    (tmp_path / "mine" / "exp.yaml").write_text(
        "base: [experiment/demo_tiny_clipseg.yaml, common.yaml]\ndata:\n  root: elsewhere\n"
    )
    cfg = load_config(tmp_path / "mine" / "exp.yaml")
    assert cfg.model.name == "clipseg" and cfg.trainer.max_epochs == 3 and cfg.data.root == "elsewhere"
    # a file of the user's own beside the including file wins over a packaged one of the same name
    (tmp_path / "mine" / "experiment").mkdir()
    (tmp_path / "mine" / "experiment" / "demo_tiny_clipseg.yaml").write_text("model:\n  name: cris\n")
    assert load_config(tmp_path / "mine" / "exp.yaml").model.name == "cris"
