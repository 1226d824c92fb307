"""The ledger of focus rounds, read from the git history: what each round of generation aimed at the errors bought,
and whether to go on.

    synthbert rounds                        # markdown on stdout
    synthbert rounds --since v1.0 --out rounds.md
    synthbert rounds --write                # reports/rounds.json, which report.md's Rounds section shows
    synthbert rounds --json

A round is a commit of HEAD's first-parent history whose data/focus.yaml says something else than its parent's (an
absent file and `{}` both mean no focus); round 0, the unfocused baseline, is the commit before the first round (or
`--since REV`: the rounds are the changes after REV). A round's reports are read at the last commit before the next
round (HEAD for the last), so a ledger commit after the round's commit changes nothing. Per round: each real test
set's macro-F1 with its interval (reports/eval/test_metrics.json, role test; role dev shown apart: those sets steer),
the gain over the previous round with its paired bootstrap interval and verdict (tools/paired.py on both rounds'
reports/eval/real_predictions.csv; evaluate.bootstrap, evaluate.confidence and base.seed of the params file), rows
generated and kept (reports/data/quality.json), LLM requests sent and USD paid this round and the data set's total
(reports/data/generation.json; the template provider: 0), mismatches per confused (true, predicted) pair on the real
test sets. A round gained when some real test set's verdict is better and none is worse (a model collapsed onto one
label in either round gets the verdict collapsed: no gain); when the last two rounds each did not, it says stop. A
round whose dvc.lock holds another hash of data/focus.yaml than the file's was not reproduced: shown, not judged.
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from stages.core import cli
from stages.core.contracts import QualityReport, RoundsLedger, TestReport
from stages.core.errors import DataError
from stages.core.io import write_text
from stages.core.rounds_ledger import CONTINUE, STOP, UNDECIDED
from stages.core.rounds_section import ledger_lines
from stages.core.verdicts import COLLAPSED
from stages.tools import paired
from stages.tools.compare import bootstrap_settings

FOCUS = "data/focus.yaml"
TEST_METRICS = "reports/eval/test_metrics.json"
QUALITY = "reports/data/quality.json"
GENERATION = "reports/data/generation.json"
LOCK = "dvc.lock"
LEDGER = Path("reports/rounds.json")
NO_ROUNDS = "no rounds yet: no commit has changed data/focus.yaml (run `synthbert focus`, `dvc repro` and commit)"


def git(cwd: Path, *args: str) -> str:
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise DataError(f"git {' '.join(args)}: {(proc.stderr.strip().splitlines() or ['failed'])[-1]}")
    return proc.stdout


def show_bytes(rev: str, path: str, cwd: Path) -> bytes | None:
    proc = subprocess.run(["git", "show", f"{rev}:{path}"], cwd=cwd, capture_output=True)
    return proc.stdout if proc.returncode == 0 else None


def commit_of(rev: str, cwd: Path, flag: str) -> str:
    proc = subprocess.run(["git", "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"], cwd=cwd,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise DataError(f"{flag} {rev!r}: no such git revision here (expected a branch, tag or commit)")
    return proc.stdout.strip()


def focus_at(rev: str, cwd: Path) -> Any:
    """The focus file's content at `rev`; absent, empty and `{}` are all None (no focus)."""
    text = paired.read_at(rev, FOCUS, cwd)
    if text is None:
        return None
    try:
        return yaml.safe_load(text) or None
    except yaml.YAMLError as exc:
        raise DataError(f"{rev[:12]}:{FOCUS}: not valid YAML ({' '.join(str(exc).split())[:120]})") from None


def history(cwd: Path, since: str | None) -> tuple[str | None, list[str], str]:
    """(round 0's first commit or None without rounds, the rounds' commits oldest first, HEAD); `since`: a sha."""
    head = commit_of("HEAD", cwd, "HEAD (synthbert rounds reads the git history)")
    base = since
    if base is not None and subprocess.run(["git", "merge-base", "--is-ancestor", base, head], cwd=cwd).returncode:
        raise DataError(f"--since {base[:12]}: not an ancestor of HEAD (expected a commit that the rounds follow)")
    # --first-parent: a commit is compared with its first parent only (a merge brings a branch's rounds as one)
    touched = git(cwd, "log", "--first-parent", "--reverse", "--format=%H", f"{base}..{head}" if base else head,
                  "--", FOCUS).split()
    rounds = []
    for c in touched:
        parent = parent_of(c, cwd)
        if parent is not None and focus_at(c, cwd) != focus_at(parent, cwd):
            rounds.append(c)
    if rounds and base is None:
        base = parent_of(rounds[0], cwd)
    return (base if rounds else None), rounds, head


def parent_of(rev: str, cwd: Path) -> str | None:
    """The first parent's sha; None for a root commit."""
    proc = subprocess.run(["git", "rev-parse", "--verify", "--quiet", f"{rev}^"], cwd=cwd, capture_output=True,
                          text=True)
    return proc.stdout.strip() if proc.returncode == 0 else None


def json_at(rev: str, path: str, cwd: Path) -> Any:
    """The JSON file `path` at `rev`; None where it is absent."""
    text = paired.read_at(rev, path, cwd)
    try:
        return None if text is None else json.loads(text)
    except ValueError as exc:
        raise DataError(f"{rev[:12]}:{path}: not valid JSON ({exc})") from None


def reproduced(rev: str, cwd: Path) -> bool | None:
    """Whether dvc.lock at `rev` holds the focus file's hash (generate ran on it); None without such an entry."""
    lock = yaml.safe_load(paired.read_at(rev, LOCK, cwd) or "") or {}
    deps = ((lock.get("stages") or {}).get("generate") or {}).get("deps") or []
    locked = next((d.get("md5") for d in deps if d.get("path") == FOCUS), None)
    if locked is None:
        return None
    return locked == hashlib.md5(show_bytes(rev, FOCUS, cwd) or b"").hexdigest()


def by_role(report: TestReport | None, role: str) -> dict[str, dict[str, Any]]:
    """{set: {rows, f1_macro, low, high, collapsed}} of the real sets of `role` (without a role: test, as report.md
    reads it); collapsed: whether the model put nearly every decision on one label there (core/verdicts.py)."""
    sets = report.external if report is not None else {}
    return {name: {"rows": r["rows"], "f1_macro": r["f1_macro"], "low": r["f1_macro_ci_low"],
                   "high": r["f1_macro_ci_high"], "collapsed": bool(r.get("collapsed"))}
            for name, r in sorted(sets.items()) if r.get("role", "test") == role}


def confused(decisions: dict[str, paired.Decisions], sets: list[str]) -> dict[str, list[dict[str, Any]]]:
    out = {}
    for name in sets:
        d = decisions.get(f"real:{name}")
        pairs = collections.Counter((t, p) for t, p in zip(d.true, d.predicted) if t != p) if d else {}
        out[name] = [{"true": t, "predicted": p, "mismatches": n}
                     for (t, p), n in sorted(pairs.items(), key=lambda kv: (-kv[1], kv[0]))]
    return out


def spending(rev: str, cwd: Path) -> dict[str, Any]:
    """LLM requests sent and USD paid by the round's generate run, and the data set's total (None: no price)."""
    found = json_at(rev, GENERATION, cwd)
    if found is None:
        return {}
    try:
        requests = found["requests"]
        paid = found["this_run"]["cost_usd"] if "this_run" in found else 0.0  # only the openai provider pays
        return {"provider": found["provider"], "requests": requests["sent_this_run"],
                "requests_used": requests["used"], "usd": paid, "usd_total": found["cost_usd"]}
    except (KeyError, TypeError) as exc:
        raise DataError(f"{rev[:12]}:{GENERATION}: no field {exc} (written by an older generate? `--since REV` starts "
                        "the ledger after it)") from None


def record(number: int, start: str, at: str, cwd: Path) -> tuple[dict[str, Any], dict[str, paired.Decisions]]:
    """One round's entry (without its gain) and its real-set decisions."""
    found, quality = json_at(at, TEST_METRICS, cwd), json_at(at, QUALITY, cwd)
    report = TestReport.from_dict(found, f"{at[:12]}:{TEST_METRICS}") if found is not None else None
    rows = QualityReport.from_dict(quality, f"{at[:12]}:{QUALITY}") if quality is not None else None
    text = paired.read_at(at, paired.REAL_PREDICTIONS, cwd)
    decisions = paired.from_real_predictions(text, f"{at[:12]}:{paired.REAL_PREDICTIONS}") if text else {}
    test = by_role(report, "test")
    return {"round": number, "commit": start, "subject": git(cwd, "log", "-1", "--format=%s", start).strip(),
            "reports_at": at, "reproduced": reproduced(at, cwd), "test": test, "dev": by_role(report, "dev"),
            "gain": None, "gained": None,
            "rows": {"generated": rows.rows_read, "kept": rows.rows_kept} if rows else {},
            "llm": spending(at, cwd), "confused": confused(decisions, list(test))}, decisions


def judge(entry: dict[str, Any], before: dict[str, Any], old: dict[str, paired.Decisions],
          new: dict[str, paired.Decisions], settings: tuple[int, float, int]) -> None:
    """The round's gain per real test set scored by both rounds (its verdict "collapsed" when either round's model
    collapsed there: a majority guess is never better or within noise), and whether it gained."""
    resamples, confidence, seed = settings
    entry["gain"] = {}
    for name in entry["test"]:
        if f"real:{name}" in old and f"real:{name}" in new:
            gain = paired.set_verdict(old[f"real:{name}"], new[f"real:{name}"], resamples, confidence, seed)
            collapsed = entry["test"][name]["collapsed"] or before["test"].get(name, {}).get("collapsed")
            if "verdict" in gain and collapsed:
                gain["verdict"] = COLLAPSED
            entry["gain"][name] = gain
    verdicts = [g["verdict"] for g in entry["gain"].values() if "verdict" in g]
    if verdicts and entry["reproduced"] is not False:
        entry["gained"] = "better" in verdicts and "worse" not in verdicts


def decide(rounds: list[dict[str, Any]]) -> tuple[str, str]:
    """(STOP, CONTINUE or UNDECIDED, why in one line) from the last two rounds' `gained`."""
    last = rounds[-1]
    n = last["round"]
    if last["gained"] is None:
        why = ("its reports were not reproduced from its focus file" if last["reproduced"] is False
               else "no real test set scored by both it and the round before (evaluate.external_test, role test)")
        return UNDECIDED, f"round {n} cannot be judged: {why}"
    if last["gained"]:
        return CONTINUE, f"round {n} gained beyond noise on the real test sets"
    if n >= 2 and rounds[-2]["gained"] is False:
        return STOP, f"rounds {n - 1} and {n} each gained nothing beyond noise on the real test sets"
    return CONTINUE, f"round {n} gained nothing beyond noise; stop if the next round does not either"


def build(cwd: Path, since: str | None, settings: tuple[int, float, int]) -> RoundsLedger:
    since = commit_of(since, cwd, "--since") if since else None
    base, starts, head = history(cwd, since)
    boot = dict(zip(("resamples", "confidence", "seed"), settings))
    if base is None:
        return RoundsLedger(rounds=[], decision=None, reason=NO_ROUNDS, since=since, bootstrap=boot)
    ends = [parent_of(c, cwd) for c in starts] + [head]
    rounds, before = [], {}
    for number, (start, at) in enumerate(zip([base, *starts], ends)):
        entry, decisions = record(number, start, at, cwd)
        if rounds:
            judge(entry, rounds[-1], before, decisions, settings)
        rounds.append(entry)
        before = decisions
    decision, reason = decide(rounds)
    return RoundsLedger(rounds=rounds, decision=decision, reason=reason, since=since, bootstrap=boot)


def render(ledger: RoundsLedger) -> str:
    return "\n".join(ledger_lines(ledger) if ledger.rounds else [ledger.reason]) + "\n"


def run(cwd: Path = Path("."), since: str | None = None, out: Path | None = None, as_json: bool = False,
        write: bool = False, params_path: Path = Path("params.yaml")) -> RoundsLedger:
    ledger = build(cwd, since, bootstrap_settings(cwd / params_path))
    text = json.dumps(ledger.to_dict(), indent=2) + "\n" if as_json else render(ledger)
    if write:
        ledger.write(cwd / LEDGER)
    if out is not None:
        write_text(out, text)
    else:
        sys.stdout.write(text)
    return ledger


def main(argv: list[str] | None = None) -> int:
    def add(p: argparse.ArgumentParser) -> None:
        p.add_argument("--since", help="round 0: the rounds are the focus changes after this revision")
        p.add_argument("--out", type=Path, help="file to write the markdown (or --json) to instead of stdout")
        p.add_argument("--json", action="store_true", help="the ledger as JSON (reports/rounds.json's shape)")
        p.add_argument("--write", action="store_true", help=f"write {LEDGER} for report.md; then `dvc repro`")

    def body(args: argparse.Namespace) -> None:
        ledger = run(since=args.since, out=args.out, as_json=args.json, write=args.write, params_path=Path(args.params))
        if args.write:
            what = f"{len(ledger.rounds) - 1} rounds, {ledger.decision}" if ledger.rounds else "no rounds yet"
            print(f"wrote {LEDGER} ({what}); run `dvc repro` (report.md shows it) and commit", file=sys.stderr)

    return cli.main(__doc__.splitlines()[0], add, body, argv, example=cli.examples(__doc__), prog="synthbert rounds")


if __name__ == "__main__":
    raise SystemExit(main())
