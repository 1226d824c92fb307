"""dvc.yaml's hand-written `metrics:` and `plots:` and the report outputs' persistence, read from the file itself."""

from __future__ import annotations

import yaml

from testkit import ROOT

DVC = yaml.safe_load((ROOT / "dvc.yaml").read_text(encoding="utf-8"))


def plot_targets() -> list[tuple[str, list[str]]]:
    """(title, files) of every top-level plot: a bare path is its own title; a named entry lists its y files."""
    out = []
    for entry in DVC["plots"]:
        if isinstance(entry, str):
            out.append((entry, [entry]))
            continue
        (name, spec), = entry.items()
        y = (spec or {}).get("y") or name
        files = [y] if isinstance(y, str) else list(y)
        out.append(((spec or {}).get("title", name), files))
    return out


def test_every_plot_is_declared_once_and_renders_without_a_cdn():
    targets = [f for _, files in plot_targets() for f in files]
    assert len(targets) == len(set(targets)), "a plot declared twice"
    # PNG only: DVC's Vega plots load vega, vega-lite and vega-embed from cdn.jsdelivr.net (blank offline).
    assert all(t.endswith(".png") for t in targets), targets
    assert "reports/train_curves.png" in targets  # the training curves the report draws
    stems = [t.rsplit("/", 1)[-1] for t in targets]
    assert len(stems) == len(set(stems)), "two plots would show under the same name"


def test_named_plots_have_human_titles():
    for title, files in plot_targets():
        if [title] == files:  # an image is shown under its file name: there is no title to set
            continue
        assert "/" not in title and "evaluate." not in title and "(" not in title, title


def test_metrics_are_the_headline_file_and_the_validation_score():
    assert DVC["metrics"] == ["reports/metrics.json", "reports/train/metrics.json"]
    evaluate = DVC["stages"]["evaluate"]
    assert evaluate["metrics"] == [{"reports/metrics.json": {"cache": False, "persist": True}}]


def test_report_outputs_survive_a_failing_stage():
    # DVC deletes a stage's outputs before it runs; these stages replace theirs atomically (core.io.atomic_dir).
    for stage in ("evaluate", "explain", "report"):
        for out in DVC["stages"][stage]["outs"]:
            (path, spec), = out.items()
            assert spec == {"cache": False, "persist": True}, (stage, path)


def test_every_tracked_report_survives_a_failing_or_killed_stage():
    # Every output committed to git (cache: false), generate's data reports and train's curves included, is kept
    # by DVC until its stage has replaced it: a stage that fails (a missing package, a bad input) or is killed
    # leaves the previous reports in place instead of deleting them.
    tracked = [(name, path, spec) for name, stage in DVC["stages"].items() for out in stage.get("outs", [])
               if isinstance(out, dict) for path, spec in out.items() if spec.get("cache") is False]
    assert {name for name, _, _ in tracked} >= {"generate", "split", "train", "evaluate", "explain", "report"}
    assert [(name, path) for name, path, spec in tracked if not spec.get("persist")] == []


def test_plots_output_is_git_ignored():
    assert "/dvc_plots/" in (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()
