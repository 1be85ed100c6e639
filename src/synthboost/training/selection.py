"""Choose a run on validation data only: the test split never chooses a model.

The demo's best run, the app's default model and any "best" in a report come from
:func:`select_best_run`, which reads each run folder's ``result.json`` (``best_val_dice``, the
validation Dice written by ``synthboost train``) and nothing else. Validation Dice is only
comparable between runs validated on the same dataset, so runs validated elsewhere (a synthetic
pre-training run is validated on synthetic images) are left out when ``dataset`` is given and
refused otherwise.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from pathlib import Path

from synthboost.training import runfolder


@dataclasses.dataclass(frozen=True)
class Selection:
    """The chosen run and the validation Dice (0–1) it was chosen on."""

    run: Path
    val_dice: float
    dataset: str


def _same_path(a: str | Path, b: str | Path) -> bool:
    return Path(a).resolve() == Path(b).resolve()


def select_best_run(run_dirs: Iterable[str | Path], dataset: str | Path | None = None) -> Selection:
    """The finished run of highest validation Dice (``result.json`` ``best_val_dice``).

    Args:
        run_dirs: run folders written by ``synthboost train`` (unfinished ones are an error).
        dataset: keep only runs validated on this processed dataset (their ``data.root``);
            ``None``: all runs, which must then share one validation dataset.

    Returns:
        The :class:`Selection`; ties go to the first run given.

    Raises:
        FileNotFoundError: a folder is not a finished run.
        ValueError: no run qualifies, or runs validated on different datasets without ``dataset``.
    """
    candidates = []
    for run in map(Path, run_dirs):
        if not runfolder.is_done(run):
            raise FileNotFoundError(f"{run}: not a finished run folder (no DONE)")
        result = runfolder.read_result(run)
        root, dice = str(result.get("dataset") or ""), result.get("best_val_dice")
        if dataset is not None and not (root and _same_path(root, dataset)):
            continue
        if isinstance(dice, (int, float)) and not math.isnan(dice):
            candidates.append(Selection(run, float(dice), root))
    if not candidates:
        raise ValueError(f"no finished run with a validation Dice{f' on {dataset}' if dataset else ''}")
    roots = {str(Path(c.dataset).resolve()) for c in candidates}
    if dataset is None and len(roots) > 1:
        raise ValueError(
            f"runs validated on different datasets {sorted(roots)}: their validation Dice do not "
            "compare; pass dataset=..."
        )
    return max(candidates, key=lambda c: c.val_dice)
