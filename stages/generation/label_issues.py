"""Rows whose label looks wrong: confident learning (cleanlab's find_label_issues) on out-of-fold probabilities
of a cheap model (TF-IDF + logistic regression, stratified k-fold cross-validation seeded with base.seed).

`generate.label_filter: none` only reports them (quality.json's label_issues); `confident_learning` drops the
flagged synthetic rows (template or LLM; counted as dropped.label_issue). Rows a person labelled (generate.real
and the csv provider's) are reported, never dropped: their labels are the reference. Same rows and seed, same report.
Multi-label data (label-set cells): one-vs-rest TF-IDF+LR probabilities, out of fold over iterative-stratified
folds (iterstrat's MultilabelStratifiedKFold), and cleanlab's `multi_label=True`; a row's self-confidence is the
lowest probability its given yes/no gets over the labels, and the suggested set is every label at >= 0.5.
Each listed row carries its origin (core/origin.py); `origins` counts the flagged rows per template or prompt
(origin.slice_of) with their least self-confident rows, so `synthbert focus` lists those to fix, never to weight.
"""

from __future__ import annotations

import collections
from typing import Any

from stages.core.contracts import REAL_SOURCE
from stages.core.labelsets import join_labels, label_names, multi_hot, split_labels
from stages.core.origin import slice_of, slice_order
from stages.generation.csv_provider import SOURCE_PREFIX as CSV_SOURCE_PREFIX

FOLDS = 5  # cross-validation folds: every label needs at least this many rows
TOP_EXAMPLES = 10  # flagged rows listed in the report, least self-confident first
ORIGIN_EXAMPLES = 5  # flagged rows listed per origin (template or prompt), least self-confident first
METHOD = "confident learning (cleanlab find_label_issues) on out-of-fold TF-IDF+LR probabilities"
METHOD_MULTI = ("confident learning (cleanlab find_label_issues, multi_label) on out-of-fold one-vs-rest TF-IDF+LR "
                "probabilities")


class Analyzed:
    """The TF-IDF features (unigrams and bigrams, as TfidfVectorizer(ngram_range=(1, 2)) makes them) of each
    text, made once: each fold's vectorizer is given row numbers and looks a row's features up here instead of
    analysing the text again (5 folds analysed each text 5 times). The same features in the same order, so the
    same vocabulary, matrices and probabilities. Shared by the clones cross-validation makes."""

    def __init__(self, texts: list[str]) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer

        analyze = TfidfVectorizer(ngram_range=(1, 2)).build_analyzer()
        self.features = [analyze(text) for text in texts]

    def __call__(self, row: Any) -> list[str]:
        return self.features[row]

    def __deepcopy__(self, memo: dict) -> "Analyzed":
        return self


def _model(texts: list[str], classifier: Any) -> tuple[Any, Any]:
    """TF-IDF (sublinear tf) + `classifier`, and the documents to give it: row numbers of `texts`."""
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_pipeline

    return make_pipeline(TfidfVectorizer(analyzer=Analyzed(texts), sublinear_tf=True), classifier), \
        np.arange(len(texts))


def out_of_fold(texts: list[str], y: list[int], seed: int) -> Any:
    """Probabilities (rows x labels) of each row from a model that never saw it."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    model, docs = _model(texts, LogisticRegression(max_iter=1000))
    folds = StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=seed)
    return cross_val_predict(model, docs, y, cv=folds, method="predict_proba")


def out_of_fold_multi(texts: list[str], y: Any, seed: int) -> Any:
    """One-vs-rest probabilities (rows x labels) of each row from a model that never saw it."""
    from iterstrat.ml_stratifiers import MultilabelStratifiedKFold
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_predict
    from sklearn.multiclass import OneVsRestClassifier

    model, docs = _model(texts, OneVsRestClassifier(LogisticRegression(max_iter=1000)))
    folds = MultilabelStratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=seed)
    return cross_val_predict(model, docs, y, cv=folds, method="predict_proba")


def _skipped(report: dict[str, Any], reason: str) -> tuple[dict[str, Any], list[int]]:
    return report | {"skipped": reason, "total": None, "per_label": None, "per_source": None, "examples": [],
                     "origins": None}, []


def _listed(rows: list[dict[str, str]], ranked: list[int], suggested: dict[int, str],
            confidence: dict[int, float]) -> dict[str, Any]:
    """`examples`: the TOP_EXAMPLES least self-confident flagged rows with their origin; `origins`: per template
    or prompt (origin.slice_of, in reading order), its flagged rows and the ORIGIN_EXAMPLES least self-confident."""
    def entry(i: int) -> dict[str, Any]:
        return {"text": rows[i]["text"], "label": rows[i]["label"], "suggested": suggested[i],
                "self_confidence": confidence[i], "source": rows[i]["source"], "origin": rows[i].get("origin", "")}

    per: dict[str, list[int]] = collections.defaultdict(list)
    for i in ranked:
        per[slice_of(rows[i].get("origin", ""))].append(i)
    origins = {name: {"flagged": len(per[name]), "examples": [entry(i) for i in per[name][:ORIGIN_EXAMPLES]]}
               for name in slice_order(per)}
    return {"examples": [entry(i) for i in ranked[:TOP_EXAMPLES]], "origins": origins}


def _summary(rows: list[dict[str, str]], flagged: list[int], names: dict[str, list[str]], labels: list[str],
             listed: dict[str, Any]) -> dict[str, Any]:
    """The counts of flagged rows per label (a label set counts for each of its labels) and per source."""
    return {"skipped": None, "total": len(flagged),
            "per_label": {lab: sum(lab in names[rows[i]["label"]] for i in flagged) for lab in labels},
            "per_source": {src: sum(rows[i]["source"] == src for i in flagged)
                           for src in sorted({r["source"] for r in rows})},
            **listed}


def find_multi(rows: list[dict[str, str]], seed: int, label_filter: str) -> tuple[dict[str, Any], list[int]]:
    """find() for multi-label rows (label-set cells)."""
    import numpy as np
    from cleanlab.filter import find_label_issues

    cells = [r["label"] for r in rows]
    labels = label_names(cells, multi_label=True)
    y = multi_hot(cells, labels)
    report: dict[str, Any] = {"method": METHOD_MULTI, "folds": FOLDS, "filter": label_filter}
    for j, lab in enumerate(labels):
        have = int(y[:, j].sum())
        for n, what in ((have, "rows with it"), (len(rows) - have, "rows without it")):
            if n < FOLDS:
                return _skipped(report, f"label {lab!r} has {n} {what}, fewer than the {FOLDS} cross-validation "
                                        "folds need")
    probs = out_of_fold_multi([r["text"] for r in rows], y, seed)
    given = [list(np.flatnonzero(row)) for row in y]
    mask = find_label_issues(labels=given, pred_probs=probs, multi_label=True, filter_by="prune_by_noise_rate",
                             n_jobs=1)
    flagged = [int(i) for i in np.flatnonzero(mask)]
    confidence = {i: round(float(np.where(y[i] == 1, probs[i], 1 - probs[i]).min()), 4) for i in flagged}
    ranked = sorted(flagged, key=lambda i: (confidence[i], rows[i]["text"]))
    names = {cell: split_labels(cell) for cell in set(cells)}
    suggested = {i: join_labels(lab for lab, p in zip(labels, probs[i]) if p >= 0.5) for i in flagged}
    return report | _summary(rows, flagged, names, labels, _listed(rows, ranked, suggested, confidence)), flagged


def find(rows: list[dict[str, str]], seed: int, label_filter: str,
         multi_label: bool = False) -> tuple[dict[str, Any], list[int]]:
    """quality.json's label_issues and the indices of the flagged rows (empty when skipped)."""
    if multi_label:
        return find_multi(rows, seed, label_filter)
    import numpy as np
    from cleanlab.filter import find_label_issues

    labels = sorted({r["label"] for r in rows})
    counts = collections.Counter(r["label"] for r in rows)
    report: dict[str, Any] = {"method": METHOD, "folds": FOLDS, "filter": label_filter}
    small = [lab for lab in labels if counts[lab] < FOLDS]
    if small:
        return _skipped(report, f"label {small[0]!r} has {counts[small[0]]} rows, fewer than the {FOLDS} "
                                "cross-validation folds need")
    y = [labels.index(r["label"]) for r in rows]
    probs = out_of_fold([r["text"] for r in rows], y, seed)
    mask = find_label_issues(np.asarray(y), probs, filter_by="prune_by_noise_rate", n_jobs=1)
    flagged = [int(i) for i in np.flatnonzero(mask)]
    confidence = {i: round(float(probs[i, y[i]]), 4) for i in flagged}
    ranked = sorted(flagged, key=lambda i: (confidence[i], rows[i]["text"]))
    suggested = {i: labels[int(probs[i].argmax())] for i in flagged}
    names = {lab: [lab] for lab in labels}
    return report | _summary(rows, flagged, names, labels, _listed(rows, ranked, suggested, confidence)), flagged


def human(source: str) -> bool:
    """Whether a row's label came from a person: a real row (generate.real) or a csv-provider row."""
    return source == REAL_SOURCE or source.startswith(CSV_SOURCE_PREFIX)


def drop(rows: list[dict[str, str]], flagged: list[int], dropped: dict[str, int]) -> tuple[list[dict[str, str]], dict]:
    """Rows without the flagged synthetic ones (human-labelled rows stay); drop counts with `label_issue` added."""
    gone = {i for i in flagged if not human(rows[i]["source"])}
    if not gone:
        return rows, dropped
    kept = [r for i, r in enumerate(rows) if i not in gone]
    return kept, dict(sorted({**dropped, "label_issue": len(gone)}.items()))
