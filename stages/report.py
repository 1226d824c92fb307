"""Stage report: reports/report.md, the one page a pull-request reviewer reads, and its training-curves PNG.

Reads (each optional but quality.json and metrics.json): the data-quality and split reports, the train
summary and DVCLive curves, metrics.json, the eval directory (confusion.png, baselines.json, summary.md) and
the explain directory (explanations.json). Writes: the report and a PNG of the training curves. No params.
Every link is relative to the report and every value that could hold a machine path is shortened.
"""

from __future__ import annotations

import argparse
import csv
import logging
import os
from pathlib import Path
from typing import Any

from stages.core import cli, provenance
from stages.core.io import read_json, write_text
from stages.core.plotting import pyplot, save_png
from stages.core.markdown import code, fmt, signed, table
from stages.core.text import md_escape

log = logging.getLogger(__name__)
HEADLINE = (("accuracy", "accuracy"), ("f1_macro", "macro F1"), ("f1_weighted", "weighted F1"),
            ("precision_macro", "macro precision"), ("recall_macro", "macro recall"), ("roc_auc", "ROC AUC"),
            ("ece", "calibration error (ECE)"))
TOP_SHORTCUTS = 5


def git_revision(cwd: Path) -> str:
    """HEAD when the report was built (the commit the run started from), shortened; 'unknown' outside git."""
    rev = provenance.git_state(cwd)["git_rev"]
    return rev[:12] if rev else "unknown"


def optional_json(path: Path | None, name: str = "") -> Any:
    path = path / name if path is not None and name else path
    return read_json(path) if path is not None and path.is_file() else None


def read_tsv(path: Path, column: str) -> list[tuple[int, float]]:
    """(step, value) rows of a DVCLive plot file; [] when it is missing."""
    if not path.is_file():
        return []
    rows = csv.DictReader(path.read_text(encoding="utf-8").splitlines(), delimiter="\t")
    return [(int(r["step"]), float(r[column])) for r in rows if r.get(column)]


def plot_curves(train_dir: Path, path: Path) -> bool:
    """Loss (train, val) and val macro-F1 per epoch from the DVCLive logs; False when there are none."""
    metrics = train_dir / "plots" / "metrics"
    series = {"train loss": read_tsv(metrics / "loss.tsv", "loss"),
              "val loss": read_tsv(metrics / "eval" / "loss.tsv", "loss"),
              "val macro-F1": read_tsv(metrics / "eval" / "f1_macro.tsv", "f1_macro")}
    if not any(series.values()):
        return False
    epoch = dict(read_tsv(metrics / "epoch.tsv", "epoch"))  # DVCLive steps count log calls, not epochs
    from matplotlib.ticker import MaxNLocator

    fig, (left, right) = pyplot().subplots(1, 2, figsize=(8.0, 3.2), dpi=100)
    for ax, names in ((left, ("train loss", "val loss")), (right, ("val macro-F1",))):
        for name in names:
            if series[name]:
                xs = [epoch.get(step, step) for step, _ in series[name]]
                ax.plot(xs, [v for _, v in series[name]], marker="o", label=name)
        ax.set(xlabel="epoch" if epoch else "DVCLive step", title=" and ".join(names))
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend()
    save_png(fig, path)
    return True


def ci(test: dict[str, Any], key: str) -> str:
    lo, hi = test.get(f"{key}_ci_low"), test.get(f"{key}_ci_high")
    return f"{lo:.3f} – {hi:.3f}" if isinstance(lo, (int, float)) and isinstance(hi, (int, float)) else "—"


def header(quality: dict | None, split: dict | None, summary: dict | None, revision: str) -> list[str]:
    provider = (quality or {}).get("provider") or {}
    provider = provider if isinstance(provider, dict) else {"provider": provider}
    facts = [f"- task: **{fmt(provider.get('task', '—'))}**, provider {code(provider.get('provider', '—'))}"]
    if summary:
        facts.append(f"- base model: {code(summary.get('base_model', '—'))}, trained on "
                     f"{fmt(summary.get('device', '—'))}")
    if quality:
        facts.append(f"- rows: {fmt(quality.get('rows_read'))} generated, {fmt(quality.get('rows_kept'))} kept")
    if split and isinstance(split.get("splits"), dict):
        sizes = ", ".join(f"{name} {fmt(s.get('rows'))}" for name, s in split["splits"].items())
        facts.append(f"- split: {sizes}")
    facts.append(f"- git revision: {code(revision)} (HEAD when this report was built)")
    return ["# Model report", "", *facts]


def warnings(quality: dict | None, summary: dict | None) -> list[str]:
    found = []
    if quality and quality.get("shortcut_warning"):
        top = (quality.get("shortcuts") or [{}])[0]
        found.append(f"- **Shortcut**: {code(top.get('feature', '?'))} alone predicts the label with accuracy "
                     f"{fmt(top.get('accuracy'))}: the model may learn it instead of the task.")
    if summary and summary.get("overfitting_warning"):
        found.append(f"- **Overfitting**: {md_escape(str(summary['overfitting_warning']))}")
    return ["", "## Warnings", "", *found] if found else []


def metrics_section(test: dict[str, Any], external: Any) -> list[str]:
    rows = [[name, test[key], ci(test, key)] for key, name in HEADLINE if isinstance(test.get(key), (int, float))]
    out = ["", "## Test metrics", "", f"{fmt(test.get('rows'))} held-out test rows; intervals are bootstrap "
           "confidence intervals where evaluate computed them.", "", *table(["metric", "value", "interval"], rows)]
    if isinstance(external, dict) and external:
        rows = [[md_escape(name), r.get("rows"), r.get("f1_macro"), ci(r, "f1_macro"), r.get("f1_macro_gap")]
                for name, r in external.items() if isinstance(r, dict)]
        out += ["", "### Real (external) test sets", "",
                *table(["set", "rows", "macro F1", "interval", "gap to synthetic test"], rows)]
    per_label = test.get("per_label") or {}
    if per_label:
        rows = [[md_escape(lab), v.get("precision"), v.get("recall"), v.get("f1"), v.get("support")]
                for lab, v in per_label.items()]
        out += ["", "### Per label", "", *table(["label", "precision", "recall", "F1", "support"], rows)]
    return out


def baselines_section(baselines: dict | None) -> list[str]:
    models = (baselines or {}).get("models")
    if not isinstance(models, dict) or not models:
        return []
    rows = []
    for name, row in models.items():
        row = row if isinstance(row, dict) else {}
        test = row.get("test", row)
        rows.append([code(name), test.get("accuracy"), test.get("f1_macro"), ci(test, "f1_macro"),
                     signed(test.get("fine_tuned_gain_f1_macro")), row.get("train_seconds")])
    return ["", "## Baselines (test split)", "",
            *table(["model", "accuracy", "macro F1", "macro-F1 interval", "fine-tuned gain", "train seconds"], rows)]


TRAINING = {"epochs": "epochs", "best_epoch": "kept epoch", "train_rows": "train rows", "val_rows": "validation rows",
            "best_val_f1_macro": "best validation macro F1", "train_loss": "final train loss", "precision": "numeric precision",
            "train_seconds": "train seconds", "device": "device", "peak_memory_mb": "peak memory (MB)",
            "trainable_parameters": "trainable parameters"}


def training_section(summary: dict | None, curves: str | None) -> list[str]:
    if not summary and not curves:
        return []
    rows = [[name, summary[k]] for k, name in TRAINING.items() if summary and summary.get(k) is not None]
    out = ["", "## Training", ""] + (table(["", "value"], rows) if rows else [])
    return out + (["", f"![Training curves]({curves})"] if curves else [])


def quality_section(quality: dict | None, link: str | None) -> list[str]:
    if not quality:
        return []
    dropped = quality.get("dropped") or {}
    out = ["", "## Data quality", "", f"{fmt(quality.get('rows_read'))} rows read, {fmt(quality.get('rows_kept'))} "
           f"kept; dropped: {', '.join(f'{fmt(n)} {md_escape(r)}' for r, n in dropped.items()) or 'none'}."]
    per_label = quality.get("per_label") or {}
    if per_label:
        rows = [[md_escape(lab), v.get("before"), v.get("after")] for lab, v in per_label.items()]
        out += ["", *table(["label", "rows before cleaning", "rows kept"], rows)]
    shortcuts = quality.get("shortcuts") or []
    if shortcuts:
        rows = [[code(s.get("feature", "?")), s.get("accuracy")] for s in shortcuts[:TOP_SHORTCUTS]]
        out += ["", "Surface features that predict the label on their own (accuracy of that feature alone):", "",
                *table(["feature", "accuracy"], rows)]
    return out + (["", f"Full report: [data quality]({link})"] if link else [])


def mismatches_section(explained: dict | None, explain_dir: Path, rel: Any) -> list[str]:
    if not explained:
        return []
    out = ["", "## Top mismatches", "",
           f"{explained.get('explained', 0)} of {explained.get('mismatches', 0)} test mismatches explained with LIME, "
           "most confident first; tokens pushing toward the (wrong) prediction, strongest first."]
    rows = []
    for i, ex in enumerate(explained.get("examples") or [], 1):
        tokens = ", ".join(f"{md_escape(str(t))} ({w:+.2f})" for t, w in ex.get("weights", []) if w > 0) or "—"
        page = explain_dir / str(ex.get("html", ""))
        number = f"[{i}]({rel(page)})" if ex.get("html") and page.is_file() else str(i)
        rows.append([number, md_escape(str(ex.get("text", ""))), md_escape(str(ex.get("true", ""))),
                     md_escape(str(ex.get("predicted", ""))), ex.get("confidence"), tokens])
    if rows:
        out += ["", *table(["#", "text", "true", "predicted", "confidence", "LIME tokens"], rows, right_from=6)]
    patterns = [[f"{md_escape(str(p.get('true')))} → {md_escape(str(p.get('predicted')))}",
                 ", ".join(f"{md_escape(str(t.get('token')))} ({t.get('count')})" for t in p.get("tokens", [])[:6]),
                 p.get("mismatches")] for p in (explained.get("patterns") or [])[:5] if isinstance(p, dict)]
    if patterns:
        out += ["", "Tokens that recur in the mistakes (in how many mismatches each pushed toward the wrong label):",
                "", *table(["true → predicted", "tokens", "mismatches"], patterns, right_from=2)]
    if (explain_dir / "spurious_tokens.png").is_file():
        out += ["", f"![Tokens behind the mistakes]({rel(explain_dir / 'spurious_tokens.png')})"]
    if (explain_dir / "mismatches.md").is_file():
        out += ["", f"All explanations: [mismatches]({rel(explain_dir / 'mismatches.md')})"]
    return out


def run(quality_path: Path, split_path: Path | None, train_dir: Path | None, metrics_path: Path,
        eval_dir: Path | None, explain_dir: Path | None, out: Path, curves_png: Path) -> dict[str, Any]:
    def rel(target: Path) -> str:
        return Path(os.path.relpath(target.resolve(), out.resolve().parent)).as_posix()

    quality = read_json(quality_path)
    metrics = read_json(metrics_path)
    test = metrics.get("test", {}) if isinstance(metrics, dict) else {}
    split, summary = optional_json(split_path), optional_json(train_dir, "summary.json")
    baselines, explained = optional_json(eval_dir, "baselines.json"), optional_json(explain_dir, "explanations.json")
    if not (has_curves := bool(train_dir) and plot_curves(train_dir, curves_png)):
        curves_png.unlink(missing_ok=True)  # no stale image from an earlier run
    lines = header(quality, split, summary, git_revision(out.resolve().parent))
    lines += warnings(quality, summary) + metrics_section(test, metrics.get("external"))
    lines += baselines_section(baselines)
    if eval_dir and (eval_dir / "confusion.png").is_file():
        lines += ["", "## Confusion matrix", "", f"![Test confusion matrix]({rel(eval_dir / 'confusion.png')})"]
    if eval_dir and (eval_dir / "summary.md").is_file():
        lines += ["", f"Calibration, curves and slices: [evaluation summary]({rel(eval_dir / 'summary.md')})"]
    lines += training_section(summary, rel(curves_png) if has_curves else None)
    quality_md = quality_path.with_suffix(".md")
    lines += quality_section(quality, rel(quality_md) if quality_md.is_file() else None)
    lines += mismatches_section(explained, explain_dir, rel) if explain_dir else []
    write_text(out, "\n".join(lines) + "\n")
    log.info("wrote %s (%s lines)", out, len(lines))
    return {"lines": len(lines), "curves": has_curves, "warnings": bool(warnings(quality, summary))}


def main(argv: list[str] | None = None) -> int:
    def add(p: argparse.ArgumentParser) -> None:
        p.add_argument("--quality", required=True, type=Path, help="quality.json from generate")
        p.add_argument("--split", type=Path, help="split.json from split")
        p.add_argument("--train", type=Path, help="train reports directory (summary.json, DVCLive plots)")
        p.add_argument("--metrics", required=True, type=Path, help="metrics.json from evaluate")
        p.add_argument("--eval", type=Path, help="eval reports directory (confusion.png, baselines.json)")
        p.add_argument("--explain", type=Path, help="explain reports directory (explanations.json)")
        p.add_argument("--out", required=True, type=Path, help="report.md to write")
        p.add_argument("--curves", required=True, type=Path, help="training-curves PNG to write")

    def body(args: argparse.Namespace) -> None:
        run(args.quality, args.split, args.train, args.metrics, args.eval, args.explain, args.out, args.curves)

    return cli.main(__doc__.splitlines()[0], add, body, argv)


if __name__ == "__main__":
    raise SystemExit(main())
