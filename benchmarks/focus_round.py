"""One round of generation aimed at the errors (`synthbert focus`), measured on a fresh test set.

In a temporary git + DVC copy of this project with the default params (or `--quick`: the tiny settings of the
tests): `dvc repro` (round 0), `synthbert focus` (the val split's errors: focus reads dev errors only), `dvc repro`
(round 1: generate reads data/focus.yaml). Both
rounds' models then score the same fresh test set: template rows of the task drawn with another seed,
unweighted, none of whose texts occurs in either round's generated data. Prints, per confused (true,
predicted) pair, the mismatches of each round on that set, and both rounds' macro-F1 with 95% bootstrap
intervals and their paired difference.

Usage: python benchmarks/focus_round.py [--fresh 1000] [--boost 1.0] [--quick --model DIR]   (repository root)
"""

from __future__ import annotations

import argparse
import collections
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from stages.core import decision, modeling  # noqa: E402
from stages.core.io import read_yaml  # noqa: E402
from stages.core.text import dedup_key  # noqa: E402
from stages.evaluation import metrics  # noqa: E402
from stages.generation import template  # noqa: E402
from stages.generation.task import load_task  # noqa: E402
from testkit.dvc_repo import TINY_PARAMS, dvc, make_repo, run_cmd  # noqa: E402

REPRO_TIMEOUT = 3600  # seconds per `dvc repro`: the default params on a busy 2-core CPU take well over 15 minutes


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown CPU"


def fresh_set(repo: Path, generated: list[Path], n: int, seed: int) -> tuple[list[str], list[str]]:
    """n rows per label of the task, seeded apart from the pipeline, minus any text either round generated."""
    import pandas as pd

    task = load_task(repo / read_yaml(repo / "params.yaml")["generate"]["task"])
    seen = {dedup_key(t) for path in generated for t in pd.read_csv(path, dtype=str, keep_default_na=False)["text"]}
    rows = [r for r in template.generate(task, n, seed) if dedup_key(r["text"]) not in seen]
    return [r["text"] for r in rows], [r["label"] for r in rows]


def score(model_dir: Path, texts: list[str], labels: list[str]) -> tuple[list[str], float]:
    model, tokenizer = modeling.load_classifier(str(model_dir)), modeling.load_tokenizer(str(model_dir))
    names = modeling.labels_of(model)
    proba = modeling.predict_proba(model, tokenizer, texts, 128)
    pred = [names[i] for i in decision.decide(proba, decision.offsets_of(model, names))]  # the model's saved rule
    return pred, metrics.classification_metrics(labels, pred, names)["f1_macro"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fresh", type=int, default=1000, help="fresh test rows drawn per label")
    parser.add_argument("--boost", type=float, default=1.0, help="synthbert focus --boost")
    parser.add_argument("--quick", action="store_true", help="the tests' tiny settings (smoke test)")
    parser.add_argument("--model", default=None, help="train.model (default: params.yaml's)")
    args = parser.parse_args()
    import numpy as np

    defaults = read_yaml(ROOT / "params.yaml")
    overrides = {s: dict(TINY_PARAMS[s]) if args.quick else dict(defaults[s]) for s in TINY_PARAMS}
    model = args.model or defaults["train"]["model"]
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        repo = make_repo(tmp / "repo", model, overrides)
        started = time.perf_counter()
        dvc(repo, "repro", timeout=REPRO_TIMEOUT)
        shutil.copytree(repo / "models" / "classifier", tmp / "round0")
        shutil.copy(repo / "data" / "generated.csv", tmp / "round0.csv")
        out = run_cmd([sys.executable, "-m", "stages.tools.focus", "--boost", str(args.boost)], repo).stdout
        focus_text = (repo / "data" / "focus.yaml").read_text()
        dvc(repo, "repro", timeout=REPRO_TIMEOUT)
        seconds = time.perf_counter() - started
        texts, truth = fresh_set(repo, [tmp / "round0.csv", repo / "data" / "generated.csv"], args.fresh, seed=20261130)
        (p0, f0), (p1, f1) = score(tmp / "round0", texts, truth), score(repo / "models" / "classifier", texts, truth)
    print(f"CPU: {cpu_model()} ({len(os.sched_getaffinity(0))} cores); two rounds in {seconds:.0f} s; "
          f"fresh test set: {len(texts):,} rows")
    print(out.strip())
    print("\n".join(line for line in focus_text.splitlines() if not line.startswith("#"))[:1500])
    pairs = collections.Counter((t, p) for t, p in zip(truth, p0) if t != p)
    pairs1 = collections.Counter((t, p) for t, p in zip(truth, p1) if t != p)
    print(f"\n{'true -> predicted':<32}{'round 0':>9}{'round 1':>9}")
    for pair in sorted(set(pairs) | set(pairs1), key=lambda k: -pairs[k]):
        print(f"{pair[0] + ' -> ' + pair[1]:<32}{pairs[pair]:>9}{pairs1[pair]:>9}")
    names = sorted(set(truth))
    y = np.array([names.index(t) for t in truth])
    preds = {"round0": np.array([names.index(p) for p in p0]), "round1": np.array([names.index(p) for p in p1])}
    boot = metrics.bootstrap(y, preds, len(names), np.ones(len(names), bool), 2000, 7)
    lo0, hi0 = metrics.interval(boot["round0"]["f1_macro"], 0.95)
    lo1, hi1 = metrics.interval(boot["round1"]["f1_macro"], 0.95)
    dlo, dhi = metrics.interval(boot["round1"]["f1_macro"] - boot["round0"]["f1_macro"], 0.95)
    print(f"\nmacro-F1 round 0 {f0:.4f} [{lo0:.4f}, {hi0:.4f}]; round 1 {f1:.4f} [{lo1:.4f}, {hi1:.4f}]; "
          f"difference {f1 - f0:+.4f} [{dlo:+.4f}, {dhi:+.4f}] (paired bootstrap)")


if __name__ == "__main__":
    main()
