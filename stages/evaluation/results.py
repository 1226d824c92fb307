"""baselines.json, the evaluate stage's table of every model on every set, and the log lines that sum it up.

Per model and set: the scores with intervals and paired gains (evaluate.score_set), whether the model collapsed
there (core/verdicts.collapsed: a majority guess, reported as such), and on a real set the synthetic-to-real gap
(test-split macro-F1 minus the set's) with an interval from the two sets' bootstrap resamples. The table also
records each set's role (synthetic for the test split; dev or test for a real set, evaluate.external_test[i].role),
the real sets skipped as another task's, and the seed of the run.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from stages.core import labelsets
from stages.core.verdicts import MODEL_NAMES, collapse_note, collapsed
from stages.evaluation import metrics

log = logging.getLogger(__name__)
SYNTHETIC = "synthetic"  # the test split's role: generated like the training data, it measures fit to the generator


def collapse_of(pred: Any, y: Any, labels: list[str], multi_label: bool) -> dict[str, Any] | None:
    """core/verdicts.collapsed on one model's decisions on one set: label indices (len(labels): no label, an LLM
    abstention) or, for a multi-label model, 0/1 rows compared as whole label sets ("" = none)."""
    if multi_label:
        return collapsed(labelsets.from_multi_hot(pred, labels), labelsets.from_multi_hot(y, labels))
    names = [*labels, ""]
    return collapsed([names[i] for i in pred], [names[i] for i in y])


def gap(test_row: dict[str, Any], row: dict[str, Any], test_boot: Any, boot: Any, level: float) -> dict[str, Any]:
    """The synthetic-to-real gap of one model: test-split macro-F1 minus the real set's, with the percentile
    interval of the same difference over the two sets' resamples (independent sets: resample i of one minus
    resample i of the other)."""
    lo, hi = metrics.interval(test_boot - boot, level)
    return {"f1_macro_gap": metrics.r6(test_row["f1_macro"] - row["f1_macro"]), "f1_macro_gap_ci_low": lo,
            "f1_macro_gap_ci_high": hi}


def baselines_table(resamples: int, confidence: float, seed: int, roles: dict[str, str], skipped: Sequence[str],
                    train_seconds: dict[str, float | None], extras: dict[str, dict[str, Any]],
                    scores: dict[str, dict[str, Any]], boots: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """baselines.json: each model's train seconds and its scores per set (`roles` names the sets, the test split
    first); on a real set also the gap to the test split."""
    models: dict[str, Any] = {}
    for k, seconds in train_seconds.items():
        models[k] = {"train_seconds": seconds, **extras.get(k, {})}
        no_verdict = (models[k].get("llm") or {}).get("no_verdict")  # every LLM answer abstained: llm_baseline.py
        for s in roles:
            row = dict(scores[s][k])
            if s != "test":
                row.update(gap(scores["test"][k], row, boots["test"][k]["f1_macro"], boots[s][k]["f1_macro"],
                               confidence))
            if no_verdict:
                row["no_verdict"] = no_verdict
            row["collapsed"] = row.pop("collapsed", None)  # last: the verdict's caveat after the numbers
            models[k][s] = row
    table = {"resamples": resamples, "confidence": confidence, "seed": seed, "sets": list(roles), "roles": roles}
    return table | ({"skipped_sets": list(skipped)} if skipped else {}) | {"models": models}


def log_results(test: Any, external: dict[str, Any], table: dict[str, Any], wrong: int) -> None:
    """The headline numbers (`test`: the TestMetrics of the test split; `external`: the fine-tuned model's real-set
    rows; `wrong`: its test mismatches) and a warning per collapsed model or baseline without a verdict."""
    log.info("test: %s rows, %saccuracy %.4f, macro-F1 %.4f [%.4f, %.4f], ECE %.4f, %s mismatches", f"{test.rows:,}",
             "subset " if test.multi_label else "", test.accuracy, test.f1_macro, test.f1_macro_ci_low,
             test.f1_macro_ci_high, test.ece, wrong)
    if test.multi_label:
        log.info("test: micro-F1 %.4f, samples-F1 %.4f, hamming loss %.4f", test.f1_micro, test.f1_samples,
                 test.hamming_loss)
    for s, row in external.items():
        log.info("real set %s (%s): %s rows, macro-F1 %.4f (gap %+.4f [%+.4f, %+.4f])", s, table["roles"][s],
                 f"{row['rows']:,}", row["f1_macro"], row["f1_macro_gap"], row["f1_macro_gap_ci_low"],
                 row["f1_macro_gap_ci_high"])
    for k, model in table["models"].items():
        found = [f"{s}: {collapse_note('it', model[s]['collapsed'], markdown=False)}" for s in table["sets"]
                 if model[s].get("collapsed")]
        if (model.get("llm") or {}).get("no_verdict"):  # every LLM answer abstained (llm_baseline.py)
            log.warning("%s: no verdict: %s", MODEL_NAMES.get(k, k), model["llm"]["no_verdict"])
        elif found:  # the majority baseline collapses by design: told, not warned about
            log.log(logging.INFO if k == "majority" else logging.WARNING, "%s collapsed onto one label (reported as "
                    "collapsed, never within noise); %s", MODEL_NAMES.get(k, k), "; ".join(found))
