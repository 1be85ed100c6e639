"""``synthboost demo``: the whole chain on the procedural phantom, reusing finished stages."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from synthboost.utils import get_logger

log = get_logger("demo")


@dataclasses.dataclass(frozen=True)
class DemoConfig:
    """Sizes of the demo; ``quick`` is the variant the test suite runs."""

    patients: int = 60
    image_size: int = 256
    seed: int = 0

    @classmethod
    def preset(cls, quick: bool) -> DemoConfig:
        return cls(patients=12, image_size=128) if quick else cls()


def _stage(name: str, done: Path) -> bool:
    """Log a stage header; return True when its output already exists (the stage is skipped)."""
    if done.exists():
        log.info("[%s] reusing %s", name, done)
        return True
    log.info("[%s] running", name)
    return False


def run_demo(out: str | Path, quick: bool = False) -> dict[str, Path]:
    """Run the demo chain under ``out``; return the paths it produced."""
    from synthboost.data.phantom import generate_phantom
    from synthboost.data.prepare import prepare_camus
    from synthboost.prompts.annotate import write_annotations

    cfg = DemoConfig.preset(quick)
    out = Path(out)
    paths = {"raw": out / "phantom_raw", "camus": out / "camus"}
    if not _stage("phantom", paths["raw"]):
        generate_phantom(paths["raw"], n_patients=cfg.patients, seed=cfg.seed)
    if not _stage("prepare", paths["camus"] / "anns"):
        prepare_camus(paths["raw"], paths["camus"], image_size=cfg.image_size, overwrite=True)
        write_annotations(paths["camus"])
    return paths
