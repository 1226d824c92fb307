"""train.report_to: the Trainer's own tracker integrations beside DVCLive; MLflow for real with a local file store."""

import importlib.util

import pytest

from stages import train
from stages.core import params
from stages.training import controls
from tests.test_train import LEARNS, tiny_cfg, write_splits


def test_no_tracker_by_default_and_the_listed_ones_otherwise(tmp_path):
    default = controls.training_args(params.load_dict({}, "train"), 0, tmp_path, "fp32", "cpu")
    assert default.report_to in ([], "none", ["none"])
    assert params.load_dict({"report_to": ["mlflow", "wandb"]}, "train").report_to == ("mlflow", "wandb")


@pytest.mark.skipif(importlib.util.find_spec("mlflow") is None, reason="mlflow is not installed")
def test_mlflow_file_store_gets_the_run_and_dvclive_still_writes_its_curves(tmp_path, tiny_bert, monkeypatch):
    import mlflow

    store = tmp_path / "mlruns"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store.as_uri())
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # mlflow 3.x refuses a file store without it
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "synthbert-test")
    cfg = tiny_cfg(tiny_bert, **{**LEARNS, "epochs": 1}, report_to=["mlflow"])
    train.run(cfg=cfg, seed=0, split_dir=write_splits(tmp_path), model_dir=tmp_path / "model",
              reports=tmp_path / "reports", checkpoint_dir=tmp_path / "ckpt")
    runs = mlflow.search_runs(experiment_names=["synthbert-test"], output_format="list")
    assert len(runs) == 1
    history = mlflow.tracking.MlflowClient().get_metric_history(runs[0].info.run_id, "eval_f1_macro")
    assert len(history) == 1 and 0 <= history[0].value <= 1  # one evaluation per epoch
    assert runs[0].data.params["learning_rate"] == str(LEARNS["learning_rate"])
    assert (tmp_path / "reports" / "plots" / "metrics" / "eval" / "f1_macro.tsv").is_file()  # DVCLive beside it


def test_a_tracker_whose_package_is_missing_stops_before_training_in_one_line(tmp_path, tiny_bert):
    from transformers import integrations

    from stages.core.errors import ParamsError

    missing = [t for t in ("tensorboard", "wandb", "mlflow") if not getattr(integrations, f"is_{t}_available")()]
    if not missing:
        pytest.skip("every tracker is installed here")
    with pytest.raises(ParamsError, match=f"train.report_to lists {missing[0]}, whose package is not installed") as err:
        train.run(cfg=tiny_cfg(tiny_bert, report_to=[missing[0]]), seed=0, split_dir=write_splits(tmp_path),
                  model_dir=tmp_path / "m", reports=tmp_path / "r", checkpoint_dir=tmp_path / "c")
    assert "\n" not in str(err.value) and not any((tmp_path / n).exists() for n in ("m", "r", "c"))
