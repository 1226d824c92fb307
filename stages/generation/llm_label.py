"""The `llm_label` provider: a CSV of texts without labels (`generate.llm_label.path`, its `text_column`) labelled
by one or more chat models (`generate.llm_label.models`) with the task's labels and their descriptions.

Each model labels every distinct text, `texts_per_request` at a time, in file order (appending texts to the file
re-asks only the last batch), through the LLM client with generate's client settings (base_url, api_key_env,
max_tokens, concurrency, retries; the budget max_requests / max_total_tokens counts per model). A model abstains on
a text when its answer is unusable (refusal, malformed, a missing id, a label outside the task's set; counted by
reason). A text's label is the one most of the answering models gave; a tie, or no answer at all, gives it no row
(counted in generation.json `votes` and quality.md). Rows carry source `llm_label` (LLM labels, not a person's:
label_filter and the judge may drop them; split's real-only val or test never take them) and origin
`<path>:<data row>` (core/origin.py). Blank texts are passed on for cleaning to drop and count.
Single-label tasks only: votes over label sets have no single sensible majority.
"""

from __future__ import annotations

import collections
import logging
from pathlib import Path
from typing import Any

from stages.core import params
from stages.core.errors import DataError
from stages.core.io import read_csv
from stages.core.llm import classify, client as llm
from stages.core.origin import file_rows
from stages.generation import annotate
from stages.generation.task import Task

log = logging.getLogger(__name__)
SOURCE = "llm_label"  # the source of every row this provider makes
INTRO = "You label texts for a data set. {task}Label each text as a careful human annotator would."


def read_texts(cfg: params.LlmLabel) -> list[tuple[Any, str]]:
    """(text, origin) of every data row of the file; one line naming the file when it is empty or lacks the column."""
    frame = read_csv(cfg.path, columns=(cfg.text_column,), what="unlabelled CSV (generate.llm_label.path)")
    return list(zip(frame[cfg.text_column].tolist(), file_rows(cfg.path, len(frame))))


def vote(texts: list[str], said: dict[str, dict[str, list[str] | None]]) -> tuple[dict[str, str], dict[str, Any]]:
    """Each text's majority label among the models that answered (`said`: model -> text -> labels or None), and
    the counts: unanimous, majority, tie, no_answer texts, and each model's agreement with the result."""
    winners: dict[str, str] = {}
    counts: collections.Counter[str] = collections.Counter()
    for text in texts:
        ballots = collections.Counter(a[0] for a in (said[m].get(text) for m in said) if a)
        if not ballots:
            counts["no_answer"] += 1
            continue
        (top, n), *rest = ballots.most_common()
        if rest and rest[0][1] == n:
            counts["tie"] += 1
            continue
        winners[text] = top
        counts["unanimous" if not rest and n == len(said) else "majority"] += 1
    agree = {m: round(sum(bool(a) and a[0] == winners[t] for t, a in said[m].items() if t in winners)
                      / max(len(winners), 1), 4) for m in said}
    return winners, {"texts": len(texts), "labelled": len(winners), "unanimous": counts["unanimous"],
                     "majority": counts["majority"], "dropped": {k: counts[k] for k in ("no_answer", "tie") if counts[k]},
                     "per_label": dict(sorted(collections.Counter(winners.values()).items())),
                     "agreement_with_vote": agree}


def _sum(values: list[float | None]) -> float | None:
    return None if any(v is None for v in values) else round(sum(values), 6)  # type: ignore[arg-type]


def _report(cfg: params.Generate, answers: dict[str, annotate.Answers], votes: dict[str, Any]) -> dict[str, Any]:
    """generation.json: requests, tokens and cost summed over the models (and per model), the votes."""
    costs = [a.cost for a in answers.values()]
    requests = {k: sum(c["requests"][k] for c in costs) for k in ("planned", "used", "sent_this_run", "failed_this_run")}
    tokens = {k: sum(c["tokens"][k] for c in costs) for k in ("prompt", "completion", "total")}
    per_model = {m: {**a.cost, "abstained": dict(sorted(a.abstained.items())), "unanswered": a.unanswered}
                 for m, a in answers.items()}
    return {"provider": SOURCE, "file": cfg.llm_label.path, "base_url": llm.endpoint(cfg.base_url),
            "models": list(cfg.llm_label.models), "texts_per_request": cfg.llm_label.texts_per_request,
            "requests": requests, "tokens": tokens, "cost_usd": _sum([c["usd"] for c in costs]),
            "this_run": {"cost_usd": _sum([c["this_run_usd"] for c in costs])},
            "budget": {"max_requests": cfg.max_requests, "max_total_tokens": cfg.max_total_tokens,
                       "exhausted": any(c["budget_exhausted"] for c in costs)},
            "per_model": per_model, "votes": votes}


def generate(task: Task, cfg: params.Generate, cache_dir: Path,
             prices: dict[str, params.Price]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Rows (text, label, source llm_label, origin) of the texts the vote labelled, and the generation report."""
    if task.multi_label:
        raise DataError(f"{task.path}: generate.provider llm_label needs a single-label task (this one has "
                        "multi_label: true; majority votes over label sets are not supported)")
    rows = read_texts(cfg.llm_label)
    texts = list(dict.fromkeys(t for t, _ in rows if isinstance(t, str) and t.strip()))
    intro = INTRO.format(task=f"Task: {task.description.strip()} " if task.description.strip() else "")
    system = classify.instructions(task.label_names, {lab.name: lab.description for lab in task.labels if
                                                      lab.description}, False, intro=intro)
    answers = {}
    for model in cfg.llm_label.models:
        ask = annotate.Ask(model, task.label_names, system, False, cfg.llm_label.temperature, cfg.max_tokens,
                           cfg.llm_label.texts_per_request)
        answers[model] = annotate.ask(ask, texts, cfg, cache_dir, prices)
    winners, votes = vote(texts, {m: a.labels for m, a in answers.items()})
    log.info("llm_label: %s distinct texts, %s labelled by %d model(s) (%s unanimous); dropped: %s", f"{len(texts):,}",
             f"{len(winners):,}", len(answers), f"{votes['unanimous']:,}",
             ", ".join(f"{n:,} {k}" for k, n in votes["dropped"].items()) or "none")
    out = [{"text": t, "label": winners.get(t) if isinstance(t, str) and t.strip() else None, "source": SOURCE,
            "origin": o} for t, o in rows]
    return [r for r in out if r["label"] is not None or not (isinstance(r["text"], str) and r["text"].strip())], \
        _report(cfg, answers, votes)
