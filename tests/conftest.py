"""Shared fixtures: a tiny local BERT (2 layers, hidden 32, word-level vocab) and temporary DVC repos.

Nothing here downloads anything or writes into the work tree.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

# Set before anything imports huggingface_hub: tests never touch the network.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

ROOT = Path(__file__).resolve().parents[1]
SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]

# Fast settings for the pipeline in tests: tiny model, few rows, few LIME samples.
TINY_PARAMS = {
    "generate": {"n_per_label": 40},
    "train": {"epochs": 2, "batch_size": 16, "learning_rate": 1e-3, "max_length": 32},
    "explain": {"max_examples": 3, "num_samples": 60, "num_features": 4},
}


def words_of(*texts: str) -> list[str]:
    return sorted({w for t in texts for w in re.findall(r"\w+|[^\w\s]", t.lower())})


def build_tiny_bert(path: Path, extra_words: list[str] = ()) -> Path:
    """Save a randomly initialised 2-layer BertModel and a word-level tokenizer to `path`."""
    from transformers import BertConfig, BertModel, BertTokenizer

    task_text = (ROOT / "data" / "tasks" / "clickbait.yaml").read_text(encoding="utf-8")
    vocab = SPECIAL + [w for w in words_of(task_text, *extra_words) if w not in SPECIAL]
    path.mkdir(parents=True, exist_ok=True)
    # transformers 5: BertTokenizer is the fast (Rust) tokenizer and takes the vocabulary as a dict.
    tokenizer = BertTokenizer(vocab={w: i for i, w in enumerate(vocab)}, do_lower_case=True, model_max_length=128)
    tokenizer.save_pretrained(str(path))
    config = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=37, max_position_embeddings=128)
    import torch

    torch.manual_seed(0)
    BertModel(config).save_pretrained(str(path))
    return path


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


def write_params(path: Path, overrides: dict) -> None:
    """Merge nested `overrides` into the params.yaml at `path`."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    for section, values in overrides.items():
        target = data.setdefault(section, {})
        for key, value in values.items():
            if isinstance(value, dict):
                target.setdefault(key, {}).update(value)
            else:
                target[key] = value
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


def subprocess_env() -> dict[str, str]:
    """The test interpreter's bin first on PATH, so dvc's `python -m stages.X` runs in this environment."""
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env.update({"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "DVC_NO_ANALYTICS": "1",
                "PYTHONUNBUFFERED": "1", "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
                "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"})
    return env


def run_cmd(args: list[str], cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(args, cwd=cwd, env=subprocess_env(), capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


def dvc(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return run_cmd([str(Path(sys.executable).parent / "dvc"), *args], repo, check)


def make_repo(dest: Path, tiny_model: Path, overrides: dict | None = None) -> Path:
    """A fresh git + DVC repository holding a copy of this project, set up for the tiny model."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("dvc.yaml", "params.yaml", ".gitignore"):
        shutil.copy2(ROOT / name, dest / name)
    shutil.copytree(ROOT / "stages", dest / "stages", ignore=shutil.ignore_patterns("__pycache__"))
    for sub in ("tasks", "raw", "external"):
        shutil.copytree(ROOT / "data" / sub, dest / "data" / sub)
    params = {section: dict(values) for section, values in TINY_PARAMS.items()}
    params.setdefault("train", {})["model"] = str(tiny_model)
    for section, values in (overrides or {}).items():
        params.setdefault(section, {}).update(values)
    write_params(dest / "params.yaml", params)
    run_cmd(["git", "init", "-q", "-b", "main"], dest)
    dvc(dest, "init", "-q")
    dvc(dest, "config", "core.analytics", "false")
    run_cmd(["git", "add", "-A"], dest)
    run_cmd(["git", "commit", "-qm", "init"], dest)
    return dest


def stages_ran(output: str) -> list[str]:
    """Stage names that `dvc repro` / `dvc exp run` actually executed, from its output."""
    return re.findall(r"Running stage '([\w-]+)'", output)
