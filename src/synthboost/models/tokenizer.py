"""The CLIP byte-pair-encoding tokenizer, built offline from the shipped OpenAI merges file.

``assets/bpe_simple_vocab_16e6.txt.gz`` (OpenAI CLIP, MIT licence, see
``assets/LICENSE-openai-clip.txt``) holds the BPE merges. The vocabulary is derived from it the
way OpenAI's ``simple_tokenizer`` does: the 256 byte characters, the same with ``</w>``, one entry
per merge, then ``<|startoftext|>`` and ``<|endoftext|>`` (49,408 ids). The result is a
``transformers.CLIPTokenizer`` built in memory, so no network or cache folder is needed.
"""

from __future__ import annotations

import functools
import gzip
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from synthboost.models.base import Preprocessing

if TYPE_CHECKING:
    import torch

BPE_FILE = "bpe_simple_vocab_16e6.txt.gz"
NUM_MERGES = 49152 - 256 - 2
SOT_TOKEN = "<|startoftext|>"
EOT_TOKEN = "<|endoftext|>"
SOT_ID = 49406
EOT_ID = 49407
VOCAB_SIZE = 49408


def bytes_to_unicode() -> dict[int, str]:
    """Map every byte to a printable unicode character (printable bytes map to themselves).

    The order (printable bytes first, then the others) defines the first 256 token ids.
    """
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    mapping = {b: chr(b) for b in printable}
    extra = 0
    for b in range(256):
        if b not in mapping:
            mapping[b] = chr(256 + extra)
            extra += 1
    return mapping


def read_merges(path: str | Path | None = None) -> list[tuple[str, str]]:
    """Read the BPE merges (the shipped OpenAI file unless ``path`` is given)."""
    if path is None:
        raw = (resources.files("synthboost") / "assets" / BPE_FILE).read_bytes()
        text = gzip.decompress(raw).decode("utf-8")
    else:
        text = gzip.open(path, "rt", encoding="utf-8").read()
    lines = text.split("\n")[1 : NUM_MERGES + 1]
    merges = [tuple(line.split()) for line in lines]
    if len(merges) != NUM_MERGES or any(len(m) != 2 for m in merges):
        raise ValueError(f"{path or BPE_FILE}: expected {NUM_MERGES} BPE merges of two symbols each")
    return merges  # type: ignore[return-value]


def build_vocab(merges: list[tuple[str, str]]) -> dict[str, int]:
    """Build OpenAI CLIP's token → id mapping from the merges."""
    chars = list(bytes_to_unicode().values())
    tokens = chars + [c + "</w>" for c in chars] + ["".join(m) for m in merges] + [SOT_TOKEN, EOT_TOKEN]
    return {tok: i for i, tok in enumerate(tokens)}


@functools.lru_cache(maxsize=4)
def clip_tokenizer(name: str = "clip-bpe"):
    """Return a ``transformers`` CLIP tokenizer: the shipped BPE for ``"clip-bpe"``, else a folder/hub id."""
    from transformers import AutoTokenizer, CLIPTokenizer

    if name != "clip-bpe":
        return AutoTokenizer.from_pretrained(name)
    merges = read_merges()
    vocab = build_vocab(merges)
    tokenizer = CLIPTokenizer(vocab=vocab, merges=merges)
    if tokenizer.eos_token_id != EOT_ID or tokenizer.bos_token_id != SOT_ID or len(vocab) != VOCAB_SIZE:
        raise ValueError(f"{BPE_FILE}: built vocabulary does not match OpenAI CLIP's ({len(vocab)} ids)")
    return tokenizer


def get_tokenizer(preprocessing: Preprocessing) -> Callable[[list[str]], dict[str, torch.Tensor]]:
    """Return ``texts -> {"input_ids", "attention_mask"}`` (int64, padded to the context length).

    Padding uses the end-of-text id (as ``transformers``' CLIP tokenizers do); the attention mask
    marks the real tokens.
    """
    tokenizer = clip_tokenizer(preprocessing.tokenizer)
    length = preprocessing.context_length

    def tokenize(texts: list[str]) -> dict[str, torch.Tensor]:
        if isinstance(texts, str):
            texts = [texts]
        out = tokenizer(
            list(texts), padding="max_length", truncation=True, max_length=length, return_tensors="pt"
        )
        return {"input_ids": out["input_ids"].long(), "attention_mask": out["attention_mask"].long()}

    return tokenize
