"""Fixtures of the app tests: the app served as ``synthboost app`` serves it, on 127.0.0.1.

``tiny_model``, ``segmenter`` and ``echo_png`` come from ``tests/conftest.py``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from app_helpers import serving


@pytest.fixture(scope="session")
def app_workdir(tmp_path_factory) -> Path:
    """The app's private folder (and Gradio's cache) for the tests of this session."""
    workdir = tmp_path_factory.mktemp("appwork")
    os.environ["GRADIO_TEMP_DIR"] = str(workdir / "gradio")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    return workdir


@pytest.fixture(scope="session")
def app_url(tiny_model, segmenter, app_workdir) -> Iterator[str]:
    """The whole app (one phantom test patient) served on 127.0.0.1 for the session."""
    from synthboost.app.serve import build

    blocks = build(str(tiny_model), app_workdir, phantom_patients=1, segmenter=segmenter)
    with serving(blocks) as url:
        yield url
