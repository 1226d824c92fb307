"""Does the audit predict real accuracy? The audit's figures (reports/data/audit.json) of several training settings,
ranked against the fine-tuned model's macro-F1 on the real test set (evaluate.external_test, role test) by
Spearman's rank correlation (issue 23).

Settings (base.seed only, one seed each): template rows at three sizes (generate.n_per_label, `--sizes`); one
`synthbert focus --dev stop_clickbait_dev` round on the smallest (it weights the templates behind the model's errors
on the real set's dev part, never its test part), then generate again; the middle size with 16 and 32 real rows per label mixed in (generate.real, `--real`)
drawn from the real set's DEV part (data/external/stop_clickbait/dev.csv, copied to data/raw/), never from its
test part; and the stand-in task (data/tasks/clickbait_standin.yaml, labels bait/news: both real sets get
label_map clickbait -> bait, factual -> news) at the middle size. Each runs dvc.yaml's generate, split, audit,
train, train_real_only and evaluate commands word for word in one process in a temporary copy of the data inputs
(benchmarks/seeds.py's way; no DVC), with evaluate.baselines.models [majority] (the baselines play no part here).

Mixed-in real rows: the audit's synthetic side is the train/val rows whose source is not real, so the dev rows
mixed into training are never compared with themselves; they are already in the reference (the dev set) and count
once there (dedup_key), so the reference is the same 500 dev rows in every setting. The figures therefore describe
the synthetic rows only; what the mixed-in rows add to accuracy, the audit cannot see by design.

Prints one row per setting (real test macro-F1 with its interval, each audit figure, seconds), then per figure
Spearman's rho against real test macro-F1 with its exact two-sided permutation p-value (all n! orderings).

Usage (repository root): python benchmarks/audit_predicts.py [--sizes 100,400,1600] [--real 16,32]
                         [--quick --model DIR]   (--quick: the tests' tiny settings, real sets cut to 20 per label)
"""

from __future__ import annotations

import argparse
import importlib
import itertools
import json
import os
import shlex
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from benchmarks.seeds import device, working_directory, workspace  # noqa: E402
from stages.core.io import read_yaml  # noqa: E402
from testkit.dvc_repo import TINY_PARAMS, shrink_real_sets  # noqa: E402

STAGES = ("inputs", "generate", "split", "audit", "train", "train_real_only", "evaluate")
DEV_CSV = "data/external/stop_clickbait/dev.csv"
DEV_SET = "stop_clickbait_dev"  # the evaluate.external_test entry with role: dev that focus aims at
REAL_CSV = "data/raw/stop_clickbait_dev.csv"  # generate.real reads the dev part from here
STAND_IN = "data/tasks/clickbait_standin.yaml"
STAND_IN_MAP = {"clickbait": "bait", "factual": "news"}
FIGURES = (  # (column, what, the sign expected if it predicts accuracy)
    ("auc_tfidf", "discriminability, TF-IDF + LR ROC-AUC", "-"),
    ("auc_frozen", "discriminability, frozen encoder + LR ROC-AUC", "-"),
    ("coverage", "coverage (share of real rows)", "+"),
    ("distinct_2", "synthetic distinct 2-grams per 1,000", "+"),
    ("similarity", "synthetic mean pairwise cosine similarity", "-"),
    ("largest_origin", "synthetic share of the largest origin", "-"),
    ("label_gap", "largest label-share gap, synthetic vs real", "-"),
)


def run_stages(repo: Path, stages: dict, names: tuple[str, ...] = STAGES) -> None:
    """dvc.yaml's commands of `names`, word for word, each stage's main() in this process, in `repo`."""
    with working_directory(repo):
        for name in names:
            argv = shlex.split(stages[name]["cmd"])
            module = importlib.import_module(argv[2])
            if code := module.main(argv[3:]):
                raise SystemExit(f"error: {repo.name}: {name} failed (exit code {code}; its error is above)")


def focus_round(repo: Path, stages: dict) -> None:
    """`synthbert focus --dev stop_clickbait_dev` on the last model (the real dev part's errors), then the stages again."""
    from stages.tools import focus

    with working_directory(repo):
        if code := focus.main(["--dev", DEV_SET]):
            raise SystemExit(f"error: {repo.name}: synthbert focus failed (exit code {code})")
    run_stages(repo, stages)


def figures(repo: Path, test_set: str) -> dict:
    """The audit's headline figures and the real test set's macro-F1 (with its interval) of one finished setting."""
    audit = json.loads((repo / "reports" / "data" / "audit.json").read_text(encoding="utf-8"))
    real = json.loads((repo / "reports" / "eval" / "test_metrics.json").read_text(encoding="utf-8"))["external"]
    split = json.loads((repo / "reports" / "data" / "split.json").read_text(encoding="utf-8"))
    if audit["reason"]:
        raise SystemExit(f"error: {repo.name}: the audit measured nothing: {audit['reason']}")
    syn, shares = audit["diversity"]["synthetic"], audit["label_shares"]
    gap = max(abs(shares["synthetic"].get(k, 0) - shares["real"].get(k, 0)) for k in {*shares["synthetic"],
                                                                                     *shares["real"]})
    row = real[test_set]
    return {"f1": row["f1_macro"], "ci": (row["f1_macro_ci_low"], row["f1_macro_ci_high"]),
            "train_rows": split["splits"]["train"]["rows"], "synthetic": audit["synthetic_rows"],
            "auc_tfidf": audit["discriminability"]["tfidf_lr"]["roc_auc"],
            "auc_frozen": audit["discriminability"]["frozen_lr"]["roc_auc"], "coverage": audit["coverage"]["share"],
            "distinct_2": syn["distinct_2"], "similarity": syn["mean_pairwise_similarity"],
            "largest_origin": syn["largest_origin_share"], "label_gap": round(gap, 4)}


def settings(defaults: dict, sizes: list[int], real: list[int]) -> list[tuple[str, dict, str | None]]:
    """(name, params overrides, the setting it continues with a focus round or None), in running order."""
    mid = sizes[len(sizes) // 2]
    mapped = [{**entry, "label_map": {**entry.get("label_map", {}), **STAND_IN_MAP}}
              for entry in defaults["evaluate"]["external_test"]]
    out = [(f"template {n}/label", {"generate": {"n_per_label": n}}, None) for n in sizes]
    out.append((f"focus round on {sizes[0]}/label", {}, out[0][0]))
    out += [(f"template {mid} + {k} real/label", {"generate": {"n_per_label": mid, "real": {
        "path": REAL_CSV, "per_label": k}}}, None) for k in real]
    out.append((f"stand-in task {mid}/label", {"generate": {"n_per_label": mid, "task": STAND_IN},
                                               "evaluate": {"external_test": mapped}}, None))
    return out


def merged(base: dict, extra: dict) -> dict:
    out = {section: dict(values) for section, values in base.items()}
    for section, values in extra.items():
        out.setdefault(section, {}).update(values)
    return out


def ranks(values: list[float]) -> list[float]:
    from scipy.stats import rankdata

    return list(rankdata(values))


def spearman(x: list[float], y: list[float]) -> tuple[float | None, float | None]:
    """Spearman's rho (ties: average ranks) and its exact two-sided permutation p-value; None when x or y is flat."""
    import numpy as np

    rx, ry = np.array(ranks(x)), np.array(ranks(y))
    if rx.std() == 0 or ry.std() == 0:
        return None, None
    rho = float(np.corrcoef(rx, ry)[0, 1])
    perms = [float(np.corrcoef(rx, np.array(p))[0, 1]) for p in itertools.permutations(ry)]
    return rho, sum(abs(r) >= abs(rho) - 1e-12 for r in perms) / len(perms)


def print_tables(rows: dict[str, dict], seconds: dict[str, float], test_set: str) -> None:
    head = f"{'setting':<30}{'train rows':>11}{'real test F1 (95% CI)':>24}" + \
        "".join(f"{c:>15}" for c, _, _ in FIGURES) + f"{'seconds':>9}"
    print(head)
    for name, r in rows.items():
        ci = f"{r['f1']:.4f} ({r['ci'][0]:.3f}-{r['ci'][1]:.3f})"
        print(f"{name:<30}{r['train_rows']:>11,}{ci:>24}" + "".join(f"{r[c]:>15.4f}" for c, _, _ in FIGURES) +
              f"{seconds[name]:>9.0f}")
    f1 = [r["f1"] for r in rows.values()]
    print(f"\nSpearman rank correlation with real test macro-F1 ({test_set}), {len(rows)} settings; p: exact "
          f"two-sided permutation p-value over all {len(rows)}! orderings")
    print(f"{'figure':<48}{'expected':>9}{'rho':>8}{'p':>8}")
    for column, what, sign in FIGURES:
        rho, p = spearman([r[column] for r in rows.values()], f1)
        print(f"{what:<48}{sign:>9}" + (f"{rho:>+8.3f}{p:>8.3f}" if rho is not None else f"{'—':>8}{'—':>8}"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,400,1600", help="generate.n_per_label of the template settings")
    parser.add_argument("--real", default="16,32", help="generate.real.per_label of the mixed settings")
    parser.add_argument("--quick", action="store_true", help="the tests' tiny settings (smoke test)")
    parser.add_argument("--model", default=None, help="train.model (default: params.yaml's)")
    args = parser.parse_args()
    sizes, real = sorted(int(s) for s in args.sizes.split(",")), [int(k) for k in args.real.split(",")]
    defaults, stages = read_yaml(ROOT / "params.yaml"), read_yaml(ROOT / "dvc.yaml")["stages"]
    base = {s: dict(TINY_PARAMS[s]) for s in TINY_PARAMS} if args.quick else {}
    base = merged(base, {"evaluate": {"baselines": {**defaults["evaluate"]["baselines"], "models": ["majority"]}}})
    if args.model:
        base = merged(base, {"train": {"model": args.model}})
    test_set = next(e["name"] for e in defaults["evaluate"]["external_test"] if e.get("role", "test") == "test")
    rows, seconds = {}, {}
    with tempfile.TemporaryDirectory(prefix="bench-audit-") as tmp:
        for k, (name, overrides, after) in enumerate(settings(defaults, sizes, real)):
            repo, started = Path(tmp) / f"setting-{k}", time.perf_counter()
            if after is None:
                workspace(repo, stages, merged(base, overrides))
                if args.quick:
                    shrink_real_sets(repo / "data" / "external")
                shutil.copy2(repo / DEV_CSV, repo / REAL_CSV)
                run_stages(repo, stages)
            else:
                shutil.copytree(Path(tmp) / f"setting-{list(rows).index(after)}", repo)
                focus_round(repo, stages)
            rows[name], seconds[name] = figures(repo, test_set), time.perf_counter() - started
            print(f"{name}: real test macro-F1 {rows[name]['f1']:.4f}, audit ROC-AUC {rows[name]['auc_frozen']:.4f} "
                  f"(frozen encoder), coverage {rows[name]['coverage']:.4f} ({seconds[name]:.0f} s)", flush=True)
    model = base.get("train", {}).get("model") or defaults["train"]["model"]
    print(f"\n{device()}; model {model}; base.seed {defaults['base']['seed']}; {sum(seconds.values()):.0f} s in all")
    print_tables(rows, seconds, test_set)


if __name__ == "__main__":
    main()
