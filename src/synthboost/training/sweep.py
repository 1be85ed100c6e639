"""Sweeps: the paper's grid of runs, run sequentially or written as a SLURM job array.

A sweep YAML (``configs/sweeps/paper_table1.yaml``)::

    experiments:            # model -> strategy -> experiment file (relative to the sweep file)
      cris: {real: ../experiment/cris_real.yaml, synthetic: ../experiment/cris_synthetic.yaml}
    synthetic_source: sdm   # prompt levels of the synthetic set (P7 → P6 for PT→FT)
    prompts: [p0, p1, ...]
    strategies: [zero_shot, real, synthetic, ptft]
    freeze: [false, true]
    adapters: [none, lora, "lora:16"]   # optional: none, lora (config's rank) or lora:<rank>
    seeds: [42]
    equal_compute: false    # true: an equal-compute real baseline for every ptft run
    set: []                 # dotted overrides for every run

Runs are named ``<model>_<strategy>_<prompt>_<trained|frozen>[_lora<rank>]_s<seed>``. A ``ptft`` run
uses the ``real`` experiment initialised from the synthetic run of the same model, freezing, adapter
and seed at the mapped prompt (:func:`~synthboost.training.strategies.pretrain_prompt`), so it runs
after it (continuing its adapters). Adapter runs freeze the base encoders anyway, so ``frozen``
with an adapter and ``zero_shot`` with an adapter (nothing trains) are left out of the grid.
With ``equal_compute``, each ``ptft`` run gets a ``real-equal-steps`` run: the ``real`` experiment
trained for the optimiser steps of that PT + FT pair (``trainer.match_steps_of``), after it. The
``real`` runs stay the paper's equal-epoch baseline.
"""

from __future__ import annotations

import dataclasses
import itertools
import shlex
from pathlib import Path

from synthboost.configs import find_config
from synthboost.logs import get_logger
from synthboost.progress import track
from synthboost.prompts.templates import levels_for
from synthboost.training import runfolder
from synthboost.training.config import STRATEGIES, load_config, read_yaml
from synthboost.training.run import train
from synthboost.training.strategies import pretrain_prompt
from synthboost.utils.files import write_text_atomic

log = get_logger("training.sweep")

SWEEP_KEYS = (
    "experiments",
    "synthetic_source",
    "prompts",
    "strategies",
    "freeze",
    "adapters",
    "seeds",
    "equal_compute",
    "set",
)
EQUAL_STEPS = "real-equal-steps"  # run-name strategy of the equal-compute baseline


@dataclasses.dataclass(frozen=True)
class SweepRun:
    """One run of a sweep."""

    name: str
    config: Path
    out: Path
    overrides: tuple[str, ...]
    depends_on: Path | None = None

    def status(self) -> str:
        """``done``, ``partial`` (interrupted) or ``pending``."""
        if runfolder.is_done(self.out):
            return "done"
        return "partial" if (self.out / "checkpoints" / "last.ckpt").is_file() else "pending"


def _check_spec(spec: dict, path: Path) -> None:
    unknown = sorted(set(spec) - set(SWEEP_KEYS))
    if unknown:
        raise ValueError(f"{path}: unknown key(s) {unknown} (known: {list(SWEEP_KEYS)})")
    if not isinstance(spec.get("experiments"), dict) or not spec["experiments"]:
        raise ValueError(f"{path}: 'experiments' must map model -> strategy -> experiment file")
    bad = [s for s in spec.get("strategies", []) if s not in STRATEGIES]
    if bad:
        raise ValueError(f"{path}: unknown strategies {bad} (choose from {STRATEGIES})")


def parse_adapter(entry: object, path: Path) -> tuple[str, list[str]]:
    """A sweep ``adapters`` entry → (run-name suffix, overrides): ``none``, ``lora`` or ``lora:<rank>``."""
    method, _, rank = str(entry).partition(":")
    if method == "none" and not rank:
        return "", ["model.adapter.method=none"]
    if method != "lora" or (rank and not rank.isdigit()):
        raise ValueError(f"{path}: adapters entry {entry!r} is not none, lora or lora:<rank>")
    return f"_lora{rank}", ["model.adapter.method=lora", *([f"model.adapter.rank={rank}"] if rank else [])]


def _experiment(spec: dict, path: Path, model: str, strategy: str) -> Path:
    files = spec["experiments"][model]
    key = "real" if strategy == "ptft" else strategy
    if key not in files:
        raise ValueError(f"{path}: experiments.{model} has no '{key}' file (needed by strategy {strategy})")
    return (path.parent / files[key]).resolve()


def expand_sweep(spec_path: str | Path, out: str | Path, sets: list[str] | None = None) -> list[SweepRun]:
    """The runs of a sweep file, dependencies first."""

    path, out = find_config(spec_path), Path(out)
    spec = read_yaml(path)
    _check_spec(spec, path)
    source = spec.get("synthetic_source", "sdm")
    extra = tuple(spec.get("set", [])) + tuple(sets or [])
    adapters = {str(a): parse_adapter(a, path) for a in spec.get("adapters", [])} or {"": ("", [])}
    grid = itertools.product(
        spec["experiments"], spec.get("strategies", ["real"]), spec.get("prompts", ["p0"]),
        spec.get("freeze", [False]), adapters.values(), spec.get("seeds", [42]),
    )  # fmt: skip
    runs = []
    for model, strategy, prompt, frozen, (suffix, adapter_sets), seed in grid:
        if strategy == "synthetic" and prompt not in levels_for(source):
            continue  # e.g. no P7 in SDM prompts: the P7 fine-tuning starts from P6
        if suffix and (frozen or strategy == "zero_shot"):
            continue  # adapters freeze the base encoders anyway; zero-shot trains nothing
        encoders = f"{'frozen' if frozen else 'trained'}{suffix}"
        name = f"{model}_{strategy}_{prompt}_{encoders}_s{seed}"
        overrides = [f"data.prompt={prompt}", f"model.freeze_encoders={str(bool(frozen)).lower()}",
                     *adapter_sets, f"trainer.seed={seed}"]  # fmt: skip
        depends = None
        if strategy == "ptft":
            pre = pretrain_prompt(prompt, source)
            depends = out / f"{model}_synthetic_{pre}_{encoders}_s{seed}"
            overrides += ["strategy.name=ptft", f"strategy.init_from={depends}"]
        config = _experiment(spec, path, model, strategy)
        runs.append(SweepRun(name, config, out / name, (*overrides, *extra), depends))
        if strategy == "ptft" and spec.get("equal_compute", False):
            runs.append(_equal_compute(runs[-1], name.replace("_ptft_", f"_{EQUAL_STEPS}_", 1), out, extra))
    depth = {r.out: r for r in runs}
    return sorted(runs, key=lambda r: _depth(r, depth))


def _equal_compute(ptft: SweepRun, name: str, out: Path, extra: tuple[str, ...]) -> SweepRun:
    """The real-only baseline trained for the optimiser steps of ``ptft`` and its synthetic run."""
    own = [o for o in ptft.overrides if not o.startswith("strategy.") and o not in extra]
    overrides = (*own, f"trainer.match_steps_of={ptft.out}", *extra)
    return SweepRun(name, ptft.config, out / name, overrides, ptft.out)


def _depth(run: SweepRun, by_out: dict[Path, SweepRun]) -> int:
    """0 for a run without dependency, else one more than the run it depends on."""
    dep = by_out.get(run.depends_on) if run.depends_on is not None else None
    return 0 if run.depends_on is None else 1 + (_depth(dep, by_out) if dep is not None else 0)


def run_sweep(runs: list[SweepRun], force: bool = False) -> dict[str, str]:
    """Train the runs in order (finished ones skipped, interrupted ones resumed); return statuses."""

    status = {}
    for run in track(runs, f"sweep ({len(runs)} runs)"):
        if run.depends_on is not None and not runfolder.is_done(run.depends_on):
            log.error("%s: skipped, its synthetic run %s has not finished", run.name, run.depends_on)
            status[run.name] = "blocked"
            continue
        if run.status() == "done" and not force:
            status[run.name] = "done"
            continue
        log.info("sweep: %s", run.name)
        train(load_config(run.config, list(run.overrides)), run.out, resume=True, force=force)
        status[run.name] = run.status()
    return status


def _command(run: SweepRun) -> str:
    sets = " ".join(f"--set {shlex.quote(o)}" for o in run.overrides)
    return (
        f"synthboost train {shlex.quote(str(run.config))} --out {shlex.quote(str(run.out))} --resume {sets}"
    )


def write_slurm(
    runs: list[SweepRun], path: str | Path, spec: str | Path = "", out: str | Path = "", sets=()
) -> Path:
    """Write a SLURM job-array script: phase 1 = runs without dependencies, phase 2 = PT→FT runs,
    phase 3 = their equal-compute baselines (when the sweep has them)."""
    by_out = {r.out: r for r in runs}
    depths = [_depth(r, by_out) for r in runs]
    phases = [
        [r for r, d in zip(runs, depths, strict=True) if d == k] for k in range(max(depths, default=0) + 1)
    ]
    phases += [[]] * (2 - len(phases))
    name = Path(path).name
    submit = [f"# submit: jid1=$(sbatch --parsable --array=0-{max(len(phases[0]) - 1, 0)} {name} 1)"]
    for k in range(2, len(phases) + 1):
        dep = f"--dependency=afterok:$jid{k - 1} --array=0-{max(len(phases[k - 1]) - 1, 0)}"
        submit.append(f"#         jid{k}=$(sbatch --parsable {dep} {name} {k})")
    lines = [
        "#!/bin/bash",
        f"# synthboost sweep {spec} -> {out}: {len(runs)} runs.",
        *submit,
        "#SBATCH --job-name=synthboost",
        "#SBATCH --gres=gpu:1",
        "#SBATCH --cpus-per-task=8",
        "set -euo pipefail",
        'PHASE="${1:-1}"',
    ]
    for i, phase in enumerate(phases, start=1):
        lines.append(f"PHASE{i}=(")
        lines += [f"  {shlex.quote(_command(r))}" for r in phase]
        lines.append(")")
    cases = " ".join(f'{i}) CMDS=("${{PHASE{i}[@]}}");;' for i in range(1, len(phases) + 1))
    lines += [f'case "$PHASE" in {cases} *) echo "unknown phase $PHASE" >&2; exit 2;; esac',
              'eval "${CMDS[$SLURM_ARRAY_TASK_ID]}"', ""]  # fmt: skip
    write_text_atomic(path, "\n".join(lines))
    return Path(path)
