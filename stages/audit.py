"""Stage audit: how far the synthetic rows sit from real data, before anyone trusts a model trained on them.

Reads: data/split/train.csv and val.csv (synthetic rows: those whose source is not real; the test split is left
out), the role-dev sets of evaluate.external_test under the external directory (role test sets are never opened)
and the real rows of train/val (source real: generate.real), which form the real reference (auditing/rows.py);
reports/data/dataset.json (multi-label or not). Writes: reports/data/audit.json (core/audit_report.AuditReport)
and audit.md: discriminability, coverage, diversity, label shares, the most unreal synthetic rows and the least
covered real rows (auditing/measures.py). Params: base.seed, train.model (the frozen encoder),
evaluate.external_test. It runs beside train (train does not depend on it) and never stops a run for want of a
reference: without one it writes only the reason, without loading torch.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path
from typing import Any

from stages.auditing import measures, render
from stages.auditing.rows import Rows, dev_rows, reference, sample, split_rows
from stages.core import cli, contracts, modeling, params
from stages.core.audit_report import AuditReport
from stages.core.io import write_text
from stages.core.labelsets import label_names

log = logging.getLogger(__name__)
MAX_ROWS = 10_000       # rows per side (drawn with base.seed beyond it): bounds the embedding time
EMBED_MAX_LENGTH = 64   # tokens embedded per text (as evaluate.baselines.max_length's default)
EMBED_BATCH = 128


def collect(split_dir: Path, external_dir: Path, cfg: params.Evaluate, multi: bool,
            seed: int) -> tuple[Rows, Rows, list[str]]:
    """The synthetic rows, the real reference and what it holds (each side at most MAX_ROWS rows)."""
    synthetic, real = split_rows(split_dir)
    labels = label_names(synthetic.labels + real.labels, multi)
    ref, names = reference(dev_rows(cfg, external_dir, labels, multi), real)
    log.info("audit: %s synthetic rows (train and val) against %s real rows (%s)", f"{len(synthetic):,}",
             f"{len(ref):,}", ", ".join(names) or "none")
    return sample(synthetic, MAX_ROWS, seed), sample(ref, MAX_ROWS, seed), names


def why_not(synthetic: Rows, ref: Rows, names: list[str]) -> str | None:
    """Why nothing can be measured, or None."""
    if not names:
        return ("no real reference: evaluate.external_test has no role-dev set sharing a label with the data, and "
                "train.csv/val.csv hold no real rows (generate.real)")
    if len(synthetic) < 2 or len(ref) < 2:
        return (f"too few rows to compare: {len(synthetic)} synthetic rows in train/val and {len(ref)} distinct real "
                "rows; need at least 2 of each")
    return None


def embed(model_name: str, texts: list[str]) -> Any:
    """Mean-pooled embeddings of the frozen encoder `train.model` (fp32)."""
    model, tokenizer = modeling.load_encoder(model_name, "the audit's frozen encoder")
    return modeling.embed(model, tokenizer, texts, EMBED_BATCH, EMBED_MAX_LENGTH)


def measure(synthetic: Rows, ref: Rows, names: list[str], model_name: str, seed: int, multi: bool) -> AuditReport:
    """Every measure of auditing/measures.py on the two sides."""
    emb = embed(model_name, synthetic.texts + ref.texts)
    emb_syn, emb_ref = emb[:len(synthetic)], emb[len(synthetic):]
    unit_syn, unit_ref = measures.unit(emb_syn), measures.unit(emb_ref)
    discriminability, p_synthetic = measures.discriminability(synthetic, ref, emb_syn, emb_ref, seed)
    coverage, distance = measures.coverage(unit_syn, unit_ref)
    window = min(measures.WINDOW, len(synthetic), len(ref))
    return AuditReport(
        reference=names, reason=None, synthetic_rows=len(synthetic), real_rows=len(ref),
        discriminability=discriminability, coverage=coverage,
        diversity={"synthetic": measures.diversity(synthetic, unit_syn, window, seed, origins=True),
                   "real": measures.diversity(ref, unit_ref, window, seed, origins=False)},
        label_shares={"synthetic": measures.label_shares(synthetic.labels, multi),
                      "real": measures.label_shares(ref.labels, multi)},
        most_unreal=measures.most_unreal(synthetic, p_synthetic), least_covered=measures.least_covered(ref, distance))


def run(*, seed: int, model: str, evaluate: params.Evaluate, split_dir: Path, external_dir: Path, out_json: Path,
        out_md: Path, dataset: Path | None = None) -> dict[str, Any]:
    """Write audit.json and audit.md; returns what audit.json holds."""
    started = time.perf_counter()
    multi = dataset is not None and contracts.DatasetInfo.read(dataset).multi_label
    synthetic, ref, names = collect(split_dir, external_dir, evaluate, multi, seed)
    reason = why_not(synthetic, ref, names)
    audit = (AuditReport(reference=names, reason=reason, synthetic_rows=len(synthetic), real_rows=len(ref)) if reason
             else measure(synthetic, ref, names, model, seed, multi))
    audit.write(out_json)
    write_text(out_md, render.markdown(audit))
    if reason:
        log.warning("audit: nothing measured: %s", reason)
    else:
        log.info("audit: ROC-AUC %s (TF-IDF + LR), %s (frozen encoder + LR); coverage %.1f%%; in %.1f s",
                 audit.discriminability["tfidf_lr"]["roc_auc"], audit.discriminability["frozen_lr"]["roc_auc"],
                 100 * audit.coverage["share"], time.perf_counter() - started)
    return audit.to_dict()


def main(argv: list[str] | None = None) -> int:
    def add(p: argparse.ArgumentParser) -> None:
        p.add_argument("--split", required=True, type=Path, help="directory holding train.csv and val.csv")
        p.add_argument("--external", required=True, type=Path, help="directory of the evaluate.external_test files")
        p.add_argument("--dataset", type=Path, help="dataset.json from generate (multi-label data: label sets)")
        p.add_argument("--json", required=True, type=Path, help="audit.json to write")
        p.add_argument("--md", required=True, type=Path, help="audit.md to write")

    def body(args: argparse.Namespace) -> None:
        run(seed=params.load("base", args.params).seed, model=params.load("train", args.params).model,
            evaluate=params.load("evaluate", args.params), split_dir=args.split, external_dir=args.external,
            out_json=args.json, out_md=args.md, dataset=args.dataset)

    return cli.main(__doc__.splitlines()[0], add, body, argv,
                    example="python -m stages.audit --split data/split --external data/external --dataset "
                            "reports/data/dataset.json --json reports/data/audit.json --md reports/data/audit.md")


if __name__ == "__main__":
    raise SystemExit(main())
