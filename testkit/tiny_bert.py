"""A tiny randomly initialised BERT (2 layers, hidden 32, word-level vocabulary) saved to a directory.

Built in a few hundred milliseconds without the network; the vocabulary covers the clickbait task file plus
any `extra_words`, so the stages' texts tokenize without [UNK]s.
"""

from __future__ import annotations

import re
from pathlib import Path

from testkit import ROOT

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def words_of(*texts: str) -> list[str]:
    return sorted({w for t in texts for w in re.findall(r"\w+|[^\w\s]", t.lower())})


def build_tiny_bert(path: Path, extra_words: list[str] = ()) -> Path:
    """Save a randomly initialised 2-layer BertModel and a word-level tokenizer to `path`."""
    from transformers import BertConfig, BertModel, BertTokenizer

    task_text = (ROOT / "data" / "tasks" / "clickbait.yaml").read_text(encoding="utf-8")
    vocab = SPECIAL + [w for w in words_of(task_text, *extra_words) if w not in SPECIAL]
    path.mkdir(parents=True, exist_ok=True)
    # transformers 5: BertTokenizer is the fast (Rust) tokenizer and takes the vocabulary as a dict.
    tokenizer = BertTokenizer(vocab={w: i for i, w in enumerate(vocab)}, do_lower_case=True, model_max_length=128)
    tokenizer.save_pretrained(str(path))
    config = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=37, max_position_embeddings=128)
    import torch

    torch.manual_seed(0)
    BertModel(config).save_pretrained(str(path))
    return path
