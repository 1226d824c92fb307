"""A Bayesian sweep over DVC experiments: Optuna proposes params, each trial is a `dvc exp run`.

    synthbert sweep --trials 20 -S train.max_length=64

Reads the search space, objective and direction from sweep.yaml and base.seed (Optuna's sampler) from
params.yaml. Each trial runs `dvc exp run --temp -n sweep-N -S key=value ... STAGE` (outside the workspace,
which stays untouched), where STAGE is the dvc.yaml stage that writes the objective's file: a trial runs only
up to what its objective needs (train for the validation F1: no evaluate, no LIME). `-S key=value` fixes a
param for every trial. It then reads the objective from the files that experiment committed (`git show`), so
any JSON report can be the objective. Logs each trial (n/N, params, objective, seconds); prints every trial,
the best one and how to apply it (`dvc exp apply`).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from stages.core import cli, params
from stages.core.errors import DataError, ParamsError
from stages.core.io import read_yaml

log = logging.getLogger(__name__)
SWEEP_FILE = "sweep.yaml"
KEYS = {"metric", "direction", "space"}
RANGE_KEYS = {"low", "high", "log", "integer", "choices"}


@dataclass(frozen=True)
class Sweep:
    metric: str                       # "<json file>:<dotted key>"
    direction: str                    # maximize | minimize
    space: dict[str, dict[str, Any]]  # "section.key" -> {low, high, log, integer} | {choices}


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def check_range(where: str, spec: Any) -> dict[str, Any]:
    if not isinstance(spec, dict) or not spec or set(spec) - RANGE_KEYS:
        raise ParamsError(f"{where} must be {{low, high[, log, integer]}} or {{choices: [...]}}, got {spec!r}")
    if "choices" in spec:
        ok = isinstance(spec["choices"], list) and spec["choices"] and set(spec) == {"choices"}
        if not ok:
            raise ParamsError(f"{where}.choices must be a non-empty list (alone), got {spec!r}")
        return {"choices": list(spec["choices"])}
    low, high = spec.get("low"), spec.get("high")
    if not (_number(low) and _number(high) and low < high):
        raise ParamsError(f"{where} needs numbers low < high, got low={low!r}, high={high!r}")
    log_, integer = spec.get("log", False), spec.get("integer", False)
    if not isinstance(log_, bool) or not isinstance(integer, bool):
        raise ParamsError(f"{where}.log and .integer must be true or false, got {spec!r}")
    if log_ and low <= 0:
        raise ParamsError(f"{where}.low must be > 0 with log: true, got {low!r}")
    if integer and not (float(low).is_integer() and float(high).is_integer()):
        raise ParamsError(f"{where} with integer: true needs whole-number bounds, got {low!r}, {high!r}")
    return {"low": low, "high": high, "log": log_, "integer": integer}


def load_sweep(path: Path, params_path: Path) -> Sweep:
    """Validate sweep.yaml; every key of the space must exist in params.yaml and both bounds (or every
    choice) must pass that section's own validation."""
    raw = read_yaml(path)
    if not isinstance(raw, dict) or set(raw) - KEYS or not raw.get("space"):
        raise ParamsError(f"{path}: expected the keys {', '.join(sorted(KEYS))} (space not empty), found "
                          f"{', '.join(map(str, raw)) if isinstance(raw, dict) else type(raw).__name__}")
    metric, direction = raw.get("metric", ""), raw.get("direction", "maximize")
    if not isinstance(metric, str) or ":" not in metric or not all(metric.split(":", 1)):
        raise ParamsError(f"{path}: metric must be '<json file>:<dotted key>', got {metric!r}")
    if direction not in ("maximize", "minimize"):
        raise ParamsError(f"{path}: direction must be maximize or minimize, got {direction!r}")
    if not isinstance(raw["space"], dict):
        raise ParamsError(f"{path}: space must map params.yaml keys to ranges, got {raw['space']!r}")
    current = params.read_params(params_path)
    space = {}
    for key, spec in raw["space"].items():
        section, _, name = str(key).partition(".")
        if not isinstance(current.get(section), dict) or name not in current[section]:
            raise ParamsError(f"{path}: space.{key} is not a key of {params_path} (expected section.key, "
                              "e.g. train.learning_rate)")
        space[key] = check_range(f"{path}: space.{key}", spec)
        values = space[key].get("choices") or [space[key]["low"], space[key]["high"]]
        for value in values:  # the section's own checks, e.g. train.learning_rate in (0, 1)
            params.load_dict({**current[section], name: value}, section)
    return Sweep(metric, direction, space)


def distributions(space: dict[str, dict[str, Any]]) -> dict[str, Any]:
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    out = {}
    for key, s in space.items():
        if "choices" in s:
            out[key] = CategoricalDistribution(s["choices"])
        elif s["integer"]:
            out[key] = IntDistribution(int(s["low"]), int(s["high"]), log=s["log"])
        else:
            out[key] = FloatDistribution(float(s["low"]), float(s["high"]), log=s["log"])
    return out


def _git(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)


def experiment_names(cwd: Path) -> dict[str, str]:
    """name -> commit of every DVC experiment (refs/exps/<baseline>/<name>)."""
    out = _git(cwd, "for-each-ref", "--format=%(refname) %(objectname)", "refs/exps").stdout.split("\n")
    return {ref.rsplit("/", 1)[-1]: sha for ref, _, sha in (line.partition(" ") for line in out if line)}


def first_free(names: Any, prefix: str) -> int:
    """The number after the highest PREFIX-N among existing experiment names (1 when there is none)."""
    numbers = [int(n[len(prefix) + 1:]) for n in names if n.startswith(f"{prefix}-") and n[len(prefix) + 1:].isdigit()]
    return max(numbers, default=0) + 1


def objective(cwd: Path, rev: str, metric: str) -> float:
    """The value of `file:dotted.key` in the files of commit `rev`."""
    path, key = metric.split(":", 1)
    proc = _git(cwd, "show", f"{rev}:{path}")
    if proc.returncode != 0:
        raise DataError(f"sweep.metric: the experiment did not commit {path}")
    value: Any = json.loads(proc.stdout)
    for part in key.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if not _number(value):
        raise DataError(f"sweep.metric: {path} has no number at {key} (found {value!r})")
    return float(value)


def objective_stage(dvc_yaml: Path, metric: str) -> str | None:
    """The stage whose output holds the objective's file (the file itself or a directory above it); None when
    no stage writes it (then a trial runs the whole pipeline)."""
    path = Path(metric.split(":", 1)[0])
    stages = (read_yaml(dvc_yaml) or {}).get("stages") or {} if dvc_yaml.is_file() else {}
    for name, stage in stages.items():
        for out in [*(stage.get("outs") or []), *(stage.get("metrics") or [])]:
            out_path = Path(next(iter(out)) if isinstance(out, dict) else str(out))
            if path == out_path or out_path in path.parents:
                return name
    return None


def fixed_overrides(pairs: list[str], sweep: Sweep, params_path: Path) -> dict[str, Any]:
    """`-S key=value` pairs fixed for every trial: keys of params.yaml, outside the search space, each value
    passing its section's own checks (one line naming the key otherwise)."""
    current, out = params.read_params(params_path), {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        section, _, name = key.partition(".")
        if not sep or not isinstance(current.get(section), dict) or name not in current[section]:
            raise ParamsError(f"-S {pair}: expected section.key=value with a key of {params_path}")
        if key in sweep.space:
            raise ParamsError(f"-S {pair}: {key} is in the search space of the sweep; fix it or tune it, not both")
        value = yaml.safe_load(text)
        params.load_dict({**current[section], name: value}, section)
        out[key] = value
    return out


def trial_command(name: str, values: dict[str, Any], stage: str | None) -> list[str]:
    exe = Path(sys.executable).with_name("dvc")
    overrides = [arg for key, value in values.items() for arg in ("-S", f"{key}={value}")]
    return [str(exe) if exe.exists() else "dvc", "exp", "run", "--temp", "-n", name, *overrides,
            *([stage] if stage else [])]


def run_trial(cwd: Path, name: str, values: dict[str, Any], stage: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(trial_command(name, values, stage), cwd=cwd, capture_output=True, text=True)


def run(sweep: Sweep, trials: int, seed: int, cwd: Path = Path("."), prefix: str = "sweep",
        fixed: dict[str, Any] | None = None) -> dict[str, Any]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction=sweep.direction, sampler=optuna.samplers.TPESampler(seed=seed))
    dists, first = distributions(sweep.space), first_free(experiment_names(cwd), prefix)
    stage = objective_stage(cwd / "dvc.yaml", sweep.metric)
    log.info("sweep: %d trials, each `dvc exp run` up to stage %s; fixed: %s", trials, stage or "(all)",
             _show(fixed or {}) or "none")
    results = []
    for number in range(first, first + trials):
        trial, name, start = study.ask(dists), f"{prefix}-{number}", time.perf_counter()
        log.info("trial %d/%d %s: %s", number - first + 1, trials, name, _show(trial.params))
        proc = run_trial(cwd, name, {**(fixed or {}), **trial.params}, stage)
        rev = experiment_names(cwd).get(name) if proc.returncode == 0 else None
        try:
            if rev is None:
                tail = (proc.stderr.strip().splitlines() or ["no experiment was committed"])[-1]
                raise DataError(f"dvc exp run failed: {tail}")
            value = objective(cwd, rev, sweep.metric)
        except DataError as exc:
            log.warning("trial %d/%d %s failed after %.1f s: %s", number - first + 1, trials, name,
                        time.perf_counter() - start, exc)
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            results.append({"name": name, "params": trial.params, "value": None, "error": str(exc)})
            continue
        study.tell(trial, value)
        log.info("trial %d/%d %s: %s = %.6g in %.1f s", number - first + 1, trials, name, sweep.metric, value,
                 time.perf_counter() - start)
        results.append({"name": name, "params": trial.params, "value": value, "rev": rev})
    done = [r for r in results if r["value"] is not None]
    if not done:
        raise DataError(f"all {trials} sweep trials failed; the first: {results[0]['error']}")
    best = (max if sweep.direction == "maximize" else min)(done, key=lambda r: r["value"])
    return {"metric": sweep.metric, "direction": sweep.direction, "trials": results, "best": best, "stage": stage}


def _show(values: dict[str, Any]) -> str:
    return " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in values.items())


def render(summary: dict[str, Any]) -> str:
    metric, best = summary["metric"].split(":", 1)[1], summary["best"]
    lines = [f"{'experiment':<14} {metric:>20}  params"]
    for r in summary["trials"]:
        value = "failed" if r["value"] is None else f"{r['value']:.6g}"
        lines.append(f"{r['name']:<14} {value:>20}  {_show(r['params'])}")
    keep = "^(" + "|".join(["Experiment", "best_val_f1_macro", *(k.replace(".", r"\.") for k in best["params"])]) + ")$"
    rest = f", then `dvc repro` (trials ran up to {summary['stage']})" if summary.get("stage") else ""
    lines += ["", f"best ({summary['direction']} {summary['metric']}): {best['name']} = {best['value']:.6g} with "
              f"{_show(best['params'])}",
              f"apply it to the workspace:  dvc exp apply {best['name']}{rest}  (then commit params.yaml, dvc.lock, reports)",
              f"or keep it on a branch:     dvc exp branch {best['name']} {best['name']}",
              f"compare the trials:         dvc exp show --md --drop '.*' --keep '{keep}'"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    def add(p: argparse.ArgumentParser) -> None:
        p.add_argument("--trials", type=int, required=True, help="number of experiments to run")
        p.add_argument("--sweep", type=Path, default=Path(SWEEP_FILE), help="search space (default: sweep.yaml)")
        p.add_argument("--prefix", default="sweep", help="experiment names are PREFIX-1, PREFIX-2, ...")
        p.add_argument("-S", "--set", action="append", default=[], metavar="KEY=VALUE", dest="fixed",
                       help="a param fixed for every trial, e.g. -S train.epochs=1 (repeatable)")

    def body(args: argparse.Namespace) -> None:
        if args.trials < 1:
            raise ParamsError(f"--trials must be >= 1, got {args.trials}")
        sweep = load_sweep(args.sweep, Path(args.params))
        fixed = fixed_overrides(args.fixed, sweep, Path(args.params))
        sys.stdout.write(render(run(sweep, args.trials, params.load("base", args.params).seed, prefix=args.prefix,
                                    fixed=fixed)))

    return cli.main(__doc__.splitlines()[0], add, body, argv, example=cli.examples(__doc__), prog="synthbert sweep")


if __name__ == "__main__":
    raise SystemExit(main())
