"""`synthbert predict` on long inputs: a progress line every PROGRESS_S seconds whatever the chunk size, and --out
written whole or not at all when the run is stopped (stages.tools.predict_io)."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest

from stages.core import modeling
from stages.tools import predict, predict_io
from testkit import ROOT
from testkit.dvc_repo import subprocess_env

LINE = re.compile(r"predicted ([\d,]+)/([\d,]+) texts \((\d+)%\), [\d.]+ texts/s, ETA \d+ s")


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, tiny_bert):
    path = tmp_path_factory.mktemp("predict-progress") / "classifier"
    modeling.load_classifier(str(tiny_bert), ["clickbait", "factual"]).save_pretrained(str(path))
    modeling.load_tokenizer(str(tiny_bert)).save_pretrained(str(path))
    return path


def progress_lines(caplog) -> list[tuple[int, int]]:
    return [(int(m[1].replace(",", "")), int(m[2].replace(",", ""))) for m in LINE.finditer(caplog.text)]


def test_a_line_once_the_interval_has_passed_and_a_last_one(caplog):
    caplog.set_level(logging.INFO, logger="stages.tools.predict")
    now = [100.0]
    progress = predict_io.Progress(1000, every_s=10, clock=lambda: now[0])
    for _ in range(10):  # 100 rows every 4 s: due at 12 s, 24 s, 36 s; the last at 1000 rows (40 s)
        now[0] += 4
        progress(100)
    assert progress_lines(caplog) == [(300, 1000), (600, 1000), (900, 1000), (1000, 1000)]
    assert "predicted 300/1,000 texts (30%), 25.0 texts/s, ETA 28 s" in caplog.text
    caplog.clear()
    quiet = predict_io.Progress(1000, every_s=10, clock=lambda: now[0])
    quiet(1000)  # a short run: no line at all
    assert caplog.text == ""


@pytest.mark.parametrize("chunk", [8192, 3])
def test_lines_come_per_batch_whatever_the_chunk_size(model_dir, tmp_path, capsys, caplog, monkeypatch, chunk):
    """The throttle is checked after every batch, not every chunk: with a zero interval each batch of 2 gives a
    line, with the default chunk (8192, bigger than the input) as with a tiny one; stdout carries only rows."""
    caplog.set_level(logging.INFO, logger="stages.tools.predict")
    monkeypatch.setattr(predict_io, "PROGRESS_S", 0.0)
    monkeypatch.setattr(predict, "CHUNK", chunk)
    src = tmp_path / "texts.txt"
    src.write_text("storm hits texas\n" * 9, encoding="utf-8")
    assert predict.main(["--model", str(model_dir), "--input", str(src), "--batch-size", "2"]) == 0
    out = capsys.readouterr().out
    assert [json.loads(line)["text"] for line in out.splitlines()] == ["storm hits texas"] * 9
    done = [d for d, total in progress_lines(caplog) if total == 9]
    assert done == ([2, 4, 6, 8, 9] if chunk == 8192 else [2, 3, 5, 6, 8, 9])  # the last chunk, 3 rows: 2 + 1


def test_a_stop_while_the_rows_are_copied_leaves_the_old_out_and_no_partial_file(tmp_path):
    """SIGTERM in the last step (rows copied to the hidden .partial before the rename) removes the .partial."""
    out = tmp_path / "pred.jsonl"
    out.write_text("old\n", encoding="utf-8")
    real_copy = shutil.copyfileobj

    def copy_then_signal(src, dst):
        real_copy(src, dst)
        assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".partial")]  # the copy is there now
        assert signal.getsignal(signal.SIGTERM) not in (signal.SIG_DFL, None)  # else it would end pytest
        os.kill(os.getpid(), signal.SIGTERM)  # a real signal, handled as in a run

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(predict_io.shutil, "copyfileobj", copy_then_signal)
        with pytest.raises(KeyboardInterrupt) as stopped, predict_io.stop_on_sigterm():
            with predict_io.whole_or_never(out) as f:
                f.write("new\n")
    assert stopped.value.args == (signal.SIGTERM,)
    assert [p.name for p in tmp_path.iterdir()] == ["pred.jsonl"] and out.read_text(encoding="utf-8") == "old\n"
    with predict_io.whole_or_never(out) as f:  # and without a stop, the new rows replace --out
        f.write("new\n")
    assert [p.name for p in tmp_path.iterdir()] == ["pred.jsonl"] and out.read_text(encoding="utf-8") == "new\n"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL], ids=lambda s: s.name)
def test_a_killed_run_leaves_no_file_and_the_old_out(model_dir, tmp_path, sig):
    """The standalone copy (predict.py, predict_io.py) on 100,000 lines, one text per batch, signalled once its
    first progress line is on stderr: exit 128 + the signal (SIGKILL: killed), and in --out's directory nothing
    but the --out of before, neither while predicting nor after."""
    for name in ("predict.py", "predict_io.py"):
        shutil.copy(ROOT / "stages" / "tools" / name, tmp_path / name)
    work = tmp_path / "work"
    work.mkdir()
    (work / "in.txt").write_text("you won't believe what the mayor found\n" * 100_000, encoding="utf-8")
    (work / "pred.csv").write_text("old\n", encoding="utf-8")
    env = {**{k: v for k, v in subprocess_env().items() if k != "PYTHONPATH"}, "SYNTHBERT_PROGRESS_S": "0"}
    with (tmp_path / "stderr.txt").open("w") as err:
        proc = subprocess.Popen([sys.executable, "-I", str(tmp_path / "predict.py"), "--model", str(model_dir),
                                 "--input", "in.txt", "--out", "pred.csv", "--batch-size", "1"],
                                cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=err)
        try:
            deadline = time.monotonic() + 120
            while "predicted 1/100,000 texts" not in (tmp_path / "stderr.txt").read_text():
                assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "stderr.txt").read_text()
                time.sleep(0.05)
            assert sorted(p.name for p in work.iterdir()) == ["in.txt", "pred.csv"]  # the rows have no name yet
            proc.send_signal(sig)
            code = proc.wait(timeout=60)
        finally:
            proc.kill()
            proc.wait(timeout=60)
    stderr = (tmp_path / "stderr.txt").read_text()
    assert code == (-signal.SIGKILL if sig == signal.SIGKILL else 128 + sig), stderr
    if sig != signal.SIGKILL:
        assert stderr.endswith(f"error: stopped by {sig.name}; pred.csv not written\n") and "Traceback" not in stderr
    assert sorted(p.name for p in work.iterdir()) == ["in.txt", "pred.csv"]
    assert (work / "pred.csv").read_text(encoding="utf-8") == "old\n"
