"""The workspace against a git revision, for a pull request: verdict, metrics, params and per-label F1 as markdown.

    synthbert compare --rev main                                   # markdown on stdout
    synthbert compare --rev origin/main --report reports/report.md --link-base URL --out comment.md
    synthbert compare --check-lock                                 # dvc.lock up to date with code and params?
    synthbert compare --seed-groups                                # experiments grouped by all but base.seed

Uses DVC's own `dvc metrics diff`, `dvc params diff` and `dvc status` (JSON output). The lock check needs
no data: a stage whose only changes are absent files that git never holds (DVC-cached data, git-ignored
outputs; a fresh clone without `dvc pull`) counts as up to date; a changed param, command or code
dependency, a report that is missing or differs from dvc.lock, or an input file in no commit does not, each
named with its cause (tools/lock_check.py). The verdict on the change (a paired
bootstrap on the rows both revisions scored: tools/paired.py) and the seed groups of `dvc exp show`
(tools/seed_groups.py) take their resamples, coverage and seed from the workspace's params (evaluate.bootstrap,
evaluate.confidence, base.seed; their defaults without a params file).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from stages.core import cli
from stages.core.errors import DataError
from stages.core.io import write_text
from stages.core.markdown import code, fmt, signed, table
from stages.core.text import md_escape
from stages.tools import paired, seed_groups, verdict_md
from stages.tools.lock_check import capture, dvc_json, stale_stages

PER_LABEL_F1 = re.compile(r"^test\.per_label\.(?P<label>.+)\.f1$")
ALWAYS = ("test.accuracy", "test.f1_macro")  # shown even when unchanged
# Not results: counters, losses, timings and DVCLive's last-evaluation values (`eval.*`; the kept epoch's score is
# best_val_f1_macro), which a revision from before metrics held headline numbers only still has as DVC metrics.
BOOKKEEPING = re.compile(r"^eval\.|(^|\.)(step|epoch|best_epoch|loss|\w*seconds|\w*runtime|\w*per_second|\w*hash)$")
_LINK = re.compile(r"(!?)\[([^\]]*)\]\(([^)\s]+)\)")


def check_revision(rev: str, cwd: Path) -> None:
    if capture(["git", "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"], cwd).returncode != 0:
        raise DataError(f"--rev {rev!r}: no such git revision here (expected a branch, tag or commit, e.g. main; "
                        "in CI fetch it first, e.g. actions/checkout with fetch-depth: 0)")


def metric_rows(diff: dict[str, Any]) -> tuple[list[list[Any]], list[list[Any]]]:
    """(headline rows: changed or ALWAYS metrics, bookkeeping left out; per-label F1 rows), each
    [name, old, new, change]."""
    headline, per_label = [], []
    for path, metrics in sorted(diff.items()):
        for key, v in sorted(metrics.items()):
            if BOOKKEEPING.search(key):
                continue
            row = [v.get("old"), v.get("new"), v.get("diff")]
            if m := PER_LABEL_F1.match(key):
                per_label.append([md_escape(m["label"]), *row])
            elif ".per_label." not in key and (key in ALWAYS or v.get("old") != v.get("new")):
                headline.append([code(key) if len(diff) == 1 else code(f"{path}:{key}"), *row])
    return headline, per_label


TEST_REPORT = "reports/eval/test_metrics.json"  # per-label values: committed, but not a DVC metric


def per_label_f1(rev: str, cwd: Path) -> dict[str, Any]:
    """`metrics diff`-shaped per-label test F1 from the committed reports/eval/test_metrics.json of `rev` and the
    workspace's (per-label values are kept out of the DVC metrics so `dvc exp show` stays short)."""
    def labels(text: str | None) -> dict[str, float]:
        try:
            return {lab: v["f1"] for lab, v in json.loads(text)["test"]["per_label"].items()} if text else {}
        except (ValueError, KeyError, TypeError):
            return {}

    shown = capture(["git", "show", f"{rev}:{TEST_REPORT}"], cwd)
    old = labels(shown.stdout if shown.returncode == 0 else None)
    path = cwd / TEST_REPORT
    new = labels(path.read_text(encoding="utf-8") if path.is_file() else None)
    out = {}
    for lab in sorted(set(old) | set(new)):
        a, b = old.get(lab), new.get(lab)
        out[f"test.per_label.{lab}.f1"] = {"old": a, "new": b, "diff": None if a is None or b is None else b - a}
    return {TEST_REPORT: out} if out else {}


def render(rev: str, metrics: dict[str, Any], params: dict[str, Any], verdict: list[str] = ()) -> str:
    def cols(first: str) -> list[str]:
        return [first, code(rev), "workspace", "change"]

    def show(rows: list[list[Any]]) -> list[list[str]]:
        return [[r[0], fmt(r[1]), fmt(r[2]), signed(r[3])] for r in rows]

    headline, per_label = metric_rows(metrics)
    lines = [f"## This branch against {code(rev)}", "", *verdict, "### Metrics", ""]
    lines += table(cols("metric"), show(headline)) if headline else ["No metrics file in either revision."]
    if per_label:
        lines += ["", "### Test F1 per label", "", *table(cols("label"), show(per_label))]
    lines += ["", "### Params", ""]
    def value(v: Any) -> str:
        return "—" if v is None else code(v)

    rows = [[code(key if len(params) == 1 else f"{path}:{key}"), value(v.get("old")), value(v.get("new"))]
            for path, keys in sorted(params.items()) for key, v in sorted(keys.items())]
    lines += table(["param", code(rev), "workspace"], rows, right_from=3) if rows else ["No param changed."]
    return "\n".join(lines) + "\n"


def rebase_links(markdown: str, source: Path, root: Path, base: str) -> str:
    """Point the relative links of `source` (a file under `root`) at `base` + repository path; images get
    `?raw=true`, so a PR comment shows the PNGs committed with the branch (no public image host)."""
    def fix(m: re.Match) -> str:
        bang, text, target = m.groups()
        if re.match(r"^([a-z][a-z0-9+.-]*:|#|/)", target, re.I):
            return m.group(0)
        try:
            path = (source.parent / target).resolve().relative_to(root.resolve()).as_posix()
        except ValueError:  # points outside the repository: nothing to rebase it on
            return m.group(0)
        return f"{bang}[{text}]({base.rstrip('/')}/{path}{'?raw=true' if bang else ''})"

    return _LINK.sub(fix, markdown)


def bootstrap_settings(path: Path) -> tuple[int, float, int]:
    """(resamples, confidence, seed): evaluate.bootstrap, evaluate.confidence and base.seed of the params file,
    each section's defaults where the file or section is absent."""
    from stages.core import params

    raw = params.read_params(path) if path.is_file() else {}
    evaluate, base = (params.load_dict(raw.get(s) or {}, s) for s in ("evaluate", "base"))
    return evaluate.bootstrap, evaluate.confidence, base.seed


def revision_verdict(rev: str, cwd: Path, settings: tuple[int, float, int]) -> list[str]:
    resamples, confidence, seed = settings
    return verdict_md.revision(rev, paired.revision_verdicts(rev, cwd, resamples, confidence, seed), resamples,
                               confidence)


def seed_groups_page(cwd: Path, settings: tuple[int, float, int]) -> str:
    """`dvc exp show`'s runs grouped by all but base.seed, and each group's verdict against the baseline group."""
    resamples, confidence, seed = settings
    runs, workspace, head, skipped = seed_groups.read_runs(dvc_json(cwd, "exp", "show"))
    groups = seed_groups.group_runs(runs)
    base = seed_groups.baseline_group(groups, workspace, head)
    verdicts = {}
    for i, group in enumerate(groups):
        if base is not None and i != base:
            verdicts[i] = seed_groups.group_verdicts(group, groups[base], lambda r: paired.decisions_at(r.rev, cwd)[0],
                                                     resamples, confidence, seed)
    return verdict_md.seed_groups_page(groups, base, verdicts, skipped, resamples, confidence)


def run(rev: str | None, out: Path | None, report: Path | None, link_base: str | None, check_lock: bool,
        cwd: Path = Path("."), seeds: bool = False, params_path: Path = Path("params.yaml")) -> str:
    if check_lock and (problems := stale_stages(cwd)):
        raise DataError(f"dvc.lock does not match this checkout ({'; '.join(problems)}): fix each as said (a changed "
                        "param, command or code: `dvc repro`), then commit dvc.lock, reports/ and the inputs")
    if rev is None and not seeds:
        return ""
    settings = bootstrap_settings(cwd / params_path)
    text = ""
    if rev is not None:
        check_revision(rev, cwd)
        metrics = dvc_json(cwd, "metrics", "diff", rev, "--all") | per_label_f1(rev, cwd)
        text = render(rev, metrics, dvc_json(cwd, "params", "diff", rev), revision_verdict(rev, cwd, settings))
    if seeds:
        text += ("\n" if text else "") + seed_groups_page(cwd, settings)
    if report is not None:
        body = report.read_text(encoding="utf-8")
        text += "\n" + (rebase_links(body, report, cwd, link_base) if link_base else body)
    if out is None:
        sys.stdout.write(text)
    else:
        write_text(out, text)
    return text


def main(argv: list[str] | None = None) -> int:
    def add(p: argparse.ArgumentParser) -> None:
        p.add_argument("--rev", help="git revision to compare the workspace with (branch, tag or commit)")
        p.add_argument("--out", type=Path, help="markdown file to write (default: standard output)")
        p.add_argument("--report", type=Path, help="append this report (reports/report.md) after the comparison")
        p.add_argument("--link-base", help="URL that the report's relative links are rebased on, e.g. "
                       "https://github.com/OWNER/REPO/blob/SHA")
        p.add_argument("--check-lock", action="store_true", help="fail unless dvc.lock matches code and params")
        p.add_argument("--seed-groups", action="store_true", help="group `dvc exp show`'s runs that differ only in "
                       "base.seed: mean +- sd per group and a verdict against the baseline group")

    def body(args: argparse.Namespace) -> None:
        if args.rev is None and not args.check_lock and not args.seed_groups:
            raise DataError("nothing to do: give --rev REV to compare, --seed-groups, --check-lock, or several")
        run(args.rev, args.out, args.report, args.link_base, args.check_lock, seeds=args.seed_groups,
            params_path=Path(args.params))

    return cli.main(__doc__.splitlines()[0], add, body, argv, example=cli.examples(__doc__), prog="synthbert compare")


if __name__ == "__main__":
    raise SystemExit(main())
