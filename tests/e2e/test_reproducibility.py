"""Same inputs, same bytes; sharing results through a DVC remote; repairing hand-edited state.

Real dvc CLI on fresh git clones of a temporary copy of this repository, with the tiny model:
- two clones run `dvc repro` independently (own DVC caches, own processes, own hash seeds);
- clone A publishes (git commit + `dvc push` to a local-directory remote); a teammate's fresh clone runs
  `dvc pull` and finds nothing to rerun, and its pulled model predicts what clone A's does;
- hand-edited outputs, a deleted model and a truncated dvc.lock are shown by `dvc status` and repaired.
"""

from __future__ import annotations

import pytest
import yaml

from testkit.dvc_repo import dvc, make_repo, run_cmd, stages_ran

pytestmark = pytest.mark.e2e
UP_TO_DATE = "Data and pipelines are up to date."


def lock(repo) -> dict:
    return yaml.safe_load((repo / "dvc.lock").read_text(encoding="utf-8"))["stages"]


def hashes(entries: list[dict]) -> dict[str, str]:
    return {e["path"]: e["md5"] for e in entries}


def clone(source, dest):
    run_cmd(["git", "clone", "-q", str(source), str(dest)], source.parent)
    return dest


@pytest.fixture(scope="module")
def clones(tmp_path_factory, tiny_bert):
    """Two fresh clones of one commit, each reproduced from scratch."""
    base = tmp_path_factory.mktemp("repro")
    origin = make_repo(base / "origin", tiny_bert)
    every_stage = set(yaml.safe_load((origin / "dvc.yaml").read_text())["stages"])
    result = []
    for name in ("a", "b"):
        repo = clone(origin, base / name)
        assert set(stages_ran(dvc(repo, "repro").stdout)) == every_stage
        result.append(repo)
    return tuple(result)


@pytest.fixture(scope="module")
def published(clones):
    """Clone A commits its results and pushes data and model to a local-directory remote."""
    a = clones[0]
    remote = a.parent / "remote"
    dvc(a, "remote", "add", "-d", "shared", str(remote))
    run_cmd(["git", "add", "-A"], a)  # dvc.lock, reports/, .dvc/config, the .gitignore files dvc wrote
    run_cmd(["git", "commit", "-qm", "results"], a)
    dvc(a, "push")
    assert "in sync" in dvc(a, "status", "--cloud").stdout
    return a, remote


def test_two_fresh_clones_give_identical_data_splits_and_metrics(clones):
    a, b = clones
    lock_a, lock_b = lock(a), lock(b)
    for stage in ("generate", "split"):
        assert hashes(lock_a[stage]["outs"]) == hashes(lock_b[stage]["outs"]), stage
        assert hashes(lock_a[stage]["deps"]) == hashes(lock_b[stage]["deps"]), stage
    assert lock_a["split"]["outs"][0]["md5"].endswith(".dir")
    metrics = (a / "reports" / "metrics.json").read_bytes()
    assert metrics == (b / "reports" / "metrics.json").read_bytes() and b'"f1_macro"' in metrics
    # On one CPU type, thread count and set of library versions training is bit-identical too.
    for path in ("models/classifier/model.safetensors", "reports/eval/predictions.csv"):
        assert (a / path).read_bytes() == (b / path).read_bytes(), path


def test_a_teammate_pulls_instead_of_recomputing(published, tmp_path):
    a, remote = published
    assert any(remote.rglob("*")), "dvc push wrote nothing to the remote"
    teammate = clone(a, tmp_path / "teammate")
    assert not (teammate / "models" / "classifier").exists()
    assert "shared" in dvc(teammate, "remote", "list").stdout  # the remote came with git
    dvc(teammate, "pull")
    assert dvc(teammate, "status").stdout.strip() == UP_TO_DATE
    out = dvc(teammate, "repro").stdout
    assert stages_ran(out) == [] and "didn't change, skipping" in out

    import pandas as pd
    from transformers import pipeline

    texts = pd.read_csv(a / "data" / "split" / "test.csv", dtype=str, keep_default_na=False)["text"].tolist()
    assert len(texts) >= 10
    theirs = pipeline("text-classification", model=str(teammate / "models" / "classifier"), device="cpu")(texts)
    ours = pipeline("text-classification", model=str(a / "models" / "classifier"), device="cpu")(texts)
    assert [p["label"] for p in theirs] == [p["label"] for p in ours]
    assert [round(p["score"], 6) for p in theirs] == [round(p["score"], 6) for p in ours]
    assert {p["label"] for p in ours} <= {"clickbait", "factual"}


def test_hand_edited_outputs_are_shown_and_repaired(clones):
    b = clones[1]
    split_csv, metrics = b / "data" / "split" / "test.csv", b / "reports" / "metrics.json"
    before = {p: p.read_bytes() for p in (split_csv, metrics)}

    with split_csv.open("a", encoding="utf-8", newline="\n") as f:
        f.write("A headline someone added by hand,factual,manual\n")
    status = dvc(b, "status").stdout
    assert "split:" in status and "modified:" in status and "data/split" in status
    assert stages_ran(dvc(b, "repro").stdout) == ["split"]  # its outputs match dvc.lock again: no more
    metrics.write_text(metrics.read_text().replace('"accuracy": ', '"accuracy": 0.99, "was": '))
    assert "reports/metrics.json" in dvc(b, "status").stdout
    ran = stages_ran(dvc(b, "repro").stdout)
    assert ran[:1] == ["evaluate"] and not {"generate", "split", "train"} & set(ran)  # downstream only
    assert {p: p.read_bytes() for p in before} == before
    assert dvc(b, "status").stdout.strip() == UP_TO_DATE


def test_cached_outputs_come_back_with_checkout_without_rerunning(clones):
    b = clones[1]
    data = b / "data" / "generated.csv"
    before = data.read_bytes()
    data.write_bytes(before.replace(b"clickbait", b"factual", 3))
    weights = b / "models" / "classifier" / "model.safetensors"
    weights_before = weights.read_bytes()
    run_cmd(["rm", "-r", str(b / "models" / "classifier")], b)
    status = dvc(b, "status").stdout
    assert "modified:           data/generated.csv" in status and "deleted:            models/classifier" in status
    assert dvc(b, "checkout", check=False).returncode != 0  # an edited file is never overwritten silently
    dvc(b, "checkout", "--force")
    assert data.read_bytes() == before and weights.read_bytes() == weights_before
    assert dvc(b, "status").stdout.strip() == UP_TO_DATE


def test_a_truncated_dvc_lock_is_shown_and_restored_from_git(published):
    a, _ = published
    good = (a / "dvc.lock").read_text(encoding="utf-8")
    (a / "dvc.lock").write_text(good[: good.index("\n  split:\n") + 1], encoding="utf-8")  # generate only
    status = dvc(a, "status").stdout  # stages missing from the lock count as changed
    assert "split:" in status and "generate:" not in status
    (a / "dvc.lock").write_text("schema: '2.0'\nstages: [\n", encoding="utf-8")
    broken = dvc(a, "status", check=False)
    assert broken.returncode != 0 and "dvc.lock" in broken.stderr + broken.stdout
    run_cmd(["git", "checkout", "--", "dvc.lock"], a)
    assert dvc(a, "status").stdout.strip() == UP_TO_DATE
