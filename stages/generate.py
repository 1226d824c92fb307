"""Stage generate: labelled texts from a provider, mixed with real rows, cleaned, de-duplicated, label-checked.

Reads: the task file `generate.task` (template, openai and llm_label providers), the focus file (data/focus.yaml,
written by `synthbert focus`: the templates and prompts behind a dev set's errors), the CSV `generate.csv.path` (csv
provider) or `generate.llm_label.path` (texts an LLM labels), the real rows `generate.real.path` (any provider; source
`real`, they win over synthetic duplicates; labels that are not the task's stop the stage unless
generate.real.label_map maps them) and the LLM response cache (openai and llm_label providers, generate.judge;
appended to, never rewritten).
An LLM judge (generate.judge, generation/judge.py) may label the cleaned rows blind: its disputes are reported, or
drop or relabel the disputed synthetic rows.
Writes: the dataset CSV (text,label,source,origin; origin: where each row came from, core/origin.py), the
data-quality report (quality.json, quality.md), dataset.json (provider and row counts: all the train stage reads
of the data report; the real rows the LLM may be shown as few-shot examples, which split keeps in train) and the
generation report (generation.json: requests, tokens, cost).
Multi-label data (a task with `multi_label: true`, or `generate.csv.label_separator` set for the csv provider):
each row's label is a label set (core/labelsets.py), cleaning merges the sets of a text seen several times, and
dataset.json says `multi_label: true` and lists the label names, from which split and train learn it.
Params: base.seed, generate.*
"""

from __future__ import annotations

import argparse
import collections
import logging
from pathlib import Path
from typing import Any

from stages.core import cli, contracts, params
from stages.core.contracts import DatasetInfo, Provider, QualityReport
from stages.core.errors import DataError, ParamsError
from stages.core.labelsets import label_names, split_labels
from stages.core.io import write_json, write_text
from stages.core.text import normalize
from stages.generation import cleaning, csv_provider, label_issues, quality, real

log = logging.getLogger(__name__)


def is_multi_label(cfg: params.Generate) -> bool:
    """Whether the rows carry label sets: the task file's `multi_label` (csv provider: a label_separator)."""
    if cfg.provider == "csv":
        return cfg.csv.label_separator is not None
    from stages.generation.task import load_task

    return load_task(cfg.task).multi_label


def check_real(cfg: params.Generate, multi_label: bool) -> None:
    """Label sets from the real rows need a multi-label data set (a single label is a valid label set)."""
    if cfg.real.label_separator is not None and not multi_label:
        source = ("generate.csv.label_separator is null" if cfg.provider == "csv"
                  else f"the task {cfg.task} has no `multi_label: true`")
        raise ParamsError(f"params.yaml: generate.real.label_separator must be null for a single-label data set "
                          f"({source}), got {cfg.real.label_separator!r}")


def task_labels(cfg: params.Generate, raw: list[dict[str, Any]], multi_label: bool) -> list[str]:
    """The labels real rows may carry: the task's (model_as_label mode: the models'); csv provider: the csv's."""
    if cfg.provider == "csv":
        return sorted({n for r in raw for n in _names(r.get("label"), multi_label)} - {"(missing)"})
    if cfg.provider == "openai" and cfg.mode == "model_as_label":
        return list(cfg.models)
    from stages.generation.task import load_task

    return load_task(cfg.task).label_names


def few_shot(cfg: params.Generate, seed: int, real_rows: list[dict[str, str]],
             multi_label: bool) -> tuple[dict[str, list[str]] | None, list[str]]:
    """openai provider with `few_shot_source: real`: label -> the real texts it may show (real.few_shot_pool),
    and their key hashes for dataset.json (split keeps those rows in train). A label without one is an error:
    no request goes out without the examples it was asked to show."""
    if cfg.provider != "openai" or cfg.few_shot_source != "real" or cfg.few_shot == 0:
        return None, []
    pool = real.few_shot_pool(real_rows, seed)
    shots = real.examples(pool, multi_label)
    wanted = [] if cfg.mode == "model_as_label" else task_labels(cfg, [], multi_label)
    missing = [lab for lab in wanted if not shots.get(lab)] or ([] if shots else ["(any)"])
    if missing:
        raise DataError(f"generate.few_shot_source is real, but {cfg.real.path} (generate.real.path) has no row of "
                        f"label {missing[0]!r} to show as a few-shot example; add such rows or set "
                        "generate.few_shot_source: task (or generate.few_shot: 0)")
    return shots, real.shown_keys(pool)


def provide(cfg: params.Generate, seed: int, cache_dir: Path | None, shots: dict[str, list[str]] | None,
            prices: dict[str, params.Price], focus_path: Path | None = None) -> tuple[list[dict[str, Any]], Provider, dict]:
    """Raw rows from the configured provider, where they came from, and the generation report. `shots`: label ->
    the real few-shot examples (few_shot; None: the task file's). `focus_path`:
    the focus file (generation/focus.py) of `synthbert focus`: template weights (template provider) and
    contrastive prompts (openai provider) aimed at the last evaluation's errors."""
    offline = {"provider": cfg.provider, "requests": {"planned": 0, "used": 0, "sent_this_run": 0},
               "tokens": {"prompt": 0, "completion": 0, "total": 0}, "cost_usd": 0.0}
    if cfg.provider == "csv":
        return csv_provider.generate(cfg.csv), Provider(provider="csv", file=cfg.csv.path), offline
    from stages.generation import focus
    from stages.generation.task import load_task

    task = load_task(cfg.task)
    if cfg.provider == "llm_label":
        from stages.generation import llm_label

        rows, generation = llm_label.generate(task, cfg, need_cache(cache_dir, "the llm_label provider"), prices)
        return rows, Provider(provider="llm_label", task=task.name, file=cfg.llm_label.path,
                              models=list(cfg.llm_label.models)), generation
    aim = focus.read(focus_path, task)
    if aim:
        log.info("focus (%s): %s templates weighted up, %s contrastive prompts", focus_path,
                 sum(len(w) for w in aim.templates.values()), sum(len(p) for p in aim.prompts.values()))
    if cfg.provider == "openai":
        from stages.generation import openai_provider

        rows, generation = openai_provider.generate(task, cfg, seed, need_cache(cache_dir, "the openai provider"),
                                                    shots, prices, aim.prompts, aim.rows)
        failed = generation["requests"]["failed_this_run"]
        if failed and not generation["requests"]["used"]:
            raise DataError(f"generate: all {failed:,} requests failed (200 replies whose body is not the API's JSON; "
                            "see the warning above) and none is cached: no rows to make; check generate.base_url")
        return rows, Provider(provider="openai", task=task.name, mode=cfg.mode, models=generation["models"]), \
            generation
    from stages.generation import template

    rows = template.generate(task, cfg.n_per_label, seed, aim.templates)
    return rows, Provider(provider="template", task=task.name), offline


def need_cache(cache_dir: Path | None, who: str) -> Path:
    if cache_dir is None:
        raise DataError(f"{who} needs a response cache directory (--cache)")
    return cache_dir


def judge_rows(cfg: params.Generate, seed: int, rows: list[dict[str, str]], cache_dir: Path | None,
               prices: dict[str, params.Price], multi_label: bool) -> Any:
    """generate.judge (mode not none): the LLM judge's verdicts on the cleaned rows (generation/judge.py); its
    labels and descriptions are the task's (csv provider: the csv's labels, no descriptions)."""
    if cfg.judge.mode == "none":
        return None
    from stages.generation import judge

    labels, descriptions, about = label_names([r["label"] for r in rows], multi_label), {}, ""
    if cfg.provider != "csv":
        from stages.generation.task import load_task

        task = load_task(cfg.task)
        labels, about = task.label_names, task.description
        descriptions = {lab.name: lab.description for lab in task.labels if lab.description}
    return judge.run(rows, cfg.judge, labels, descriptions, about, multi_label, seed,
                     need_cache(cache_dir, "generate.judge"), prices)


def apply_judge(cfg: params.Generate, rows: list[dict[str, str]], verdicts: Any, dropped: dict[str, int],
                flagged: set[str], issues: dict[str, Any]) -> tuple[list[dict[str, str]], dict[str, int], dict | None]:
    """The judge's mode acted out on the rows (after the label filter), and its report (quality.json `judge`)."""
    if verdicts is None:
        return rows, dropped, None
    from stages.generation import judge, judge_report

    total = len(rows)
    rows, dropped, done = judge.act(rows, verdicts, cfg.judge.mode, dropped)
    records = [{**r, "judge": verdicts.said[r["text"]], "reason": verdicts.reasons[r["text"]]} for r in verdicts.judged]
    return rows, dropped, judge_report.summarize(records, total, cfg.judge, verdicts.answers, flagged, issues, done,
                                                 label_issues.human)


def _names(cell: Any, multi_label: bool) -> list[str]:
    """The label names one raw `label` cell counts for (a label set counts for each of its labels)."""
    cell = normalize(str(cell or ""))
    names = split_labels(cell) if multi_label else [cell]
    return [name for name in names if name] or ["(missing)"]


def quality_report(cfg: params.Generate, raw: list[dict[str, Any]], rows: list[dict[str, str]], provider: Provider,
                   dropped: dict[str, int], near: int, generation: dict[str, Any], issues: dict,
                   multi_label: bool = False, judged: dict[str, Any] | None = None) -> QualityReport:
    before = collections.Counter(n for r in raw for n in _names(r.get("label"), multi_label))
    after = collections.Counter(n for r in rows for n in _names(r["label"], multi_label))
    sources = collections.Counter(str(r.get("source", "")) for r in raw), collections.Counter(r["source"] for r in rows)
    llm_dropped: collections.Counter[str] = collections.Counter()
    for stats in generation.get("per_label", {}).values():
        llm_dropped.update(stats["dropped"])
    llm_dropped.update(generation.get("votes", {}).get("dropped", {}))  # llm_label: ties, texts no model answered
    measures = quality.report(rows, cfg.shortcut_threshold, cfg.near_duplicate_threshold, near,
                              dropped.get("duplicate", 0), len(raw), multi_label)
    return QualityReport(provider=provider, rows_read=len(raw), rows_kept=len(rows), dropped=dropped,
                         per_label={lab: {"before": before[lab], "after": after[lab]} for lab in sorted(before)},
                         per_source={s: {"before": sources[0][s], "after": sources[1][s]} for s in sorted(sources[0])},
                         llm_dropped=dict(sorted(llm_dropped.items())), label_issues=issues, judge=judged,
                         llm_votes=generation.get("votes"), **measures)


def check_labels(rows: list[dict[str, str]], where: str, multi_label: bool = False) -> None:
    labels = label_names([r["label"] for r in rows], multi_label)
    if len(labels) < 2:
        raise DataError(f"{where}: need at least two labels after cleaning, found {', '.join(labels) or 'none'}")


def filter_labels(rows: list[dict[str, str]], flagged: list[int], dropped: dict[str, int],
                  issues: dict[str, Any]) -> tuple[list[dict[str, str]], dict[str, int]]:
    """generate.label_filter confident_learning: the flagged synthetic rows dropped, human-labelled ones kept; a
    skipped filter (too few rows) is a warning, not only a line in quality.json."""
    if issues.get("skipped"):
        log.warning("generate.label_filter confident_learning was skipped, nothing dropped: %s", issues["skipped"])
        return rows, dropped
    kept, dropped = label_issues.drop(rows, flagged, dropped)
    log.info("label filter: dropped %d flagged synthetic rows; kept %d flagged human-labelled rows (csv or real)",
             len(rows) - len(kept), len(flagged) - (len(rows) - len(kept)))
    return kept, dropped


def write_outputs(out: Path, reports: Path, rows: list[dict[str, str]], report: QualityReport,
                  generation: dict[str, Any], multi_label: bool = False, shown: list[str] | None = None) -> None:
    contracts.write_dataset(out, rows)
    report.write(reports / "quality.json")
    DatasetInfo(provider=report.provider, rows_read=report.rows_read, rows_kept=report.rows_kept,
                multi_label=multi_label, labels=label_names([r["label"] for r in rows], multi_label),
                few_shot=shown or None).write(
        reports / "dataset.json")
    from stages.generation.judge_report import markdown_lines

    write_text(reports / "quality.md", quality.markdown(report.to_dict(), markdown_lines(report.judge)))
    write_json(reports / "generation.json", generation)


def run(*, cfg: params.Generate, seed: int, out: Path, reports: Path, cache_dir: Path | None = None,
        prices: Path | None = None, focus: Path | None = None) -> dict[str, Any]:
    """Rows from the provider, cleaned and de-duplicated, to `out`; quality, dataset and generation reports."""
    if cache_dir is not None:
        from stages.core.llm.cache import ensure_exists

        ensure_exists(cache_dir)  # DVC expects the (persistent) cache output even when nothing is asked
    multi = is_multi_label(cfg)
    check_real(cfg, multi)
    real_rows = real.read(cfg.real, seed)
    if cfg.provider != "csv":  # before any request; the csv provider's labels are its file's (below)
        real.check_labels(real_rows, task_labels(cfg, [], multi), cfg.real, multi)
    shots, shown = few_shot(cfg, seed, real_rows, multi)
    price_table = params.load_prices(prices)
    raw, provider, generation = provide(cfg, seed, cache_dir, shots, price_table, focus)
    if cfg.provider == "csv":
        real.check_labels(real_rows, task_labels(cfg, raw, multi), cfg.real, multi)
    log.info("read %s raw rows from provider %s and %s real rows", f"{len(raw):,}", cfg.provider, f"{len(real_rows):,}")
    raw = real_rows + raw
    rows, dropped = cleaning.clean(raw, cfg.min_chars, cfg.max_chars, multi)
    rows, dropped, near = cleaning.drop_near_duplicates(rows, dropped, cfg.near_duplicate_threshold, seed)
    check_labels(rows, provider.file or cfg.task, multi)
    issues, flagged = label_issues.find(rows, seed, cfg.label_filter, multi)
    verdicts = judge_rows(cfg, seed, rows, cache_dir, price_table, multi)
    flagged_texts = {rows[i]["text"] for i in flagged}
    if cfg.label_filter == "confident_learning":
        rows, dropped = filter_labels(rows, flagged, dropped, issues)
    rows, dropped, judged = apply_judge(cfg, rows, verdicts, dropped, flagged_texts, issues)
    if judged is not None:
        generation["judge"] = judged["cost"]
    check_labels(rows, provider.file or cfg.task, multi)
    report = quality_report(cfg, raw, rows, provider, dropped, near, generation, issues, multi, judged)
    lost = [f"{n} {r}" for r, n in dropped.items()] + [f"{n} {r} (LLM)" for r, n in report.llm_dropped.items()]
    log.info("kept %s rows; dropped %s", f"{len(rows):,}", ", ".join(lost) or "none")
    if report.shortcut_warning:
        log.warning("shortcut features predict the label alone: %s (see quality.md)",
                    ", ".join(report.shortcut_features))
    write_outputs(out, reports, rows, report, generation, multi, shown)
    return report.to_dict()


def main(argv: list[str] | None = None) -> int:
    def add(p: argparse.ArgumentParser) -> None:
        p.add_argument("--out", required=True, type=Path, help="dataset CSV to write")
        p.add_argument("--reports", required=True, type=Path, help="directory for quality.json/.md, generation.json")
        p.add_argument("--cache", type=Path, help="LLM response cache directory (kept between runs)")
        p.add_argument("--prices", type=Path, help="price table (model: {input, output} USD per million tokens)")
        p.add_argument("--focus", type=Path, help="focus file of `synthbert focus` (what to generate more of)")

    def body(args: argparse.Namespace) -> None:
        seed = params.load("base", args.params).seed
        run(cfg=params.load("generate", args.params), seed=seed, out=args.out, reports=args.reports,
            cache_dir=args.cache, prices=args.prices, focus=args.focus)

    return cli.main(__doc__.splitlines()[0], add, body, argv,
                    example="python -m stages.generate --out data/generated.csv --cache data/llm_cache --reports reports/data "
                            "--prices data/prices.yaml --focus data/focus.yaml")  # as dvc.yaml runs it


if __name__ == "__main__":
    raise SystemExit(main())
