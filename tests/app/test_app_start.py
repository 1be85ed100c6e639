"""How ``synthboost app`` starts: its model in a process of its own (the segmenter's answers and errors
through a pipe, a clear error when it ends), Gradio imported as it is (no import hook), and the command
segmenting through its model process (which ends with the app)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from synthboost.app.worker import ModelProcess
from synthboost.evaluation.segmenter import read_image

PROMPT = "Left ventricular cavity of the heart."


@pytest.fixture(scope="module")
def worker(tiny_model):
    w = ModelProcess(str(tiny_model), 0.5, device="cpu")
    assert w.wait_loaded() is None
    yield w
    w.close()


def test_model_process_answers_as_the_segmenter_in_this_process(worker, segmenter, echo_png):
    image, _ = read_image(echo_png)
    got, want = worker(image, PROMPT, threshold=0.4), segmenter(image, PROMPT, threshold=0.4)
    np.testing.assert_array_equal(got.probability, want.probability)
    np.testing.assert_array_equal(got.mask, want.mask)
    np.testing.assert_array_equal(
        worker.segment_all(image, view="2CH", threshold=0.3),
        segmenter.segment_all(image, view="2CH", threshold=0.3),
    )
    assert worker.threshold == segmenter.threshold


def test_errors_come_back_as_they_are_and_the_process_goes_on(worker):
    with pytest.raises(ValueError, match="prompt must be a string"):
        worker(np.zeros((8, 8), np.uint8), 3)
    with pytest.raises(AttributeError, match="no method 'nothing'"):
        worker.nothing()
    assert worker(np.zeros((8, 8), np.uint8), PROMPT).mask.shape == (8, 8)


def test_a_model_process_that_ends_is_a_clear_error(tiny_model):
    w = ModelProcess(str(tiny_model), 0.5, device="cpu")
    os.kill(w.pid, signal.SIGKILL)
    error = w.wait_loaded()
    assert isinstance(error, RuntimeError) and "exit code -9" in str(error)
    with pytest.raises(RuntimeError, match="exit code -9"):
        w(np.zeros((8, 8), np.uint8), PROMPT)
    w.close()


def test_gradio_is_imported_as_it_is_and_works():
    pytest.importorskip("gradio")
    code = """if True:
        import sys
        hooks = list(sys.meta_path)
        from synthboost.app.ui import import_gradio
        gr = import_gradio()
        assert sys.meta_path == hooks, sys.meta_path
        import gradio.component_meta
        assert gradio.component_meta.create_or_modify_pyi.__module__ == "gradio.component_meta"
        with gr.Blocks() as blocks:
            gr.Button("Segment", elem_id="segment")
        assert [b.elem_id for b in blocks.blocks.values()] == ["segment"]
    """
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]


def _children(pid: int) -> set[int]:
    """Child processes of ``pid`` (Linux ``/proc``)."""
    tasks = Path(f"/proc/{pid}/task")
    return {int(c) for t in tasks.iterdir() for c in (t / "children").read_text().split()}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="lists child processes through /proc")
def test_the_app_command_segments_through_its_model_process(tiny_model, segmenter, tmp_path, monkeypatch):
    pytest.importorskip("gradio")
    from app_helpers import start_app
    from gradio_client import Client

    from synthboost.app.cases import case_image, phantom_cases

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")  # the model process on the CPU, as ``segmenter``
    (tmp_path / "tmp").mkdir()
    proc, _, lines = start_app(str(tiny_model), tmp_path / "tmp")
    url = lines[-1].split(" on ", 1)[1].split()[0]
    try:
        children = _children(proc.pid)
        assert children, "the model runs in a process of its own"
        client = Client(url, verbose=False, download_files=str(tmp_path / "client"))
        case = "patient0001_2CH_ED"
        _, text = client.predict([], case, PROMPT, 0.4, None, None, api_name="/segment")
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 128 + signal.SIGTERM
    image, spacing = case_image(phantom_cases(tmp_path / "cases", 1)[case])
    area = segmenter(image, PROMPT, threshold=0.4).mask.sum() * spacing[0] * spacing[1]
    assert text.startswith(f"Area: {area:,.1f} mm²")
    end = time.monotonic() + 10
    while any(_alive(c) for c in children) and time.monotonic() < end:
        time.sleep(0.1)
    assert not any(_alive(c) for c in children), "the model process ends with the app"
