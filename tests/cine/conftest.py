"""Fixtures of the cine tests: one small phantom with half-sequences and DICOM cines, (the tiny model is the root conftest's ``tiny_model``)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def cine_phantom(tmp_path_factory) -> Path:
    """CAMUS-2023-layout phantom of 2 patients: 8-frame ED→ES half-sequences (labels, truth) and DICOM cines."""
    from synthboost.data.phantom.writer import generate_phantom

    root = tmp_path_factory.mktemp("cine") / "phantom"
    return generate_phantom(
        root, n_patients=2, seed=1, image_scale=0.3, sequences=True, n_frames=8, dicom=True
    )
