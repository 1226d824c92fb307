"""Imbalance on defaults: the old defaults (train.class_weights none, train.decision argmax) against the new ones
(auto, auto) on the same imbalanced labelled set, side by side.

From a labelled CSV (--csv, default data/external/stop_clickbait/dev.csv) it keeps every row of the other labels
and draws the minority label (--minority, default the label with the fewest rows) so that it makes --share of the
rows (default 0.13; --rows caps the total), seeded by base.seed. Then, through the stages' run() functions in a
temporary directory, on params.yaml's sections: generate (csv provider on that file), split, and for each setting
train and evaluate (evaluate.external_test left out: the split's test part is scored). --model and --epochs override
train.model and train.epochs (the frozen-encoder baseline uses that model too).
Prints per setting: test macro-F1 with its bootstrap interval, the minority label's recall, the class weights and
decision rule train chose, whether the model collapsed on val (train) or on test (evaluate), each baseline's
macro-F1 and whether it collapsed; then the new setting against the old (difference and ratio).

Usage (repository root):
    python benchmarks/imbalance.py [--csv PATH] [--share 0.13] [--rows 600] [--model DIR] [--epochs 4]
"""

from __future__ import annotations

import argparse
import collections
import logging
import os
import random
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from stages.core import cli, params  # noqa: E402
from stages.core.errors import DataError, ParamsError  # noqa: E402
from stages.core.io import read_csv  # noqa: E402

DEFAULT_CSV = Path("data/external/stop_clickbait/dev.csv")
SETTINGS = (("old", {"class_weights": "none", "decision": "argmax"}), ("new", {"class_weights": "auto", "decision": "auto"}))


def imbalanced_rows(path: Path, text_column: str, label_column: str, minority: str | None, share: float,
                    rows: int, seed: int) -> tuple[list[dict[str, str]], str]:
    """Every row of the other labels (at most `rows` in all) and `share` of minority rows, drawn with `seed`."""
    if not path.is_file():
        raise DataError(f"{path}: labelled CSV not found (pass --csv PATH, a CSV with {text_column} and "
                        f"{label_column} columns)")
    frame = read_csv(path, columns=(text_column, label_column), what="labelled CSV")
    by_label: dict[str, list[str]] = collections.defaultdict(list)
    for text, label in zip(frame[text_column].tolist(), frame[label_column].tolist()):
        if isinstance(text, str) and text.strip() and isinstance(label, str) and label.strip():
            by_label[label.strip()].append(text)
    if len(by_label) < 2:
        raise DataError(f"{path}: column {label_column!r} holds {len(by_label)} label(s); need at least two")
    minority = minority or min(sorted(by_label), key=lambda lab: len(by_label[lab]))
    if minority not in by_label:
        raise ParamsError(f"--minority: {minority!r} is not a label of {path} (labels: {', '.join(sorted(by_label))})")
    rng = random.Random(seed)
    others = [(t, lab) for lab in sorted(by_label) if lab != minority for t in by_label[lab]]
    rng.shuffle(others)
    others = others[:max(1, round(rows * (1 - share)))]
    wanted = max(3, round(len(others) * share / (1 - share)))  # split puts a minority row in each part
    if wanted > len(by_label[minority]):
        raise DataError(f"{path}: label {minority!r} has {len(by_label[minority])} rows; {wanted} needed for a "
                        f"share of {share:g} beside {len(others)} other rows (lower --rows or --share)")
    picked = [(t, minority) for t in rng.sample(by_label[minority], wanted)]
    return [{"text": t, "label": lab} for t, lab in sorted(others + picked, key=lambda r: (r[1], r[0]))], minority


def prepare(args: argparse.Namespace, tmp: Path) -> str:
    """The imbalanced CSV, then generate (csv provider) and split into tmp; the minority label."""
    import pandas as pd

    from stages import generate, split

    seed = params.load("base", args.params).seed
    rows, minority = imbalanced_rows(args.csv, args.text_column, args.label_column, args.minority, args.share,
                                     args.rows, seed)
    pd.DataFrame(rows, columns=["text", "label"]).to_csv(tmp / "imbalanced.csv", index=False)
    counts = collections.Counter(r["label"] for r in rows)
    print(f"imbalanced set from {args.csv}: {len(rows):,} rows, "
          + ", ".join(f"{lab} {n:,} ({n / len(rows):.0%})" for lab, n in sorted(counts.items())), flush=True)
    cfg = params.load("generate", args.params)
    cfg = replace(cfg, provider="csv", csv=replace(cfg.csv, path=str(tmp / "imbalanced.csv"), text_column="text",
                                                   label_column="label", label_separator=None),
                  real=replace(cfg.real, path=None))
    generate.run(cfg=cfg, seed=seed, out=tmp / "generated.csv", reports=tmp / "data")
    split.run(cfg=params.load("split", args.params), seed=seed, data=tmp / "generated.csv", out_dir=tmp / "split",
              report=tmp / "data" / "split.json", dataset=tmp / "data" / "dataset.json")
    return minority


def run_setting(args: argparse.Namespace, tmp: Path, name: str, overrides: dict[str, str]) -> dict:
    """train and evaluate with `overrides` on train.*; the numbers printed for it."""
    from stages import evaluate, train

    seed = params.load("base", args.params).seed
    cfg = params.load("train", args.params)
    cfg = replace(cfg, model=args.model or cfg.model, epochs=args.epochs or cfg.epochs, **overrides)
    out, started = tmp / name, time.perf_counter()
    summary = train.run(cfg=cfg, seed=seed, split_dir=tmp / "split", model_dir=out / "model", reports=out / "train",
                        dataset=tmp / "data" / "dataset.json")
    result = evaluate.run(cfg=replace(params.load("evaluate", args.params), external_test=()), seed=seed,
                          base_model=cfg.model, model_dir=out / "model", split_dir=tmp / "split",
                          metrics_path=out / "metrics.json", eval_dir=out / "eval", train_report=out / "train" / "summary.json")
    return {"summary": summary, "test": result["test"], "models": result["baselines"]["models"],
            "seconds": time.perf_counter() - started}


def collapsed_text(value: dict | None) -> str:
    return "no" if not value else f"yes, {value['predicted_share']:.0%} {value['label']} ({value['true_share']:.0%} true)"


def report(name: str, overrides: dict[str, str], run: dict, minority: str) -> None:
    t, s, models = run["test"], run["summary"], run["models"]
    print(f"\n{name} defaults (train.class_weights {overrides['class_weights']}, train.decision "
          f"{overrides['decision']}; {run['seconds']:.0f} s; test split {t['rows']:,} rows, {minority} "
          f"{t['per_label'][minority]['support']:,})")
    print(f"  class weights {s['class_weights_mode']} ({s['class_weights_reason']}); decision {s['decision']}: "
          f"{s['decision_rule']}")
    print(f"  fine-tuned  macro-F1 {t['f1_macro']:.4f} [{t['f1_macro_ci_low']:.4f}, {t['f1_macro_ci_high']:.4f}]  "
          f"{minority} recall {t['per_label'][minority]['recall']:.4f}  collapsed on val: "
          f"{collapsed_text(s['collapsed'])}; on test: {collapsed_text(models['fine_tuned']['test'].get('collapsed'))}")
    for model, row in models.items():
        if model != "fine_tuned":
            row = row["test"]
            print(f"  baseline {model:<12} macro-F1 {row['f1_macro']:.4f} [{row['f1_macro_ci_low']:.4f}, "
                  f"{row['f1_macro_ci_high']:.4f}]  collapsed: {collapsed_text(row.get('collapsed'))}")


def body(args: argparse.Namespace) -> None:
    if not 0 < args.share < 0.5:
        raise ParamsError(f"--share: expected a fraction in (0, 0.5) (the minority's share of rows), got {args.share:g}")
    if args.rows < 20 or args.epochs < 0:
        raise ParamsError(f"--rows must be >= 20 and --epochs >= 0, got {args.rows} and {args.epochs:g}")
    from benchmarks.real_vs_synthetic import cpu_model

    if not args.verbose:
        logging.getLogger("stages").setLevel(logging.WARNING)
    started, cfg = time.perf_counter(), params.load("train", args.params)
    with tempfile.TemporaryDirectory(prefix="synthbert-imbalance-") as tmp_name:
        tmp = Path(tmp_name)
        minority = prepare(args, tmp)
        runs = {name: run_setting(args, tmp, name, overrides) for name, overrides in SETTINGS}
    for name, overrides in SETTINGS:
        report(name, overrides, runs[name], minority)
    old, new = (runs[name]["test"] for name, _ in SETTINGS)
    f1_old, f1_new = old["f1_macro"], new["f1_macro"]
    rec_old, rec_new = (r["per_label"][minority]["recall"] for r in (old, new))
    print(f"\nnew vs old: macro-F1 {f1_new - f1_old:+.4f} ({f1_new / f1_old if f1_old else float('inf'):.2f}x), "
          f"{minority} recall {rec_new - rec_old:+.4f}")
    print(f"CPU: {cpu_model()} ({len(os.sched_getaffinity(0))} cores); {args.model or cfg.model}, "
          f"{args.epochs or cfg.epochs:g} epochs; wall {time.perf_counter() - started:.0f} s")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--csv", type=Path, default=DEFAULT_CSV, help=f"labelled CSV (default: {DEFAULT_CSV})")
    p.add_argument("--text-column", default="text", help="column holding the text (default: text)")
    p.add_argument("--label-column", default="label", help="column holding the label (default: label)")
    p.add_argument("--minority", default=None, help="the label to make rare (default: the one with the fewest rows)")
    p.add_argument("--share", type=float, default=0.13, help="the minority's share of the rows (default 0.13)")
    p.add_argument("--rows", type=int, default=600, help="rows at most in the imbalanced set (default 600)")
    p.add_argument("--model", default=None, help="train.model: hub id or local directory (default: params.yaml's)")
    p.add_argument("--epochs", type=float, default=0, help="train.epochs (default: params.yaml's)")
    p.add_argument("--verbose", action="store_true", help="the stages' INFO logs")


if __name__ == "__main__":
    sys.exit(cli.main(__doc__.splitlines()[0], add_arguments, body))
