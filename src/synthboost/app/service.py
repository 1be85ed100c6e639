"""What the browser app does, without HTTP: prompts, single-image segmentation, four-view EF.

:class:`AppService` owns the :class:`~synthboost.app.segment.Segmenter`, a private temporary
folder (the only place the app writes: uploads and the demo phantom) and the phantom cases
offered in the page.
"""

from __future__ import annotations

import base64
import io
import math
import tempfile
import threading
from pathlib import Path
from typing import Any

import numpy as np

from synthboost.app.segment import Segmenter, area, overlay, prompt_from_attributes
from synthboost.data.format import PHASES, QUALITIES, SEXES, STRUCTURE_TITLES, VIEWS
from synthboost.utils import get_logger

log = get_logger("app")

#: Attributes the page's pickers send; the others of a request are ignored.
ATTRIBUTES = ("structure", "view", "phase", "sex", "age", "quality")


def png_base64(rgb: np.ndarray) -> str:
    """PNG bytes of an RGB (or gray) uint8 array, base64-encoded."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb, np.uint8)).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def clean_attributes(raw: dict[str, Any]) -> dict[str, Any]:
    """Keep the known attributes, empty strings become ``None``, ``age`` an ``int``."""
    attrs = {k: (raw.get(k) or None) for k in ATTRIBUTES}
    if attrs["age"] is not None:
        try:
            attrs["age"] = int(attrs["age"])
        except (TypeError, ValueError):
            raise ValueError(f"age must be an integer, got {attrs['age']!r}") from None
    return attrs


def _finite(v: float) -> float | None:
    return round(float(v), 2) if v is not None and math.isfinite(v) else None


class AppService:
    """The app's state and actions.

    Args:
        segmenter: the model wrapper.
        workdir: private folder for uploads and the phantom (default: a new temporary folder,
            removed by :meth:`close`).
        phantom_patients: number of phantom patients offered as cases (0: none).
        seed: phantom seed.
    """

    def __init__(
        self,
        segmenter: Segmenter,
        workdir: str | Path | None = None,
        phantom_patients: int = 3,
        seed: int = 0,
    ) -> None:
        self.segmenter = segmenter
        self._tmp = None if workdir else tempfile.TemporaryDirectory(prefix="synthboost-app-")
        self.workdir = Path(workdir or self._tmp.name)
        self._lock = threading.Lock()
        self.cases: dict[str, dict[str, Any]] = {}
        if phantom_patients > 0:
            self.cases = self._make_phantom(phantom_patients, seed)

    def close(self) -> None:
        """Remove the temporary folder (if the service created it)."""
        if self._tmp is not None:
            self._tmp.cleanup()

    def _make_phantom(self, n: int, seed: int) -> dict[str, dict[str, Any]]:
        from synthboost.data.camus import list_frames, parse_cfg
        from synthboost.data.phantom import generate_phantom

        root = generate_phantom(self.workdir / "phantom", n_patients=n, seed=seed, overwrite=True)
        cases = {}
        for frame in list_frames(root)[1]:
            info = parse_cfg(frame.cfg)
            cases[frame.name] = {"id": frame.name, "patient": frame.patient, "view": frame.view,
                                 "phase": frame.phase, "sex": info.sex, "age": info.age,
                                 "quality": info.quality, "path": frame.image, "lv_edv": info.lv_edv,
                                 "lv_esv": info.lv_esv, "lv_ef": info.lv_ef}  # fmt: skip
        log.info("app: %d phantom cases in %s", len(cases), root)
        return cases

    def info(self) -> dict[str, Any]:
        """Choices for the page: cases, patients and the attribute values."""
        public = ("id", "patient", "view", "phase", "sex", "age", "quality")
        return {
            "cases": [{k: c[k] for k in public} for c in self.cases.values()],
            "patients": sorted({c["patient"] for c in self.cases.values()}),
            "structures": STRUCTURE_TITLES, "views": VIEWS, "phases": PHASES, "sexes": SEXES,
            "qualities": QUALITIES, "threshold": getattr(self.segmenter, "threshold", 0.5),
        }  # fmt: skip

    def prompt(self, raw: dict[str, Any]) -> str:
        """The prompt the attribute pickers describe (see :func:`prompt_from_attributes`)."""
        attrs = clean_attributes(raw)
        if attrs["structure"] is None:
            raise ValueError("choose a structure (lv, myo or la) or type a prompt")
        return prompt_from_attributes(**attrs)

    def case_image(self, case_id: str) -> tuple[np.ndarray, tuple[float, float]]:
        """Image and spacing of a phantom case."""
        from synthboost.app.segment import read_image

        if case_id not in self.cases:
            raise ValueError(f"unknown case {case_id!r}")
        image, spacing = read_image(self.cases[case_id]["path"])
        return image, spacing

    def _predict(self, image: np.ndarray, prompt: str, threshold: float) -> np.ndarray:
        with self._lock:  # one inference at a time: the model is shared by the server threads
            return self.segmenter(image, prompt, threshold).mask

    def segment(
        self, image: np.ndarray, spacing: tuple[float, float] | None, prompt: str, threshold: float = 0.5
    ) -> dict[str, Any]:
        """Segment one image: overlay (base64 PNG), area (mm² with a spacing, else px), prompt."""
        if not 0.0 <= threshold < 1.0:
            raise ValueError(f"threshold must be in [0, 1), got {threshold}")
        mask = self._predict(image, prompt, threshold)
        value, unit = area(mask, spacing)
        return {"overlay": png_base64(overlay(image, mask)), "area": round(value, 2), "unit": unit,
                "prompt": prompt, "shape": list(image.shape)}  # fmt: skip

    def volumes(
        self,
        views: dict[tuple[str, str], tuple[np.ndarray, tuple[float, float] | None]],
        attrs: dict[str, Any],
    ) -> dict[str, Any]:
        """EDV, ESV, EF (Simpson's biplane) from the four views 2CH/4CH × ED/ES.

        Each view is segmented three times (LV, myocardium, LA, prompts built from ``attrs``:
        sex, age, quality); the LA and myocardium locate the mitral annulus.
        """
        from synthboost.clinical.indices import compose_labels
        from synthboost.clinical.simpson import ejection_fraction, lv_volume

        missing = [f"{v} {p}" for v in VIEWS for p in PHASES if (v, p) not in views]
        if missing:
            raise ValueError(f"four views needed, missing {', '.join(missing)}")
        if any(spacing is None for _, spacing in views.values()):
            raise ValueError(
                "pixel spacing (mm) is needed for volumes: use NIfTI/MetaImage or give the spacing"
            )
        attrs = clean_attributes(attrs)
        labels, overlays = {}, {}
        for (view, phase), (image, _) in views.items():
            masks = {}
            for label, structure in ((1, "lv"), (2, "myo"), (3, "la")):
                prompt = prompt_from_attributes(
                    structure, view, phase, attrs["sex"], attrs["age"], attrs["quality"]
                )
                masks[label] = self._predict(image, prompt, 0.5)
            labels[(view, phase)] = compose_labels(masks)
            overlays[f"{view}_{phase}"] = png_base64(overlay(image, masks[1]))
        out: dict[str, Any] = {"overlays": overlays, "edv": None, "esv": None, "ef": None, "errors": []}
        for phase, key in (("ED", "edv"), ("ES", "esv")):
            try:
                res = lv_volume(labels[("2CH", phase)], views[("2CH", phase)][1],
                                labels[("4CH", phase)], views[("4CH", phase)][1])  # fmt: skip
                out[key] = _finite(res.volume_ml)
            except ValueError as err:
                out["errors"].append(f"{phase}: {err}")
        if out["edv"] is not None and out["esv"] is not None:
            out["ef"] = _finite(ejection_fraction(out["edv"], out["esv"]))
        return out

    def patient_volumes(self, patient: str) -> dict[str, Any]:
        """:meth:`volumes` of a phantom patient, with its true values (``reference``)."""
        cases = [c for c in self.cases.values() if c["patient"] == patient]
        if not cases:
            raise ValueError(f"unknown patient {patient!r}")
        views = {(c["view"], c["phase"]): self.case_image(c["id"]) for c in cases}
        out = self.volumes(views, cases[0])
        c = cases[0]
        out["reference"] = {"edv": c["lv_edv"], "esv": c["lv_esv"], "ef": c["lv_ef"]}
        return out
