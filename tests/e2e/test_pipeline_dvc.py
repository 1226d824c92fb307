"""The real dvc CLI on a temporary copy of the repository with the tiny model: what reruns when."""

import json

import pytest

from testkit.dvc_repo import dvc, make_repo, stages_ran

pytestmark = pytest.mark.e2e
ALL = ["inputs", "generate", "split", "train", "train_real_only", "evaluate", "explain", "audit", "report"]


@pytest.fixture(scope="module")
def repo(tmp_path_factory, tiny_bert):
    path = make_repo(tmp_path_factory.mktemp("pipeline") / "repo", tiny_bert)
    out = dvc(path, "repro").stdout
    assert stages_ran(out) == ALL
    return path


def test_repro_from_scratch_writes_every_output(repo):
    metrics = json.loads((repo / "reports" / "metrics.json").read_text())
    assert 0 <= metrics["test"]["f1_macro"] <= 1
    assert json.loads((repo / "reports" / "eval" / "test_metrics.json").read_text())["test"]["rows"] > 0
    for path in ("data/generated.csv", "data/split/test.csv", "models/classifier/config.json",
                 "reports/explain/mismatches.md", "reports/eval/confusion.png", "reports/data/quality.json"):
        assert (repo / path).exists(), path
    assert "models/classifier" not in (repo / ".gitignore").read_text()  # DVC ignores it in models/.gitignore
    # No real rows in train: train_real_only leaves only its marker, and evaluate lists no real_only baseline.
    assert sorted(p.name for p in (repo / "models" / "real_only").iterdir()) == ["subset.json"]
    assert "real_only" not in json.loads((repo / "reports" / "eval" / "baselines.json").read_text())["models"]
    # The default params' real sets (cut to TINY_REAL_ROWS_PER_LABEL per label): the test part leads the Verdict.
    table = json.loads((repo / "reports" / "eval" / "baselines.json").read_text())
    assert table["roles"] == {"test": "synthetic", "stop_clickbait": "test", "stop_clickbait_dev": "dev"}
    assert set((repo / "reports" / "eval" / "real_predictions.csv").read_text().splitlines()[1].split(",")[:1]) <= \
        {"stop_clickbait", "stop_clickbait_dev"}
    verdict = (repo / "reports" / "report.md").read_text().split("## Verdict")[1]
    assert verdict.index("Real test set `stop_clickbait`") < verdict.index("Synthetic test split") < \
        verdict.index("Real dev set `stop_clickbait_dev`")
    assert "/classifier" in (repo / "models" / ".gitignore").read_text()
    # The audit: the synthetic train/val rows against the dev part (the test part is never its reference).
    audit = json.loads((repo / "reports" / "data" / "audit.json").read_text())
    assert audit["reference"] == ["dev:stop_clickbait_dev"] and audit["reason"] is None and audit["real_rows"] == 40
    assert "## Synthetic against real" in (repo / "reports" / "report.md").read_text()


def test_second_repro_runs_nothing(repo):
    out = dvc(repo, "repro").stdout
    assert stages_ran(out) == []
    assert "didn't change, skipping" in out
    assert dvc(repo, "status").stdout.strip() == "Data and pipelines are up to date."


def test_a_file_that_lands_in_data_raw_unnamed_by_params_reruns_only_the_inputs_stage(repo):
    """generate depends on the md5s of the files params.yaml names (data/inputs.json), not on all of data/raw."""
    manifest = (repo / "data" / "inputs.json").read_bytes()
    unrelated = repo / "data" / "raw" / "someone_elses.csv"
    unrelated.write_text("text,label\nnot for this run,x\n")
    try:
        assert stages_ran(dvc(repo, "repro").stdout) == ["inputs"]
        assert (repo / "data" / "inputs.json").read_bytes() == manifest
    finally:
        unrelated.unlink()
    out = dvc(repo, "repro").stdout  # the folder as in the first run: inputs comes back from DVC's run cache
    assert stages_ran(out) == [] and "Stage 'inputs' is cached - skipping run" in out, out
    assert dvc(repo, "status").stdout.strip() == "Data and pipelines are up to date."


def test_metrics_show_lists_test_metrics(repo):
    out = dvc(repo, "metrics", "show", "--md").stdout
    assert "test.f1_macro" in out and "test.accuracy" in out


def test_experiments_rerun_only_what_depends_on_the_changed_param(repo):
    out = dvc(repo, "exp", "run", "-S", "explain.num_samples=80").stdout
    assert stages_ran(out) == ["explain", "report"]
    out = dvc(repo, "exp", "run", "-S", "train.learning_rate=2e-3").stdout
    assert stages_ran(out) == ["train", "train_real_only", "evaluate", "explain", "report"]
    out = dvc(repo, "exp", "run", "-S", "generate.n_per_label=30", "-S", "generate.real.path=data/raw/headlines.csv").stdout
    assert stages_ran(out) == ALL
    # Real rows in train: the same fine-tuning on them alone, scored beside the model with k and a paired interval.
    subset = json.loads((repo / "models" / "real_only" / "subset.json").read_text())
    assert subset["trained"] and subset["train_rows"] > 0, subset
    row = json.loads((repo / "reports" / "eval" / "baselines.json").read_text())["models"]["real_only"]
    assert row["real_rows"] == subset["train_rows"] and row["test"]["gain_ci_low"] <= row["test"]["gain_ci_high"]
    audit = json.loads((repo / "reports" / "data" / "audit.json").read_text())
    assert audit["reference"] == ["dev:stop_clickbait_dev", "generate.real"], audit["reference"]
    table = dvc(repo, "exp", "show", "--md", "--no-pager").stdout
    assert "test.f1_macro" in table and "train.learning_rate" in table
