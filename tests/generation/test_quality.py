"""Data-quality measures: lengths, distinct-n and the shortcut probe, each checked by hand."""


from stages.generation import quality


def test_distinct_n_and_lengths_by_hand():
    # unigrams a b a a b c: 3 distinct of 6; bigrams ab ba ab bc: 3 distinct of 4
    assert quality.distinct_n(["a b a", "A, b c."], 1) == 0.5
    assert quality.distinct_n(["a b a", "A, b c."], 2) == 0.75
    assert quality.distinct_n(["one"], 2) == 0.0
    assert quality.length_stats([5, 1, 3, 2, 4, 6, 7, 8, 9, 10]) == {
        "min": 1, "p10": 1, "median": 5, "p90": 9, "max": 10, "mean": 5.5}


def rows(pairs):
    return [{"text": t, "label": lab} for t, lab in pairs]


def test_shortcut_probe_flags_a_class_that_always_ends_with_an_exclamation_mark():
    data = rows([(f"Headline number {w} about the market!", "clickbait") for w in "abcdefghij"]
                + [(f"Headline number {w} about the market", "factual") for w in "klmnopqrst"])
    report = quality.report(data, 0.9, 0.9, near=0, exact=0, rows_read=20)
    top = report["shortcuts"][0]
    assert top["accuracy"] == 1.0 and top["feature"] in ("contains_exclamation", "ends_with_exclamation")
    assert top["rule"] in ("with → clickbait; without → factual",)
    assert report["shortcut_warning"] and "ends_with_exclamation" in report["shortcut_features"]
    assert "token:headline" not in report["shortcut_features"]  # in every row: predicts nothing
    md = quality.markdown({"provider": {"provider": "csv"}, "per_label": {"clickbait": {"before": 10, "after": 10},
                           "factual": {"before": 10, "after": 10}}, "rows_read": 20, "rows_kept": 20, "dropped": {},
                           "per_source": {"csv:in.csv": {"before": 20, "after": 20}},
                           "label_issues": {"method": "m", "folds": 5, "skipped": "too few rows"}, **report})
    assert "**Warning: shortcut features:**" in md and "ends\\_with\\_exclamation" in md
    assert "Rows per source (read → kept): csv:in.csv 20 → 20." in md and "Skipped: too few rows." in md


def test_threshold_and_token_probes_by_hand():
    data = rows([("aa", "x"), ("bbb", "x"), ("cccc", "x"), ("dddddddddd", "y"), ("eeeeeeeeeee", "y"),
                 ("ffffffffffff", "x")])
    probe = {p["feature"]: p for p in quality.shortcut_probe(data)}
    assert probe["length_chars"]["threshold"] == 4 and probe["length_chars"]["accuracy"] == round(5 / 6, 4)
    assert probe["length_chars"]["rule"] == "≤ 4 → x; > 4 → y"
    data = rows([(f"{w} shocking news", "bait") for w in ("one", "two", "three")]
                + [(f"{w} plain news", "news") for w in ("four", "five", "six")])
    probe = {p["feature"]: p for p in quality.shortcut_probe(data)}
    assert probe["token:shocking"]["accuracy"] == 1.0 and probe["token:news"]["accuracy"] == 0.5


def test_no_warning_when_no_feature_beats_the_threshold_or_the_majority_baseline():
    balanced = rows([(f"Report {i} on rates", "a") for i in range(5)] + [(f"Report {i} on rates", "b")
                                                                        for i in range(5, 10)])
    assert not quality.report(balanced, 0.9, 0.9, 0, 0, 10)["shortcut_warning"]
    skewed = rows([(f"Report on item {w}", "a") for w in "abcdefghijklmnopqrs"] + [("Report on item z", "b")])
    report = quality.report(skewed, 0.9, 0.9, 0, 0, 20)
    assert report["majority_baseline"] == 0.95 and not report["shortcut_warning"]


def test_bidi_and_control_characters_reach_quality_md_only_as_visible_escapes(tmp_path):
    """A label or text holding U+202E (right-to-left override) would show the page reversed: written [U+202E]."""
    import re

    import pandas as pd

    from stages import generate
    from stages.core import params

    texts = [f"headline number {i} about topic {i * 3} here" for i in range(24)]
    labels = ["bait\u202e", "news\u2066x\u0007"] * 12
    texts[0] = "evil \u202etxt.exe headline here"
    src = tmp_path / "in.csv"
    pd.DataFrame({"text": texts, "label": labels}).to_csv(src, index=False)
    config = params.load_dict({"provider": "csv", "csv": {"path": str(src)}}, "generate")
    generate.run(cfg=config, seed=1, out=tmp_path / "g.csv", reports=tmp_path / "r")
    md = (tmp_path / "r" / "quality.md").read_text(encoding="utf-8")
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]", md)
    assert r"bait\[U\+202E\]" in md and r"news\[U\+2066\]x\[U\+0007\]" in md
