"""audit.md, and the headline lines that report.md shows under "Synthetic against real" (both from audit.json)."""

from __future__ import annotations

from typing import Any

from stages.core.audit_report import AuditReport
from stages.core.markdown import code, fixed, fmt, table
from stages.core.text import md_escape

HOW = ("How: synthetic rows are train.csv and val.csv rows whose source is not real; the reference is the role-dev "
       "sets of evaluate.external_test and the generate.real rows of train/val, each text once. Discriminability: "
       "logistic regression (C 1, balanced class weights) on TF-IDF (word 1-2-grams, char 2-5-grams) or on the "
       "standardised frozen-encoder embeddings (train.model, mean-pooled), ROC-AUC averaged over held-out folds "
       "grouped by text, seeded by base.seed. Coverage: cosine distance of the embeddings; threshold = the median "
       "distance from a real row to its nearest other real row. Distinct n-grams per 1,000 n-grams in windows of "
       "the same number of rows on both sides (100, or the smaller side's count), averaged.")


def _auc(entry: dict[str, Any]) -> str:
    return fmt(entry.get("roc_auc"))


def headline(audit: AuditReport) -> list[str]:
    """The figures a reviewer reads first, as bullet lines (or one line saying why nothing was measured)."""
    if audit.reason:
        return [f"Not measured: {md_escape(audit.reason)}."]
    d, c = audit.discriminability, audit.coverage
    syn, real = audit.diversity["synthetic"], audit.diversity["real"]
    labels = sorted(set(audit.label_shares["synthetic"]) | set(audit.label_shares["real"]))
    shares = ", ".join(f"{md_escape(lab)} {audit.label_shares['synthetic'].get(lab, 0):.1%} / "
                       f"{audit.label_shares['real'].get(lab, 0):.1%}" for lab in labels)
    origin = (f"; the largest origin, {code(syn['largest_origin'])}, holds {syn['largest_origin_share']:.1%} of the "
              "synthetic rows" if syn.get("largest_origin") else "")
    return [
        f"- compared: {fmt(audit.synthetic_rows)} synthetic rows (train and val) with {fmt(audit.real_rows)} real rows "
        f"({', '.join(code(r) for r in audit.reference)})",
        f"- discriminability, cross-validated ROC-AUC of a classifier told to separate them (0.5: indistinguishable, "
        f"1: always told apart): TF-IDF + LR {_auc(d['tfidf_lr'])}, frozen encoder + LR {_auc(d['frozen_lr'])}",
        f"- coverage: {c['share']:.1%} of the real rows have a synthetic row nearer than the median real-to-real "
        f"nearest-neighbour distance ({c['threshold']:.3f}, cosine distance of the frozen encoder's embeddings)",
        f"- diversity, synthetic / real: distinct 2-grams per 1,000 {fixed(syn['distinct_2'], 1)} / "
        f"{fixed(real['distinct_2'], 1)}; "
        f"mean pairwise cosine similarity {fmt(syn['mean_pairwise_similarity'])} / "
        f"{fmt(real['mean_pairwise_similarity'])}{origin}",
        f"- label shares, synthetic / real: {shares}",
    ]


def markdown(audit: AuditReport) -> str:
    """audit.md: the headline, then the tables behind it and the rows to look at."""
    lines = ["# Synthetic against real", "", *headline(audit)]
    if audit.reason:
        return "\n".join(lines) + "\n"
    syn, real = audit.diversity["synthetic"], audit.diversity["real"]
    measures = [("rows", "rows", 0), ("rows per distinct-n window", "window", 0),  # (name, key, decimals)
                ("distinct 1-grams per 1,000 tokens", "distinct_1", 1),
                ("distinct 2-grams per 1,000 2-grams", "distinct_2", 1),
                ("mean pairwise cosine similarity", "mean_pairwise_similarity", 3),
                ("share of the largest origin", "largest_origin_share", 3)]
    lines += ["", "## Diversity", "", *table(["measure", "synthetic", "real"], [
        [name, fixed(syn.get(key), places), fixed(real.get(key), places)] for name, key, places in measures])]
    lines += ["", "## Discriminability", "", *table(["classifier", "ROC-AUC", "folds"], [
        [code(name), entry.get("roc_auc"), entry.get("folds")] for name, entry in audit.discriminability.items()])]
    labels = sorted(set(audit.label_shares["synthetic"]) | set(audit.label_shares["real"]))
    lines += ["", "## Label shares", "", *table(["label", "synthetic", "real"], [
        [md_escape(lab), audit.label_shares["synthetic"].get(lab, 0.0), audit.label_shares["real"].get(lab, 0.0)]
        for lab in labels])]
    unreal = [[md_escape(r["set"]), r["row"], md_escape(r["text"]), md_escape(r["label"]), code(r["origin"]),
               r["p_synthetic"]] for r in audit.most_unreal]
    lines += ["", "## Most unreal synthetic rows", "", "Highest out-of-fold P(synthetic), the mean of both "
              "classifiers'.", "", *table(["set", "row", "text", "label", "origin", "P(synthetic)"], unreal, 5)]
    uncovered = [[md_escape(r["set"]), r["row"], md_escape(r["text"]), md_escape(r["label"]), r["distance"]]
                 for r in audit.least_covered]
    lines += ["", "## Least covered real rows", "", "Largest cosine distance to the nearest synthetic row.", "",
              *table(["set", "row", "text", "label", "distance"], uncovered, 4)]
    return "\n".join(lines + ["", HOW]) + "\n"
