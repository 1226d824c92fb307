"""The learning curve of what real data buys: test macro-F1 on held-out real rows against real rows per label,
trained on real rows only and on real rows plus the synthetic rows (synthetic alone: 0 real rows + synthetic).

The synthetic rows come from the generate stage (stages.generate.run) on params.yaml's generate section with
the template provider (`--task`, `--n-per-label` override the task file and its rows per label), generated once.
For each seed, each label's real rows (text-normalised, de-duplicated) are shuffled: the first k of them are the
k real rows per label of every run of that seed (the sizes are nested), and the rows after the largest size are
that seed's held-out test set, the same for every run of the seed (texts that the synthetic rows also hold are
left out of it). Each run splits its rows with the split stage (params.yaml's split section: near-duplicate
groups, stratified; the split's test part goes back into train, since the test here is the held-out real rows)
and trains with the train stage (params.yaml's train section; `--epochs` and `--model` override it), then
scores the held-out rows with core.modeling.predict_proba, decided by the model's saved rule (core/decision.py). 0 real rows without synthetic rows trains nothing.
Prints the table (mean, min-max and std of test macro-F1 per configuration) and writes the PNG (`--png`).

Usage (repository root):
    python benchmarks/real_vs_synthetic.py REAL.csv [--text-column text --label-column label]
        [--label-map bait=clickbait,news=factual] [--sizes 0,8,32,128] [--seeds 3] [--epochs 2] [--model DIR]
    python benchmarks/real_vs_synthetic.py data/raw/standin.csv --stand-in data/tasks/clickbait_standin.yaml ...
        (first writes REAL.csv from that task file's templates: a labelled stand-in, not real data)
"""

from __future__ import annotations

import argparse
import collections
import logging
import os
import random
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from stages.core import cli, contracts, params  # noqa: E402
from stages.core.errors import DataError, ParamsError  # noqa: E402
from stages.core.io import read_csv  # noqa: E402
from stages.core.text import dedup_key, normalize  # noqa: E402

REAL_ONLY, MIXED = "real only", "real + synthetic"
STAND_IN_SEED = 20260101


def cpu_model() -> str:
    lines = Path("/proc/cpuinfo").read_text().splitlines()
    return next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), "unknown CPU")


def parse_sizes(text: str) -> list[int]:
    try:
        sizes = sorted({int(s) for s in text.split(",") if s.strip()})
    except ValueError:
        raise ParamsError(f"--sizes: expected comma-separated whole numbers (e.g. 0,8,32,128), got {text!r}") from None
    if not sizes or sizes[0] < 0 or any(0 < s < 3 for s in sizes):
        raise ParamsError(f"--sizes: expected 0 or numbers >= 3 (the split stage puts a text of each label in train, "
                          f"val and its test part), got {text!r}")
    return sizes


def parse_label_map(text: str) -> dict[str, str]:
    pairs = [p.split("=", 1) for p in text.split(",") if p.strip()]
    if any(len(p) != 2 or not p[0].strip() or not p[1].strip() for p in pairs):
        raise ParamsError(f"--label-map: expected REAL=TASK pairs, comma-separated (e.g. bait=clickbait), got {text!r}")
    return {normalize(a): normalize(b) for a, b in pairs}


def read_real(path: Path, text_column: str, label_column: str, label_map: dict[str, str],
              labels: list[str]) -> dict[str, list[str]]:
    """Task label -> the real texts of that label: normalised, empty ones dropped, each text once (first kept)."""
    frame = read_csv(path, columns=(text_column, label_column), what="real annotated CSV")
    bad_targets = sorted(set(label_map.values()) - set(labels))
    if bad_targets:
        raise ParamsError(f"--label-map: {bad_targets[0]!r} is not a label of the task (expected one of "
                          f"{', '.join(labels)})")
    by_label: dict[str, list[str]] = {label: [] for label in labels}
    seen: set[str] = set()
    unknown: collections.Counter = collections.Counter()
    for text, cell in zip(frame[text_column].tolist(), frame[label_column].tolist()):
        text, label = normalize(text), label_map.get(normalize(cell), normalize(cell))
        if not text or not label or dedup_key(text) in seen:
            continue
        if label not in by_label:
            unknown[label] += 1
            continue
        seen.add(dedup_key(text))
        by_label[label].append(text)
    if unknown:
        name, n = unknown.most_common(1)[0]
        raise DataError(f"{path}: column {label_column!r} holds label {name!r} ({n} rows), not a label of the task "
                        f"(expected {', '.join(labels)}; map it with --label-map {name}=LABEL)")
    return by_label


def check_counts(path: Path, real: dict[str, list[str]], largest: int, min_test: int) -> None:
    need = largest + min_test
    for label, texts in real.items():
        if len(texts) < need:
            raise DataError(f"{path}: label {label!r} has {len(texts)} distinct texts; need at least {need} per label "
                            f"({largest} for the largest --sizes plus --min-test {min_test} held out)")


def write_stand_in(task_path: str, per_label: int, out: Path) -> None:
    """REAL.csv drawn from another task file's templates (a stand-in for real rows, for the README figure)."""
    from stages.generation import template
    from stages.generation.task import load_task

    rows = template.generate(load_task(task_path), per_label, STAND_IN_SEED)
    out.parent.mkdir(parents=True, exist_ok=True)
    contracts.write_dataset(out, [{**r, "source": "stand-in"} for r in rows])
    print(f"wrote {out}: {len(rows):,} stand-in rows from the templates of {task_path} (not real data)")


def synthesize(args: argparse.Namespace, tmp: Path) -> list[dict[str, str]]:
    """The generate stage's rows (template provider) on params.yaml's generate section, with the overrides."""
    from stages import generate

    cfg = params.load("generate", args.params)
    cfg = replace(cfg, provider="template", task=args.task or cfg.task, real=replace(cfg.real, path=None),
                  n_per_label=args.n_per_label or cfg.n_per_label)
    generate.run(cfg=cfg, seed=params.load("base", args.params).seed, out=tmp / "generated.csv", reports=tmp / "gen")
    return contracts.read_dataset(tmp / "generated.csv", "generated dataset").to_dict("records")


def draw(real: dict[str, list[str]], seed: int, largest: int, synthetic_keys: set[str]) -> tuple[dict, list, list]:
    """Per label the first `largest` shuffled real texts (the training candidates), and the held-out rest."""
    pool, test_texts, test_labels = {}, [], []
    for label, texts in sorted(real.items()):
        order = list(texts)
        random.Random(f"{seed}/{label}").shuffle(order)
        pool[label] = order[:largest]
        kept = [t for t in order[largest:] if dedup_key(t) not in synthetic_keys]
        test_texts += kept
        test_labels += [label] * len(kept)
    return pool, test_texts, test_labels


def train_once(rows: list[dict[str, str]], seed: int, args: argparse.Namespace, tmp: Path) -> Path:
    """Split `rows` with the split stage (its test part folded back into train) and train with the train stage."""
    import pandas as pd

    from stages import split, train

    contracts.write_dataset(tmp / "data.csv", rows)
    split.run(cfg=params.load("split", args.params), seed=seed, data=tmp / "data.csv", out_dir=tmp / "split",
              report=tmp / "split.json")
    parts = [contracts.read_dataset(tmp / "split" / f"{name}.csv", name) for name in ("train", "test")]
    contracts.write_dataset(tmp / "split" / "train.csv", pd.concat(parts).to_dict("records"))
    cfg = params.load("train", args.params)
    cfg = replace(cfg, epochs=args.epochs or cfg.epochs, model=args.model or cfg.model)
    train.run(cfg=cfg, seed=seed, split_dir=tmp / "split", model_dir=tmp / "model", reports=tmp / "train")
    return tmp / "model"


def score(model_dir: Path, texts: list[str], truth: list[str], labels: list[str]) -> float:
    from stages.core import decision, modeling
    from stages.evaluation import metrics

    model, tokenizer = modeling.load_classifier(str(model_dir)), modeling.load_tokenizer(str(model_dir))
    names = modeling.labels_of(model)
    proba = modeling.predict_proba(model, tokenizer, texts, 128)
    pred = [names[i] for i in decision.decide(proba, decision.offsets_of(model, names))]  # the model's saved rule
    return metrics.classification_metrics(truth, pred, labels)["f1_macro"]


def curve(args: argparse.Namespace, real: dict[str, list[str]], synthetic: list[dict[str, str]],
          tmp: Path) -> dict[tuple[str, int], list[float]]:
    """(configuration, real rows per label) -> test macro-F1 of each seed."""
    import shutil

    labels, sizes = sorted(real), args.sizes
    keys = {dedup_key(r["text"]) for r in synthetic}
    results: dict[tuple[str, int], list[float]] = collections.defaultdict(list)
    base_seed = params.load("base", args.params).seed
    for seed in range(base_seed, base_seed + args.seeds):
        pool, texts, truth = draw(real, seed, sizes[-1], keys)
        print(f"seed {seed}: {len(texts):,} held-out real rows "
              f"({', '.join(f'{lab} {truth.count(lab)}' for lab in labels)})", flush=True)
        for k in sizes:
            real_rows = [{"text": t, "label": lab, "source": contracts.REAL_SOURCE, "origin": f"real:{lab}/{i + 1}"}
                         for lab in labels for i, t in enumerate(pool[lab][:k])]  # each its own origin
            taken = {dedup_key(r["text"]) for r in real_rows}
            mixed = real_rows + [r for r in synthetic if dedup_key(r["text"]) not in taken]
            for name, rows in ((REAL_ONLY, real_rows), (MIXED, mixed)):
                if not rows:
                    continue
                started, run_dir = time.perf_counter(), tmp / f"s{seed}-{k}-{len(rows)}"
                f1 = score(train_once(rows, seed, args, run_dir), texts, truth, labels)
                shutil.rmtree(run_dir)
                results[(name, k)].append(f1)
                print(f"  {k:>4} real/label, {name:<16} {len(rows):>6,} rows: macro-F1 {f1:.4f} "
                      f"({time.perf_counter() - started:.0f} s)", flush=True)
    return results


def table(results: dict[tuple[str, int], list[float]], sizes: list[int]) -> str:
    lines = [f"{'configuration':<18}{'real/label':>11}{'runs':>6}{'mean':>9}{'min-max':>17}{'std':>8}"]
    for k in sizes:
        for name in (REAL_ONLY, MIXED):
            f1 = results.get((name, k))
            if not f1:
                continue
            label = "synthetic alone" if (name, k) == (MIXED, 0) else name
            std = statistics.stdev(f1) if len(f1) > 1 else 0.0
            lines.append(f"{label:<18}{k:>11}{len(f1):>6}{statistics.mean(f1):>9.4f}"
                         f"{f'{min(f1):.4f}-{max(f1):.4f}':>17}{std:>8.4f}")
    return "\n".join(lines)


def plot(results: dict[tuple[str, int], list[float]], sizes: list[int], out: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    for name, colour in ((REAL_ONLY, "tab:orange"), (MIXED, "tab:blue")):
        ks = [k for k in sizes if results.get((name, k))]
        mean = [statistics.mean(results[(name, k)]) for k in ks]
        ax.plot(ks, mean, "o-", color=colour, label=name)
        ax.fill_between(ks, [min(results[(name, k)]) for k in ks], [max(results[(name, k)]) for k in ks],
                        color=colour, alpha=0.2, linewidth=0)
    alone = results.get((MIXED, 0))
    if alone:
        ax.axhline(statistics.mean(alone), color="grey", linestyle="--", label="synthetic alone")
        ax.axhspan(min(alone), max(alone), color="grey", alpha=0.12, linewidth=0)
    ax.set_xscale("symlog", linthresh=max(1, min([k for k in sizes if k] or [1])))
    ax.set_xticks(sizes, [str(k) for k in sizes])
    ax.set_xlabel("real rows per label in training")
    ax.set_ylabel("macro-F1 on held-out real rows")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)


def body(args: argparse.Namespace) -> None:
    from stages.generation.task import load_task

    args.sizes = parse_sizes(args.sizes)
    for flag, value, low in (("--seeds", args.seeds, 1), ("--min-test", args.min_test, 1),
                             ("--n-per-label", args.n_per_label, 0), ("--epochs", args.epochs, 0)):
        if value < low:
            raise ParamsError(f"{flag}: expected a number >= {low}, got {value:g}")
    if args.stand_in:
        write_stand_in(args.stand_in, args.stand_in_per_label, args.real)
    task_path = args.task or params.load("generate", args.params).task
    task = load_task(task_path)
    if task.multi_label:
        raise ParamsError(f"--task {task_path}: a multi-label task; this benchmark handles single-label tasks only")
    real = read_real(args.real, args.text_column, args.label_column, parse_label_map(args.label_map),
                     sorted(label.name for label in task.labels))
    check_counts(args.real, real, args.sizes[-1], args.min_test)
    if not args.verbose:
        logging.getLogger("stages").setLevel(logging.WARNING)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp_name:
        synthetic = synthesize(args, Path(tmp_name))
        print(f"synthetic rows: {len(synthetic):,} from the generate stage on {task_path}; real rows of {args.real}: "
              f"{', '.join(f'{lab} {len(t)}' for lab, t in sorted(real.items()))}", flush=True)
        if 0 in args.sizes:
            print("0 real rows without synthetic rows: nothing to train on, no model (skipped)")
        results = curve(args, real, synthetic, Path(tmp_name))
    seconds = time.perf_counter() - started
    cfg = params.load("train", args.params)
    setting = (f"{args.model or cfg.model}, {args.epochs or cfg.epochs:g} epochs, {args.seeds} seeds, "
               f"{len(synthetic):,} synthetic rows")
    print(f"\nCPU: {cpu_model()} ({len(os.sched_getaffinity(0))} cores); {setting}; wall {seconds:.0f} s")
    print(table(results, args.sizes))
    source = f"stand-in rows from {Path(args.stand_in).name}, not real data" if args.stand_in else args.real.name
    plot(results, args.sizes, args.png, f"held out: {source}\n{setting}")
    print(f"wrote {args.png}")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("real", type=Path, help="real annotated CSV (UTF-8, with a header)")
    p.add_argument("--text-column", default="text", help="column holding the text (default: text)")
    p.add_argument("--label-column", default="label", help="column holding the label (default: label)")
    p.add_argument("--label-map", default="", help="REAL=TASK label renames, comma-separated (bait=clickbait)")
    p.add_argument("--task", default=None, help="task file of the synthetic rows (default: generate.task)")
    p.add_argument("--n-per-label", type=int, default=0, help="generate.n_per_label (default: params.yaml's)")
    p.add_argument("--sizes", default="0,8,32,128", help="real rows per label, comma-separated (default 0,8,32,128)")
    p.add_argument("--seeds", type=int, default=3, help="seeds: base.seed, base.seed + 1, ... (default 3)")
    p.add_argument("--min-test", type=int, default=50, help="held-out real rows needed per label (default 50)")
    p.add_argument("--epochs", type=float, default=0, help="train.epochs (default: params.yaml's)")
    p.add_argument("--model", default=None, help="train.model: hub id or local directory (default: params.yaml's)")
    p.add_argument("--png", type=Path, default=ROOT / "benchmarks" / "real_vs_synthetic.png", help="figure to write")
    p.add_argument("--stand-in", default=None, help="first write REAL.csv from this task file's templates")
    p.add_argument("--stand-in-per-label", type=int, default=600, help="stand-in rows per label (default 600)")
    p.add_argument("--verbose", action="store_true", help="the stages' INFO logs")


if __name__ == "__main__":
    sys.exit(cli.main(__doc__.splitlines()[0], add_arguments, body))
