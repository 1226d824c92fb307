"""Issue 25's Hub-ready cards, written by the report stage: the completed model card's model-index (the synthetic
test split and every real set) and the dataset card of the generated data, both read back by huggingface_hub."""

from __future__ import annotations

from stages import report
from stages.core import params
from stages.core.contracts import DatasetInfo, Provider
from testkit import ROOT
from tests.test_report import audit_report, quality_report, real_set_reports, write


def run_report(r, model, **kw):
    write(r / "data" / "dataset.json", DatasetInfo(provider=Provider(provider="template", task="clickbait"),
                                                   rows_read=100, rows_kept=90).to_dict())
    report.run(cfg=params.Report(**kw), quality_path=r / "data" / "quality.json",
               metrics_path=r / "eval" / "test_metrics.json", out=r / "report.md", curves_png=r / "c.png",
               train_dir=r / "train", model_dir=model, card=r / "model_card.md", audit=r / "data" / "audit.json",
               dataset=r / "data" / "dataset.json", data_card=r / "data_card.md", generation=r / "data" / "generation.json", tasks=ROOT / "data" / "tasks")


def test_the_completed_model_card_indexes_the_test_split_and_every_real_set_test_role_first(tmp_path):
    from huggingface_hub import ModelCard

    r, _ = real_set_reports(tmp_path)
    model = tmp_path / "models" / "classifier"
    write(model / "config.json", {"id2label": {"0": "a", "1": "b"}})
    write(model / "synthbert_params.json", {"seed": 1, "train": {"model": "org/base", "max_length": 32}})
    run_report(r, model)
    text = (r / "model_card.md").read_text(encoding="utf-8")
    card = ModelCard(text)
    results = [(e.dataset_type, e.dataset_split, e.metric_type, e.metric_config) for e in card.data.eval_results]
    assert results == [("synthbert-synthetic", "test", "accuracy", None), ("synthbert-synthetic", "test", "f1", "macro"),
                       ("synthbert-synthetic", "test", "f1", "weighted"), ("real", "test", "accuracy", None),
                       ("real", "test", "f1", "macro"), ("real_dev", "dev", "accuracy", None),
                       ("real_dev", "dev", "f1", "macro")]
    assert card.data.eval_results[4].metric_value == 0.9 and card.data.eval_results[1].metric_value == 0.8321
    assert card.data.base_model == "org/base" and card.data.metrics == ["accuracy", "f1"]
    assert card.data.model_name == "clickbait text classifier"
    assert "| real | test | 1,500 |" in text and "| real\\_dev | dev | 100 |" in text
    assert 'pipeline("text-classification", model="models/classifier", top_k=None, truncation=True)' in text


def test_the_dataset_card_tells_provider_templates_rows_cost_quality_audit_and_license(tmp_path):
    from huggingface_hub import DatasetCard

    r, _ = real_set_reports(tmp_path)
    write(r / "data" / "quality.json", quality_report(
        provider=Provider(provider="openai", task="clickbait", mode="label_conditioned", models=["gpt-4o-mini"]),
        per_source={"gpt-4o-mini": {"before": 80, "after": 72}, "real": {"before": 20, "after": 18}}))
    write(r / "data" / "generation.json", {"provider": "openai", "requests": {"planned": 12, "used": 12,
          "sent_this_run": 3}, "tokens": {"prompt": 1200, "completion": 3400, "total": 4600}, "cost_usd": 0.00222})
    write(r / "data" / "audit.json", audit_report())
    run_report(r, None, data_license="cc-by-4.0", data_language="de")
    text = (r / "data_card.md").read_text(encoding="utf-8")
    card = DatasetCard(text)
    assert (card.data.license, card.data.language, card.data.size_categories) == ("cc-by-4.0", "de", ["n<1K"])
    assert card.data.configs == [{"config_name": "default", "data_files": [
        {"split": "train", "path": "data/train-00000-of-00001.parquet"}]}]
    assert "`openai` provider (mode `label_conditioned`); LLMs: `gpt-4o-mini`" in text
    assert "| a | 50 | 45 |" in text and "`gpt-4o-mini` 72, `real` 18" in text
    assert "Write {n} news headlines about {topic} for {audience}" in text  # the task file's prompt
    assert "12 LLM requests, 4,600 tokens (1,200 prompt, 3,400 completion): $0.0022" in text
    assert "10 exact, 0 near" in text and "`ends_with_!` predicts the label alone with accuracy 0.970" in text
    assert "- compared: 650 synthetic rows (train and val) with 500 real rows" in text  # the audit's headline
    assert "Released under `cc-by-4.0`" in text


def test_a_template_run_s_dataset_card_lists_templates_per_label(tmp_path):
    r, _ = real_set_reports(tmp_path)
    write(r / "data" / "audit.json", audit_report())
    run_report(r, None)
    text = (r / "data_card.md").read_text(encoding="utf-8")
    assert "- `clickbait` (" in text and "templates): `{number} {thing} about {topic} {hook}`" in text
    assert "## Cost" not in text  # no generation.json: nothing spent is claimed
    write(r / "data" / "generation.json", {"provider": "template", "requests": {"planned": 0, "used": 0,
          "sent_this_run": 0}, "tokens": {"prompt": 0, "completion": 0, "total": 0}, "cost_usd": 0.0})
    run_report(r, None)
    assert "## Cost\n\nNo LLM requests: nothing spent.\n" in (r / "data_card.md").read_text(encoding="utf-8")
