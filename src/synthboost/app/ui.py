"""The app's page: a Gradio ``Blocks`` with the *Image*, *Four views* and *Cine* tabs.

Endpoints (``api_name``, callable with ``gradio_client``):

- ``/prompt``: structure + attributes -> the P0–P7 prompt they describe;
- ``/segment``: upload or phantom case, prompt, threshold, spacing -> overlay (with legend) and result text;
- ``/label_map``: upload or case, attributes, threshold, spacing -> the three structures as an
  overlay, their areas with a QC traffic light each (docs/qc.md) and the label-map PNG (0 background,
  1 LV, 2 myocardium, 3 LA);
- ``/four_views``: a phantom patient or four uploads (2CH/4CH × ED/ES) -> four overlays and
  EDV/ESV/EF (with the reference values when the case has them);
- ``/cine``: an echo loop -> overlay video, LV curve with ED/ES, EDV/ESV/EF/FAC/heart rate
  (:func:`synthboost.cine.analysis.analyze_loop`), and the loop's QC verdict as a traffic light.

Every model call shares one queue slot (``concurrency_id="model"``); user errors (bad upload, empty
prompt, non-finite number) come back as ``gr.Error`` with a one-line message, never a traceback.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from synthboost.app import analysis
from synthboost.app.cases import Case, case_image, patient_frames, patients
from synthboost.app.uploads import read_upload
from synthboost.data.format import LABELS, PHASES, QUALITIES, SEXES, STRUCTURE_TITLES, VIEWS
from synthboost.data.imageio.budget import LOOP_BUDGET, DecodeBudget
from synthboost.data.imageio.calibration import user_calibration
from synthboost.data.imageio.suffixes import LOOP_SUFFIXES, MHD_DATA_SUFFIXES, READABLE_SUFFIXES
from synthboost.logs import get_logger

NOTICE = (
    "For research use only: not a medical device, not for diagnosis or treatment. "
    "Do not upload identifiable patient data."
)
#: Legend colours of the structures.
COLORS = {"LV cavity": "#ff4020", "Myocardium": "#2090ff", "LA cavity": "#30c040"}


def browser_types(suffixes: tuple[str, ...]) -> list[str]:
    """The upload field's ``file_types`` for the reader's suffixes (a browser filters on the last dot only)."""
    return list(dict.fromkeys("." + s.rsplit(".", 1)[1] for s in suffixes))


#: File types of the Cine tab's upload: what the reader reads as a loop.
LOOP_TYPES = browser_types(LOOP_SUFFIXES)
#: File types the upload fields accept: everything the reader reads, and MetaImage data files.
FILE_TYPES = browser_types(READABLE_SUFFIXES + MHD_DATA_SUFFIXES)
QUEUE_SIZE = 16
#: Rows of the Cine tab's table: summary key, name, unit.
CINE_ROWS = (("edv_ml", "EDV", "mL"), ("esv_ml", "ESV", "mL"), ("ef_percent", "EF", "%"),
             ("fac_percent", "FAC", "%"), ("heart_rate_bpm", "heart rate", "bpm"))  # fmt: skip


def require_gradio() -> None:
    """Raise a clear error naming the optional extra when Gradio is not installed."""
    import importlib.util

    if importlib.util.find_spec("gradio") is None:
        raise ValueError("the app needs Gradio, in the optional extra: pip install 'synthboost[app]'")


def import_gradio() -> Any:
    """Import Gradio (the optional extra), as it is.

    Gradio rewrites each component's ``.pyi`` stub as the component class is created
    (``gradio.component_meta.create_or_modify_pyi``), about 40 % of its import time; there is no
    supported switch for it and patching a private module is not worth a second of start-up, so the
    app pays that cost (``benchmarks/bench_app_start.py`` measures it).
    """
    import gradio

    return gradio


@dataclass
class AppState:
    """What the page works with.

    Attributes:
        segmenter: a :class:`~synthboost.evaluation.segmenter.Segmenter` (or the
            :class:`~synthboost.app.worker.ModelProcess` standing for it: the model in its own process).
        info: :func:`synthboost.app.analysis.model_info` of the loaded model.
        cases: the phantom test-split cases by id.
        workdir: private folder for intermediate files (label maps to download).
        budget: decoded-size limit of one upload.
    """

    segmenter: Any
    info: dict[str, Any]
    cases: Mapping[str, Case]
    workdir: Path
    budget: DecodeBudget = field(default_factory=DecodeBudget)


def user_errors(fn: Callable) -> Callable:
    """Turn the user's errors (``ValueError``, ``FileNotFoundError``) into ``gr.Error`` messages."""
    import gradio as gr

    @functools.wraps(fn)
    def wrapper(*args: Any) -> Any:
        try:
            return fn(*args)
        except (ValueError, FileNotFoundError) as err:
            raise gr.Error(str(err), print_exception=False) from None

    return wrapper


def upload_errors(fn: Callable) -> Callable:
    """:func:`user_errors`, and any other failure on an uploaded file (a decoder's own error, an odd
    file no check foresaw) shown as its reason in a ``gr.Error`` instead of Gradio's generic
    "The upstream Gradio app has raised an exception" (its traceback goes to the log)."""
    import gradio as gr

    inner = user_errors(fn)

    @functools.wraps(fn)
    def wrapper(*args: Any) -> Any:
        try:
            return inner(*args)
        except gr.Error:
            raise
        except Exception as err:  # noqa: BLE001 - the page must say why, whatever failed
            get_logger("app").exception("upload could not be analysed")
            reason = str(err).strip().splitlines()[0] if str(err).strip() else "no detail"
            name = Path(str(args[0])).name if args and isinstance(args[0], (str, Path)) else "the upload"
            raise gr.Error(f"{name}: could not be analysed: {type(err).__name__}: {reason}",
                           print_exception=False) from None  # fmt: skip

    return wrapper


def header_markdown(info: dict[str, Any]) -> str:
    """Header: the loaded model and the research-use notice."""
    dice = f"{info['val_dice']:.3f}" if info.get("val_dice") is not None else "n/a"
    parts = [f"**Model** `{info['name']}`"]
    parts += [f"{label} **{info[k]}**" for k, label in (("architecture", "architecture"),
              ("strategy", "strategy"), ("prompt", "prompt level")) if info.get(k)]  # fmt: skip
    parts.append(f"validation Dice **{dice}**")
    return f"# synthboost: text-prompted echo segmentation\n{' · '.join(parts)}\n\n> ⚠️ {NOTICE}"


def _load(
    state: AppState, files: Any, case_id: str | None, row_mm: Any, col_mm: Any, notes: list[str] | None = None
) -> tuple:
    """Image and spacing of an upload (spacing typed in when the file has none) or of a case.

    Of a loop, the first frame (said in ``notes`` when given).
    """
    typed = analysis.spacing_from_fields(row_mm, col_mm)
    notes = notes if notes is not None else []
    if files:
        loop = read_upload(files, state.budget, state.workdir)
        if loop.n_frames > 1:
            notes.append(f"Frame 1 of {loop.n_frames} (the Cine tab analyses the whole loop)")
        calibration = loop.calibration
        if loop.spacing_mm is None and typed is not None:
            calibration = user_calibration(typed, loop.calibration)
        notes.append(f"Calibration: {calibration.describe()}")
        return loop.frames[0], calibration.spacing_mm
    if case_id:
        if case_id not in state.cases:
            raise ValueError(f"unknown phantom case {case_id!r}")
        image, spacing = case_image(state.cases[case_id])
        notes.append(f"Calibration: header: {spacing} mm/pixel (phantom case)")
        return image, spacing
    raise ValueError("upload an image or pick a phantom case")


def _annotated(image: np.ndarray, labels: np.ndarray) -> tuple:
    return image, [((labels == k).astype(np.float32), STRUCTURE_TITLES[s]) for k, s in LABELS.items()]


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(float(value), digits)


def _area_text(value: float, unit: str) -> str:
    return f"{value:,.1f} {unit}" + ("" if unit == "mm²" else " (no pixel spacing: give it for mm²)")


def segment_fn(state: AppState) -> Callable:
    """``/segment``: overlay of one prompt and the result text."""

    def run(files: Any, case_id: str | None, prompt: str, threshold: float, row_mm: Any, col_mm: Any):
        from synthboost.evaluation.segmenter import area

        notes: list[str] = []
        image, spacing = _load(state, files, case_id, row_mm, col_mm, notes)
        mask = analysis.segment(state.segmenter, image, prompt, threshold)
        value, unit = area(mask, spacing)
        label = prompt.strip() if len(prompt.strip()) <= 60 else prompt.strip()[:57] + "..."
        text = "\n".join([f"Area: {_area_text(value, unit)}", f"Prompt: {prompt.strip()}", *notes])
        return (image, [(mask.astype(np.float32), label)]), text

    return user_errors(run)


def label_map_fn(state: AppState) -> Callable:
    """``/label_map``: the three structures as one overlay, their areas and the label-map PNG."""

    def run(files: Any, case_id: str | None, view: str | None, phase: str | None, sex: str | None,
            age: Any, quality: str | None, threshold: float, row_mm: Any, col_mm: Any):  # fmt: skip
        import tempfile

        from synthboost.data.imageio.medical import write_png

        image, spacing = _load(state, files, case_id, row_mm, col_mm)
        attrs = {"view": view, "phase": phase, "sex": sex, "age": age, "quality": quality}
        labels = analysis.label_map(state.segmenter, image, attrs, threshold)
        qc = analysis.qc_cells(state.segmenter, image, attrs, threshold, state.info.get("qc_json"))
        out = Path(tempfile.mkdtemp(prefix="labels-", dir=state.workdir)) / "label_map.png"
        write_png(out, labels)
        return _annotated(image, labels), analysis.areas(labels, spacing, qc), str(out)

    return user_errors(run)


def four_views_fn(state: AppState) -> Callable:
    """``/four_views``: four overlays, EDV/ESV/EF (+ reference) and notes."""

    def run(patient: str | None, f2ed: Any, f2es: Any, f4ed: Any, f4es: Any, row_mm: Any, col_mm: Any):
        uploads = dict(zip([(v, p) for v in VIEWS for p in PHASES], (f2ed, f2es, f4ed, f4es), strict=True))
        if any(uploads.values()):
            missing = [f"{v} {p}" for (v, p), f in uploads.items() if not f]
            if missing:
                raise ValueError(f"upload all four views (missing {', '.join(missing)}) or pick a patient")
            loaded = {k: _load(state, f, None, row_mm, col_mm) for k, f in uploads.items()}
            attrs: dict[str, Any] = {}
            reference: dict[str, Any] = {}
        elif patient:
            frames = patient_frames(state.cases, patient)
            loaded = {k: case_image(c) for k, c in frames.items()}
            first = next(iter(frames.values()))
            attrs, reference = {k: first.attributes()[k] for k in ("sex", "age", "quality")}, first.reference
        else:
            raise ValueError("pick a phantom patient or upload the four views")
        no_spacing = [f"{v} {p}" for (v, p), (_, s) in loaded.items() if s is None]
        if no_spacing:
            raise ValueError(f"pixel spacing (mm) is needed for volumes: {', '.join(no_spacing)} has none "
                             "(use NIfTI/MetaImage/DICOM or type the spacing)")  # fmt: skip
        labels = {
            (v, p): analysis.label_map(
                state.segmenter, img, {**attrs, "view": v, "phase": p}, state.segmenter.threshold
            )  # fmt: skip
            for (v, p), (img, _) in loaded.items()
        }
        values = analysis.four_view_indices(labels, {k: s for k, (_, s) in loaded.items()})
        rows = [[name, values[key], reference.get(key), unit]
                for key, name, unit in (("edv", "EDV", "mL"), ("esv", "ESV", "mL"), ("ef", "EF", "%"))]  # fmt: skip
        notes = [f"{name}: not computed (no LV found in a view)" for name, v, _, _ in rows if v is None]
        overlays = [_annotated(loaded[k][0], labels[k]) for k in labels]
        return *overlays, rows, "\n".join(notes) or "All indices computed (Simpson's biplane)."

    return user_errors(run)


def prompt_text(structure: str, view: str, phase: str, sex: str, age: Any, quality: str) -> str:
    """``/prompt``: the P0–P7 prompt of a structure and attributes (empty = left out)."""
    return analysis.build_prompt(structure, {"view": view, "phase": phase, "sex": sex, "age": age,
                                             "quality": quality})  # fmt: skip


def cine_fn(state: AppState) -> Callable:
    """``/cine``: a loop -> overlay video, LV curve with ED/ES, EDV/ESV/EF/heart rate (the cine stage)."""

    def run(file: Any, view: str | None, threshold: float):
        import tempfile

        from synthboost.cine.analysis import analyze_loop, patient_of, view_of
        from synthboost.cine.loop import SegmentOptions
        from synthboost.cine.outputs import iter_overlay, plot_curve, write_video
        from synthboost.evaluation.qc_fit import read_qc

        if not file:
            raise ValueError("upload an echo loop (DICOM cine, NIfTI/MetaImage sequence, AVI/MP4)")
        loop = read_upload(file, LOOP_BUDGET, state.workdir)
        if loop.n_frames < 2:
            raise ValueError(f"{Path(file).name}: a still image (1 frame); the Cine tab needs a loop")
        if not view and patient_of(Path(file)) is None:
            raise ValueError(f"{Path(file).name}: cannot tell the view from the file name: choose 2CH or 4CH")
        view = view_of(Path(file), view or None)
        thr = analysis.finite(threshold, "threshold", low=0.0, high=0.999)
        info = {"prompt_level": state.info.get("prompt") or "p1", "threshold": thr}
        qc = read_qc(state.info["qc_json"]) if state.info.get("qc_json") else True
        result = analyze_loop(loop, view, state.segmenter, info, SegmentOptions(threshold=thr), qc=qc)
        out = Path(tempfile.mkdtemp(prefix="cine-", dir=state.workdir))
        s = result.summary
        write_video(
            out / "overlay.mp4",
            iter_overlay(loop.frames, result.labels, loop.region.mask),
            s.get("frame_rate_hz") or 10.0,
        )
        plot_curve(out / "lv_curve.png", result)
        rows = [[name, _round(s.get(key)), unit] for key, name, unit in CINE_ROWS]
        rows.append(["ED / ES frames", f"{s['ed_frames']} / {s['es_frames']}", "frame"])
        notes = "\n".join(
            [analysis.qc_text(s),
             s.get("message") or f"{view}, {s['n_frames']} frames, {s['method']}",
             f"Calibration: {loop.calibration.describe()}",
             f"Sector: {s['sector']['source']}, bbox {tuple(s['sector']['bbox'])}"]
        )  # fmt: skip
        return str(out / "overlay.mp4"), str(out / "lv_curve.png"), rows, notes

    return upload_errors(run)


def _attribute_pickers(gr: Any) -> dict[str, Any]:
    """Structure and attribute pickers (empty = attribute left out of the prompt)."""
    structures = [(t, k) for k, t in STRUCTURE_TITLES.items()]
    return {
        "structure": gr.Dropdown(structures, value="lv", label="Structure", elem_id="structure"),
        "view": gr.Dropdown(["", *VIEWS], value="", label="View", elem_id="view"),
        "phase": gr.Dropdown(["", *PHASES], value="", label="Phase", elem_id="phase"),
        "sex": gr.Dropdown(["", *SEXES], value="", label="Sex", elem_id="sex"),
        "age": gr.Number(
            None, label="Age (years; 0 = leave out)", precision=0, minimum=0, maximum=130, elem_id="age"
        ),
        "quality": gr.Dropdown(["", *QUALITIES], value="", label="Image quality", elem_id="quality"),
    }


def _spacing_fields(gr: Any, prefix: str) -> tuple[Any, Any]:
    hint = "used when the file has none (PNG/JPEG); 0 = none"
    return (
        gr.Number(None, label=f"Pixel spacing, rows (mm; {hint})", minimum=0, elem_id=f"{prefix}-row-mm"),
        gr.Number(None, label="Pixel spacing, columns (mm)", minimum=0, elem_id=f"{prefix}-col-mm"),
    )


def _image_tab(gr: Any, state: AppState) -> None:
    threshold = float(getattr(state.segmenter, "threshold", 0.5))
    with gr.Row():
        with gr.Column(scale=1):
            files = gr.File(label="Image (PNG, JPEG, NIfTI, MetaImage .mha or .mhd + .raw, DICOM)",
                            file_count="multiple", file_types=FILE_TYPES, elem_id="upload")  # fmt: skip
            case = gr.Dropdown(["", *state.cases], value="", label="… or a phantom test-split case",
                               elem_id="case")  # fmt: skip
            pick = _attribute_pickers(gr)
            prompt = gr.Textbox(analysis.build_prompt("lv", {}), label="Prompt (built from the pickers, or "
                                "type your own)", elem_id="prompt")  # fmt: skip
            thr = gr.Slider(0.0, 0.99, value=threshold, step=0.01, label="Threshold", elem_id="threshold")
            row_mm, col_mm = _spacing_fields(gr, "image")
            with gr.Row():
                run = gr.Button("Segment", variant="primary", elem_id="segment")
                run_all = gr.Button("All three structures", elem_id="segment-all")
        with gr.Column(scale=1):
            overlay = gr.AnnotatedImage(label="Overlay", color_map=COLORS, format="png", elem_id="overlay")
            result = gr.Textbox(label="Result", lines=2, interactive=False, elem_id="result")
            table = gr.Dataframe(headers=["structure", "area", "unit", "QC"], label="Areas and QC", interactive=False,
                                 elem_id="areas")  # fmt: skip
            label_file = gr.File(label="Label map PNG (0 background, 1 LV, 2 myocardium, 3 LA)",
                                 elem_id="label-map")  # fmt: skip

    pickers = list(pick.values())
    gr.on(
        [p.change for p in pickers], user_errors(prompt_text), pickers, prompt, api_name="prompt", queue=False
    )

    def choose_case(case_id: str) -> list[Any]:
        c = state.cases.get(case_id)
        if c is None:
            return [gr.update()] * 6
        return [None, *(c.attributes()[k] for k in analysis.PROMPT_ATTRIBUTES)]

    attr_pickers = [pick[k] for k in analysis.PROMPT_ATTRIBUTES]
    case.input(choose_case, case, [files, *attr_pickers], api_visibility="private", queue=False)
    files.upload(lambda _: "", files, case, api_visibility="private", queue=False)
    common = {"concurrency_id": "model", "concurrency_limit": 1}
    run.click(segment_fn(state), [files, case, prompt, thr, row_mm, col_mm], [overlay, result],
              api_name="segment", **common)  # fmt: skip
    run_all.click(label_map_fn(state), [files, case, *attr_pickers, thr, row_mm, col_mm],
                  [overlay, table, label_file], api_name="label_map", **common)  # fmt: skip


def _four_views_tab(gr: Any, state: AppState) -> None:
    with gr.Row():
        with gr.Column(scale=1):
            patient = gr.Dropdown(["", *patients(state.cases)], value="", label="Phantom test-split patient",
                                  elem_id="patient")  # fmt: skip
            gr.Markdown("… or upload the four views of one patient:")
            uploads = [gr.File(label=f"{v} {p}", file_types=FILE_TYPES, elem_id=f"upload-{v}-{p}")
                       for v in VIEWS for p in PHASES]  # fmt: skip
            row_mm, col_mm = _spacing_fields(gr, "views")
            run = gr.Button("Volumes and EF", variant="primary", elem_id="run-volumes")
        with gr.Column(scale=2):
            table = gr.Dataframe(headers=["index", "predicted", "reference", "unit"], interactive=False,
                                 label="Simpson's biplane (reference: the case's true values)",
                                 elem_id="volumes")  # fmt: skip
            notes = gr.Textbox(label="Notes", interactive=False, elem_id="volume-notes")
            with gr.Row():
                overlays = [gr.AnnotatedImage(label=f"{v} {p}", color_map=COLORS, format="png",
                                              elem_id=f"overlay-{v}-{p}") for v in VIEWS for p in PHASES]  # fmt: skip
    run.click(four_views_fn(state), [patient, *uploads, row_mm, col_mm], [*overlays, table, notes],
              api_name="four_views", concurrency_id="model", concurrency_limit=1)  # fmt: skip


def _cine_tab(gr: Any, state: AppState) -> None:
    with gr.Row():
        with gr.Column(scale=1):
            loop = gr.File(label="Echo loop (DICOM cine, NIfTI/MetaImage sequence, AVI/MP4)",
                           file_types=LOOP_TYPES, elem_id="cine-upload")  # fmt: skip
            view = gr.Dropdown(["", *VIEWS], value="", label="View (empty: from the file name)",
                               elem_id="cine-view")  # fmt: skip
            thr = gr.Slider(0.0, 0.99, value=float(getattr(state.segmenter, "threshold", 0.5)), step=0.01,
                            label="Threshold", elem_id="cine-threshold")  # fmt: skip
            run = gr.Button("Analyse the loop", variant="primary", elem_id="run-cine")
        with gr.Column(scale=2):
            video = gr.Video(label="Overlay", elem_id="cine-video", interactive=False)
            curve = gr.Image(label="LV volume (or area) over time, ED ▲ ES ▼", type="filepath",
                             elem_id="cine-curve", interactive=False)  # fmt: skip
            table = gr.Dataframe(headers=["index", "value", "unit"], interactive=False, elem_id="cine-indices",
                                 label="Single-plane method of discs, mean over cycles")  # fmt: skip
            notes = gr.Textbox(label="Notes", interactive=False, elem_id="cine-notes")
    run.click(cine_fn(state), [loop, view, thr], [video, curve, table, notes], api_name="cine",
              concurrency_id="model", concurrency_limit=1)  # fmt: skip


def build_blocks(state: AppState) -> Any:
    """The app's ``gr.Blocks`` (queue bounded: one model call at a time, at most ``QUEUE_SIZE`` waiting)."""
    import gradio as gr

    with gr.Blocks(title="synthboost") as blocks:
        gr.Markdown(header_markdown(state.info), elem_id="header")
        with gr.Tabs():
            with gr.Tab("Image", id="image"):
                _image_tab(gr, state)
            with gr.Tab("Four views", id="four-views"):
                _four_views_tab(gr, state)
            with gr.Tab("Cine", id="cine"):
                _cine_tab(gr, state)
    blocks.queue(default_concurrency_limit=1, max_size=QUEUE_SIZE)
    return blocks
