"""The model card's front matter, built with huggingface_hub's card classes (ModelCardData, EvalResult), so the
Hub shows its evaluation results: license and language (train.card_license, train.card_language), base model,
tags, metrics, datasets, and a `model-index` with the synthetic test split's scores and every real set's
(evaluate.external_test, each named with its role). huggingface_hub is imported only here, inside the functions.
"""

from __future__ import annotations

from typing import Any

from stages.core.markdown import public

SYNTHETIC_SET = "synthbert-synthetic"  # model-index dataset type of the generated data's test split
# (key in the metrics, model-index metric type, its config, its name on the Hub)
SPLIT_METRICS = (("accuracy", "accuracy", None, "accuracy"), ("f1_macro", "f1", "macro", "macro F1"),
                 ("f1_weighted", "f1", "weighted", "weighted F1"))
REAL_METRICS = SPLIT_METRICS[:2]
HUB_METRICS = ["accuracy", "f1"]


def hub_id(name: str) -> str | None:
    """`name` if it looks like a Hugging Face hub id (owner/name), else None (a local directory)."""
    return name if name.count("/") == 1 and not name.startswith((".", "/", "~")) else None


def _results(scores: dict[str, Any], metrics: tuple, dataset: dict[str, Any], multi: bool) -> list[Any]:
    from huggingface_hub import EvalResult

    out = []
    for key, kind, config, name in metrics:
        if isinstance(scores.get(key), (int, float)):
            name = "subset accuracy" if multi and key == "accuracy" else name
            out.append(EvalResult(task_type="text-classification", task_name="Text Classification", **dataset,
                                  metric_type=kind, metric_value=round(float(scores[key]), 6), metric_config=config,
                                  metric_name=name))
    return out


def eval_results(task: str | None, metrics: dict[str, Any] | None, external: dict[str, Any] | None) -> list[Any]:
    """model-index entries: the test split of the generated data, then each real set (test role first)."""
    multi = bool((metrics or {}).get("multi_label"))
    split = {"dataset_type": SYNTHETIC_SET, "dataset_split": "test",
             "dataset_name": f"{public(task) + ' ' if task else ''}synthetic data (test split)"}
    out = _results(metrics or {}, SPLIT_METRICS, split, multi)
    for name, row in sorted((external or {}).items(), key=lambda item: (item[1].get("role", "test") != "test", item[0])):
        role = str(row.get("role", "test"))
        dataset = {"dataset_type": public(name), "dataset_name": f"{public(name)} (real, role {role})",
                   "dataset_split": role}
        out += _results(row, REAL_METRICS, dataset, multi)
    return out


def front_matter(train: dict[str, Any], base: str, synthetic: bool, task: str | None,
                 metrics: dict[str, Any] | None = None, external: dict[str, Any] | None = None,
                 datasets: list[str] | None = None) -> str:
    """The YAML block between `---` lines; model-index only once test metrics exist (evaluate ran)."""
    from huggingface_hub import ModelCardData

    results = eval_results(task, metrics, external)
    data = ModelCardData(
        library_name="transformers", pipeline_tag="text-classification",
        license=str(train.get("card_license", "apache-2.0")), language=str(train.get("card_language", "en")),
        base_model=hub_id(base), datasets=datasets or None, metrics=HUB_METRICS,
        tags=["text-classification", *(["synthetic-data"] if synthetic else []), "synthbert"],
        model_name=f"{public(task) + ' ' if task else ''}text classifier" if results else None,
        eval_results=results or None)
    return f"---\n{data.to_yaml()}\n---"
