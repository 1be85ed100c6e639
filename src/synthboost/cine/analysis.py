"""``analyze``: echo loops → per-frame label maps, ED/ES, volumes, EF, heart rate and files.

An input is any loop :func:`synthboost.data.imageio.echo.read_echo` reads (DICOM cine, NIfTI/MetaImage
half-sequence, AVI/MP4) or a folder of them (label files ``*_gt.*`` and still images are left
out, each with a log line). The view comes from ``view=`` or from the file name
(``…_2CH…`` / ``…_4CH…``); a 2CH and a 4CH loop whose names share the part before the view
(``patient0001`` in ``patient0001_2CH_half_sequence``) are one patient's biplane pair. Prompt
levels that name the sex, age or image quality take them from the call, else from a CAMUS
``Info_<view>.cfg`` beside the loop.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from synthboost.cine.loop import LoopAnalysis, SegmentOptions, loop_stem, measure_labels, segment_loop
from synthboost.cine.measures import biplane_indices
from synthboost.cine.outputs import write_loop
from synthboost.cine.qc import loop_verdict, segment_loop_qc
from synthboost.cine.report import write_report
from synthboost.cine.segment import loop_prompts
from synthboost.data.imageio.budget import LOOP_BUDGET
from synthboost.data.imageio.echo import camus_info, read_echo
from synthboost.data.imageio.suffixes import LOOP_SUFFIXES
from synthboost.evaluation.qc_fit import QCModel, ef_check_reason, load_qc
from synthboost.evaluation.segmenter import Segmenter
from synthboost.evaluation.sequence import ANALYSIS_MARKER
from synthboost.logs import get_logger
from synthboost.training.runfolder import resolve_model
from synthboost.utils.files import atomic_dir, check_replaceable, write_json_atomic

log = get_logger("cine")

_VIEW_RE = re.compile(r"^(?P<patient>.+?)_(?P<view>2CH|4CH)(?:_|$)", re.IGNORECASE)


def _is_label_file(path: Path) -> bool:
    return loop_stem(path).lower().endswith("_gt")


def list_inputs(inputs: Iterable[str | Path]) -> list[Path]:
    """The loop files named by ``inputs`` (files as given; folders: their loop files, sorted).

    Raises:
        FileNotFoundError: an input does not exist. ValueError: nothing to analyse.
    """
    files: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found = sorted(
                p for p in path.iterdir() if p.is_file() and p.name.lower().endswith(LOOP_SUFFIXES)
            )
            for p in found:
                if _is_label_file(p):
                    log.info("%s: label file, not a loop: left out", p)
            files += [p for p in found if not _is_label_file(p)]
        elif path.is_file():
            files.append(path)
        else:
            raise FileNotFoundError(f"{path}: no such file or folder")
    if not files:
        raise ValueError(f"no echo loop found in {', '.join(str(i) for i in inputs)}")
    return files


def view_of(path: Path, view: str | None) -> str:
    """``view`` if given, else the ``2CH`` / ``4CH`` in the file name; a clear error otherwise."""
    if view is not None:
        if view.upper() not in ("2CH", "4CH"):
            raise ValueError(f"view must be 2CH or 4CH, got {view!r}")
        return view.upper()
    match = _VIEW_RE.match(loop_stem(path))
    if not match:
        raise ValueError(f"{path}: cannot tell the view from the file name; pass --view 2CH or 4CH")
    return match["view"].upper()


def patient_of(path: Path) -> str | None:
    """The part of the file name before ``_2CH`` / ``_4CH`` (``None`` when the name has no view)."""
    match = _VIEW_RE.match(loop_stem(path))
    return match["patient"] if match else None


def cfg_attributes(path: Path) -> dict[str, Any]:
    """``sex``, ``age``, ``quality`` of the CAMUS ``Info_<view>.cfg`` beside the loop ({} when there is none)."""

    info = camus_info(path)
    return {} if info is None else {"sex": info.sex, "age": info.age, "quality": info.quality}


def _read_loops(files: list[Path], from_folder: set[Path]) -> list[Any]:

    loops = []
    for path in files:
        loop = read_echo(path, LOOP_BUDGET)
        if loop.n_frames < 2:
            if path in from_folder:
                log.info("%s: a still image (1 frame), not a loop: left out", path)
                continue
            raise ValueError(f"{path}: a still image (1 frame); analyze needs a loop")
        loops.append(loop)
    return loops


def _segmenter_and_info(model: str | Path, options: SegmentOptions, device: str | None) -> tuple[Any, dict]:

    _, settings = resolve_model(model)
    segmenter = Segmenter.from_pretrained(model, device=device)
    threshold = segmenter.threshold if options.threshold is None else options.threshold
    info = {"model": str(model), "prompt_level": settings["prompt"] or "p1", "threshold": float(threshold),
            "smoothing_sigma_frames": options.smooth_sigma, "phase_prompt": options.phase_prompt,
            "min_island_fraction": options.min_island, "device": str(segmenter.device)}  # fmt: skip
    return segmenter, info


#: The smallest frame (rows and columns) a loop is analysed at: below it there is no heart to measure.
MIN_FRAME_SIDE = 8


def check_frame_size(loop: Any) -> None:
    """Refuse a loop whose frames are under :data:`MIN_FRAME_SIDE` pixels on a side, naming the file."""
    rows, cols = loop.frames.shape[1:]
    if min(rows, cols) < MIN_FRAME_SIDE:
        raise ValueError(
            f"{loop.source}: frames of {rows}×{cols} pixels are too small to analyse "
            f"(at least {MIN_FRAME_SIDE}×{MIN_FRAME_SIDE})"
        )


def analyze_loop(
    loop: Any,
    view: str,
    segmenter: Any = None,
    info: dict[str, Any] | None = None,
    options: SegmentOptions = SegmentOptions(),
    attributes: dict[str, Any] | None = None,
    ground_truth: bool = False,
    qc: bool | QCModel | None = False,
) -> LoopAnalysis:
    """Analyse one read loop with ``segmenter`` (or with the loop's own label maps when ``ground_truth``).

    ``qc``: ``False`` for none; ``True`` (raw signals) or the run's :class:`~synthboost.evaluation.qc_fit.QCModel`
    for per-frame QC and a loop verdict (:mod:`synthboost.cine.qc`) in ``summary["qc"]``.
    """

    check_frame_size(loop)
    info = {"patient": patient_of(Path(loop.source)), **(info or {})}
    if ground_truth:
        if loop.labels is None:
            raise ValueError(f"{loop.source}: no ground-truth label file beside it (…_gt)")
        return measure_labels(loop, loop.labels, view, {**info, "model": "ground truth"}, options.curve_sigma)
    attributes = {
        **cfg_attributes(Path(loop.source)),
        **{k: v for k, v in (attributes or {}).items() if v is not None},
    }
    level = info.get("prompt_level", "p1")
    prompt_sets = loop_prompts(level, view, options.phase_prompt, attributes)
    if qc is False:
        labels = segment_loop(loop, segmenter, prompt_sets, options)
        return measure_labels(loop, labels, view, {**info, "prompts": prompt_sets}, options.curve_sigma)
    model = qc if isinstance(qc, QCModel) else None
    labels, frames = segment_loop_qc(loop, segmenter, level, view, attributes, options, model)
    analysis = measure_labels(loop, labels, view, {**info, "prompts": prompt_sets}, options.curve_sigma)
    analysis.qc = frames
    ef_reason = ef_check_reason(model.info) if model is not None else None
    analysis.summary["qc"] = loop_verdict(analysis, frames, model is not None, ef_reason)
    return analysis


def biplane(analyses: list[LoopAnalysis]) -> dict[str, dict[str, Any]]:
    """Biplane indices of every patient with one calibrated 2CH and one 4CH loop."""

    pairs: dict[str, dict[str, LoopAnalysis]] = {}
    for a in analyses:
        patient = patient_of(Path(a.loop.source))
        if patient is not None and a.loop.spacing_mm is not None:
            pairs.setdefault(patient, {})[a.view] = a
    out = {}
    for patient, views in sorted(pairs.items()):
        if set(views) != {"2CH", "4CH"}:
            continue
        a2, a4 = views["2CH"], views["4CH"]
        try:
            out[patient] = biplane_indices(a2.labels, a2.loop.spacing_mm, a2.phases.cycles,
                                           a4.labels, a4.loop.spacing_mm, a4.phases.cycles)  # fmt: skip
        except ValueError as err:
            log.warning("%s: no biplane indices (%s)", patient, err)
            continue
        out[patient].update(method="Simpson's biplane method of discs; LA: biplane area-length",
                            sources=[str(a2.loop.source), str(a4.loop.source)])  # fmt: skip
    return out


def analyze(
    inputs: str | Path | Iterable[str | Path],
    model: str | Path | None = None,
    view: str | None = None,
    out: str | Path | None = None,
    *,
    options: SegmentOptions = SegmentOptions(),
    attributes: dict[str, Any] | None = None,
    ground_truth: bool = False,
    video: str = "mp4",
    device: str | None = None,
    qc: bool | QCModel = True,
) -> dict[str, Any]:
    """Analyse echo loops; write the outputs to ``out`` when given (docs/formats.md, "Cine analysis").

    Args:
        inputs: loop files or folders of them.
        model: run folder, model folder or hub id (not needed with ``ground_truth``).
        view: ``2CH`` / ``4CH`` for every input (default: from the file names).
        out: output folder (``<stem>/`` per loop, ``biplane.json``, ``report.html``).
        options: segmentation settings (smoothing of probabilities and of the LV curve, islands, prompts, batch size).
        attributes: ``sex``, ``age``, ``quality`` for prompt levels that use them.
        ground_truth: measure the loops' own label files (``…_gt``) instead of predicting: the method alone.
        video: ``mp4``, ``gif`` or ``none`` for the overlay video.
        device: ``cpu``, ``cuda``… (default: the best available).
        qc: per-frame QC and a loop verdict (:mod:`synthboost.cine.qc`; calibrated with the run's
            ``qc.json``, raw signals without, or with the given QC model); not with ``ground_truth``.

    Returns:
        ``{"loops": [LoopAnalysis], "biplane": {patient: indices}, "report": Path | None}``.
    """
    if isinstance(inputs, (str, Path)):
        inputs = [inputs]
    inputs = list(inputs)
    files = list_inputs(inputs)
    views = {f: view_of(f, view) for f in files}
    from_folder = {f for f in files if f not in {Path(i) for i in inputs}}
    if model is None and not ground_truth:
        raise ValueError("analyze: give a model (run folder) or ground_truth=True")
    if out is not None and (Path(out).exists() or Path(out).is_symlink()):
        check_replaceable(out, markers=(ANALYSIS_MARKER,), inputs=inputs)  # before the work, not after
    segmenter, info = _segmenter_and_info(model, options, device) if not ground_truth else (None, {})
    qc_model = (
        qc if isinstance(qc, QCModel) else (load_qc(model) or True) if qc and not ground_truth else False
    )
    analyses = []
    for loop in _read_loops(files, from_folder):
        a = analyze_loop(
            loop, views[Path(loop.source)], segmenter, info, options, attributes, ground_truth, qc_model
        )
        log.info("%s: ED %s ES %s, EF %s", a.stem, a.summary["ed_frames"], a.summary["es_frames"],
                 "n/a" if a.summary["ef_percent"] is None else f"{a.summary['ef_percent']:.1f} %")  # fmt: skip
        analyses.append(a)
    pairs = biplane(analyses)
    report = write_outputs(analyses, pairs, out, video, inputs) if out is not None else None
    return {"loops": analyses, "biplane": pairs, "report": report}


def write_outputs(
    analyses: list[LoopAnalysis],
    pairs: dict[str, Any],
    out: str | Path,
    video: str,
    inputs: Iterable[str | Path] = (),
) -> Path:
    """Every loop's files, ``biplane.json`` and ``report.html`` in the folder ``out``; returns the
    report path. Written atomically (a temporary folder renamed at the end: a failure leaves nothing);
    an existing ``out`` is replaced only when it is empty or an earlier analysis (``analysis.json``),
    never a folder of other files nor one holding an input."""

    out = Path(out)
    stems = [a.stem for a in analyses]
    if len(set(stems)) != len(stems):
        raise ValueError(f"{out}: two inputs share a file name ({stems}); analyse them into separate folders")
    with atomic_dir(out, overwrite=True, markers=(ANALYSIS_MARKER,), inputs=list(inputs)) as tmp:
        for a in analyses:
            write_loop(a, tmp / a.stem, video)
        write_json_atomic(tmp / "biplane.json", pairs)
        write_json_atomic(tmp / ANALYSIS_MARKER, {"version": 1, "loops": stems})
        write_report(tmp, stems)
    return out / "report.html"
