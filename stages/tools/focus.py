"""Aim the next round of generation at the model's errors: the latest evaluation becomes data/focus.yaml.

    synthbert focus                         # reads reports/, writes data/focus.yaml; then `dvc repro`
    synthbert focus --boost 2 --rows 40     # weigh error templates more; 40 texts per contrastive prompt
    synthbert focus --clear                 # back to no focus

From reports/eval/mismatches.csv (which labels were confused, and the texts), reports/explain/explanations.json
(the tokens LIME found pushing toward the wrong label) and reports/data/quality.json (rows whose label looks
wrong): per confused (true, predicted) pair the mismatches and tokens; for the template provider a weight
1 + boost x (mismatches it produced) on each template of the true label behind a mismatch (a template the
task lists under several labels is reported under shared_templates instead: weighting it cannot teach the
model which label such a text has); for the openai
provider one contrastive prompt per pair ("texts that are clearly <true> although they use words the model
ties to <predicted>, such as ..."; the first words most of the pair's mistakes open with; the flagged rows of
the label to avoid). The file is a dependency of generate in dvc.yaml: commit it, and each round is a commit
that `dvc exp show` and `synthbert compare` can put side by side.
"""

from __future__ import annotations

import argparse
import collections
import json
from pathlib import Path
from typing import Any

from stages.core import cli, params
from stages.core.errors import DataError
from stages.core.io import read_csv, write_text
from stages.core.labelsets import LABEL_SEP, split_labels

HEADER = ("# What the next round of generation aims at; written by `synthbert focus` from the latest evaluation\n"
          "# (see README, \"Generation aimed at the errors\"). Empty: no focus, generation as the task file says.\n")
CONTRAST = ("Write {{n}} texts that are clearly {{label}} ({{description}}), although they use words that a classifier "
            "wrongly ties to {predicted}, such as {tokens}.{openers}{avoid} Vary topics and wording.")


def confused_pairs(mismatches: Any, patterns: list[dict[str, Any]], top: int) -> list[dict[str, Any]]:
    """Per (true, predicted) pair, most frequent first: mismatches, LIME tokens and the shared first words.
    A multi-label mismatch counts once for each label it missed."""
    texts: dict[tuple[str, str], list[str]] = collections.defaultdict(list)
    for text, true, predicted in zip(mismatches["text"], mismatches["true"], mismatches["predicted"]):
        multi = LABEL_SEP in true + predicted
        missed = [t for t in split_labels(true) if t not in split_labels(predicted)] if multi else [true]
        for label in missed:
            texts[(label, predicted or "(none)")].append(text)
    tokens = {(p["true"], p["predicted"]): [t["token"] for t in p["tokens"]] for p in patterns}
    out = []
    for (true, predicted), items in sorted(texts.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        firsts = collections.Counter(t.split()[0].strip(".,:;!?\"'").casefold() for t in items if t.split())
        openers = [w for w, n in firsts.most_common(3) if n >= 2 and n * 2 >= len(items)]
        out.append({"true": true, "predicted": predicted, "mismatches": len(items),
                    "tokens": tokens.get((true, predicted), [])[:top], "opens_with": openers, "texts": items})
    return out


def template_weights(pairs: list[dict[str, Any]], task: Any, boost: float) -> tuple[dict[str, dict[str, float]], list[str]]:
    """label -> template -> 1 + boost x mismatches it produced, for the templates behind the mismatches; and the
    templates behind mismatches that the task lists under several labels (ambiguous by design: weighting one
    label's copy only moves the model's guess for that shape, so they are reported, not weighted)."""
    from stages.generation.focus import templates_of

    labels = {lab.name: lab for lab in (task.labels if task is not None else ())}
    owners = collections.Counter(t for lab in labels.values() for t in set(lab.templates))
    counts: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    shared: set[str] = set()
    for pair in pairs:
        label = labels.get(pair["true"])
        for text in pair["texts"] if label is not None and label.templates else ():
            for template in templates_of(text, label):
                if owners[template] > 1:
                    shared.add(template)
                else:
                    counts[label.name][template] += 1
    weights = {lab: {t: round(1 + boost * n, 4) for t, n in sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))}
               for lab, c in sorted(counts.items())}
    return weights, sorted(shared)


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


def build(mismatches_path: Path, explanations: Path | None, quality: Path | None, task: Any, boost: float,
          rows: int, top: int) -> dict[str, Any]:
    frame = read_csv(mismatches_path, columns=("text", "true", "predicted"), what="mismatches")
    patterns = json.loads(explanations.read_text(encoding="utf-8")).get("patterns", []) \
        if explanations is not None and explanations.is_file() else []
    flagged: dict[str, list[str]] = collections.defaultdict(list)
    if quality is not None and quality.is_file():
        for ex in json.loads(quality.read_text(encoding="utf-8")).get("label_issues", {}).get("examples", []):
            flagged[ex["label"]].append(ex["text"])
    pairs = confused_pairs(frame, patterns, top)
    weights, shared = template_weights(pairs, task, boost)
    focus: dict[str, Any] = {
        "source": {"mismatches": str(mismatches_path), "rows": len(frame)},
        "confused": [{k: p[k] for k in ("true", "predicted", "mismatches", "tokens", "opens_with")} for p in pairs],
        "templates": weights,
        "shared_templates": shared,
        "prompts": contrast_prompts(pairs, flagged, task),
        "rows": rows,
    }
    return focus


def run(*, params_path: Path, mismatches: Path, explanations: Path | None, quality: Path | None, out: Path,
        boost: float, rows: int, top: int = 8, clear: bool = False) -> dict[str, Any]:
    """Write the focus file `out` (or an empty one with `clear`) and return what it holds."""
    import yaml

    if clear:
        write_text(out, HEADER + "{}\n")
        return {}
    if not 0 < boost < float("inf"):  # also refuses nan
        raise DataError(f"--boost must be a positive number, got {boost}")
    if rows < 0:
        raise DataError(f"--rows must be >= 0, got {rows}")
    if not mismatches.is_file():
        raise DataError(f"{mismatches}: no such file; run `dvc repro` (evaluate writes it) before synthbert focus")
    cfg = params.load("generate", params_path)
    task = None
    if cfg.provider != "csv":
        from stages.generation.task import load_task

        task = load_task(cfg.task)
    focus = build(mismatches, explanations, quality, task, boost, rows, top)
    write_text(out, HEADER + yaml.safe_dump(focus, sort_keys=False, allow_unicode=True, width=110))
    return focus


def main(argv: list[str] | None = None) -> int:
    def add(p: argparse.ArgumentParser) -> None:
        p.add_argument("--mismatches", type=Path, default=Path("reports/eval/mismatches.csv"))
        p.add_argument("--explanations", type=Path, default=Path("reports/explain/explanations.json"))
        p.add_argument("--quality", type=Path, default=Path("reports/data/quality.json"))
        p.add_argument("--out", type=Path, default=Path("data/focus.yaml"), help="focus file to write")
        p.add_argument("--boost", type=float, default=1.0, help="weight added per mismatch a template produced")
        p.add_argument("--rows", type=int, default=50, help="openai provider: texts asked per contrastive prompt")
        p.add_argument("--clear", action="store_true", help="write an empty focus file (no focus)")

    def body(args: argparse.Namespace) -> None:
        focus = run(params_path=args.params, mismatches=args.mismatches, explanations=args.explanations,
                    quality=args.quality, out=args.out, boost=args.boost, rows=args.rows, clear=args.clear)
        pairs = ", ".join(f"{p['true']} -> {p['predicted']} ({p['mismatches']})" for p in focus.get("confused", []))
        weighted = sum(len(w) for w in focus.get("templates", {}).values())
        what = "cleared" if args.clear else f"confused {pairs or 'nothing'}; {weighted} templates weighted"
        print(f"{args.out}: {what}; run `dvc repro` to generate the next round")

    return cli.main(__doc__.splitlines()[0], add, body, argv, example=cli.examples(__doc__))


if __name__ == "__main__":
    raise SystemExit(main())
