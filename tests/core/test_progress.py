"""Progress lines (stages/core/progress.py) and where they are used: scoring (run_batches) and the template
provider on large runs; training's is in tests/training/test_logs.py."""

import logging
import re

from stages.core import modeling, progress
from stages.core.progress import Progress, duration
from stages.generation import task, template
from testkit import ROOT


def test_progress_lines_name_done_total_rate_and_eta(caplog):
    import logging

    log = logging.getLogger("stages.test")
    caplog.set_level(logging.INFO, logger="stages.test")
    quiet = Progress("scoring", 100, "texts", log=log, every_s=3600)
    for _ in range(10):
        quiet.update(10)
    assert caplog.text == ""  # a short loop stays quiet
    p = Progress("scoring", 100, "texts", log=log, every_s=0)
    p.update(40)
    p.update(60)
    lines = [r.getMessage() for r in caplog.records]
    assert re.fullmatch(r"scoring: 40/100 texts \(40%\), [\d,.]+ texts/s, ETA \d+ s", lines[0])
    assert re.fullmatch(r"scoring: 100/100 texts \(100%\), [\d,.]+ texts/s, \d+ s in all", lines[1])
    assert [duration(s) for s in (4.4, 185, 7620)] == ["4 s", "3m05s", "2h07m"]


def test_progress_is_throttled_by_its_clock_not_by_updates(caplog):
    """A fake clock (no waiting): 100 updates 1 s apart log at 10, 20, ..., 90 s and once at the end."""
    log = logging.getLogger("stages.test")
    caplog.set_level(logging.INFO, logger="stages.test")
    now = [0.0]
    p = Progress("LIME", 100, "rows", log=log, every_s=10, clock=lambda: now[0])
    for _ in range(100):
        now[0] += 1.0
        p.update()
    lines = [r.getMessage() for r in caplog.records]
    assert [line.split(" rows")[0] for line in lines] == [f"LIME: {n}/100" for n in range(10, 101, 10)]
    assert lines[-1].endswith("1m40s in all")


def test_scoring_and_template_generation_log_progress(tiny_bert, caplog, monkeypatch):
    monkeypatch.setattr(progress, "EVERY_S", 0.0)
    caplog.set_level(logging.INFO, logger="stages")
    tokenizer = modeling.load_tokenizer(str(tiny_bert))
    modeling.run_batches(["storm hits texas"] * 5, tokenizer, lambda b: [0] * len(b["input_ids"]), batch_size=2,
                         max_length=16)
    assert "scoring: 2/5 texts (40%)" in caplog.text and "texts/s, ETA" in caplog.text
    rows = template.generate(task.load_task(ROOT / "data/tasks/clickbait.yaml"), 1000, 0)
    assert len(rows) >= 1000 and re.search(r"template: 1,000/[\d,]+ rows \(\d+%\), [\d,.]+ rows/s", caplog.text)
