"""``report.html`` of an analysis folder: per loop its indices, LV curve and overlay video.

The page is self-contained (the PNG and the video inline as base64), like the stage reports, and
:func:`cine_html` gives the same content as a fragment for another report (the demo's).
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from pathlib import Path

from synthboost.utils.files import read_json, write_text_atomic

_CSS = (
    "body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}"
    "table{border-collapse:collapse;margin:.5em 0;font-size:13px}td,th{border:1px solid #ccc;padding:3px 7px}"
    "img,video{max-width:48%;vertical-align:top;margin-right:1%}"
)
_ROWS = (
    ("view", "View", ""), ("n_frames", "Frames", ""), ("ed_frames", "ED frames", ""),
    ("es_frames", "ES frames", ""), ("edv_ml", "EDV", "mL"), ("esv_ml", "ESV", "mL"),
    ("ef_percent", "EF", "%"), ("la_max_ml", "LA max", "mL"), ("heart_rate_bpm", "Heart rate", "bpm"),
    ("calibration", "Calibration", ""), ("model", "Model", ""), ("message", "Note", ""),
)  # fmt: skip
_MIME = {".mp4": "video/mp4", ".gif": "image/gif", ".png": "image/png"}


def _calibration_text(record: dict) -> str:
    """``us_regions, 0.3 × 0.3 mm, rescaled ×0.5; 1 warning: …`` of a calibration record."""
    parts = [str(record.get("source"))]
    if record.get("spacing_mm"):
        parts.append(" × ".join(f"{v:.4g}" for v in record["spacing_mm"]) + " mm")
    if record.get("scaled_by"):
        parts.append(f"region rescaled ×{record['scaled_by']:.4g}")
    text = ", ".join(parts)
    warnings = record.get("warnings") or []
    return text + (f"; {len(warnings)} warning(s): " + " | ".join(warnings) if warnings else "")


def _fmt(value: object) -> str:
    if value is None:
        return "–"
    if isinstance(value, dict) and "source" in value:
        return html.escape(_calibration_text(value))
    if isinstance(value, float):
        return f"{value:.1f}"
    return html.escape(str(value))


def _media(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    src = f"data:{_MIME[path.suffix]};base64,{data}"
    if path.suffix == ".mp4":
        return f'<video controls autoplay loop muted playsinline src="{src}"></video>'
    return f'<img alt="{html.escape(path.name)}" src="{src}">'


def loop_section(folder: Path) -> str:
    """The HTML of one loop's sub-folder: summary table (with the QC verdict when there is one), curve, overlay video."""
    s = read_json(folder / "summary.json")
    rows = "".join(
        f"<tr><th>{label}</th><td>{_fmt(s.get(key))} {unit if s.get(key) is not None else ''}</td></tr>"
        for key, label, unit in _ROWS
        if key in s
    )
    qc = s.get("qc")
    if qc:
        reasons = "; ".join(qc["reasons"]) or "no frame failed"
        rows += f"<tr><th>QC</th><td><b>{html.escape(qc['verdict'])}</b> ({html.escape(reasons)})</td></tr>"
    media = [folder / s["files"][k] for k in ("plot", "video") if k in s.get("files", {})]
    return f"<h3>{html.escape(folder.name)}</h3><table>{rows}</table>" + "".join(_media(p) for p in media)


def _biplane_table(out: Path) -> str:
    path = out / "biplane.json"
    pairs = read_json(path) if path.is_file() else {}
    if not pairs:
        return ""
    head = "<tr><th>Patient</th><th>EDV (mL)</th><th>ESV (mL)</th><th>EF (%)</th><th>LA max (mL)</th></tr>"
    body = "".join(
        f"<tr><td>{html.escape(p)}</td>"
        + "".join(f"<td>{_fmt(v.get(k))}</td>" for k in ("edv_ml", "esv_ml", "ef_percent", "la_max_ml"))
        + "</tr>"
        for p, v in pairs.items()
    )
    return f"<h3>Biplane (Simpson)</h3><table>{head}{body}</table>"


def cine_html(out: str | Path, stems: Sequence[str], title: str = "Cine analysis") -> str:
    """An HTML fragment with every listed loop of the analysis folder ``out`` and the biplane table."""
    out = Path(out)
    return (
        f"<h2>{html.escape(title)}</h2>" + _biplane_table(out) + "".join(loop_section(out / s) for s in stems)
    )


def write_report(out: str | Path, stems: Sequence[str], title: str = "Cine analysis") -> Path:
    """Write ``out/report.html`` for the listed loops; return its path."""
    path = Path(out) / "report.html"
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{_CSS}</style></head><body>{cine_html(out, stems, title)}</body></html>")  # fmt: skip
    write_text_atomic(path, page)
    return path
