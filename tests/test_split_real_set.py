"""scripts/split_real_set.py, which split the shipped Stop Clickbait sample once into dev and test parts, and the
parts it wrote: stratified, seeded, disjoint, together the source, rows unchanged."""

from __future__ import annotations

import csv
import importlib.util
from collections import Counter

import pytest

from testkit import ROOT

SCRIPT = ROOT / "scripts" / "split_real_set.py"
SHIPPED = ROOT / "data" / "external" / "stop_clickbait"


def load_script():
    spec = importlib.util.spec_from_file_location("split_real_set", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def rows_of(path) -> list[list[str]]:
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.reader(f))


@pytest.fixture
def source(tmp_path):
    """2,000 rows like the sample's (1,000 per label, interleaved), with quotes and commas to copy unchanged."""
    path = tmp_path / "sample.csv"
    rows = [[f'Headline {i}, "quoted" — {i % 7}', "clickbait" if i % 3 else "factual"] for i in range(1500)]
    rows += [[f"Plain headline {i}", "factual"] for i in range(500)]
    with open(path, "w", encoding="utf-8", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows([["text", "label"], *rows])
    return path


def test_split_is_stratified_disjoint_complete_and_deterministic(tmp_path, source):
    script = load_script()
    assert script.main([str(source), str(tmp_path / "a"), "--dev", "500", "--seed", "0"]) == 0
    assert script.main([str(source), str(tmp_path / "b"), "--dev", "500", "--seed", "0"]) == 0
    for name in ("dev.csv", "test.csv"):  # same source and seed, same bytes
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    src, dev, test = rows_of(source), rows_of(tmp_path / "a" / "dev.csv"), rows_of(tmp_path / "a" / "test.csv")
    assert dev[0] == test[0] == ["text", "label"]
    assert Counter(r[1] for r in dev[1:]) == {"clickbait": 250, "factual": 250}
    assert Counter(r[1] for r in test[1:]) == {"clickbait": 750, "factual": 750}
    assert not {tuple(r) for r in dev[1:]} & {tuple(r) for r in test[1:]}
    assert sorted(map(tuple, dev[1:] + test[1:])) == sorted(map(tuple, src[1:]))  # the union is the source
    order = {tuple(r): i for i, r in enumerate(src)}
    assert [order[tuple(r)] for r in dev[1:]] == sorted(order[tuple(r)] for r in dev[1:])  # source order kept
    assert b"\r" not in (tmp_path / "a" / "test.csv").read_bytes()
    script.main([str(source), str(tmp_path / "c"), "--dev", "500", "--seed", "1"])
    assert rows_of(tmp_path / "c" / "dev.csv") != dev  # the seed decides which rows


def test_dev_counts_follow_the_label_shares_and_add_up():
    script = load_script()
    assert script.dev_counts({"ham": 870, "spam": 130}, 100) == {"ham": 87, "spam": 13}
    assert script.dev_counts({"a": 1, "b": 1, "c": 1}, 2) == {"a": 1, "b": 1, "c": 0}  # remainders: ties by name
    assert sum(script.dev_counts({"a": 333, "b": 333, "c": 334}, 500).values()) == 500


def test_bad_arguments_are_one_line_errors(tmp_path, source, capsys):
    script = load_script()
    assert script.main([str(source), str(tmp_path / "x"), "--dev", "2000"]) == 2
    assert capsys.readouterr().err == "error: --dev must be in [1, 1999] (the source has 2000 rows), got 2000\n"
    assert script.main([str(source), str(tmp_path / "x"), "--label-column", "tag"]) == 2
    assert "no column 'tag' (columns: text, label)" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_the_shipped_parts_are_stratified_disjoint_and_carry_the_licence():
    dev, test = rows_of(SHIPPED / "dev.csv"), rows_of(SHIPPED / "test.csv")
    assert dev[0] == test[0] == ["text", "label"]
    assert Counter(r[1] for r in dev[1:]) == {"clickbait": 250, "factual": 250}
    assert Counter(r[1] for r in test[1:]) == {"clickbait": 750, "factual": 750}
    assert len({r[0] for r in dev[1:] + test[1:]}) == 2000  # disjoint, and no text twice
    assert all(b"\r" not in (SHIPPED / n).read_bytes() for n in ("dev.csv", "test.csv"))
    readme = (SHIPPED / "README.md").read_text(encoding="utf-8")
    for text in ("MIT License", "Copyright (c) [2016] [Abhijnan Chakraborty, Bhargavi Paranjape, Sourya Kakarla, "
                 "Niloy Ganguly]", "ASONAM 2016, pp. 9-16", "scripts/split_real_set.py", "--dev 500 --seed 0"):
        assert text in readme, text
