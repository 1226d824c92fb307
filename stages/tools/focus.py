"""Aim the next round of generation at the model's errors on a dev set: they become data/focus.yaml.

    synthbert focus                         # the val split's errors; writes data/focus.yaml; then `dvc repro`
    synthbert focus --dev stop_clickbait_dev   # a real set with role: dev in evaluate.external_test
    synthbert focus --boost 2 --rows 40     # weigh error templates more; 40 texts per contrastive prompt
    synthbert focus --coverage              # also aim at the real dev rows reports/data/audit.json finds least covered
    synthbert focus --clear                 # back to no focus

Reads only a dev set's errors (focus_errors.py: the test split and `role: test` sets only judge, and are refused):
models/classifier decides the dev rows by its saved rule and LIME explains up to explain.max_examples mismatches.
Per confused (true, predicted) pair the mismatches and tokens; for the template provider a weight 1 + boost x
(mismatches it produced) on each template behind a mismatch (by the row's origin; real dev rows have none); for
the openai provider one contrastive prompt per pair ("texts that are clearly <true> although they use words the
model ties to <predicted>, such as ..."; the first words most of the pair's mistakes open with; the flagged rows
of the label to avoid). A template or prompt whose rows cleanlab flagged (reports/data/quality.json), or a
template the task lists under several labels, is never weighted: it goes under fix_labels (focus_labels.py).
The file is a dependency of generate in dvc.yaml: commit it, and each round is a commit that `dvc exp show`
and `synthbert compare` can put side by side. Params: base.seed, generate.provider, generate.task, evaluate.*,
explain.*
"""

from __future__ import annotations

import argparse
import collections
from pathlib import Path
from typing import Any

from stages.core import cli, origin, params
from stages.core.errors import DataError
from stages.core.io import read_yaml, write_text
from stages.core.labelsets import LABEL_SEP, split_labels
from stages.tools import focus_coverage, focus_errors, focus_labels

HEADER = ("# What the next round of generation aims at; written by `synthbert focus` from a dev set's errors\n"
          "# (see docs/loop.md). Empty: no focus, generation as the task file says.\n")
CONTRAST = ("Write {{n}} texts that are clearly {{label}} ({{description}}), although they use words that a classifier "
            "wrongly ties to {predicted}, such as {tokens}.{openers}{avoid} Vary topics and wording.")


def confused_pairs(mismatches: Any, patterns: list[dict[str, Any]], top: int) -> list[dict[str, Any]]:
    """Per (true, predicted) pair, most frequent first: mismatches, LIME tokens, the shared first words and the
    rows' origins. A multi-label mismatch counts once for each label L it missed (its tokens: LIME's pattern
    (L, not L), explanation/multilabel.pattern_examples)."""
    rows: dict[tuple[str, str], list[tuple[str, str]]] = collections.defaultdict(list)
    for text, true, predicted, where in zip(mismatches["text"], mismatches["true"], mismatches["predicted"],
                                            mismatches["origin"]):
        multi = LABEL_SEP in true + predicted
        missed = [t for t in split_labels(true) if t not in split_labels(predicted)] if multi else [true]
        for label in missed:
            rows[(label, predicted or "(none)")].append((text, where))
    tokens = {(p["true"], p["predicted"]): [t["token"] for t in p["tokens"]] for p in patterns}
    out = []
    for (true, predicted), items in sorted(rows.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        texts = [text for text, _ in items]
        firsts = collections.Counter(t.split()[0].strip(".,:;!?\"'").casefold() for t in texts if t.split())
        openers = [w for w, n in firsts.most_common(3) if n >= 2 and n * 2 >= len(items)]
        out.append({"true": true, "predicted": predicted, "mismatches": len(items),
                    "tokens": (tokens.get((true, predicted)) or tokens.get((true, f"not {true}"), []))[:top],
                    "opens_with": openers, "texts": texts,
                    "origins": [where for _, where in items]})
    return out


def template_weights(pairs: list[dict[str, Any]], task: Any, boost: float,
                     unweighted: set[str]) -> dict[str, dict[str, float]]:
    """label -> template -> 1 + boost x mismatches it produced, for the templates behind the mismatches (by each
    row's origin: its template id; a real row has none), save those in `unweighted` (focus_labels.fix_labels)."""
    listed = [(tid, lab.name, text) for lab in (task.labels if task is not None else ())
              for text, tid in zip(lab.templates, lab.ids)]
    owners = collections.Counter(tid for tid, _, _ in listed)
    known = {tid: (name, text) for tid, name, text in listed if owners[tid] == 1}  # shared: never weighted
    counts: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for pair in pairs:
        for where in pair["origins"]:
            tid = origin.slice_of(where)
            if tid in known and tid not in unweighted:
                label, text = known[tid]
                counts[label][text] += 1
    return {lab: {t: round(1 + boost * n, 4) for t, n in sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))}
            for lab, c in sorted(counts.items())}


def contrast_prompts(pairs: list[dict[str, Any]], flagged: dict[str, list[str]], task: Any) -> dict[str, list[str]]:
    """label -> one contrastive prompt per pair whose true label it is (labels of the task only)."""
    known = {lab.name for lab in task.labels} if task is not None else set()
    out: dict[str, list[str]] = collections.defaultdict(list)
    for pair in pairs:
        if pair["true"] not in known:
            continue
        words = [w.replace("{", "").replace("}", "") for w in pair["tokens"][:6]]
        openers = f" Some may open with {', '.join(repr(w.capitalize()) for w in pair['opens_with'])}." \
            if pair["opens_with"] else ""
        avoid = flagged.get(pair["true"], [])[:3]
        avoid_text = (" Avoid texts that could be read either way, like: " + "; ".join(
            repr(t.replace("{", "").replace("}", "")) for t in avoid) + ".") if avoid else ""
        out[pair["true"]].append(CONTRAST.format(predicted=pair["predicted"], openers=openers, avoid=avoid_text,
                                                 tokens=", ".join(repr(w) for w in words) or "theirs"))
    return dict(out)


def build(errors: focus_errors.DevErrors, issues: dict[str, Any], task: Any, boost: float, rows: int, top: int,
          previous: dict[str, Any]) -> dict[str, Any]:
    """The focus file's content: the dev errors' pairs, what to fix rather than weight, weights and prompts."""
    pairs = confused_pairs(errors.mismatches, errors.patterns, top)
    fix = focus_labels.fix_labels(task, issues, {origin.slice_of(o) for p in pairs for o in p["origins"]}, previous)
    flagged: dict[str, list[str]] = collections.defaultdict(list)
    for ex in issues["examples"]:
        flagged[ex["label"]].append(ex["text"])
    return {
        "source": errors.source,
        "confused": [{k: p[k] for k in ("true", "predicted", "mismatches", "tokens", "opens_with")} for p in pairs],
        "fix_labels": fix,
        "templates": template_weights(pairs, task, boost, set(fix)),
        "prompts": contrast_prompts(pairs, flagged, task),
        "rows": rows,
    }


def add_coverage(focus: dict[str, Any], least: list[dict[str, Any]], audit: Path, task: Any, provider: str) -> None:
    """The least covered real dev rows as targets: "write texts like these" prompts (openai provider), else listed
    under `coverage` for the user."""
    focus["source"]["coverage"] = {"file": str(audit), "rows": len(least)}
    if provider == "openai":
        for label, prompts in focus_coverage.prompts(least, task).items():
            focus["prompts"].setdefault(label, []).extend(prompts)
    else:
        focus["coverage"] = focus_coverage.listed(least)


def check_rows(cfg: params.Generate, task: Any, prompts: int, rows: int) -> None:
    """openai provider: the focus prompts' requests (`rows` texts each) count against generate.max_planned_requests
    with the task's (generation/budget.py): refused here, before the focus file is written, as generate would."""
    if cfg.provider == "openai" and prompts and rows:
        from stages.generation import budget

        budget.check_size(task, cfg, None, prompts, rows)


def run(*, params_path: Path, out: Path, boost: float = 1.0, rows: int = 50, dev: str = focus_errors.VAL,
        model: Path = Path("models/classifier"), split_dir: Path = Path("data/split"),
        external_dir: Path = Path("data/external"), quality: Path = Path("reports/data/quality.json"),
        audit: Path | None = None, top: int = 8, clear: bool = False) -> dict[str, Any]:
    """Write the focus file `out` (or an empty one with `clear`) and return what it holds; `audit`: also aim at
    the least covered real dev rows of that audit.json (--coverage)."""
    import yaml

    if clear:
        write_text(out, HEADER + "{}\n")
        return {}
    if not 0 < boost < float("inf"):  # also refuses nan
        raise DataError(f"--boost must be a positive number, got {boost}")
    if rows < 0:
        raise DataError(f"--rows must be >= 0, got {rows}")
    evaluate = params.load("evaluate", params_path)
    spec = focus_errors.dev_spec(dev, evaluate)  # refuses a test set before anything is read
    cfg = params.load("generate", params_path)
    task = None
    if cfg.provider != "csv":
        from stages.generation.task import load_task

        task = load_task(cfg.task)
    check_rows(cfg, task, 1, rows)  # one prompt already over the cap: refused before the dev set is read
    issues = focus_labels.read_issues(quality)
    external_dev = focus_errors.dev_names(evaluate)[1:]  # after val: the role-dev sets, audit.json's set names
    least = None if audit is None else focus_coverage.read_audit(audit, external_dev)
    errors = focus_errors.dev_errors(dev, spec, model, split_dir, external_dir, params_path)
    previous = read_yaml(out) if out.is_file() else None
    focus = build(errors, issues, task, boost, rows, top, previous if isinstance(previous, dict) else {})
    if least is not None:
        add_coverage(focus, least, audit, task, cfg.provider)
    check_rows(cfg, task, sum(len(p) for p in focus["prompts"].values()), rows)
    write_text(out, HEADER + yaml.safe_dump(focus, sort_keys=False, allow_unicode=True, width=110))
    return focus


def summary(out: Path, focus: dict[str, Any]) -> list[str]:
    """What the command prints: the dev set and its confused pairs, then what to fix and what to cover."""
    source = focus["source"]
    pairs = ", ".join(f"{p['true']} -> {p['predicted']} ({p['mismatches']})" for p in focus["confused"])
    weighted = sum(len(w) for w in focus["templates"].values())
    prompts = sum(len(p) for p in focus["prompts"].values())
    head = (f"{out}: dev set {source['dev']} ({source['rows']:,} rows, {source['mismatches']:,} mismatches); "
            f"confused {pairs or 'nothing'}; {weighted} templates weighted, {prompts} prompts; "
            "run `dvc repro` to generate the next round")
    covered = focus_coverage.lines(focus["coverage"]) if "coverage" in focus else []
    if "coverage" in source and "coverage" not in focus:
        covered = [f"coverage: {source['coverage']['rows']} least covered real dev rows of "
                   f"{source['coverage']['file']}, as examples in a \"write texts like these\" prompt per label"]
    return [head, *focus_labels.lines(focus["fix_labels"]), *covered]


def main(argv: list[str] | None = None) -> int:
    def add(p: argparse.ArgumentParser) -> None:
        p.add_argument("--dev", default=focus_errors.VAL,
                       help="dev set whose errors to aim at: val (the split) or an evaluate.external_test set with "
                            "role: dev; test sets are refused")
        p.add_argument("--model", type=Path, default=Path("models/classifier"), help="trained model directory")
        p.add_argument("--split", type=Path, default=Path("data/split"), help="split directory (val.csv)")
        p.add_argument("--external", type=Path, default=Path("data/external"), help="external (real) set directory")
        p.add_argument("--quality", type=Path, default=Path("reports/data/quality.json"),
                       help="generate's data report (label issues: what is listed to fix, never weighted)")
        p.add_argument("--out", type=Path, default=Path("data/focus.yaml"), help="focus file to write")
        p.add_argument("--boost", type=float, default=1.0, help="weight added per mismatch a template produced")
        p.add_argument("--rows", type=int, default=50, help="openai provider: texts asked per focus prompt")
        p.add_argument("--coverage", action="store_true",
                       help="also aim at the real dev rows the synthetic data covers least (--audit)")
        p.add_argument("--audit", type=Path, default=Path("reports/data/audit.json"), help="audit.json (--coverage)")
        p.add_argument("--clear", action="store_true", help="write an empty focus file (no focus)")

    def body(args: argparse.Namespace) -> None:
        focus = run(params_path=Path(args.params), out=args.out, boost=args.boost, rows=args.rows, dev=args.dev,
                    model=args.model, split_dir=args.split, external_dir=args.external, quality=args.quality,
                    audit=args.audit if args.coverage else None, clear=args.clear)
        print("\n".join(summary(args.out, focus)) if focus else f"{args.out}: cleared (no focus)")

    return cli.main(__doc__.splitlines()[0], add, body, argv, example=cli.examples(__doc__), prog="synthbert focus")


if __name__ == "__main__":
    raise SystemExit(main())
