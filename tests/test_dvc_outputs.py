"""dvc.yaml's hand-written `metrics:` and `plots:` and the report outputs' persistence, read from the file itself."""

from __future__ import annotations

import re

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


def test_every_plot_is_declared_once_and_the_training_curves_are_data():
    targets = [f for _, files in plot_targets() for f in files]
    assert len(targets) == len(set(targets)), "a plot declared twice"
    # Data plots (Vega) for the training curves alone: `dvc plots diff` overlays revisions only for data plots.
    data = {title: files for title, files in plot_targets() if not files[0].endswith(".png")}
    curves = "reports/train/plots/metrics/"
    assert data == {"train and validation loss": [curves + "loss.tsv", curves + "eval/loss.tsv"],
                    "validation macro-F1": [curves + "eval/f1_macro.tsv"]}, data
    for entry in DVC["plots"]:
        if isinstance(entry, dict):
            (spec,) = entry.values()
            assert spec["x"] == "step" and all(isinstance(f, str) for f in spec["y"].values()), spec
    assert "reports/train_curves.png" in targets  # the training curves the report draws
    stems = [t.rsplit("/", 1)[-1] for t in targets if t.endswith(".png")]
    assert len(stems) == len(set(stems)), "two plots would show under the same name"


def test_plots_pages_use_the_offline_template():
    # DVC's own page loads vega, vega-lite and vega-embed from a CDN (blank offline): .dvc/config names a template
    # with them inlined and without the {scripts} placeholder, where DVC would put the CDN's <script> tags.
    config = (ROOT / ".dvc" / "config").read_text(encoding="utf-8")
    assert re.search(r"^\[plots\]\n\s+html_template = plots\.html$", config, re.M), config
    page = (ROOT / ".dvc" / "plots.html").read_text(encoding="utf-8")
    assert "{plot_divs}" in page and "{scripts}" not in page
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page, re.S)
    assert [re.fullmatch(r' data-lib="([\w-]+)@[\d.]+"', attrs)[1] for attrs, _ in scripts] == [
        "vega", "vega-lite", "vega-embed"], [attrs for attrs, _ in scripts]
    assert all(len(code) > 50_000 for _, code in scripts)  # the libraries themselves, not a loader
    outside = re.sub(r"<script[^>]*>.*?</script>", "", page, flags=re.S)
    assert not re.search(r"(src|href)\s*=", outside), "the template loads a file"


def test_named_plots_have_human_titles():
    for title, files in plot_targets():
        if [title] == files:  # an image is shown under its file name: there is no title to set
            continue
        assert "/" not in title and "evaluate." not in title and "(" not in title, title


def test_metrics_are_the_headline_file_and_the_validation_score():
    # not DVCLive's reports/train/metrics.json: the last epoch's values, step and loss (exp show noise)
    assert DVC["metrics"] == ["reports/metrics.json", "reports/train/best_val.json"]
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
