"""Real dev errors to templates: a real row has no template or prompt behind it, so `synthbert focus --dev SET`
maps each mismatch of a real dev set to the synthetic train row nearest to it among the rows of its true label
(cosine of the frozen base encoder `train.model`, mean-pooled, as the audit and the frozen_lr baseline embed; a
multi-label row: rows sharing one of its true labels), and that row's origin stands for the mismatch. Not the
fine-tuned encoder: fine-tuning pulls each label's rows together, so a mistaken real row's nearest rows of its
true label are the ambiguous rows at the boundary (on the default task: the two shared templates, always). The templates near the real texts the model gets wrong are then weighted
up like the templates behind the val split's errors (focus.template_weights), and the ones flagged as noisy are
listed to fix instead. Rows of source real (generate.real) and rows without an origin never stand for a mismatch.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from stages.core import contracts, modeling
from stages.core.labelsets import split_labels

log = logging.getLogger(__name__)


def unit_embeddings(model: Any, tokenizer: Any, texts: list[str], batch_size: int) -> Any:
    """The encoder's mean-pooled embeddings, scaled to length 1."""
    import numpy as np

    emb = modeling.embed(model, tokenizer, texts, batch_size)
    norms = np.linalg.norm(emb, axis=1, keepdims=True)
    return emb / np.where(norms > 0, norms, 1.0)


def nearest_origins(encoder: str, mismatches: Any, split_dir: Path, batch_size: int) -> Any:
    """`mismatches` with `origin` replaced by the origin of each row's nearest synthetic train row of its true
    label (kept as it was when no such row exists); `dev_row` keeps the real row's own file:row."""
    import numpy as np

    train = contracts.read_dataset(split_dir / "train.csv", "train split", ("text", "label", "source", "origin"))
    train = train[(train["source"] != contracts.REAL_SOURCE) & (train["origin"].astype(str).str.strip() != "")]
    out = mismatches.assign(dev_row=mismatches["origin"].tolist())
    if train.empty or mismatches.empty:
        log.info("no synthetic train row with an origin to stand for the real dev errors: no template weighted")
        return out
    model, tokenizer = modeling.load_encoder(encoder, "synthbert focus's nearest synthetic rows")
    syn = unit_embeddings(model, tokenizer, train["text"].tolist(), batch_size)
    dev = unit_embeddings(model, tokenizer, mismatches["text"].tolist(), batch_size)
    sets = [set(split_labels(cell)) for cell in train["label"]]
    origins, found = train["origin"].tolist(), out["origin"].tolist()
    for i, true in enumerate(mismatches["true"]):
        allowed = np.array([bool(s & set(split_labels(true))) for s in sets])
        if allowed.any():
            sims = np.where(allowed, syn @ dev[i], -np.inf)
            found[i] = origins[int(np.argmax(sims))]
    mapped = sum(a != b for a, b in zip(found, out["dev_row"]))
    log.info("real dev errors mapped to templates: each of %s mismatches stands for its nearest synthetic train row "
             "of its true label (%s distinct origins)", f"{mapped:,}", f"{len(set(found)):,}")
    return out.assign(origin=found)
