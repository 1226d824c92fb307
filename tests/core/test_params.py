
import re

import pytest

from stages.core import params
from stages.core.errors import DataError, ParamsError

from testkit import ROOT


def test_repository_params_load_and_match_dataclass_defaults():
    for section in params.SECTIONS:
        params.load(section, ROOT / "params.yaml")
    # Every key in params.yaml is known (an unknown one would have raised) and vice versa.
    assert params.load("train", ROOT / "params.yaml").model == "sentence-transformers/all-MiniLM-L6-v2"


@pytest.mark.parametrize(
    "section, raw, message",
    [
        ("train", {"learnin_rate": 1e-3}, "unknown key train.learnin_rate"),
        ("train", {"learning_rate": -1}, "train.learning_rate must be in (0, 1), got -1"),
        ("train", {"batch_size": 0}, "train.batch_size must be >= 1, got 0"),
        ("train", {"batch_size": "32"}, "train.batch_size must be an integer, got '32'"),
        ("train", {"epochs": True}, "train.epochs must be a number, got True"),
        ("train", {"lr_scheduler": "cosin"}, "train.lr_scheduler must be one of linear"),
        ("train", {"report_to": ["comet"]}, "train.report_to must be a list of distinct trackers among wandb, mlflow, "
         "tensorboard, got ['comet']"),
        ("train", {"report_to": ["mlflow", "mlflow"]}, "train.report_to must be a list of distinct trackers"),
        ("train", {"report_to": "mlflow"}, "train.report_to must be a list"),
        ("split", {"val_size": 1.5}, "split.val_size must be a fraction in (0, 1), got 1.5"),
        ("split", {"val_size": 0.5, "test_size": 0.45}, "split.val_size + split.test_size must be < 0.9"),
        ("generate", {"provider": "gpt"}, "generate.provider must be one of template, csv"),
        ("generate", {"csv": {"path": "x.csv", "sep": ";"}}, "unknown key generate.csv.sep"),
        ("generate", {"csv": "x.csv"}, "generate.csv must be a mapping"),
        ("explain", {"num_samples": 5}, "explain.num_samples must be >= 10, got 5"),
        ("explain", {"mode": "fast"}, "explain.mode must be one of converge, exact, got 'fast'"),
        ("explain", {"min_samples": 5}, "explain.min_samples must be >= 10, got 5"),
        ("explain", {"tolerance": 0}, "explain.tolerance must be in (0, 1): a fraction of the largest weight, got 0"),
        ("explain", {"tolerance": 1.5}, "explain.tolerance must be in (0, 1)"),
        ("explain", {"max_seconds": 0}, "explain.max_seconds must be > 0 seconds, got 0"),
        ("explain", {"precision": "fp16"}, "explain.precision must be one of auto, fp32, bf16, got 'fp16'"),
        ("base", {"seed": -1}, "base.seed must be an integer in [0, 2**32)"),
    ],
)
def test_invalid_values_name_the_key_expected_and_found(section, raw, message):
    with pytest.raises(ParamsError) as err:
        params.load_dict(raw, section)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_float_written_as_string_by_dvc_is_accepted():
    # `dvc exp run -S train.learning_rate=3e-5` can write `3e-05`, which YAML 1.1 reads as a string.
    assert params.load_dict({"learning_rate": "3e-05"}, "train").learning_rate == pytest.approx(3e-5)
    with pytest.raises(ParamsError, match=r"train.learning_rate must be a number \(not a quoted string\), got 'fast'"):
        params.load_dict({"learning_rate": "fast"}, "train")


@pytest.mark.parametrize("section, key, value", [("train", "epochs", "4"), ("train", "epochs", "4.0"),
                                                 ("train", "max_steps", "10"), ("split", "val_size", "0.2"),
                                                 ("generate", "n_per_label", "400")])
def test_a_quoted_number_is_refused_naming_the_key(tmp_path, section, key, value):
    """`train.epochs: '4'` in params.yaml: a string where a number belongs is an error, not silently parsed."""
    p = tmp_path / "params.yaml"
    p.write_text(f"{section}:\n  {key}: '{value}'\n")
    with pytest.raises(ParamsError, match=rf"^params.yaml: {section}.{key} must be (a number \(not a quoted string\)|an "
                                          rf"integer), got '{re.escape(value)}'$"):
        params.load(section, p)


def test_missing_section_fails_an_empty_one_takes_defaults_and_unknown_section_fails(tmp_path):
    p = tmp_path / "params.yaml"
    p.write_text("base: {seed: 7}\n")
    with pytest.raises(ParamsError, match=r"params.yaml: missing section 'split' \(write `split: {}`"):
        params.load("split", p)
    p.write_text("base: {seed: 7}\nsplit: {}\n")
    assert params.load("split", p) == params.Split()
    p.write_text("base: {seed: 7}\ntrian: {epochs: 1}\n")
    with pytest.raises(ParamsError, match="unknown section 'trian'"):
        params.load("base", p)


def test_stage_main_reports_bad_params_in_one_line_with_exit_2(tmp_path, capsys):
    from stages import split

    p = tmp_path / "params.yaml"
    p.write_text("base: {seed: 42}\nsplit: {test_size: 0}\n")
    code = split.main(["--params", str(p), "--data", "missing.csv", "--out", str(tmp_path / "s"),
                       "--report", str(tmp_path / "split.json")])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err == "error: params.yaml: split.test_size must be a fraction in (0, 1), got 0.0"
    assert not (tmp_path / "s").exists()


def test_duplicate_key_is_rejected_naming_key_and_line_as_dvc_does(tmp_path, capsys):
    from stages import split

    p = tmp_path / "params.yaml"
    p.write_text("base: {seed: 42}\nsplit:\n  val_size: 0.2\n  test_size: 0.2\n  val_size: 0.3\n")
    with pytest.raises(DataError, match="line 5 invalid YAML: duplicate key 'val_size'"):
        params.load("split", p)
    code = split.main(["--params", str(p), "--data", "missing.csv", "--out", str(tmp_path / "s"),
                       "--report", str(tmp_path / "split.json")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("error: ") and "duplicate key 'val_size'" in err and "\n" not in err
