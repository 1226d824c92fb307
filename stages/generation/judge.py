"""The LLM judge (`generate.judge`): a chat model labels the cleaned rows blind, and where it disagrees with a row's
label the row is disputed.

The judge sees the task's description and its labels' descriptions, never the row's label, and answers each text
with the label it would give (a multi-label task: the label set) and a one-line reason, `texts_per_request` texts
per request with a JSON schema, through the LLM client (cache, machine store, retries, budget: a rerun pays nothing
twice). Rows are asked in the order of sha256(base.seed, text), so each batch mixes labels and origins;
`generate.judge.sample` > 0 judges the first `sample` rows of that order (a seeded sample; a larger sample asks only
the batches it adds). An answer the judge cannot give (refusal, malformed, a label outside the set, an empty set)
abstains and disputes nothing.
`mode`: report (only quality.json/.md), drop (disputed synthetic rows are dropped, counted as dropped.judge_disputed)
or relabel (they take the judge's label). Human-labelled rows (generate.real, the csv provider) are judged and
reported, never dropped or relabelled: their labels are the reference. The report: judge_report.py.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stages.core import params
from stages.core.labelsets import join_labels
from stages.generation import annotate
from stages.generation.label_issues import human

log = logging.getLogger(__name__)
INTRO = ("You check the labels of a data set for a text classifier. {task}Label each text yourself, as a careful "
         "annotator would.")


@dataclass
class Verdicts:
    """The judge's answers: the judged rows (as they were), and per text its label cell (None: abstained) and reason."""
    judged: list[dict[str, str]]
    said: dict[str, str | None] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)
    answers: annotate.Answers = field(default_factory=annotate.Answers)

    def disputed(self) -> list[dict[str, str]]:
        """The judged rows whose label the judge would not give (abstentions dispute nothing)."""
        return [r for r in self.judged if self.said.get(r["text"]) not in (None, r["label"])]


def order(rows: list[dict[str, str]], seed: int, sample: int) -> list[int]:
    """The rows to judge, in asking order: sorted by sha256 of (seed, text); the first `sample` of them (0: all)."""
    def key(i: int) -> str:
        return hashlib.sha256(f"{seed}/judge/{rows[i]['text']}".encode()).hexdigest()

    ranked = sorted(range(len(rows)), key=key)
    return ranked[:sample] if sample else ranked


def question(cfg: params.Judge, labels: list[str], descriptions: dict[str, str], task_description: str,
             multi_label: bool) -> annotate.Ask:
    from stages.core.llm import classify

    intro = INTRO.format(task=f"Task: {task_description.strip()} " if task_description.strip() else "")
    system = classify.instructions(labels, descriptions, multi_label, reason=True, intro=intro)
    return annotate.Ask(cfg.model, labels, system, multi_label, cfg.temperature, cfg.max_tokens,
                        cfg.texts_per_request, reason=True)


def run(rows: list[dict[str, str]], cfg: params.Judge, labels: list[str], descriptions: dict[str, str],
        task_description: str, multi_label: bool, seed: int, cache_dir: Path,
        prices: dict[str, params.Price]) -> Verdicts:
    """The judge's verdict on each selected row (cache first)."""
    judged = [rows[i] for i in order(rows, seed, cfg.sample)]
    ask = question(cfg, labels, descriptions, task_description, multi_label)
    answers = annotate.ask(ask, [r["text"] for r in judged], cfg, cache_dir, prices)
    verdicts = Verdicts(judged, answers=answers)
    for text in (r["text"] for r in judged):
        chosen = answers.labels.get(text)
        if chosen is not None and not chosen:  # a multi-label judge that gives no label has no verdict
            answers.abstained["no_label"] += 1
            chosen = None
        verdicts.said[text] = None if chosen is None else join_labels(chosen) if multi_label else chosen[0]
        verdicts.reasons[text] = answers.reasons.get(text, "")
    log.info("judge %s: %s rows judged, %s disputed, %s abstained, %s requests sent now", cfg.model,
             f"{len(judged):,}", f"{len(verdicts.disputed()):,}", f"{sum(answers.abstained.values()):,}",
             f"{answers.cost['requests']['sent_this_run']:,}")
    return verdicts


def act(rows: list[dict[str, str]], verdicts: Verdicts, mode: str,
        dropped: dict[str, int]) -> tuple[list[dict[str, str]], dict[str, int], dict[str, int]]:
    """drop: the disputed synthetic rows go (dropped.judge_disputed); relabel: they take the judge's label; report:
    nothing changes. Human-labelled rows never change. Returns the rows, the drop counts and what was done."""
    disputed = verdicts.disputed()
    synthetic = {r["text"] for r in disputed if not human(r["source"])}
    done = {"disputed": len(disputed), "dropped": 0, "relabelled": 0, "human_kept": len(disputed) - len(synthetic)}
    if mode == "drop":
        kept = [r for r in rows if r["text"] not in synthetic]
        done["dropped"] = len(rows) - len(kept)
        if done["dropped"]:
            dropped = dict(sorted({**dropped, "judge_disputed": done["dropped"]}.items()))
        rows = kept
    elif mode == "relabel":
        done["relabelled"] = sum(r["text"] in synthetic for r in rows)
        rows = [{**r, "label": verdicts.said[r["text"]]} if r["text"] in synthetic else r for r in rows]
    return rows, dropped, done
