"""A tiny multi-label task for the evaluate, report, explain and predict tests: support tickets with label-set cells and an
untrained multi-label head on the tiny BERT (its probabilities are arbitrary but fixed; thresholds decide)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from stages.core import modeling
from testkit.tiny_bert import build_tiny_bert

LABELS = ["account", "billing", "technical", "urgent"]
TICKETS = [("i was charged twice on my card", "billing"), ("refund my last invoice now please", "billing|urgent"),
           ("the app crashes when i open settings", "technical"), ("server down since morning fix it asap", "technical|urgent"),
           ("cannot log in to my account", "account"), ("reset my password now my account is locked", "account|urgent"),
           ("update the billing address on my account", "account|billing"),
           ("error code 500 when paying the invoice", "billing|technical")]


def build_model(tmp: Path, thresholds: dict[str, float] | None = None, name: str = "model",
                labels: list[str] = LABELS, words: list[str] | None = None, scale: float = 1.0) -> Path:
    """A saved multi-label classifier (problem_type multi_label_classification) with `thresholds`, seeded: the
    tiny BERT knows `words` (default: the tickets'); `scale` multiplies the head's weights (30: confident
    scores spread over (0, 1) instead of all near 0.5)."""
    import torch

    base = tmp / "base"
    if not (base / "config.json").is_file():
        build_tiny_bert(base, extra_words=words if words is not None else [t for t, _ in TICKETS])
    torch.manual_seed(0)
    model = modeling.load_classifier(str(base), labels, multi_label=True)
    if scale != 1.0:
        with torch.no_grad():
            model.classifier.weight.mul_(scale)
    model.config.decision_thresholds = thresholds or {"account": 0.5, "billing": 0.45, "technical": 0.5, "urgent": 0.55}
    out = tmp / name
    model.save_pretrained(str(out))
    modeling.load_tokenizer(str(base)).save_pretrained(str(out))
    return out


def write_splits(tmp: Path) -> Path:
    """train.csv (the tickets three times), val.csv and test.csv (the tickets once, two sources)."""
    d = tmp / "split"
    d.mkdir(exist_ok=True)
    rows = pd.DataFrame(TICKETS, columns=["text", "label"])
    rows["origin"] = [f"tickets-{i % 3 + 1}" for i in range(len(rows))]  # three templates
    rows.assign(source="template").pipe(lambda f: pd.concat([f] * 3)).to_csv(d / "train.csv", index=False)
    rows.assign(source="template").to_csv(d / "val.csv", index=False)
    rows.assign(source=["template", "llm:gpt-4o-mini"] * 4).to_csv(d / "test.csv", index=False)
    return d
