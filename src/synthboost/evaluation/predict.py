"""``synthboost predict``: run a trained model on a split and write a prediction folder.

The model is ``RUN/model`` (or a model folder given directly); prompts use phrasing 0 at the
run's prompt level; probabilities become masks on the reference grid (the processed dataset's
image size, 512 as the paper scored unless prepared otherwise) and at the native size
(``orig_height`` × ``orig_width`` of ``meta.csv``) through :func:`~synthboost.evaluation.postprocess.to_masks`,
with the run's threshold (its loss preset) unless one is given.
"""

from __future__ import annotations

from pathlib import Path

from synthboost.data.processed import read_info, read_meta
from synthboost.evaluation.postprocess import to_masks
from synthboost.evaluation.predictions import PredictionWriter
from synthboost.evaluation.qc_pass import qc_mode, write_split_qc
from synthboost.evaluation.qc_table import QC_CSV
from synthboost.logs import get_logger
from synthboost.models import load_pretrained
from synthboost.models.base import normalize
from synthboost.models.tokenizer import get_tokenizer
from synthboost.progress import track
from synthboost.training.dataset import SegmentationDataset
from synthboost.training.runfolder import resolve_model
from synthboost.utils.device import inference_autocast, torch_device

log = get_logger("evaluation.predict")


def _native_shapes(dataset: Path) -> dict[tuple[str, str], tuple[int, int]]:

    return {(r["group"], r["name"]): (r["orig_height"], r["orig_width"]) for r in read_meta(dataset)}


def predict(
    run: str | Path,
    dataset: str | Path,
    split: str = "test",
    out: str | Path = "predictions",
    threshold: float | None = None,
    prompt: str | None = None,
    batch_size: int = 16,
    device: str = "auto",
    overwrite: bool = False,
    qc: bool = True,
) -> Path:
    """Predict every task entry of ``split`` of ``dataset`` with the model of ``run``; return ``out``.

    Args:
        run: run folder (``model/``, ``run.json``) or a model folder.
        dataset: processed dataset.
        split: ``train``, ``val`` or ``test``.
        out: prediction folder (appears atomically).
        threshold: decision threshold; default the run's (loss preset), else 0.5.
        prompt: prompt level; default the run's.
        batch_size: images per forward pass.
        device: ``auto``, ``cpu``, ``cuda``…
        overwrite: replace an existing ``out``.
        qc: also write ``qc.csv`` (:mod:`synthboost.evaluation.qc_pass`: score, flags and signals per
            image-structure; calibrated when the run has a ``qc.json``).
    """
    import torch
    from torch.utils.data import DataLoader

    model_dir, settings = resolve_model(run)
    prompt = prompt or settings["prompt"]
    if not prompt:
        raise ValueError(f"{run}: no prompt level recorded; pass --prompt")
    if threshold is None:
        threshold = settings["threshold"]
    dataset = Path(dataset)
    dev = torch_device(device)
    model = load_pretrained(model_dir, merge=True).to(dev).eval()
    prep = model.preprocessing
    ds = SegmentationDataset(dataset, split, prompt, prep.image_size, get_tokenizer(prep))
    shapes = _native_shapes(dataset)
    grid_size = read_info(dataset).image_size
    info = {"run": str(run), "dataset": str(dataset), "split": split, "prompt_level": prompt,
            "threshold": float(threshold), "model": model.model_type, "qc": qc_mode(run) if qc else "off"}  # fmt: skip
    with (
        PredictionWriter(out, info, overwrite=overwrite, inputs=[run, dataset]) as writer,
        torch.inference_mode(),
    ):
        loader = DataLoader(ds, batch_size=batch_size, shuffle=False)
        for batch in track(loader, f"predict {Path(out).name} ({len(ds)} images)"):
            pixels = normalize(batch["image"].to(dev), prep.mean, prep.std)
            with inference_autocast(dev):
                logits = model(pixels, batch["input_ids"].to(dev), batch["attention_mask"].to(dev))
            probs = torch.sigmoid(logits.float())[:, 0].cpu().numpy()
            for index, prob in zip(batch["index"].tolist(), probs, strict=True):
                entry = ds.entries[index]
                name = Path(entry["img_name"]).stem
                key = (entry["group"], name)
                if key not in shapes:
                    raise ValueError(f"{dataset / 'meta.csv'}: no row for {key[0]}/{name}")
                grid, native = to_masks(prob, shapes[key], float(threshold), grid=grid_size)
                label = int(entry.get("label") or Path(entry["mask_name"]).parent.name.split("_")[1])
                writer.add(entry["group"], name, label, grid, native)
        if qc:
            write_split_qc(writer.file(QC_CSV), model, dev, run, dataset, split, prompt, float(threshold))
    log.info("predicted %d masks of %s/%s with %s", len(ds), dataset, split, model_dir)
    return Path(out)
