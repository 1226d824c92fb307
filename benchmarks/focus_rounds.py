"""Rounds of generation aimed at the errors (`synthbert focus`) on the default task and their ledger (synthbert rounds).

In a temporary git + DVC copy of this project with the default params and the whole real sets (or `--quick`: the
tiny settings of the tests, real sets cut to their first rows): `dvc repro` and commit (round 0), then per round the
README's recipe word for word: `synthbert focus --dev stop_clickbait_dev` (`--dev`), `dvc repro`, commit; `synthbert rounds --write`, `dvc repro` (the
report alone reruns), commit. Prints each round's focus summary and seconds, checks that a last `dvc repro` has
nothing to do and that report.md shows the ledger, then prints the ledger (`synthbert rounds`): per round the real
test macro-F1 with its interval, the paired gain over the previous round with its interval and verdict, rows, LLM
requests and dollars, the confused pairs, and whether to stop.

Usage: python benchmarks/focus_rounds.py [--rounds 3] [--boost 1.0] [--dev stop_clickbait_dev] [--quick --model DIR]   (repository root)
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from stages.core.io import read_yaml  # noqa: E402
from testkit.dvc_repo import TINY_PARAMS, TINY_REAL_ROWS_PER_LABEL, dvc, make_repo, run_cmd, stages_ran  # noqa: E402

REPRO_TIMEOUT = 3600  # seconds per `dvc repro`: the default params on a busy 2-core CPU take well over 15 minutes
COMMIT = ("data/focus.yaml", "dvc.lock", "reports")   # what a round changes in git (data/ and models/ are DVC's)


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown CPU"


def tool(repo: Path, verb: str, *args: str) -> str:
    """`synthbert <verb> ...` in the repository (as `python -m stages.tools.<verb>`: this interpreter's stages)."""
    return run_cmd([sys.executable, "-m", f"stages.tools.{verb}", *args], repo).stdout


def commit(repo: Path, message: str) -> None:
    run_cmd(["git", "add", *COMMIT], repo)
    run_cmd(["git", "commit", "-qm", message], repo)


def focus_round(repo: Path, n: int, boost: float, dev: str) -> bool:
    """One round as the README says; False (and nothing committed) when the focus file came out unchanged."""
    said = tool(repo, "focus", "--dev", dev, "--boost", str(boost)).strip()
    if not run_cmd(["git", "status", "--porcelain", "data/focus.yaml"], repo).stdout.strip():
        print(f"round {n}: {said}\nround {n}: the focus file is unchanged, so this is no new round; stopping here")
        return False
    started = time.perf_counter()
    dvc(repo, "repro", timeout=REPRO_TIMEOUT)
    commit(repo, f"focus round {n}")
    tool(repo, "rounds", "--write")
    ran = stages_ran(dvc(repo, "repro", timeout=REPRO_TIMEOUT).stdout)
    if ran != ["report"]:
        raise SystemExit(f"round {n}: after `synthbert rounds --write`, dvc repro ran {ran}, expected the report alone")
    commit(repo, f"ledger after focus round {n}")
    print(f"round {n}: {said} ({time.perf_counter() - started:.0f} s)")
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="focus rounds after round 0")
    parser.add_argument("--boost", type=float, default=1.0, help="synthbert focus --boost")
    parser.add_argument("--dev", default="stop_clickbait_dev",
                        help="synthbert focus --dev: the dev set whose errors each round aims at (default: the real "
                             "Stop Clickbait dev part; the synthetic val split of the default task has no errors)")
    parser.add_argument("--quick", action="store_true", help="the tests' tiny settings (smoke test)")
    parser.add_argument("--model", default=None, help="train.model (default: params.yaml's)")
    args = parser.parse_args()
    defaults = read_yaml(ROOT / "params.yaml")
    overrides = {s: dict(TINY_PARAMS[s]) if args.quick else dict(defaults[s]) for s in TINY_PARAMS}
    model = args.model or defaults["train"]["model"]
    print(f"CPU: {cpu_model()} ({len(os.sched_getaffinity(0))} cores)")
    with tempfile.TemporaryDirectory() as tmp_name:
        repo = make_repo(Path(tmp_name) / "repo", model, overrides, TINY_REAL_ROWS_PER_LABEL if args.quick else None)
        started = time.perf_counter()
        dvc(repo, "repro", timeout=REPRO_TIMEOUT)
        run_cmd(["git", "add", "-A"], repo)
        run_cmd(["git", "commit", "-qm", "round 0: no focus"], repo)
        print(f"round 0: dvc repro ({time.perf_counter() - started:.0f} s)")
        for n in range(1, args.rounds + 1):
            if not focus_round(repo, n, args.boost, args.dev):
                break
        if ran := stages_ran(dvc(repo, "repro", timeout=REPRO_TIMEOUT).stdout):
            raise SystemExit(f"a second dvc repro ran {ran}: the pipeline is not reproducible from its deps")
        report = (repo / "reports" / "report.md").read_text(encoding="utf-8")
        if "## Rounds" not in report:
            raise SystemExit("report.md has no Rounds section after `synthbert rounds --write` and dvc repro")
        print(f"a last dvc repro: nothing to do; report.md shows the ledger; {time.perf_counter() - started:.0f} s "
              "in all\n")
        print(tool(repo, "rounds"), end="")


if __name__ == "__main__":
    main()
