"""examples/quickstart.ipynb runs top to bottom (nbclient) on the quick demo's model."""

from __future__ import annotations

from pathlib import Path

NOTEBOOK = Path(__file__).resolve().parents[1] / "examples" / "quickstart.ipynb"


def test_quickstart_notebook_executes(quick_demo, tmp_path, monkeypatch) -> None:
    import nbformat
    from nbclient import NotebookClient

    out, _ = quick_demo
    nb = nbformat.read(NOTEBOOK, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.source = cell.source.replace("demo_out", str(out))  # only the folder is substituted
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    text = "\n".join(
        o.get("text", "")
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
        if o.output_type == "stream"
    )
    assert "EF ground truth:" in text and "EF phantom truth:" in text and "EF prediction:" in text
    assert "P0: ''" in text and "P1: 'Left ventricular cavity of the heart.'" in text
    assert "P7: 'Left ventricular cavity of oval shape in two-chamber view" in text
    images = [
        o for c in nb.cells if c.cell_type == "code" for o in c.outputs if "image/png" in o.get("data", {})
    ]
    assert images, "the overlay figure is drawn"
