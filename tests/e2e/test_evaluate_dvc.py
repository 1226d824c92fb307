"""The evaluate stage through the real dvc CLI: an external (real) test set, what reruns when it changes,
and the evaluation plots and metrics as `dvc plots` / `dvc metrics` see them."""

import json

import pandas as pd
import pytest

from testkit.dvc_repo import dvc, make_repo, stages_ran, write_params

pytestmark = pytest.mark.e2e

# A "real" set written in the test: its own column names and labels, mapped onto the model's.
REAL = [("Doctors are stunned by this coffee trick", "bait"), ("10 secrets about sleep nobody saw coming", "bait"),
        ("You won't believe what NASA just did about solar panels", "bait"),
        ("The central bank raised rates in March", "news"), ("Toyota cut a hiring freeze this week", "news"),
        ("The city council approved a budget on Tuesday", "news")]
EXTERNAL = {"name": "webis", "path": "webis.csv", "text_column": "headline", "label_column": "tag",
            "label_map": {"bait": "clickbait", "news": "factual"}}


@pytest.fixture(scope="module")
def repo(tmp_path_factory, tiny_bert):
    path = make_repo(tmp_path_factory.mktemp("evaluate-dvc") / "repo", tiny_bert,
                     {"evaluate": {"bootstrap": 200}, "explain": {"max_examples": 1, "num_samples": 30}})
    pd.DataFrame(REAL, columns=["headline", "tag"]).to_csv(path / "data" / "external" / "webis.csv", index=False)
    write_params(path / "params.yaml", {"evaluate": {"external_test": [EXTERNAL]}})
    ran = stages_ran(dvc(path, "repro").stdout)
    assert ran[:6] == ["inputs", "generate", "split", "train", "train_real_only", "evaluate"] and "explain" in ran
    return path


def test_external_set_is_scored_through_dvc_repro(repo):
    m = json.loads((repo / "reports" / "eval" / "test_metrics.json").read_text())
    real = m["external"]["webis"]
    headline = json.loads((repo / "reports" / "metrics.json").read_text())
    assert headline["external"]["webis"] == {"f1_macro": real["f1_macro"]}  # accuracy: in test_metrics.json
    assert real["rows"] == 6 and 0 <= real["f1_macro"] <= 1
    assert real["f1_macro_gap"] == pytest.approx(m["test"]["f1_macro"] - real["f1_macro"], abs=1e-6)
    table = json.loads((repo / "reports" / "eval" / "baselines.json").read_text())
    assert table["sets"] == ["test", "webis"] and list(table["models"]) == ["fine_tuned", "majority", "tfidf_lr",
                                                                           "frozen_lr"]
    assert table["models"]["fine_tuned"]["train_seconds"] > 0  # read from reports/train/summary.json
    slices = pd.read_csv(repo / "reports" / "eval" / "slices.csv")
    assert "real:webis" in set(slices["slice"]) and "template" in set(slices["slice"])


def test_changing_an_external_file_reruns_only_what_follows_evaluate(repo):
    path = repo / "data" / "external" / "webis.csv"
    pd.DataFrame(REAL + [("What a pilot found in Tokyo will leave you speechless", "bait")],
                 columns=["headline", "tag"]).to_csv(path, index=False)
    ran = stages_ran(dvc(repo, "repro").stdout)
    # Never generate, split or train; explain reruns only if predictions.csv changed (an external file
    # cannot change it); stages downstream of the eval reports (a report page) may rerun.
    assert ran[0] == "evaluate" and not {"generate", "split", "train"} & set(ran)
    assert json.loads((repo / "reports" / "eval" / "test_metrics.json").read_text())["external"]["webis"]["rows"] == 7
    assert stages_ran(dvc(repo, "repro").stdout) == []


def test_metrics_and_plots_are_visible_to_dvc(repo):
    shown = dvc(repo, "metrics", "show", "--md").stdout
    for key in ("test.f1_macro", "test.roc_auc", "external.webis.f1_macro", "best_val_f1_macro"):
        assert key in shown, key
    # in reports/eval/test_metrics.json, DVCLive's metrics.json (the last epoch's) or not at all: not a metric
    for key in ("_ci_", "per_label", "ece", "f1_macro_gap", "roc_auc_macro", "webis.accuracy", "eval.", "step", "loss"):
        assert key not in shown, key
    shown = json.loads(dvc(repo, "plots", "show", "--json").stdout)
    assert not shown.get("errors"), shown["errors"]
    plots = shown["data"]
    for name in ("reports/eval/roc.png", "reports/eval/pr.png", "reports/eval/reliability.png",
                 "reports/eval/per_label_f1.png", "reports/eval/confusion.png", "reports/train_curves.png"):
        assert plots.get(name), (name, list(plots))
    # the training curves are data plots (overlaid across revisions), every other chart a PNG
    vega = {n for n, p in plots.items() if p[0].get("type") == "vega"}
    assert vega == {"train and validation loss", "validation macro-F1"}, vega


def test_unknown_external_label_stops_dvc_repro_with_one_line(repo):
    path = repo / "data" / "external" / "webis.csv"
    pd.DataFrame(REAL + [("A satirical take on the rail strike", "satire")],
                 columns=["headline", "tag"]).to_csv(path, index=False)
    proc = dvc(repo, "repro", check=False)
    assert proc.returncode != 0
    errors = [line for line in (proc.stdout + proc.stderr).splitlines() if line.startswith("error:")]
    assert errors == ["error: data/external/webis.csv: label 'satire' is unknown to the model (model labels: "
                      "clickbait, factual); map it to one in evaluate.external_test[0].label_map"]
