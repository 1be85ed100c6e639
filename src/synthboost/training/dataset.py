"""Torch ``Dataset`` and Lightning ``DataModule`` over processed datasets (``docs/formats.md``).

One sample per task entry of ``anns/<split>.json`` (one (image, structure) pair):

- ``image``: ``uint8`` tensor ``(1, S, S)``, the grayscale image resized (bilinear) to the model's
  side ``S``; :func:`normalize` turns a batch of them into the model's RGB input on the device,
  which keeps the loader cheap (4× less memory to move than float RGB);
- ``mask``: ``float32`` ``(1, S, S)`` in {0, 1}, resized with nearest neighbour;
- ``input_ids`` / ``attention_mask``: the tokenised prompt at the chosen level, with a random
  phrasing at training (seeded) and phrasing 0 otherwise;
- ``index``: position of the entry in :attr:`SegmentationDataset.entries`.

Decoded and resized images and masks are cached in memory (shared by the three structures of an
image), and every prompt is tokenised once at construction, so ``__getitem__`` is an index lookup.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from torch.utils.data import ConcatDataset, DataLoader, Dataset, WeightedRandomSampler

from synthboost.data.format import SPLITS, image_path
from synthboost.data.imageio.medical import read_png, resize
from synthboost.data.processed import read_info
from synthboost.logs import get_logger
from synthboost.prompts.annotate import load_annotations
from synthboost.prompts.select import select_prompt
from synthboost.prompts.templates import build_prompts

log = get_logger("training.dataset")


def _entry_prompts(entry: dict, source: str, with_domain: bool) -> dict:
    """The entry's prompts, re-rendered with its ``domain`` attribute when ``with_domain``."""
    if not with_domain:
        return entry["prompts"]

    a = entry.get("attributes")
    if not isinstance(a, dict) or "domain" not in a:
        raise ValueError(f"{entry.get('img_name')}: domain in prompt needs entries with attributes.domain")
    return build_prompts(
        entry["structure"], entry["view"], entry["phase"], a.get("sex"), a.get("age"), a.get("quality"),
        a.get("shape"), source=source, domain=a["domain"],
    )  # fmt: skip


class SegmentationDataset(Dataset):
    """The task entries of one split of a processed dataset, ready for a VLSM.

    Args:
        root: processed dataset folder.
        split: ``train``, ``val`` or ``test``.
        level: prompt level (``p0``…``p7``); must be one of the dataset's ``prompt_levels``.
        image_size: side of the model input.
        tokenize: ``list[str] -> {"input_ids", "attention_mask"}`` (``models.tokenizer.get_tokenizer``).
        random_phrasing: draw the phrasing at random (training) instead of phrasing 0.
        seed: seed of the phrasing draws (re-seeded per loader worker, see :func:`worker_init`).
        domain_in_prompt: re-render prompts with the entry's domain (joint real + synthetic training).
    """

    def __init__(
        self,
        root: str | Path,
        split: str,
        level: str,
        image_size: int,
        tokenize: Callable[[list[str]], dict[str, torch.Tensor]],
        random_phrasing: bool = False,
        seed: int = 42,
        domain_in_prompt: bool = False,
    ) -> None:

        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(f"{self.root}: dataset folder not found")
        if split not in SPLITS:
            raise ValueError(f"{self.root}: split {split!r} is not one of {SPLITS}")
        self.info = read_info(self.root)
        if self.info.prompt_levels and level not in self.info.prompt_levels:
            raise ValueError(
                f"{self.root / 'dataset.json'}: prompt level {level!r} not available "
                f"(levels {list(self.info.prompt_levels)}; {self.info.source} prompts stop there)"
            )
        self.split, self.level, self.image_size = split, level, int(image_size)
        self.random_phrasing, self.seed = random_phrasing, seed
        self.rng = random.Random(seed)
        self.entries = load_annotations(self.root, split)
        if not self.entries:
            raise ValueError(f"{self.root / 'anns' / (split + '.json')}: no task entries")
        self.prompts = [_entry_prompts(e, self.info.source, domain_in_prompt) for e in self.entries]
        texts = sorted(
            {select_prompt({"prompts": p}, level, i) for p in self.prompts for i in self._phrasings(p)}
        )
        tokens = tokenize(texts) if texts else {}
        self._text_index = {t: i for i, t in enumerate(texts)}
        self._ids, self._attn = tokens.get("input_ids"), tokens.get("attention_mask")
        self._images: dict[tuple[str, str], torch.Tensor] = {}
        self._masks: dict[tuple[str, str], torch.Tensor] = {}

    def _phrasings(self, prompts: dict) -> range:
        value = prompts.get(self.level)
        if value is None:
            raise ValueError(f"{self.root}: an entry of {self.split} lacks prompt level {self.level!r}")
        return range(1 if isinstance(value, str) else len(value))

    def __len__(self) -> int:
        return len(self.entries)

    def prompt(self, index: int) -> str:
        """The prompt of entry ``index`` (random phrasing when training, else phrasing 0)."""

        phrasing = None if self.random_phrasing else 0
        return select_prompt({"prompts": self.prompts[index]}, self.level, phrasing, rng=self.rng)

    def load_image(self, group: str, img_name: str) -> torch.Tensor:
        """Cached ``uint8`` ``(1, S, S)`` image."""
        key = (group, img_name)
        if key not in self._images:
            arr = read_png(image_path(self.root, group, Path(img_name).stem))
            arr = resize(arr, (self.image_size, self.image_size))
            self._images[key] = torch.from_numpy(np.array(arr, dtype=np.uint8))[None]
        return self._images[key]

    def load_mask(self, group: str, mask_name: str) -> torch.Tensor:
        """Cached ``uint8`` ``(1, S, S)`` mask in {0, 1}."""
        key = (group, mask_name)
        if key not in self._masks:
            path = self.root / "masks" / group / mask_name
            arr = resize(read_png(path), (self.image_size, self.image_size), nearest=True)
            self._masks[key] = torch.from_numpy((arr > 127).astype(np.uint8))[None]
        return self._masks[key]

    def __getitem__(self, index: int) -> dict[str, Any]:
        entry = self.entries[index]
        group = entry["group"]
        t = self._text_index[self.prompt(index)]
        return {
            "image": self.load_image(group, entry["img_name"]),
            "mask": self.load_mask(group, entry["mask_name"]).float(),
            "input_ids": self._ids[t],
            "attention_mask": self._attn[t],
            "index": index,
        }

    def reseed(self, seed: int) -> None:
        """Re-seed the phrasing draws (each loader worker gets its own stream)."""
        self.rng = random.Random(seed)


def worker_init(worker_id: int) -> None:
    """DataLoader ``worker_init_fn``: give every worker its own phrasing stream."""
    info = torch.utils.data.get_worker_info()
    datasets = getattr(info.dataset, "datasets", [info.dataset])
    for ds in datasets:
        if isinstance(ds, SegmentationDataset):
            ds.reseed(ds.seed * 1000 + worker_id + 1)


def mixing_weights(sizes: Sequence[int], ratios: Sequence[float]) -> torch.Tensor:
    """Per-sample weights so that dataset ``i`` is drawn with probability ``ratios[i]``."""
    if len(sizes) != len(ratios) or any(r < 0 for r in ratios) or sum(ratios) <= 0:
        raise ValueError(f"mixing ratios {list(ratios)} must be non-negative, one per dataset, not all 0")
    total = float(sum(ratios))
    return torch.cat(
        [torch.full((n,), r / total / n, dtype=torch.double) for n, r in zip(sizes, ratios, strict=True)]
    )


class SegmentationDataModule(L.LightningDataModule):
    """The train/val/test loaders of one run.

    Args:
        roots: one dataset (real or synthetic) or two (joint: real, synthetic).
        level: prompt level.
        image_size: model input side.
        tokenize: the model's tokenizer callable.
        batch_size: samples per batch.
        num_workers: loader worker processes (0: load in the main process from the cache).
        seed: seed of phrasing draws and of the mixing sampler.
        mix_ratio: joint training: fraction of synthetic samples drawn per epoch.
        domain_in_prompt: joint training: put each image's domain into its prompt.
    """

    def __init__(
        self,
        roots: Sequence[str | Path],
        level: str,
        image_size: int,
        tokenize: Callable[[list[str]], dict[str, torch.Tensor]],
        batch_size: int = 32,
        num_workers: int = 0,
        seed: int = 42,
        mix_ratio: float | None = None,
        domain_in_prompt: bool = False,
    ) -> None:
        super().__init__()
        if not roots:
            raise ValueError("no dataset given (data.root)")
        self.roots, self.level, self.image_size = [Path(r) for r in roots], level, image_size
        self.tokenize, self.batch_size, self.num_workers = tokenize, batch_size, num_workers
        self.seed, self.mix_ratio, self.domain_in_prompt = seed, mix_ratio, domain_in_prompt
        self._cache: dict[str, Any] = {}

    def dataset(self, split: str, root: Path | None = None) -> SegmentationDataset:
        """The (cached) dataset of one split of ``root`` (the first dataset by default)."""
        root = root or self.roots[0]
        key = f"{root}:{split}"
        if key not in self._cache:
            self._cache[key] = SegmentationDataset(
                root, split, self.level, self.image_size, self.tokenize, random_phrasing=split == "train",
                seed=self.seed, domain_in_prompt=self.domain_in_prompt,
            )  # fmt: skip
        return self._cache[key]

    def _loader(
        self, dataset: Dataset, shuffle: bool, sampler: Any = None, drop_last: bool = False
    ) -> DataLoader:
        return DataLoader(
            dataset, batch_size=self.batch_size, shuffle=shuffle and sampler is None, sampler=sampler,
            drop_last=drop_last,
            num_workers=self.num_workers, persistent_workers=self.num_workers > 0,
            pin_memory=torch.cuda.is_available(), worker_init_fn=worker_init,
            generator=torch.Generator().manual_seed(self.seed),
        )  # fmt: skip

    def train_dataloader(self) -> DataLoader:
        """Shuffled training batches; joint training samples the datasets with ``mix_ratio``.

        An incomplete last batch is dropped (when there is more than one batch): a batch of one
        sample cannot train CRIS, whose neck normalises the sentence feature with BatchNorm.
        """
        parts = [self.dataset("train", r) for r in self.roots]
        drop_last = sum(len(p) for p in parts) > self.batch_size
        if len(parts) == 1:
            return self._loader(parts[0], shuffle=True, drop_last=drop_last)
        ratio = 0.5 if self.mix_ratio is None else self.mix_ratio
        weights = mixing_weights([len(p) for p in parts], [1.0 - ratio, ratio])
        gen = torch.Generator().manual_seed(self.seed)
        sampler = WeightedRandomSampler(weights, num_samples=len(weights), replacement=True, generator=gen)
        return self._loader(ConcatDataset(parts), shuffle=False, sampler=sampler, drop_last=drop_last)

    def val_dataloader(self) -> DataLoader:
        """Validation batches of the first (real) dataset, phrasing 0."""
        return self._loader(self.dataset("val"), shuffle=False)

    def test_dataloader(self) -> DataLoader:
        """Test batches of the first dataset, phrasing 0 (never used during training)."""
        return self._loader(self.dataset("test"), shuffle=False)
