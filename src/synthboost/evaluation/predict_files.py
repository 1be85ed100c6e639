"""``synthboost predict RUN FOLDER``: every echo file of a plain folder (not a processed dataset), read through
the one reader, segmented into an LV / myocardium / LA label map.

Output folder (appears atomically; ``--force`` replaces only a folder this command wrote)::

    <out>/<file name>_labels.png    uint8 label map at the file's own size: 0, 1 LV, 2 MYO, 3 LA
    <out>/predictions.csv           one row per file: file, frame, n_frames, calibration, spacing, areas

Files the reader does not read (other suffixes) and CAMUS label files (``*_gt.*``) are listed in the log
as left out, never silently; a file the reader cannot read stops the command with its message.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from synthboost.data.format import LABELS
from synthboost.data.imageio.medical import write_png
from synthboost.data.imageio.suffixes import READABLE_SUFFIXES
from synthboost.evaluation.segmenter import Segmenter, area, read_frame
from synthboost.logs import get_logger
from synthboost.progress import track
from synthboost.utils.files import atomic_dir, write_text_atomic

log = get_logger("evaluation.predict_files")

CSV_NAME = "predictions.csv"
LABELS_SUFFIX = "_labels.png"
COLUMNS = ("file", "frame", "n_frames", "calibration", "spacing_row_mm", "spacing_col_mm", "area_unit",
           *(f"{s}_area" for s in LABELS.values()), "labels")  # fmt: skip


def is_processed_dataset(folder: str | Path) -> bool:
    """Whether ``folder`` is a processed dataset (``dataset.json``) rather than a folder of echo files."""
    return (Path(folder) / "dataset.json").is_file()


def echo_files(folder: str | Path) -> list[Path]:
    """The files of ``folder`` the reader reads, sorted; the others are logged as left out.

    Raises:
        FileNotFoundError: not a folder.
        ValueError: no readable echo file in it.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: not a folder")
    files = []
    for path in sorted(p for p in folder.iterdir() if p.is_file()):
        name = path.name.lower()
        if not name.endswith(READABLE_SUFFIXES):
            log.info("%s: not an echo file the reader reads: left out", path)
        elif name.split(".")[0].endswith("_gt"):
            log.info("%s: a label file, not an image: left out", path)
        else:
            files.append(path)
    if not files:
        raise ValueError(f"{folder}: no echo file here (expected {', '.join(READABLE_SUFFIXES)})")
    return files


def predict_files(
    run: str | Path,
    folder: str | Path,
    out: str | Path,
    frame: int = 0,
    view: str | None = None,
    phase: str | None = None,
    threshold: float | None = None,
    device: str | None = None,
    overwrite: bool = False,
) -> Path:
    """Segment frame ``frame`` of every echo file in ``folder`` with the model of ``run``; return ``out``.

    Prompts are the most specific ones ``view`` and ``phase`` allow
    (:func:`~synthboost.prompts.select.prompt_from_attributes`); areas are in mm² for calibrated files,
    else in pixels (``area_unit``), with each file's calibration source recorded.
    """
    files = echo_files(folder)
    segmenter = Segmenter.from_pretrained(run, device)
    rows = []
    with atomic_dir(out, overwrite=overwrite, markers=(CSV_NAME,), inputs=[folder]) as tmp:
        for path in track(files, "predict files", total=len(files)):
            image = read_frame(path, frame)
            labels = segmenter.segment_all(image.image, view=view, phase=phase, threshold=threshold)
            write_png(tmp / f"{path.name}{LABELS_SUFFIX}", labels)
            spacing = image.calibration.spacing_mm
            row = {"file": path.name, "frame": image.index, "n_frames": image.n_frames,
                   "calibration": image.calibration.source, "spacing_row_mm": spacing[0] if spacing else "",
                   "spacing_col_mm": spacing[1] if spacing else "", "labels": f"{path.name}{LABELS_SUFFIX}"}  # fmt: skip
            for value, structure in LABELS.items():
                row[f"{structure}_area"], row["area_unit"] = area(labels == value, spacing)
            rows.append(row)
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        write_text_atomic(tmp / CSV_NAME, text.getvalue())
    log.info("%s: %d files segmented -> %s", folder, len(rows), out)
    return Path(out)
