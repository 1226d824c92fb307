"""Stage explain: LIME explanations of the test mismatches and the tokens that recur across them.

Explains the mismatches most confident first, plus a few confident correct predictions per label as contrast.
For a multi-label model (label sets in predictions.csv) each wrongly decided label of a mismatch is explained on
its own sigmoid: what pushes toward a missed label's absence or an extra label's presence.

Reads: the model directory and predictions.csv from evaluate. Writes the directory --out: mismatches.md,
explanations.json, spurious_tokens.png and html/ (a static page per example: weights toward predicted and true).
Params: base.seed, explain.*
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from stages.core import cli, params
from stages.explanation import lime_runner, multilabel, pages, patterns, rounds, selection

log = logging.getLogger(__name__)


def summarize(chosen: selection.Selection, results: lime_runner.Results, cfg: params.Explain,
              multi_label: bool = False) -> dict[str, Any]:
    """explanations.json: counts, the settings, how many examples stopped for each reason (explanation/rounds.py),
    the spurious patterns and every explained example with its samples and stop reason (a multi-label model's:
    `multi_label` true, each example with its explained labels; patterns per wrong label)."""
    examples = [item for item, _ in results.mismatches]
    everyone = examples + [item for item, _ in results.contrast]
    return {**({"multi_label": True} if multi_label else {}), "mismatches": chosen.total, "explained": len(examples), "skipped_no_words": chosen.skipped,
            "num_samples": cfg.num_samples, "num_features": cfg.num_features, "mode": cfg.mode,
            **({"min_samples": cfg.min_samples, "tolerance": cfg.tolerance, "max_seconds": cfg.max_seconds}
               if cfg.mode == "converge" else {}),
            "stopped": {why: n for why in rounds.STOPS if (n := sum(e["stopped"] == why for e in everyone))},
            "perturbations": {"requested": results.requested, "predicted": results.predicted},
            "patterns": patterns.spurious_patterns(multilabel.pattern_examples(examples), cfg.pattern_tokens),
            "examples": examples, "contrast": [item for item, _ in results.contrast]}


def run(*, cfg: params.Explain, seed: int, model_dir: Path, predictions: Path, out: Path) -> dict[str, Any]:
    multi = lime_runner.is_multi_label_model(model_dir)
    chosen = selection.choose(selection.read_predictions(predictions), cfg, multi)
    results = lime_runner.explain_selection(chosen, model_dir, predictions, cfg, seed)
    summary = summarize(chosen, results, cfg, multi)
    pages.write_reports(out, summary, results.mismatches + results.contrast)
    log.info("explained %d of %d mismatches and %d correct rows", summary["explained"], chosen.total,
             len(results.contrast))
    return summary


def main(argv: list[str] | None = None) -> int:
    def add(p: argparse.ArgumentParser) -> None:
        p.add_argument("--model", required=True, type=Path, help="trained model directory")
        p.add_argument("--predictions", required=True, type=Path, help="predictions.csv from evaluate")
        p.add_argument("--out", required=True, type=Path, help="directory for the explanation reports")

    def body(args: argparse.Namespace) -> None:
        cli.require_model_dir(args.model)
        seed = params.load("base", args.params).seed
        run(cfg=params.load("explain", args.params), seed=seed, model_dir=args.model, predictions=args.predictions,
            out=args.out)

    return cli.main(__doc__.splitlines()[0], add, body, argv,
                    example="python -m stages.explain --model models/classifier --predictions reports/eval/predictions.csv --out reports/explain")  # as dvc.yaml runs it


if __name__ == "__main__":
    raise SystemExit(main())
