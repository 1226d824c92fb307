"""The explain stage under the real dvc CLI: a few small report files, its chart in `dvc plots`, and its
params rerunning only explain (and the report that follows it)."""

import json

import pytest

from testkit.dvc_repo import dvc, make_repo, stages_ran

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def repo(tmp_path_factory, tiny_bert):
    path = make_repo(tmp_path_factory.mktemp("explain-dvc") / "repo", tiny_bert,
                     {"evaluate": {"bootstrap": 200},
                      "explain": {"max_examples": 2, "num_samples": 60, "correct_per_label": 1}})
    dvc(path, "repro")
    return path


def test_reports_are_a_few_small_files_with_a_static_page_per_example(repo):
    out = repo / "reports" / "explain"
    summary = json.loads((out / "explanations.json").read_text())
    pages = {ex["html"] for ex in summary["examples"] + summary["contrast"]}
    contrast_labels = [c["true"] for c in summary["contrast"]]
    assert pages and contrast_labels and len(set(contrast_labels)) == len(contrast_labels)  # one per label at most
    files = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert files == {"explanations.json", "mismatches.md", "spurious_tokens.png"} | pages
    assert all((out / p).stat().st_size < 20_000 for p in pages)
    assert dvc(repo, "status").stdout.strip() == "Data and pipelines are up to date."


def test_the_spurious_token_chart_is_a_dvc_plot(repo):
    shown = json.loads(dvc(repo, "plots", "show", "--json").stdout)
    entry = shown.get("data", shown).get("reports/explain/spurious_tokens.png")
    assert entry and entry[0]["type"] == "image"


def test_explain_params_rerun_only_explain_and_the_report(repo):
    out = dvc(repo, "exp", "run", "-S", "explain.correct_per_label=0", "-S", "explain.pattern_tokens=3").stdout
    assert stages_ran(out) == ["explain", "report"]
    summary = json.loads((repo / "reports" / "explain" / "explanations.json").read_text())
    assert summary["contrast"] == [] and all(len(p["tokens"]) <= 3 for p in summary["patterns"])
    assert not list((repo / "reports" / "explain" / "html").glob("correct-*.html"))
