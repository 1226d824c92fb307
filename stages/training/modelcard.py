"""The model card: models/classifier/README.md, for whoever receives the model directory without the repo.

`write_model_card(model_dir, ...)` reads the directory's config.json (labels) and synthbert_params.json
(seed, train params) and renders base model, data, params, metrics, intended use, limits and provenance
(git revision, device, thread count, package versions; a multi-label model also its per-label decision
thresholds, a single-label model its tuned decision rule, and how to apply them), with Hugging Face front matter
(training/card_meta.py: license and language from train.card_license / train.card_language, base model, and once
test metrics exist a model-index). Train calls it on the directory it writes, before any test metric exists; the
report stage writes the completed copy, the test split's and every real set's scores included, to
reports/model_card.md, which `synthbert push` uploads as the model's README.md.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from stages.core import decision
from stages.core.contracts import DatasetInfo, TrainSummary
from stages.core.errors import DataError
from stages.core.io import read_json, write_text
from stages.core.labelsets import MULTI_LABEL, THRESHOLDS_KEY
from stages.core.markdown import code, fmt, public, table
from stages.core.provenance import PACKAGES
from stages.core.text import md_escape
from stages.training.card_meta import front_matter

CARD = "README.md"
MODEL_PATH = "models/classifier"  # the model in the card's usage code; `synthbert push` puts the repo id there
# A multi-label model's pipeline output is every label's sigmoid probability: keep those at their thresholds.
_MULTI_USAGE = ["thresholds = clf.model.config.decision_thresholds  # {label: threshold}",
                "[[s['label'] for s in scores if s['score'] >= thresholds.get(s['label'], 0.5)]",
                " for scores in clf(['Example text'])]"]
# A single-label model with a tuned rule: the pipeline's scores (top_k=None: every label) decided by its offsets.
_OFFSET_USAGE = ["import math", "",
                 'offsets = getattr(clf.model.config, "decision_offsets", None) or {}   # {label: offset}; none: argmax',
                 "[max(scores, key=lambda s: math.log(max(s['score'], 1e-300)) + offsets.get(s['label'], 0.0))['label']",
                 " for scores in clf(['Example text'])]"]
METRICS = (("accuracy", "accuracy"), ("f1_macro", "macro F1"), ("f1_weighted", "weighted F1"))


def _metric_rows(metrics: dict[str, Any]) -> list[list[Any]]:
    rows = []
    for key, name in METRICS:
        if isinstance(metrics.get(key), (int, float)):
            lo, hi = metrics.get(f"{key}_ci_low"), metrics.get(f"{key}_ci_high")
            interval = f"{lo:.3f} – {hi:.3f}" if isinstance(lo, float) and isinstance(hi, float) else "—"
            rows.append([name, metrics[key], interval])
    return rows


def provenance_rows(prov: dict[str, Any]) -> list[list[Any]]:
    """What produced the model: git revision, device, threads, Python and package versions."""
    rev = prov.get("git_rev")
    rows = [["git revision", code((rev or "unknown")[:12] + (" (uncommitted changes)" if prov.get("git_dirty") else ""))],
            ["device", f"{code(prov.get('device'))} {md_escape(str(prov.get('device_name') or ''))}".strip()],
            ["torch threads", prov.get("torch_threads")], ["python", code(prov.get("python"))]]
    rows += [[name, code(prov[name])] for name in PACKAGES if prov.get(name)]
    return rows


def _thresholds_section(config: dict[str, Any], labels: list[str]) -> list[str]:
    """A multi-label model's decision threshold per label, and what they mean."""
    saved = config.get(THRESHOLDS_KEY) or {}
    return ["", "## Decision thresholds", "", f"Multi-label classification (problem_type {code(MULTI_LABEL)}): "
            "each label has its own sigmoid; the label is predicted when its probability is at least its threshold, "
            f"tuned on the validation split for the label's F1 and saved in config.json ({code(THRESHOLDS_KEY)}).",
            "", *table(["label", "threshold"], [[code(lab), saved.get(lab, 0.5)] for lab in labels])]


def _decision_section(config: dict[str, Any], labels: list[str]) -> list[str]:
    """A single-label model's decision rule tuned on val (core/decision.py), and what it means; none saved: none."""
    offsets = decision.offsets_of(config, labels)
    if offsets is None:
        return []
    key = code(decision.OFFSETS_KEY)
    if not any(offsets):
        return ["", "## Decision rule", "", "Tuned on the validation split for macro F1, which no offset raised: the "
                f"most probable label is the decision (config.json {key} all 0)."]
    rule = (f"{code(labels[1])} is predicted when its probability is above {decision.threshold_of(offsets):.4g}, "
            f"else {code(labels[0])}" if len(labels) == 2 else
            "the predicted label is the one with the highest log-probability + its offset")
    return ["", "## Decision rule", "", f"Not the most probable label: {rule}. Tuned on the validation split for "
            f"macro F1 and saved in config.json ({key}: an offset per label added to its log-probability; a "
            "threshold t on the second label is the offset log((1 - t) / t)). `How to use` shows how to apply it.",
            "", *table(["label", "offset"], [[code(lab), o] for lab, o in zip(labels, offsets)])]


def _real_rows(external: dict[str, Any]) -> list[list[Any]]:
    return [[md_escape(name), md_escape(str(r.get("role", "test"))), r.get("rows"), r.get("accuracy"), r.get("f1_macro")]
            for name, r in sorted(external.items(), key=lambda item: item[1].get("role", "test") != "test")]


def _metrics_section(summary: TrainSummary | None, metrics: dict[str, Any] | None,
                     external: dict[str, Any] | None) -> list[str]:
    lines = ["", "## Metrics", ""]
    if summary:
        lines.append(f"Validation macro F1 of the kept epoch: {fmt(summary.best_val_f1_macro)}.")
    if not metrics:
        return lines + ["Test metrics are computed after training by the evaluate stage: see `reports/model_card.md` "
                        "(this card with them) and `reports/report.md` in the repository that produced this model."]
    lines += ["", f"Held-out test split of the generated data ({fmt(metrics.get('rows'))} rows, bootstrap intervals):",
              "", *table(["metric", "value", "interval"], _metric_rows(metrics))]
    if external:
        lines += ["", "Real, human-labelled sets (role test: only judged the model; role dev: may have steered "
                  "generation):", "", *table(["set", "role", "rows", "accuracy", "macro F1"], _real_rows(external),
                                              right_from=2)]
    return lines


def _usage(max_length: Any, multi: bool, tuned: bool) -> list[str]:
    """Code that works on texts of any length: the pipeline truncates only when asked (truncation=True), at the
    tokenizer's model_max_length, which train saves as the length it trained with."""
    return ["", "## How to use", "", "```python", "from transformers import pipeline",
            f'clf = pipeline("text-classification", model="{MODEL_PATH}", top_k=None, truncation=True)',
            f"# truncation=True cuts each text at the {fmt(max_length)} tokens the model was trained with, as "
            "`synthbert predict` does;", "# without it a text longer than the position embeddings fails.",
            'clf(["Example headline"])', *(_MULTI_USAGE if multi else _OFFSET_USAGE if tuned else []), "```", "",
            "or, batched, from a file or standard input:", "", "```bash",
            f"synthbert predict --model {MODEL_PATH} --input texts.txt --format csv", "```"]


def _limits(synthetic: bool, max_length: Any) -> list[str]:
    return ["", "## Intended use", "",
            "Research and prototyping: classifying short texts like those of the training task, and comparing "
            "training settings. Check it on real, labelled texts of your own before relying on it.",
            "", "## Limits", "",
            f"- {'Trained on synthetic data' if synthetic else 'Trained on a small annotated set'}: "
            + ("templates or an LLM wrote the texts, so their style, vocabulary and label balance differ from "
               "real texts; scores on the synthetic test split overstate accuracy on real data." if synthetic
               else "scores may not carry over to other sources."),
            f"- Texts are truncated to {fmt(max_length)} tokens; it only knows these labels.",
            "- Probabilities are not guaranteed to be calibrated; no fairness or safety evaluation was made."]


def render(config: dict[str, Any], saved: dict[str, Any], summary: TrainSummary | None,
           metrics: dict[str, Any] | None, data: DatasetInfo | None, prov: dict[str, Any] | None = None,
           external: dict[str, Any] | None = None) -> str:
    """The card as markdown; `metrics` the test split's, `external` each real set's (test_metrics.json)."""
    from huggingface_hub import ModelCard

    train = saved.get("train", {})
    base = str(train.get("model") or (summary.base_model if summary else "unknown"))
    labels = saved.get("labels") or [config["id2label"][k] for k in sorted(config.get("id2label", {}), key=int)]
    provider = data.provider.to_dict() if data else {}
    synthetic, task = provider.get("provider") != "csv", provider.get("task")
    multi = config.get("problem_type") == MULTI_LABEL
    tuned = any(decision.offsets_of(config, labels) or [])  # a single-label rule other than argmax
    what = (f"tags a text with any of {len(labels)} labels (multi-label: one sigmoid probability per label, a "
            "label given when its probability reaches its decision threshold)" if multi
            else f"sorts a text into one of {len(labels)} labels")
    lines = [front_matter(train, base, synthetic, task, metrics, external), "",
             f"# {md_escape(str(task)) + ' ' if task else ''}text classifier", "",
             f"A fine-tuned {code(public(base))} that {what}: "
             + ", ".join(code(lab) for lab in labels) + ". Built by the synthbert DVC pipeline.", "", "## Data", ""]
    source = ("an imported, human-annotated CSV" if not synthetic else
              f"synthetic data from the {code(provider.get('provider', 'template'))} provider")
    lines.append(f"Trained on {source}" + (f" for the task {code(task)}" if task else "") + ".")
    if data:
        lines.append(f"{fmt(data.rows_read)} rows generated, {fmt(data.rows_kept)} kept after cleaning.")
    if summary:
        lines.append(f"Train split {fmt(summary.train_rows)} rows, validation {fmt(summary.val_rows)}.")
    rows = [[code(k), code(v)] for k, v in train.items() if k != "model"] + [[code("seed"), code(saved.get("seed"))]]
    lines += ["", "## Training params", "", *table(["param", "value"], rows, right_from=2)]
    lines += _thresholds_section(config, labels) if multi else _decision_section(config, labels)
    if summary and summary.class_weights_reason:
        lines += ["", f"Class weights: {summary.class_weights_mode} ({md_escape(summary.class_weights_reason)})."]
    lines += _metrics_section(summary, metrics, external) + _limits(synthetic, train.get("max_length"))
    lines += _usage(train.get("max_length"), multi, tuned)
    if prov:
        lines += ["", "## Provenance", "", *table(["", "value"], provenance_rows(prov))]
    return str(ModelCard("\n".join(lines) + "\n"))  # parsed: front matter the Hub cannot read fails here


def complete_card(model_dir: str | Path, out: str | Path, summary: TrainSummary | None, metrics: dict[str, Any],
                  data: DatasetInfo | None, external: dict[str, Any] | None = None) -> Path:
    """The card of `model_dir` completed with the test metrics (`metrics`: the test split's, `external`: each real
    set's), written to `out` (the model directory is train's output: a later stage never changes it)."""
    model_dir = Path(model_dir)
    saved_path = model_dir / "synthbert_params.json"
    saved = read_json(saved_path) if saved_path.is_file() else {}
    config = read_json(model_dir / "config.json")
    write_text(out, render(config, saved, summary, metrics, data, external=external))
    return Path(out)


def write_model_card(model_dir: str | Path, summary: TrainSummary | None = None,
                     metrics: dict[str, Any] | None = None, data: DatasetInfo | None = None,
                     prov: dict[str, Any] | None = None) -> Path:
    """Write `model_dir`/README.md; `summary` is train's summary, `metrics` the test section of metrics.json
    (optional: train runs before evaluate), `data` generate's dataset.json, `prov` provenance.collect().
    Returns the path."""
    model_dir = Path(model_dir)
    if not (model_dir / "config.json").is_file():
        raise DataError(f"{model_dir}: not a model directory (no config.json)")
    saved_path = model_dir / "synthbert_params.json"
    saved = read_json(saved_path) if saved_path.is_file() else {}
    config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    path = model_dir / CARD
    write_text(path, render(config, saved, summary, metrics, data, prov))
    return path
