"""stages.tools.select (`synthbert select`) and its ranking (select_rank): uncertainty under the model's own rule,
near-duplicates and k-means spread, reproducibility, bad inputs, and the round trip through generate.real."""

from __future__ import annotations

import csv
import json
import math
import re

import numpy as np
import pytest

from stages.core import modeling
from stages.core.params_real import RealRows
from stages.generation import cleaning, real
from stages.tools import select, select_rank
from testkit import ROOT
from tests import multilabel_kit

LABELS = ["clickbait", "factual"]


def pool_texts() -> list[str]:
    """The task file's templates with their slots removed (distinct, in the tiny BERT's vocabulary), and two
    near-duplicates of the first one."""
    lines = re.findall(r'^\s+- "([^"{]*\{[^"]*)"$', (ROOT / "data/tasks/clickbait.yaml").read_text(), re.M)
    texts = list(dict.fromkeys(" ".join(re.sub(r"\{\w+\}", " ", t).split()) for t in lines
                               if not t.startswith("Write")))
    texts = [t for t in texts if len(t.split()) >= 3]
    return texts + [texts[0] + " now", texts[0] + " again"]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, tiny_bert):
    """A classifier directory as train writes it; the head scaled up so the probabilities spread over (0, 1)."""
    import torch

    path = tmp_path_factory.mktemp("select") / "classifier"
    torch.manual_seed(0)
    model = modeling.load_classifier(str(tiny_bert), LABELS)
    with torch.no_grad():
        model.classifier.weight.mul_(40)
    model.save_pretrained(str(path))
    modeling.load_tokenizer(str(tiny_bert)).save_pretrained(str(path))
    (path / "synthbert_params.json").write_text(json.dumps({"train": {"model": str(tiny_bert), "max_length": 32}}))
    return path


@pytest.fixture
def pool(tmp_path):
    path = tmp_path / "pool.csv"
    with open(path, "w", encoding="utf-8", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows([["id", "text", "label"], *[[i, t, "x"] for i, t in
                                                                              enumerate(pool_texts())]])
    return path


def read_rows(path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def test_uncertainty_by_hand():
    p = np.array([[0.9, 0.1], [0.5, 0.5], [0.6, 0.4]])
    np.testing.assert_allclose(select_rank.uncertainty(p, "margin", False, [0, 0]), [0.2, 1.0, 0.8])
    h = -(0.6 * math.log(0.6) + 0.4 * math.log(0.4)) / math.log(2)
    np.testing.assert_allclose(select_rank.uncertainty(p, "entropy", False, [0, 0]), [0.468996, 1.0, h], atol=1e-6)
    # the saved offsets move the boundary: with +log(9) on the second label, 0.9/0.1 is a tie
    np.testing.assert_allclose(select_rank.uncertainty(p[:1], "margin", False, [0, math.log(9)]), [1.0])
    three = np.array([[0.5, 0.3, 0.2]])
    np.testing.assert_allclose(select_rank.uncertainty(three, "margin", False, [0, 0, 0]), [0.8])


def test_multi_label_uncertainty_is_the_mean_closeness_to_each_threshold():
    p = np.array([[0.3, 0.9], [0.3, 0.3]])
    # label 1 threshold 0.3: at its boundary (closeness 1); label 2 threshold 0.5: 0.9 -> q 0.9, closeness 0.2
    np.testing.assert_allclose(select_rank.uncertainty(p, "margin", True, [0.3, 0.5]), [0.6, (1 + 0.6) / 2])
    assert select_rank.uncertainty(np.array([[0.3]]), "entropy", True, [0.3])[0] == pytest.approx(1.0)


def test_near_duplicates_of_a_more_uncertain_text_go():
    texts = ["storm hits the coast tonight", "storm hits the coast tonight again", "court rules on rent"]
    assert select_rank.candidates(texts, np.array([0.5, 0.9, 0.7]), 10, 0.8, 0) == [1, 2]
    assert select_rank.candidates(texts, np.array([0.9, 0.5, 0.7]), 10, 0.8, 0) == [0, 2]
    assert select_rank.candidates(texts, np.array([0.9, 0.5, 0.7]), 1, 0.8, 0) == [0]


def test_picks_spread_over_clusters_not_only_the_most_uncertain():
    rng = np.random.default_rng(0)
    centres = np.eye(3)[[0, 0, 0, 0, 1, 1, 1, 2, 2, 2]]  # the 4 most uncertain rows all sit in cluster 0
    emb = centres + 0.01 * rng.standard_normal(centres.shape)
    scores = np.array([0.99, 0.98, 0.97, 0.96, 0.5, 0.6, 0.4, 0.3, 0.2, 0.35])
    texts = [f"text number {w}" for w in "abcdefghij"]
    picks, groups = select_rank.pick(texts, scores, lambda rows: emb[rows], 3, pre_filter=10, threshold=0.8, seed=0)
    assert picks == [0, 5, 9] and len(set(groups)) == 3  # the most uncertain of each cluster
    top, _ = select_rank.pick(texts, scores, lambda rows: emb[rows], 3, pre_filter=1, threshold=0.8, seed=0)
    assert top == [0, 1, 2]  # --pre-filter 1: the n most uncertain


def test_select_writes_the_file_generate_real_reads_back(model_dir, pool, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "data" / "raw" / "to_label.csv"
    summary = select.run(pool=pool, n=6, out=out, model=model_dir, seed=1)
    rows = read_rows(out)
    assert list(rows[0]) == list(select.COLUMNS) and len(rows) == 6 == summary["picks"]
    assert all(r["label"] == "" for r in rows) and "move it" not in select.say(summary)
    scores = [float(r["uncertainty"]) for r in rows]
    assert scores == sorted(scores, reverse=True) and all(0 <= s <= 1 for s in scores)
    texts = pool_texts()
    assert all(texts[int(r["pool_row"]) - 1] == r["text"] for r in rows)
    near = select_rank.similarity.near_duplicates([r["text"] for r in rows], 0.8, 0)
    assert near == {}  # no two picks near-duplicates
    # a person labels four of them and leaves two blank; generate.real reads the file as it is
    for r, label in zip(rows, ["clickbait", "factual", " factual ", "clickbait", "", ""]):
        r["label"] = label
    with open(out, "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(select.COLUMNS), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    cfg = RealRows(path="data/raw/to_label.csv")
    cfg.validate("generate.real")
    mixed = real.read(cfg, seed=42)
    real.check_labels(mixed, LABELS, cfg)
    kept, dropped = cleaning.clean(mixed, 3, 1000)
    assert sorted(r["label"] for r in kept) == ["clickbait", "clickbait", "factual", "factual"]
    assert {r["source"] for r in kept} == {"real"} and dropped == {"missing_label": 2}


def test_same_seed_same_picks_and_another_seed_differs(model_dir, pool, tmp_path):
    outs = [tmp_path / f"{name}.csv" for name in ("a", "b", "c")]
    for out, seed in zip(outs, (3, 3, 4)):
        select.run(pool=pool, n=5, out=out, model=model_dir, seed=seed, pre_filter=6)
    assert outs[0].read_bytes() == outs[1].read_bytes()
    assert {r["text"] for r in read_rows(outs[0])} != {r["text"] for r in read_rows(outs[2])}


def test_an_out_holding_labels_is_kept_unless_forced(model_dir, pool, tmp_path, capsys):
    out = tmp_path / "labelled.csv"
    out.write_text("text,label\nstorm hits,factual\n", encoding="utf-8")
    assert select.main(["--pool", str(pool), "--n", "2", "--out", str(out), "--model", str(model_dir)]) == 2
    assert capsys.readouterr().err.strip() == (f"error: --out {out}: already holds 1 labels; choose another --out, "
                                               "or --force to overwrite it")
    assert select.main(["--pool", str(pool), "--n", "2", "--out", str(out), "--model", str(model_dir), "--force"]) == 0
    assert f"2 of {len(pool_texts())} pool texts to label" in capsys.readouterr().out and len(read_rows(out)) == 2


@pytest.mark.parametrize("args, says", [
    (["--pool", "{tmp}/missing.csv", "--n", "3"], "--pool {tmp}/missing.csv: file not found"),
    (["--pool", "{pool}", "--n", "3", "--column", "headline"], "--pool {pool}: missing column 'headline'"),
    (["--pool", "{pool}", "--n", "0"], "--n must be >= 1, got 0"),
    (["--pool", "{pool}", "--n", "{over}"], "--n {over} is larger than the pool: {pool} holds {size} texts"),
    (["--pool", "{pool}", "--n", "3", "--model", "{tmp}/none"], "--model {tmp}/none: no such directory"),
])
def test_bad_inputs_are_one_line_naming_the_file_or_option(args, says, pool, tmp_path, capsys):
    fill = {"tmp": str(tmp_path), "pool": str(pool), "size": len(pool_texts()), "over": len(pool_texts()) + 1}
    argv = [a.format(**fill) for a in args] + ["--out", str(tmp_path / "out.csv")]
    assert select.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and says.format(**fill) in err, err
    assert not (tmp_path / "out.csv").exists()


def test_multi_label_model_scores_each_label(tmp_path):
    model = multilabel_kit.build_model(tmp_path, scale=30)
    texts = [t for t, _ in multilabel_kit.TICKETS]
    (tmp_path / "pool.csv").write_text("text\n" + "\n".join(texts) + "\n", encoding="utf-8")
    summary = select.run(pool=tmp_path / "pool.csv", n=3, out=tmp_path / "out.csv", model=model,
                         encoder=str(tmp_path / "base"), kind="entropy")
    assert summary["multi_label"] and summary["picks"] == 3
    assert 'labels joined by "|"' in select.say(summary) and "move it under data/raw/ first" in select.say(summary)
    assert len(read_rows(tmp_path / "out.csv")) == 3
