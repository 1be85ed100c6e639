import pytest
from vlsm_helpers import PROMPTS

from synthboost.models.base import IMAGENET_MEAN, IMAGENET_STD, Preprocessing
from synthboost.models.tokenizer import (
    EOT_ID,
    SOT_ID,
    build_vocab,
    bytes_to_unicode,
    get_tokenizer,
    read_merges,
)

PREP = Preprocessing(352, IMAGENET_MEAN, IMAGENET_STD)

# ids produced by OpenAI's clip.simple_tokenizer for these strings
KNOWN = {
    "a photo of a cat": [320, 1125, 539, 320, 2368],
    "a diagram": [320, 22697],
    "hello world!": [3306, 1002, 256],
}


def test_vocab_is_openai_layout():
    vocab = build_vocab(read_merges())
    assert len(vocab) == 49408
    assert vocab["<|startoftext|>"] == SOT_ID and vocab["<|endoftext|>"] == EOT_ID
    assert vocab["!"] == 0 and vocab["a</w>"] == 320 and vocab["in"] == 512
    assert len(set(bytes_to_unicode().values())) == 256


@pytest.mark.parametrize("text", sorted(KNOWN))
def test_known_ids(text):
    out = get_tokenizer(PREP)([text])
    ids = out["input_ids"][0].tolist()
    n = len(KNOWN[text]) + 2
    assert ids[:n] == [SOT_ID, *KNOWN[text], EOT_ID]
    assert len(ids) == 77 and set(ids[n:]) == {EOT_ID}
    assert out["attention_mask"][0].tolist() == [1] * n + [0] * (77 - n)


def test_batch_padding_and_truncation():
    tok = get_tokenizer(Preprocessing(64, IMAGENET_MEAN, IMAGENET_STD, context_length=16))
    out = tok([*PROMPTS, "word " * 40])
    assert out["input_ids"].shape == (3, 16) and out["input_ids"].dtype.is_floating_point is False
    assert out["input_ids"][2, -1].item() == EOT_ID and out["attention_mask"][2].sum().item() == 16
    assert get_tokenizer(PREP)("a diagram")["input_ids"].shape == (1, 77)
