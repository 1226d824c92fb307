"""Stage generate: labelled texts from a provider, cleaned and de-duplicated.

Reads: the task file `generate.task` (template and openai providers), the CSV `generate.csv.path` (csv
provider) and the LLM response cache (openai provider; appended to, never rewritten).
Writes: the dataset CSV (text,label,source), the data-quality report (quality.json, quality.md) and the
generation report (generation.json: requests, tokens, cost).
Params: base.seed, generate.*
"""

from __future__ import annotations

import argparse
import collections
import logging
from pathlib import Path
from typing import Any

from stages.core import cli, params, similarity
from stages.generation import quality
from stages.core.errors import DataError
from stages.core.io import read_csv, write_csv, write_json, write_text
from stages.core.text import dedup_key, drop_reason, normalize

log = logging.getLogger(__name__)


def rows_from_csv(cfg: params.CsvImport) -> list[dict[str, Any]]:
    """Import a human-annotated CSV: the configured text and label columns become text,label."""
    frame = read_csv(cfg.path, columns=(cfg.text_column, cfg.label_column), what="annotated CSV")
    source = f"csv:{Path(cfg.path).name}"
    return [
        {"text": t, "label": lab, "source": source}
        for t, lab in zip(frame[cfg.text_column].tolist(), frame[cfg.label_column].tolist())
    ]


def provide(cfg: params.Generate, seed: int, cache_dir: Path | None) -> tuple[list[dict[str, Any]], dict, dict]:
    """Raw rows from the configured provider, provider facts for the reports, and the generation report."""
    offline = {"provider": cfg.provider, "requests": {"planned": 0, "used": 0, "sent_this_run": 0},
               "tokens": {"prompt": 0, "completion": 0, "total": 0}, "cost_usd": 0.0}
    if cfg.provider == "csv":
        return rows_from_csv(cfg.csv), {"provider": "csv", "file": cfg.csv.path}, offline
    from stages.generation.task import load_task

    task = load_task(cfg.task)
    if cfg.provider == "openai":
        from stages.generation import openai_provider

        if cache_dir is None:
            raise DataError("the openai provider needs a response cache directory (--cache)")
        rows, generation = openai_provider.generate(task, cfg, seed, cache_dir)
        return rows, {"provider": "openai", "task": task.name, "mode": cfg.mode, "models": generation["models"]}, \
            generation
    from stages.generation import template

    return template.generate(task, cfg.n_per_label, seed), {"provider": "template", "task": task.name}, offline


def clean(rows: list[dict[str, Any]], min_chars: int, max_chars: int) -> tuple[list[dict[str, str]], dict]:
    """Normalise texts; drop unusable rows, exact duplicates and texts seen with two labels; count why."""
    dropped: collections.Counter[str] = collections.Counter()
    by_key: dict[str, dict[str, str]] = {}
    labels_of_key: dict[str, set[str]] = collections.defaultdict(set)
    for row in rows:
        text = normalize(row["text"]) if isinstance(row.get("text"), str) else row.get("text")
        label = normalize(str(row.get("label") or ""))
        reason = drop_reason(text, min_chars, max_chars)
        if reason is None and not label:
            reason = "missing_label"
        if reason:
            dropped[reason] += 1
            continue
        key = dedup_key(text)
        labels_of_key[key].add(label)
        if key in by_key:
            dropped["duplicate"] += 1
            continue
        by_key[key] = {"text": text, "label": label, "source": str(row.get("source", ""))}
    kept = []
    for key, row in by_key.items():
        if len(labels_of_key[key]) > 1:  # the same text labelled two ways: no right answer to learn
            dropped["conflicting_labels"] += 1
        else:
            kept.append(row)
    kept.sort(key=lambda r: (r["label"], dedup_key(r["text"]), r["text"]))
    return kept, dict(sorted(dropped.items()))


def run(cfg: params.Generate, seed: int, out: Path, quality_dir: Path, cache_dir: Path | None = None) -> dict[str, Any]:
    if cache_dir is not None:
        from stages.generation.llm_cache import ResponseCache

        ResponseCache(cache_dir).close()  # DVC expects the (persistent) cache output even when nothing is asked
    raw, provider, generation = provide(cfg, seed, cache_dir)
    log.info("read %s raw rows from provider %s", f"{len(raw):,}", cfg.provider)
    rows, dropped = clean(raw, cfg.min_chars, cfg.max_chars)
    near = similarity.near_duplicates([r["text"] for r in rows], cfg.near_duplicate_threshold, seed)
    if near:
        dropped = dict(sorted({**dropped, "near_duplicate": len(near)}.items()))
        rows = [r for i, r in enumerate(rows) if i not in near]
    before = collections.Counter(normalize(str(r.get("label") or "")) or "(missing)" for r in raw)
    after = collections.Counter(r["label"] for r in rows)
    if len(after) < 2:
        found = ", ".join(after) or "none"
        raise DataError(f"{provider.get('file', cfg.task)}: need at least two labels after cleaning, found {found}")
    llm_dropped: collections.Counter[str] = collections.Counter()
    for stats in generation.get("per_label", {}).values():
        llm_dropped.update(stats["dropped"])
    report = {
        "provider": provider,
        "rows_read": len(raw),
        "rows_kept": len(rows),
        "dropped": dropped,
        "per_label": {lab: {"before": before[lab], "after": after[lab]} for lab in sorted(before)},
        "llm_dropped": dict(sorted(llm_dropped.items())),
        **quality.report(rows, cfg.shortcut_threshold, cfg.near_duplicate_threshold, len(near),
                         dropped.get("duplicate", 0), len(raw)),
    }
    log.info("kept %s rows; dropped %s", f"{len(rows):,}",
             ", ".join(f"{n} {r}" for r, n in dropped.items()) or "none")
    if report["shortcut_warning"]:
        log.warning("shortcut features predict the label alone: %s (see quality.md)",
                    ", ".join(report["shortcut_features"]))
    import pandas as pd

    write_csv(out, pd.DataFrame(rows, columns=["text", "label", "source"]))
    write_json(quality_dir / "quality.json", report)
    write_text(quality_dir / "quality.md", quality.markdown(report))
    write_json(quality_dir / "generation.json", generation)
    return report


def main(argv: list[str] | None = None) -> int:
    def add(p: argparse.ArgumentParser) -> None:
        p.add_argument("--out", required=True, type=Path, help="dataset CSV to write")
        p.add_argument("--reports", required=True, type=Path, help="directory for quality.json/.md, generation.json")
        p.add_argument("--cache", type=Path, help="LLM response cache directory (kept between runs)")

    def body(args: argparse.Namespace) -> None:
        seed = params.load("base", args.params).seed
        run(params.load("generate", args.params), seed, args.out, args.reports, args.cache)

    return cli.main(__doc__.splitlines()[0], add, body, argv)


if __name__ == "__main__":
    raise SystemExit(main())
