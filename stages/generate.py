"""Stage generate: labelled texts from a provider, cleaned and de-duplicated.

Reads: the task file `generate.task` (template provider) or the CSV `generate.csv.path` (csv provider).
Writes: the dataset CSV (text,label,source) and the data-quality report (quality.json, quality.md).
Params: base.seed, generate.*
"""

from __future__ import annotations

import argparse
import collections
import logging
from pathlib import Path
from typing import Any

from stages import cli, params
from stages.errors import DataError
from stages.io import read_csv, write_csv, write_json, write_text
from stages.text import dedup_key, drop_reason, normalize

log = logging.getLogger(__name__)


def rows_from_csv(cfg: params.CsvImport) -> list[dict[str, Any]]:
    """Import a human-annotated CSV: the configured text and label columns become text,label."""
    frame = read_csv(cfg.path, columns=(cfg.text_column, cfg.label_column), what="annotated CSV")
    source = f"csv:{Path(cfg.path).name}"
    return [
        {"text": t, "label": lab, "source": source}
        for t, lab in zip(frame[cfg.text_column].tolist(), frame[cfg.label_column].tolist())
    ]


def provide(cfg: params.Generate, seed: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Raw rows from the configured provider, plus provider facts for the report."""
    if cfg.provider == "csv":
        return rows_from_csv(cfg.csv), {"provider": "csv", "file": cfg.csv.path}
    from stages import template
    from stages.task import load_task

    task = load_task(cfg.task)
    return template.generate(task, cfg.n_per_label, seed), {"provider": "template", "task": task.name}


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


def quality_markdown(report: dict[str, Any]) -> str:
    lines = ["# Data quality", "", f"Provider: `{report['provider']['provider']}`", "",
             "| label | rows before cleaning | rows kept |", "|---|---:|---:|"]
    for label, counts in report["per_label"].items():
        lines.append(f"| {label} | {counts['before']} | {counts['after']} |")
    lines += ["", f"Rows read: {report['rows_read']}; kept: {report['rows_kept']}.", "", "Dropped:", ""]
    lines += [f"- {reason}: {n}" for reason, n in report["dropped"].items()] or ["- nothing"]
    return "\n".join(lines) + "\n"


def run(cfg: params.Generate, seed: int, out: Path, quality_dir: Path) -> dict[str, Any]:
    raw, provider = provide(cfg, seed)
    log.info("read %s raw rows from provider %s", f"{len(raw):,}", cfg.provider)
    rows, dropped = clean(raw, cfg.min_chars, cfg.max_chars)
    before = collections.Counter(normalize(str(r.get("label") or "")) or "(missing)" for r in raw)
    after = collections.Counter(r["label"] for r in rows)
    if len(after) < 2:
        found = ", ".join(after) or "none"
        raise DataError(f"{provider.get('file', cfg.task)}: need at least two labels after cleaning, found {found}")
    report = {
        "provider": provider,
        "rows_read": len(raw),
        "rows_kept": len(rows),
        "dropped": dropped,
        "per_label": {lab: {"before": before[lab], "after": after[lab]} for lab in sorted(before)},
    }
    log.info("kept %s rows; dropped %s", f"{len(rows):,}",
             ", ".join(f"{n} {r}" for r, n in dropped.items()) or "none")
    import pandas as pd

    write_csv(out, pd.DataFrame(rows, columns=["text", "label", "source"]))
    write_json(quality_dir / "quality.json", report)
    write_text(quality_dir / "quality.md", quality_markdown(report))
    return report


def main(argv: list[str] | None = None) -> int:
    def add(p: argparse.ArgumentParser) -> None:
        p.add_argument("--out", required=True, type=Path, help="dataset CSV to write")
        p.add_argument("--reports", required=True, type=Path, help="directory for quality.json/.md")

    def body(args: argparse.Namespace) -> None:
        seed = params.load("base", args.params).seed
        run(params.load("generate", args.params), seed, args.out, args.reports)

    return cli.main(__doc__.splitlines()[0], add, body, argv)


if __name__ == "__main__":
    raise SystemExit(main())
