"""The dataset card of the generated data (reports/data_card.md), built with huggingface_hub's DatasetCard classes:
what `synthbert push --dataset-repo` uploads beside the rows as parquet. Written by the report stage, the first
that holds everything it tells: the provider and its models, the task file's templates or prompts, rows per label
and source, tokens and dollars (generation.json), the quality report and the synthetic-against-real audit.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from stages.core.contracts import REAL_SOURCE, QualityReport
from stages.core.markdown import code, fmt, table
from stages.core.text import md_escape

PARQUET = "data/train-00000-of-00001.parquet"  # where push puts generated.csv's rows in the dataset repository
SHOWN = 5  # templates listed per label (the task file has them all)


def size_category(rows: int) -> str:
    """The Hub's size_categories bucket of a row count."""
    for limit, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if rows < limit:
            return name
    return "n>1M"


def task_lines(task: Any, provider: str) -> list[str]:
    """What produced the texts: templates per label (template provider) or the prompts and attributes (openai)."""
    if task is None:
        return []
    out = ["", "## How the texts were written", "", f"Task file {code(Path(task.path).name)}: "
           f"{md_escape(task.description.strip())}", ""]
    if provider == "openai":
        prompts = list(task.prompts) + [p for lab in task.labels for p in lab.prompts]
        attributes = sorted({a for lab in task.labels for a in lab.attributes} | set(task.attributes))
        out += ["Prompts (each request fills the {attributes} with one value drawn per request):", "",
                *[f"- {code(p)}" for p in dict.fromkeys(prompts)],
                "", f"Attributes: {', '.join(code(a) for a in attributes) or 'none'}."]
    else:
        for lab in task.labels:
            shown = ", ".join(code(t) for t in lab.templates[:SHOWN])
            more = f" and {fmt(len(lab.templates) - SHOWN)} more" if len(lab.templates) > SHOWN else ""
            out.append(f"- {code(lab.name)} ({fmt(len(lab.templates))} templates): {shown}{more}")
    return out


def quality_lines(quality: QualityReport) -> list[str]:
    dup = quality.duplicates
    dropped = ", ".join(f"{fmt(n)} {md_escape(r)}" for r, n in quality.dropped.items()) or "none"
    out = ["", "## Quality", "", f"- {fmt(quality.rows_read)} rows generated, {fmt(quality.rows_kept)} kept; "
           f"dropped: {dropped}",
           f"- duplicates: {fmt(dup.get('exact', 0))} exact, {fmt(dup.get('near', 0))} near (Jaccard >= "
           f"{fmt(dup.get('near_threshold'))})"]
    if quality.diversity:
        out.append("- distinct bigrams per label (distinct-2): " + ", ".join(
            f"{md_escape(lab)} {fmt(v.get('distinct_2'))}" for lab, v in quality.diversity.items()))
    if quality.shortcuts:
        top = quality.shortcuts[0]
        out.append(f"- strongest surface shortcut: {code(top['feature'])} predicts the label alone with accuracy "
                   f"{fmt(top['accuracy'])}" + (" (**above the warning threshold**)" if quality.shortcut_warning else ""))
    issues = quality.label_issues.get("total")
    if issues is not None:
        out.append(f"- rows whose label looks wrong (confident learning): {fmt(issues)}")
    return out


def cost_lines(generation: dict[str, Any] | None) -> list[str]:
    if not generation:
        return []
    tokens, requests = generation.get("tokens") or {}, generation.get("requests") or {}
    if not requests.get("used") and not generation.get("cost_usd"):
        return ["", "## Cost", "", "No LLM requests: nothing spent."]
    return ["", "## Cost", "", f"{fmt(requests.get('used', 0))} LLM requests, {fmt(tokens.get('total', 0))} tokens "
            f"({fmt(tokens.get('prompt', 0))} prompt, {fmt(tokens.get('completion', 0))} completion): "
            f"${generation.get('cost_usd', 0):.4f} (estimated from data/prices.yaml)."]


def render(quality: QualityReport, generation: dict[str, Any] | None, task: Any, audit: list[str], *,
           license: str, language: str) -> str:
    """The card as markdown, front matter from DatasetCardData (parsed back by DatasetCard: the Hub reads it)."""
    from huggingface_hub import DatasetCard, DatasetCardData

    provider = quality.provider
    synthetic = set(quality.per_source) - {REAL_SOURCE}
    name = f"{provider.task or Path(provider.file or 'data').stem} synthetic text classification data"
    data = DatasetCardData(
        language=language, license=license, pretty_name=name, task_categories=["text-classification"],
        size_categories=[size_category(quality.rows_kept)], tags=["synthetic", "synthbert"],
        annotations_creators=["machine-generated"], language_creators=["machine-generated"],
        configs=[{"config_name": "default", "data_files": [{"split": "train", "path": PARQUET}]}])
    models = ", ".join(code(m) for m in provider.models or []) or "none (no LLM)"
    lines = ["---", data.to_yaml(), "---", "", f"# {md_escape(name)}", "",
             f"Generated by the synthbert DVC pipeline with the {code(provider.provider)} provider"
             + (f" (mode {code(provider.mode)})" if provider.mode else "") + f"; LLMs: {models}. Columns: "
             "`text`, `label`, `source` (the template provider, the LLM, or `real` for imported human-labelled rows) "
             "and `origin` (the template, request and prompt, or file row behind each text).", "",
             "## Rows", "", *table(["label", "rows generated", "rows kept"],
                                   [[md_escape(lab), v["before"], v["after"]] for lab, v in quality.per_label.items()]),
             "", "By source: " + ", ".join(f"{code(s)} {fmt(v['after'])}" for s, v in quality.per_source.items())
             + ("" if synthetic else " (no synthetic rows)") + "."]
    lines += task_lines(task, provider.provider) + cost_lines(generation) + quality_lines(quality)
    lines += ["", "## Synthetic against real", "", *(audit or ["Not measured (no audit report)."])]
    lines += ["", "## License and use", "", f"Released under {code(license)} (params report.data_license). Texts "
              "written by an LLM are subject to its provider's terms; check them before redistributing. Synthetic "
              "texts differ from real ones in style and balance: evaluate on real data before trusting a model "
              "trained on them."]
    return str(DatasetCard("\n".join(lines) + "\n"))


def write(out: Path, quality: QualityReport, generation_path: Path | None, tasks_dir: Path | None,
          audit: list[str], license: str, language: str) -> Path:
    """Render the card to `out`; generation.json and the task file (<tasks_dir>/<task>.yaml) when present."""
    from stages.core.io import read_json, write_text
    from stages.generation.task import load_task

    generation = read_json(generation_path) if generation_path is not None and generation_path.is_file() else None
    task_file = tasks_dir / f"{quality.provider.task}.yaml" if tasks_dir is not None and quality.provider.task else None
    task = load_task(task_file) if task_file is not None and task_file.is_file() else None
    write_text(out, render(quality, generation, task, audit, license=license, language=language))
    return out
