"""stages.tools.paired: `synthbert compare --rev`'s verdict, a paired bootstrap over the rows both revisions scored,
on hand-made predictions.csv and real_predictions.csv files committed in a temporary git repository."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from stages.core.errors import DataError
from stages.core.predictions import write_real_predictions
from stages.tools import paired, verdict_md
from testkit.dvc_repo import run_cmd

TRUTH = ["a", "b"] * 100  # 200 rows, balanced


def decisions(truth: list[str], right: int) -> list[str]:
    """Right on the first `right` rows, wrong on the rest (errors split evenly across labels)."""
    return [t if i < right else ("b" if t == "a" else "a") for i, t in enumerate(truth)]


def frame(texts: list[str], truth: list[str], predicted: list[str]) -> pd.DataFrame:
    p_a = [0.9 if p == "a" else 0.1 for p in predicted]
    return pd.DataFrame({"text": texts, "true": truth, "predicted": predicted, "confidence": [0.9] * len(texts),
                         "p_a": p_a, "p_b": [round(1 - p, 1) for p in p_a]})


def write_predictions(repo: Path, texts: list[str], truth: list[str], predicted: list[str]) -> None:
    path = repo / paired.PREDICTIONS
    path.parent.mkdir(parents=True, exist_ok=True)
    frame(texts, truth, predicted).to_csv(path, index=False)


def write_real(repo: Path, sets: dict[str, tuple[list[str], list[str], list[str]]]) -> None:
    parts = [frame(texts, truth, pred).assign(set=name, row=range(1, len(texts) + 1))
             for name, (texts, truth, pred) in sets.items()]
    write_real_predictions(repo / paired.REAL_PREDICTIONS, pd.concat(parts), ["a", "b"])


def git(repo: Path, *args: str) -> None:
    run_cmd(["git", *args], repo, timeout=60)


@pytest.fixture
def repo(tmp_path):
    git(tmp_path, "init", "-q", "-b", "main")
    return tmp_path


def commit(repo: Path) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "old")


def texts(n: int, prefix: str = "headline") -> list[str]:
    return [f"{prefix} {i}" for i in range(n)]


@pytest.mark.parametrize(("old_right", "new_right", "expected"),
                         [(120, 190, "better"), (190, 120, "worse"), (150, 150, "within noise")])
def test_verdict_on_the_test_split(repo, old_right, new_right, expected):
    write_predictions(repo, texts(200), TRUTH, decisions(TRUTH, old_right))
    commit(repo)
    write_predictions(repo, texts(200), TRUTH, decisions(TRUTH, new_right))
    [row] = paired.revision_verdicts("main", repo, 500, 0.95, 42)[1:]  # the first is the real sets' note
    assert row["set"] == "test" and row["rows"] == 200 and row["verdict"] == expected
    assert row["old"] == pytest.approx(old_right / 200, abs=0.01)
    assert row["new"] == pytest.approx(new_right / 200, abs=0.01)
    assert row["diff"] == pytest.approx(row["new"] - row["old"])
    if old_right == new_right:  # the same decisions: every resample's difference is 0
        assert row["low"] == row["high"] == row["diff"] == 0
    else:
        assert row["low"] < row["diff"] < row["high"]


def test_rows_pair_by_text_and_rows_only_one_revision_scored_are_counted_and_left_out(repo):
    # old: rows 0-9, "gone", a text twice; new: rows 9..0 (another order, row 3 relabelled), "added", the text twice.
    old_texts = [*texts(10), "gone", "twice", "twice"]
    write_predictions(repo, old_texts, [*TRUTH[:10], "a", "a", "b"], [*TRUTH[:10], "b", "a", "a"])
    commit(repo)
    new_truth = TRUTH[:10][::-1]
    new_truth[6] = "a" if new_truth[6] == "b" else "b"  # new row 6 is old row 3: its true label changed
    new_pred = ["a"] * 10  # right on the "a" rows only
    write_predictions(repo, [*texts(10)[::-1], "added", "twice", "twice"], [*new_truth, "b", "a", "b"],
                      [*new_pred, "b", "a", "b"])
    [row] = paired.revision_verdicts("main", repo, 200, 0.95, 1)[1:]
    # Paired: rows 0-9 but 3 (9 rows), then both "twice" (first with first: true a, a; second: true b, b).
    assert (row["rows"], row["only_old"], row["only_new"], row["relabelled"]) == (11, 1, 1, 1)
    # By hand, on the 11 paired rows: 6 true a (rows 0 2 4 6 8, the first "twice"), 5 true b (1 5 7 9, the second).
    # old: right but on the second "twice" (b -> a): F1 a = 2*6/(2*6+1) = 12/13, F1 b = 2*4/(2*4+1) = 8/9.
    # new: a on rows 0-9, right on both "twice": F1 a = 2*6/(2*6+4) = 12/16, F1 b = 2*1/(2*1+4) = 2/6.
    assert row["old"] == pytest.approx((12 / 13 + 8 / 9) / 2)
    assert row["new"] == pytest.approx((12 / 16 + 2 / 6) / 2)
    md = "\n".join(verdict_md.revision("main", paired.revision_verdicts("main", repo, 200, 0.95, 1), 200, 0.95))
    assert "| test split | 11 |" in md and "1 only in `main`; 1 only in the workspace; 1 with another true label" in md


def test_real_sets_pair_by_set_and_key_and_a_set_or_file_on_one_side_only_gets_a_line(repo):
    write_predictions(repo, texts(200), TRUTH, TRUTH)
    write_real(repo, {"dev": (texts(200, "real"), TRUTH, decisions(TRUTH, 110)),
                      "old_only": (texts(4, "x"), TRUTH[:4], TRUTH[:4])})
    commit(repo)
    write_predictions(repo, texts(200), TRUTH, TRUTH)
    write_real(repo, {"dev": (texts(200, "real")[::-1], TRUTH[::-1], decisions(TRUTH, 195)[::-1])})
    rows = paired.revision_verdicts("main", repo, 500, 0.95, 3)
    assert [r["set"] for r in rows] == ["test", "real:dev", "real:old_only"]
    assert rows[0]["verdict"] == "within noise" and rows[1]["verdict"] == "better" and rows[1]["rows"] == 200
    assert rows[2] == {"set": "real:old_only", "note": "no verdict on real:old_only: only main scored it"}
    md = "\n".join(verdict_md.revision("main", rows, 500, 0.95))
    assert "| real set `dev` | 200 |" in md and "**better**" in md and "- no verdict on real:old\\_only" in md
    # No real_predictions.csv in the workspace (an older evaluate): one line, no error.
    (repo / paired.REAL_PREDICTIONS).unlink()
    rows = paired.revision_verdicts("main", repo, 200, 0.95, 3)
    notes = [r["note"] for r in rows if "note" in r]
    assert notes == [f"no verdict on the real sets: no {paired.REAL_PREDICTIONS} in the workspace"]


def test_a_broken_file_at_the_revision_is_named_by_revision_and_path(repo):
    path = repo / paired.PREDICTIONS
    path.parent.mkdir(parents=True)
    path.write_text("text,true,predicted,confidence,p_a,p_b\nx,a,a,2,1,0\n")
    commit(repo)
    with pytest.raises(DataError, match=r"^main:reports/eval/predictions.csv: row 1: confidence must be a prob"):
        paired.revision_verdicts("main", repo, 200, 0.95, 1)


def test_multi_label_cells_are_scored_per_label():
    true = ["a|b", "a", "", "b"]
    point, boot = paired.macro_f1_replicates(true, {"same": true, "none": ["", "", "", ""]}, 100, 0)
    assert point == {"same": 1.0, "none": 0.0}
    assert boot["same"].min() >= 0 and boot["none"].max() == 0.0
