"""What train decides on the validation split once training is done, from one pass of the restored (best) model:
a multi-label model's per-label thresholds (training/multilabel.py), a single-label model's decision rule
(train.decision; the rule itself in core/decision.py), and whether the model's val decisions collapsed onto one
label (core/verdicts.collapsed). The rule is set in the model's config, so it is saved with the model; the
outcome goes into summary.json. Params: train.decision.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from stages.core import decision, labelsets, verdicts
from stages.training import multilabel

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ValDecisions:
    decision: str                             # argmax | tuned | thresholds (a multi-label model's, always)
    rule: str                                 # the rule in words, with its val macro-F1 (and argmax's)
    offsets: dict[str, float] | None = None   # a tuned single-label rule: {label: offset}
    thresholds: dict[str, float] | None = None  # a multi-label model's {label: threshold}
    collapsed: dict[str, Any] | None = None   # verdicts.collapsed on the val decisions


def resolve(mode: str, n_labels: int, multi_label: bool = False) -> str:
    """The decision used for `train.decision`: thresholds for a multi-label model (which ignores the key); auto is
    tuned for a binary task and argmax for more labels."""
    if multi_label:
        return "thresholds"
    if mode == "auto":
        return "tuned" if n_labels == 2 else "argmax"
    return mode


def on_val(mode: str, trainer: Any, val_ds: Any, labels: Sequence[str], multi_label: bool = False) -> ValDecisions:
    """Predict val once with the trainer's model; tune and set its decision rule; check the decisions for collapse."""
    import numpy as np

    out = trainer.predict(val_ds)
    logits, truth = np.asarray(out.predictions, dtype=np.float64), np.asarray(out.label_ids)
    if multi_label:
        thresholds = multilabel.val_thresholds(trainer.model, logits, truth, labels)
        decided = labelsets.decide(1.0 / (1.0 + np.exp(-logits)), [thresholds[lab] for lab in labels])
        predicted, true = (labelsets.from_multi_hot(m, labels) for m in (decided, truth.round().astype(int)))
        result = ValDecisions("thresholds", "per-label thresholds tuned for each label's F1", thresholds=thresholds)
    else:
        result, pred = single_label(mode, trainer.model, logits, truth.astype(int), labels)
        predicted, true = [labels[i] for i in pred], [labels[i] for i in truth.astype(int)]
    collapsed = verdicts.collapsed(predicted, true)
    if collapsed:
        log.warning("collapsed on val: %s", verdicts.collapse_note("the model", collapsed, markdown=False))
    return ValDecisions(result.decision, result.rule, result.offsets, result.thresholds, collapsed)


def single_label(mode: str, model: Any, logits: Any, y: Any, labels: Sequence[str]) -> tuple[ValDecisions, Any]:
    """argmax, or offsets tuned for val macro-F1 (decision.tune) set in the model's config (`decision_offsets`);
    and the val decisions under the rule."""
    chosen = resolve(mode, len(labels))
    proba = softmax(logits)
    offsets = decision.tune(proba, y) if chosen == "tuned" else None
    if offsets is not None:
        setattr(model.config, decision.OFFSETS_KEY, dict(zip(labels, offsets)))
    pred = decision.decide(proba, offsets)
    before, after = (decision.macro_f1(y, p, len(labels)) for p in (proba.argmax(1), pred))
    rule = f"{decision.describe(labels, offsets)}: val macro-F1 {after:.4f} (argmax {before:.4f})"
    log.info("decision rule %s (train.decision %s): %s", chosen, mode, rule)
    return ValDecisions(chosen, rule, dict(zip(labels, offsets)) if offsets is not None else None), pred


def softmax(logits: Any) -> Any:
    import numpy as np

    z = np.asarray(logits, dtype=np.float64)
    z = np.exp(z - z.max(1, keepdims=True))
    return z / z.sum(1, keepdims=True)
