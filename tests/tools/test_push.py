"""`synthbert push` against a local stand-in for the Hub (testkit/hub_server.py): what is sent, where, with which
token, and every bad input stopped in one line before anything is sent."""

import io
import os
import shutil
import subprocess
import sys

import pandas as pd
import pytest

from stages.tools import push
from testkit import ROOT
from testkit.dvc_repo import subprocess_env
from testkit.hub_server import FakeHub

TOKEN = "hf_test_secret_0123456789"
CARD = """---
license: apache-2.0
library_name: transformers
---
# clickbait text classifier

```python
clf = pipeline("text-classification", model="models/classifier", top_k=None, truncation=True)
```
synthbert predict --model models/classifier --input texts.txt
"""
DATA_CARD = "---\nlicense: apache-2.0\nconfigs:\n- config_name: default\n  data_files: data/*.parquet\n---\n# data\n"


@pytest.fixture
def inputs(tmp_path, tiny_bert):
    model = tmp_path / "models" / "classifier"
    shutil.copytree(tiny_bert, model)
    (model / "README.md").write_text("train's card, no test metrics\n", encoding="utf-8")
    onnx = tmp_path / "models" / "onnx"
    onnx.mkdir()
    (onnx / "model.onnx").write_bytes(b"\x08\x07onnx")
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "model_card.md").write_text(CARD, encoding="utf-8")
    (reports / "data_card.md").write_text(DATA_CARD, encoding="utf-8")
    data = tmp_path / "data" / "generated.csv"
    data.parent.mkdir()
    pd.DataFrame({"text": ["NA", "10 secrets, revealed", "council approves budget"], "label": ["a", "a", "b"],
                  "source": ["template"] * 3, "origin": ["a-1", "a-2", "b-1"]}).to_csv(data, index=False)
    return tmp_path


def args(root, *extra):
    return ["--model", str(root / "models" / "classifier"), "--card", str(root / "reports" / "model_card.md"),
            "--onnx", str(root / "models" / "onnx"), "--data", str(root / "data" / "generated.csv"),
            "--data-card", str(root / "reports" / "data_card.md"), *extra]


def test_push_uploads_model_card_onnx_and_data_as_parquet_with_the_token_from_the_environment(inputs):
    from huggingface_hub import ModelCard

    home = inputs / "hf_home"
    with FakeHub(token=TOKEN) as hub:
        env = {**subprocess_env(), "HF_ENDPOINT": hub.url, "HF_TOKEN": TOKEN, "HF_HOME": str(home),
               "HF_HUB_OFFLINE": "0"}  # the test suite runs offline; this Hub is 127.0.0.1
        proc = subprocess.run([sys.executable, "-m", "stages.tools", "push", "--model-repo", "me/clf",
                               "--dataset-repo", "me/clf-data", "--private", *args(inputs)],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0].startswith(f"model: {hub.url}/me/clf/commit/")
    assert proc.stdout.splitlines()[1].startswith(f"dataset: {hub.url}/datasets/me/clf-data/commit/")
    assert hub.paths() == ["POST /api/repos/create", "POST /api/validate-yaml", "POST /api/models/me/clf/preupload/main",
                           "POST /api/models/me/clf/commit/main", "POST /api/repos/create", "POST /api/validate-yaml",
                           "POST /api/datasets/me/clf-data/preupload/main", "POST /api/datasets/me/clf-data/commit/main"]
    assert {c["auth"] for c in hub.calls} == {f"Bearer {TOKEN}"}
    assert hub.calls[0]["body"] == {"name": "clf", "organization": "me", "visibility": "private", "type": "model"}
    model, data = hub.repos["me/clf"], hub.repos["me/clf-data"]
    assert model["private"] and data["private"] and model["commits"] == ["synthbert push: model"]
    expected = {p.relative_to(inputs / "models" / "classifier").as_posix() for p in (inputs / "models" / "classifier").rglob("*")}
    assert set(model["files"]) == expected | {"onnx/model.onnx"}
    assert model["files"]["onnx/model.onnx"] == b"\x08\x07onnx"
    readme = model["files"]["README.md"].decode()  # the completed card, not train's, pointing at the repository
    assert 'model="me/clf"' in readme and "--model me/clf " in readme and "models/classifier" not in readme
    assert ModelCard(readme).data.datasets == ["me/clf-data"]
    assert set(data["files"]) == {"README.md", "data/train-00000-of-00001.parquet"}
    assert data["files"]["README.md"].decode() == DATA_CARD
    rows = pd.read_parquet(io.BytesIO(data["files"]["data/train-00000-of-00001.parquet"]))
    assert rows.to_dict("list") == pd.read_csv(inputs / "data" / "generated.csv", dtype=str,
                                               keep_default_na=False).to_dict("list")  # "NA" stays a text
    written = [p for p in inputs.rglob("*") if p.is_file() and TOKEN.encode() in p.read_bytes()]
    assert not written and TOKEN not in proc.stdout + proc.stderr  # the token is never written or printed


@pytest.mark.parametrize("case, message", [
    ("no_model", "--model {root}/nowhere: no such directory"),
    ("bad_repo", "--model-repo 'me/clf/extra': expected a Hub repository id USER/NAME"),
    ("bad_dataset_repo", "--dataset-repo 'no-owner': expected a Hub repository id USER/NAME"),
    ("no_token", "no Hugging Face token: set HF_TOKEN or run `hf auth login`"),
    ("no_data", "--data {root}/nothing.csv: no such file"),
    ("wrong_token", "model repository me/clf: the Hub refused with HTTP 401: Invalid credentials in Authorization "
                    "header; check that HF_TOKEN (or `hf auth login`) is a token with write access"),
])
def test_bad_inputs_stop_in_one_line_with_exit_2_and_send_nothing_but_the_refused_call(inputs, capsys, monkeypatch,
                                                                                       case, message):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(inputs / "no_token_file"))
    monkeypatch.setattr(constants, "HF_STORED_TOKENS_PATH", str(inputs / "no_tokens_file"))
    monkeypatch.setenv("HF_TOKEN", "hf_wrong" if case == "wrong_token" else TOKEN)
    if case == "no_token":
        monkeypatch.delenv("HF_TOKEN")
    flags = {"no_model": ["--model-repo", "me/clf", "--model", str(inputs / "nowhere")],
             "bad_repo": ["--model-repo", "me/clf/extra"],
             "bad_dataset_repo": ["--model-repo", "me/clf", "--dataset-repo", "no-owner"],
             "no_data": ["--model-repo", "me/clf", "--dataset-repo", "me/d", "--data", str(inputs / "nothing.csv")]}
    with FakeHub(token=TOKEN) as hub:
        monkeypatch.setattr(constants, "ENDPOINT", hub.url)  # what HF_ENDPOINT sets when huggingface_hub loads
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)  # the suite runs offline; this Hub is 127.0.0.1
        code = push.main(args(inputs) + flags.get(case, ["--model-repo", "me/clf"]))
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and message.format(root=inputs) in err, err
    assert hub.paths() == (["POST /api/repos/create"] if case == "wrong_token" else []) and not hub.repos
    assert "hf_wrong" not in err and TOKEN not in err
