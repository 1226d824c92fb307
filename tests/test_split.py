import collections
import json

import pandas as pd
import pytest

from stages import split
from stages.core import params
from stages.core.errors import DataError, ParamsError
from stages.core.text import dedup_key
from testkit import ROOT


def rows_of(rows, **columns):
    """A dataset frame of `rows`: each row its own origin (a file row) unless it names one."""
    frame = pd.DataFrame(rows).assign(**columns)
    origins = [f"in.csv:{i}" for i in range(1, len(frame) + 1)]
    return frame.assign(origin=frame["origin"].fillna(pd.Series(origins)) if "origin" in frame else origins)


def make_data(tmp_path, n_per_label=50, labels=("a", "b", "c")):
    rows = [{"text": f"{lab} text number {i}", "label": lab} for lab in labels for i in range(n_per_label)]
    path = tmp_path / "generated.csv"
    rows_of(rows, source="template").to_csv(path, index=False)
    return path


def do_split(tmp_path, data, seed=42, **kw):
    cfg = params.load_dict(kw, "split")
    return split.run(cfg=cfg, seed=seed, data=data, out_dir=tmp_path / "split", report=tmp_path / "split.json")


def read(tmp_path):
    return {n: pd.read_csv(tmp_path / "split" / f"{n}.csv") for n in split.SPLITS}


def test_split_is_a_stratified_partition(tmp_path):
    data = make_data(tmp_path)
    summary = do_split(tmp_path, data)
    parts = read(tmp_path)
    everything = pd.concat(parts.values())
    assert sorted(everything["text"]) == sorted(pd.read_csv(data)["text"])  # partition: nothing lost or copied
    for name, frac in (("val", 0.2), ("test", 0.2), ("train", 0.6)):
        assert parts[name]["label"].value_counts().to_dict() == {"a": 50 * frac, "b": 50 * frac, "c": 50 * frac}
    assert summary["splits"]["train"]["rows"] == 90
    assert json.loads((tmp_path / "split.json").read_text())["splits"]["test"]["labels"] == {"a": 10, "b": 10, "c": 10}


def test_split_is_deterministic_for_a_seed(tmp_path):
    data = make_data(tmp_path)
    do_split(tmp_path, data)
    first = (tmp_path / "split" / "test.csv").read_bytes()
    do_split(tmp_path, data)
    assert (tmp_path / "split" / "test.csv").read_bytes() == first
    do_split(tmp_path, data, seed=1)
    assert (tmp_path / "split" / "test.csv").read_bytes() != first


def test_identical_normalised_texts_never_land_in_two_splits(tmp_path):
    rows = [{"text": f"headline {i}", "label": "ab"[i % 2]} for i in range(40)]
    rows += [{"text": f"HEADLINE {i}!", "label": "ab"[i % 2]} for i in range(40)]  # same keys, other spelling
    path = tmp_path / "g.csv"
    rows_of(rows, source="template").to_csv(path, index=False)
    do_split(tmp_path, path)
    keys = {n: set(f["text"].map(dedup_key)) for n, f in read(tmp_path).items()}
    assert not (keys["train"] & keys["val"]) and not (keys["train"] & keys["test"]) and not (keys["val"] & keys["test"])


def test_ten_row_example_by_hand(tmp_path):
    # 5 rows per label, 0.2 / 0.2: round(5 * 0.2) = 1 each to val and test, 3 to train.
    data = make_data(tmp_path, n_per_label=5, labels=("x", "y"))
    summary = do_split(tmp_path, data)
    assert {n: s["rows"] for n, s in summary["splits"].items()} == {"train": 6, "val": 2, "test": 2}


def test_class_too_small_to_stratify_is_a_clear_error(tmp_path):
    rows = [{"text": f"big {i}", "label": "big"} for i in range(20)] + [{"text": "tiny one", "label": "tiny"},
                                                                      {"text": "tiny two", "label": "tiny"}]
    path = tmp_path / "g.csv"
    rows_of(rows, source="template").to_csv(path, index=False)
    with pytest.raises(DataError, match=r"label 'tiny' has 2 groups of rows that stay together "
                                        r"\(split.group_by: origin, near_duplicates\), too few to stratify"):
        do_split(tmp_path, path)
    assert not (tmp_path / "split").exists()


def test_single_label_and_missing_columns(tmp_path):
    with pytest.raises(DataError, match="need at least two labels"):
        do_split(tmp_path, make_data(tmp_path, labels=("only",)))
    bad = tmp_path / "bad.csv"
    bad.write_text("text,category\nx,y\n")
    with pytest.raises(DataError, match="missing column 'label'"):
        do_split(tmp_path, bad)


def test_split_runs_without_importing_torch_or_transformers(tmp_path):
    import subprocess
    import sys

    data = make_data(tmp_path)
    (tmp_path / "params.yaml").write_text("base: {seed: 42}\nsplit: {val_size: 0.2, test_size: 0.2}\n")
    code = ("import sys; from stages import split; "
            f"code = split.main(['--data', {str(data)!r}, '--out', {str(tmp_path / 's')!r}, "
            f"'--report', {str(tmp_path / 's.json')!r}]); "
            "print(code, 'torch' in sys.modules, 'transformers' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path, timeout=120,
                          env={**__import__("os").environ, "PYTHONPATH": str(split.__file__).rsplit("/stages/", 1)[0]})
    assert proc.stdout.strip() == "0 False False", proc.stderr
    assert (tmp_path / "s" / "train.csv").exists()


def near_duplicate_data(tmp_path):
    """Default-task rows (template provider, seed 42) with near-copies planted: a word added to every tenth."""
    from stages.generation import template
    from stages.generation.task import load_task

    rows = template.generate(load_task(split.__file__.rsplit("/stages/", 1)[0] + "/data/tasks/clickbait.yaml"), 150, 42)
    rows += [{**r, "text": r["text"] + " today"} for r in rows[::10]]
    path = tmp_path / "near.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_no_near_duplicate_pair_spans_two_splits(tmp_path):
    from stages.core import similarity

    data = near_duplicate_data(tmp_path)
    summary = do_split(tmp_path, data)
    parts = read(tmp_path)
    everything = pd.concat(parts.values())
    assert sorted(everything["text"]) == sorted(pd.read_csv(data)["text"])  # still a partition
    sets = {n: similarity.word_sets(f["text"].tolist()) for n, f in parts.items()}
    worst = max(similarity.jaccard(a, b) for x, y in (("train", "val"), ("train", "test"), ("val", "test"))
                for a in sets[x] for b in sets[y])
    assert worst < 0.8
    assert summary["max_cross_split_jaccard"] == round(worst, 4)  # brute force over every cross-split pair
    assert summary["max_cross_split_jaccard_exact"] is True
    assert summary["near_duplicate_groups"] >= 30 and summary["near_duplicate_threshold"] == 0.8
    for name in ("val", "test"):  # still stratified: each label keeps about its share
        share = parts[name]["label"].value_counts() / everything["label"].value_counts()
        assert ((share - 0.2).abs() < 0.05).all(), share


def test_near_duplicate_split_is_deterministic_for_a_seed(tmp_path):
    data = near_duplicate_data(tmp_path)
    do_split(tmp_path, data)
    first = [(tmp_path / "split" / f"{n}.csv").read_bytes() for n in split.SPLITS] + [(tmp_path / "split.json").read_bytes()]
    do_split(tmp_path, data)
    assert [(tmp_path / "split" / f"{n}.csv").read_bytes() for n in split.SPLITS] + \
        [(tmp_path / "split.json").read_bytes()] == first


def test_max_cross_split_jaccard_by_hand():
    from stages.core import similarity

    texts = ["a b c d e", "a b c d f", "x y z", "x y w"]  # 4 of 6: 0.667; 2 of 4: 0.5
    assert similarity.max_cross_jaccard(texts, ["train", "test", "train", "val"], 0.8, 42) == (0.6667, True)
    assert similarity.max_cross_jaccard(texts, ["train", "train", "train", "val"], 0.8, 42) == (0.5, True)


@pytest.mark.parametrize("value", [0, -0.1, 1.5])
def test_near_duplicate_threshold_must_be_a_fraction(value):
    from stages.core.errors import ParamsError

    with pytest.raises(ParamsError, match=r"split.near_duplicate_threshold must be a fraction in \(0, 1\]"):
        params.load_dict({"near_duplicate_threshold": value}, "split")


@pytest.mark.parametrize("evaluate, message", [
    ({"positive_label": "clickbait"}, "params.yaml: evaluate.positive_label must be one of the labels of {data} "
                                      "(a, b, c), got 'clickbait'"),
    ({"external_test": [{"name": "real", "path": "r.csv", "label_map": {"0": "a", "1": "yes"}}]},
     "params.yaml: evaluate.external_test[0].label_map.1 must be one of the labels of {data} (a, b, c), got 'yes'"),
])
def test_evaluate_labels_unknown_to_the_data_fail_in_split_before_training(tmp_path, capsys, evaluate, message):
    import yaml

    data = make_data(tmp_path)
    p = tmp_path / "params.yaml"
    p.write_text(yaml.safe_dump({"base": {"seed": 42}, "split": {}, "evaluate": evaluate}))
    code = split.main(["--params", str(p), "--data", str(data), "--out", str(tmp_path / "s"),
                       "--report", str(tmp_path / "s.json")])
    assert code == 2 and capsys.readouterr().err == "error: " + message.format(data=data) + "\n"
    assert not (tmp_path / "s").exists()
    p.write_text(yaml.safe_dump({"base": {"seed": 42}, "split": {}, "evaluate": {"positive_label": "b"}}))
    assert split.main(["--params", str(p), "--data", str(data), "--out", str(tmp_path / "s"),
                       "--report", str(tmp_path / "s.json")]) == 0


# ---------------------------------------------------------------- real-only val/test (split.val_source, test_source)

def mixed_data(tmp_path, synthetic=50, real=10, extra=()):
    rows = [{"text": f"{lab} synthetic text {i}", "label": lab, "source": "template"}
            for lab in ("a", "b") for i in range(synthetic)]
    rows += [{"text": f"{lab} real headline {i}", "label": lab, "source": "real"} for lab in ("a", "b") for i in range(real)]
    path = tmp_path / "generated.csv"
    rows_of(rows + list(extra)).to_csv(path, index=False)
    return path


def test_real_test_source_takes_only_real_rows_and_synthetic_rows_go_to_the_others(tmp_path):
    summary = do_split(tmp_path, mixed_data(tmp_path), test_source="real")
    parts = read(tmp_path)
    assert set(parts["test"]["source"]) == {"real"} and parts["test"]["label"].value_counts().to_dict() == {"a": 2, "b": 2}
    assert parts["val"]["label"].value_counts().to_dict() == {"a": 12, "b": 12}  # 20% of 50 synthetic + 8 real
    assert (parts["train"]["source"] == "real").sum() + (parts["val"]["source"] == "real").sum() == 16
    assert summary["test_source"] == "real" and summary["val_source"] == "all"
    assert summary["splits"]["test"]["sources"] == {"real": 4}
    assert sum(summary["splits"][n]["sources"].get("template", 0) for n in ("train", "val")) == 100
    assert sorted(pd.concat(parts.values())["text"]) == sorted(pd.read_csv(tmp_path / "generated.csv")["text"])
    first = [(tmp_path / "split" / f"{n}.csv").read_bytes() for n in split.SPLITS]
    do_split(tmp_path, mixed_data(tmp_path), test_source="real")
    assert [(tmp_path / "split" / f"{n}.csv").read_bytes() for n in split.SPLITS] == first
    do_split(tmp_path, mixed_data(tmp_path), seed=1, test_source="real")
    assert (tmp_path / "split" / "test.csv").read_bytes() != first[2]


def test_real_val_and_test_leave_train_the_synthetic_rows_and_the_real_rows_left(tmp_path):
    summary = do_split(tmp_path, mixed_data(tmp_path), val_source="real", test_source="real")
    parts = read(tmp_path)
    for name in ("val", "test"):
        assert summary["splits"][name]["sources"] == {"real": 4} and set(parts[name]["source"]) == {"real"}
    assert summary["splits"]["train"]["sources"] == {"real": 12, "template": 100}


def test_a_real_row_and_its_synthetic_near_duplicate_stay_together_outside_the_real_split(tmp_path):
    twin = {"text": "a real headline 0 again", "label": "a", "source": "template"}  # Jaccard 4/5 with its real row
    do_split(tmp_path, mixed_data(tmp_path, extra=[twin]), test_source="real", near_duplicate_threshold=0.8)
    parts = read(tmp_path)
    where = {n: set(p["text"]) for n, p in parts.items()}
    home = [n for n, texts in where.items() if "a real headline 0" in texts]
    assert home != ["test"] and twin["text"] in where[home[0]]


@pytest.mark.parametrize("kw, real, message", [
    ({"test_source": "real"}, 0, "split.test_source is real, but label 'a' has 0 distinct real texts; need at least 1"),
    ({"val_source": "real", "test_source": "real"}, 1,
     "split.val_source and split.test_source are real, but label 'a' has 1 distinct real texts; need at least 2"),
])
def test_too_few_real_rows_per_label_is_one_line_naming_the_param(tmp_path, kw, real, message):
    with pytest.raises(DataError) as err:
        do_split(tmp_path, mixed_data(tmp_path, real=real), **kw)
    assert message in str(err.value) and "\n" not in str(err.value)
    assert not (tmp_path / "split").exists()


def test_split_source_params_are_all_or_real():
    with pytest.raises(params.ParamsError, match="split.val_source must be one of all, real, got 'synthetic'"):
        params.load_dict({"val_source": "synthetic"}, "split")


def multi_label_data(tmp_path, cells, near_copies=0):
    """Rows of label-set cells with distinct texts (and `near_copies` near-duplicates of the first rows), and
    the dataset.json saying they are multi-label."""
    from stages.core.contracts import DatasetInfo, Provider

    rows = [{"text": f"ticket {i} about {cell.replace('|', ' and ')} number {i * 13}", "label": cell,
             "source": "template"} for i, cell in enumerate(cells)]
    rows += [{**r, "text": r["text"] + " again"} for r in rows[:near_copies]]
    path = tmp_path / "generated.csv"
    rows_of(rows).to_csv(path, index=False)
    info = tmp_path / "dataset.json"
    DatasetInfo(provider=Provider(provider="template"), rows_read=len(rows), rows_kept=len(rows), multi_label=True,
                labels=sorted({lab for c in cells for lab in c.split("|")})).write(info)
    return path, info


def test_multi_label_split_keeps_every_label_in_each_split_and_groups_intact(tmp_path):
    from stages.core import similarity

    cells = ["billing"] * 40 + ["account"] * 40 + ["account|urgent"] * 15 + ["billing|urgent"] * 10 + \
            ["technical|urgent"] * 3 + ["technical"] * 30
    data, info = multi_label_data(tmp_path, cells, near_copies=20)
    summary = split.run(cfg=params.load_dict({}, "split"), seed=42, data=data, out_dir=tmp_path / "split",
                        report=tmp_path / "split.json", dataset=info)
    parts = read(tmp_path)
    for name, part in parts.items():
        labels = {lab for cell in part["label"] for lab in cell.split("|")}
        assert labels == {"account", "billing", "technical", "urgent"}, name
        assert summary["splits"][name]["labels"]["urgent"] == part["label"].str.contains("urgent").sum()
    everything = pd.concat(parts.values())
    assert sorted(everything["text"]) == sorted(pd.read_csv(data)["text"])
    where = {t: n for n, p in parts.items() for t in p["text"]}
    for group in similarity.groups(pd.read_csv(data)["text"].tolist(), 0.8, 42).values():
        texts = pd.read_csv(data)["text"].iloc[group]
        assert len({where[t] for t in texts}) == 1  # near-duplicates stay together
    urgent_share = {n: p["label"].str.contains("urgent").mean() for n, p in parts.items()}
    assert max(urgent_share.values()) - min(urgent_share.values()) < 0.1  # proportions kept
    again = split.run(cfg=params.load_dict({}, "split"), seed=42, data=data, out_dir=tmp_path / "split2",
                      report=tmp_path / "split2.json", dataset=info)
    assert again == summary and (tmp_path / "split2" / "test.csv").read_bytes() == \
        (tmp_path / "split" / "test.csv").read_bytes()


def test_multi_label_split_bad_inputs_are_one_line(tmp_path):
    data, info = multi_label_data(tmp_path, ["a"] * 20 + ["a|b"] * 2 + ["c"] * 20)
    with pytest.raises(DataError, match=r"label 'b' occurs in 2 groups of rows .* need at least 3"):
        split.run(cfg=params.load_dict({}, "split"), seed=1, data=data, out_dir=tmp_path / "s",
                  report=tmp_path / "s.json", dataset=info)
    data, info = multi_label_data(tmp_path, ["a"] * 20 + ["a|b"] * 20)
    with pytest.raises(ParamsError, match="split.val_source and split.test_source must be all for multi-label"):
        split.run(cfg=params.load_dict({"test_source": "real"}, "split"), seed=1, data=data,
                  out_dir=tmp_path / "s", report=tmp_path / "s.json", dataset=info)
    evaluate = params.load_dict({"positive_label": "a|b"}, "evaluate")  # a label set is not a label name
    with pytest.raises(ParamsError, match=r"evaluate.positive_label must be one of the labels of .* \(a, b\)"):
        split.run(cfg=params.load_dict({}, "split"), seed=1, data=data, out_dir=tmp_path / "s",
                  report=tmp_path / "s.json", dataset=info, evaluate=evaluate)
    assert not (tmp_path / "s").exists()


# ---------------------------------------------------------------- groups by origin (split.group_by)

def test_on_the_default_task_no_template_s_fills_are_in_two_splits(tmp_path):
    """params.yaml as shipped: the default task's generate and split, for real (no training)."""
    from stages import generate
    from stages.core.contracts import DatasetInfo

    defaults = params.read_params(ROOT / "params.yaml")
    gen = params.load_dict({**defaults["generate"], "task": str(ROOT / defaults["generate"]["task"])}, "generate")
    generate.run(cfg=gen, seed=defaults["base"]["seed"], out=tmp_path / "generated.csv", reports=tmp_path / "r")
    summary = split.run(cfg=params.load_dict(defaults["split"], "split"), seed=defaults["base"]["seed"],
                        data=tmp_path / "generated.csv", out_dir=tmp_path / "split", report=tmp_path / "split.json",
                        dataset=tmp_path / "r" / "dataset.json")
    assert not DatasetInfo.read(tmp_path / "r" / "dataset.json").multi_label
    parts = read(tmp_path)
    homes = pd.concat(p.assign(split=n) for n, p in parts.items()).groupby("origin")["split"].nunique()
    assert (homes == 1).all() and len(homes) == summary["origin_groups"] == 37  # 21 + 19 templates, 3 shared
    assert summary["origins_in_two_splits"] == 0 and summary["group_by"] == ["origin", "near_duplicates"]
    everything = pd.concat(parts.values())["label"].value_counts()
    for name, share in (("train", 0.6), ("val", 0.2), ("test", 0.2)):  # every label in every split, near its share
        shares = parts[name]["label"].value_counts() / everything
        assert set(shares.index) == {"clickbait", "factual"} and ((shares - share).abs() < 0.05).all(), (name, shares)
    shared = parts_of(parts, "clickbait-19")  # "Why {org} {verb_past} {measure} on {topic}", under both labels
    assert len(shared) == 1 and set(parts[shared[0]].query("origin == 'clickbait-19'")["label"]) == {"clickbait",
                                                                                                   "factual"}


def parts_of(parts, origin):
    return [n for n, p in parts.items() if (p["origin"] == origin).any()]


def template_rows(tmp_path):
    """Six origins per label (a template's fills), ten rows each, no two texts alike."""
    rows_of([{"text": f"{lab}{k} alpha{i} beta{i * 7} gamma{i * 13}", "label": lab, "origin": f"{lab}-{k}"}
             for lab in ("a", "b") for k in range(1, 7) for i in range(10)], source="template").to_csv(
        tmp_path / "generated.csv", index=False)
    return tmp_path / "generated.csv"


def test_group_by_origin_keeps_each_origin_whole_and_without_it_they_spread(tmp_path):
    data = template_rows(tmp_path)
    summary = do_split(tmp_path, data)
    assert all(len(parts_of(read(tmp_path), f"{lab}-{k}")) == 1 for lab in "ab" for k in range(1, 7))
    assert {n: s["rows"] for n, s in summary["splits"].items()} == {"train": 80, "val": 20, "test": 20}
    assert summary["origin_groups"] == 12 and summary["origins_in_two_splits"] == 0
    summary = do_split(tmp_path, data, group_by=["near_duplicates"])
    assert summary["origins_in_two_splits"] > 0 and summary["group_by"] == ["near_duplicates"]


def test_group_by_origin_alone_still_keeps_equal_texts_together(tmp_path):
    rows = [{"text": f"headline {i} from the city", "label": "ab"[i % 2], "origin": f"o{i}"} for i in range(40)]
    rows += [{"text": f"HEADLINE {i} from the city!", "label": "ab"[i % 2], "origin": f"p{i}"}  # equal keys
             for i in range(40)]
    rows += [{"text": f"headline {i} from the city today", "label": "ab"[i % 2], "origin": f"q{i}"}  # 5/6 alike
             for i in range(40)]
    path = tmp_path / "g.csv"
    rows_of(rows, source="template").to_csv(path, index=False)
    summary = do_split(tmp_path, path, group_by=["origin"])
    keys = {n: set(f["text"].map(dedup_key)) for n, f in read(tmp_path).items()}
    assert not (keys["train"] & keys["val"]) and not (keys["train"] & keys["test"]) and not (keys["val"] & keys["test"])
    assert summary["near_duplicate_groups"] == 0 and summary["max_cross_split_jaccard"] >= 0.8  # near ones may split


def rows_of_label(*sizes, label="a"):
    return [collections.Counter({label: n}) for n in sizes]


def test_groups_are_dealt_by_rows_not_by_count():
    # shuffled groups of 8, 30, 3, 2, 9, 5, 3 rows of one label (60): test and val aim at 12 rows each and take a
    # group only when it brings them closer: test takes 8 and 3 (11; 2 more would be as far), val takes 2 and 9
    # (11); train gets 30 + 5 + 3.
    assert split.names_for(rows_of_label(8, 30, 3, 2, 9, 5, 3), {"test": 0.2, "val": 0.2}, "train") == \
        ["test", "train", "test", "val", "val", "train", "train"]
    # one-row groups: the first round(n * size) to test, the next to val
    assert split.names_for(rows_of_label(*[1] * 10), {"test": 0.2, "val": 0.3}, "train") == \
        ["test"] * 2 + ["val"] * 3 + ["train"] * 5
    # a split never takes a label's group that a later split needs: test and val skip 40, then may not take both 1s
    assert split.names_for(rows_of_label(1, 1, 40), {"test": 0.2, "val": 0.2}, "train") == ["test", "val", "train"]
    assert split.names_for(rows_of_label(40, 1, 1), {"test": 0.2, "val": 0.2}, "train") == ["train", "test", "val"]


def test_a_group_of_two_labels_counts_for_both():
    # a (80 rows): 20 in the shared group + 6 groups of 10; b the same. Test and val aim at 16 of each label.
    # Test takes a 10, b 10, skips the shared group (4 + 4 over where it stood at 6 + 6 under), takes a 10, b 10;
    # val takes the shared group alone. Counted for one label only, it would tilt whichever split it joined.
    counts = [collections.Counter(a=10), collections.Counter(b=10), collections.Counter(a=20, b=20)]
    counts += [collections.Counter({lab: 10}) for _ in range(5) for lab in "ab"]
    names = split.names_for(counts, {"test": 0.2, "val": 0.2}, "train")
    assert names[:5] == ["test", "test", "val", "test", "test"] and set(names[5:]) == {"train"}
    for name in ("test", "val"):
        assert sum((c for c, n in zip(counts, names) if n == name), collections.Counter()) == {"a": 20, "b": 20}


@pytest.mark.parametrize("value, message", [
    ([], "split.group_by must be a list of origin and/or near_duplicates (at least one, each once), got []"),
    (["origin", "origin"], "split.group_by must be a list of origin and/or near_duplicates (at least one, each "
                           "once), got ['origin', 'origin']"),
    (["template"], "split.group_by[0] must be one of origin, near_duplicates, got 'template'"),
    ("origin", "split.group_by must be a list, got 'origin'"),
])
def test_group_by_takes_origin_and_or_near_duplicates(value, message):
    with pytest.raises(ParamsError) as err:
        params.load_dict({"group_by": value}, "split")
    assert str(err.value) == "params.yaml: " + message


def test_multi_label_split_keeps_each_origin_whole(tmp_path):
    cells = ["billing"] * 40 + ["account"] * 40 + ["account|urgent"] * 20 + ["technical"] * 40
    data, info = multi_label_data(tmp_path, cells)
    frame = pd.read_csv(data)
    frame.assign(origin=[f"t{i // 4}" for i in range(len(frame))]).to_csv(data, index=False)  # 4 rows per origin
    summary = split.run(cfg=params.load_dict({}, "split"), seed=42, data=data, out_dir=tmp_path / "split",
                        report=tmp_path / "split.json", dataset=info)
    assert summary["origin_groups"] == 35 and summary["origins_in_two_splits"] == 0
    parts = read(tmp_path)
    assert all(len(parts_of(parts, f"t{k}")) == 1 for k in range(35))
    for part in parts.values():
        assert {lab for cell in part["label"] for lab in cell.split("|")} == {"account", "billing", "technical",
                                                                               "urgent"}


def test_mixed_in_real_rows_are_dealt_by_their_share_not_left_to_top_up_val_and_test(tmp_path):
    """Template groups of 10 rows and one-row real groups: each split holds its share of the real rows too (before,
    the greedy deal filled val and test with the large groups and topped them up with real rows: 4 of 64 in train)."""
    rows = [{"text": f"{lab} synthetic text {i}", "label": lab, "source": "template", "origin": f"{lab}-t{i // 10}"}
            for lab in ("a", "b") for i in range(200)]
    rows += [{"text": f"{lab} real headline {i}", "label": lab, "source": "real"} for lab in ("a", "b") for i in range(30)]
    data = tmp_path / "generated.csv"
    rows_of(rows).to_csv(data, index=False)
    summary = do_split(tmp_path, data, val_size=0.2, test_size=0.2)
    parts = read(tmp_path)
    for name, share in (("train", 0.6), ("val", 0.2), ("test", 0.2)):
        real = parts[name][parts[name]["source"] == "real"]["label"].value_counts().to_dict()
        assert real == {"a": round(30 * share), "b": round(30 * share)}, (name, real)
    assert summary["splits"]["train"]["sources"]["real"] == 36
