"""Shared fixtures: a tiny local BERT (2 layers, hidden 32, word-level vocab) built once per session.

The helpers themselves live in `testkit/` (shared with benchmarks/); nothing here downloads anything or
writes into the work tree.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

# Set before anything imports huggingface_hub: tests never touch the network.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
# The machine's LLM response store (core/llm/store.py): never ~/.cache in tests. A temporary one for the session (what
# module-scoped fixtures and the dvc repositories of testkit see: subprocess_env passes the environment on), and a
# fresh one per test (llm_store below), so no test finds answers another test bought.
os.environ["SYNTHBERT_LLM_STORE"] = tempfile.mkdtemp(prefix="synthbert-llm-store-")
atexit.register(shutil.rmtree, os.environ["SYNTHBERT_LLM_STORE"], True)

from testkit import ROOT  # noqa: E402,F401  (re-exported: tests read project files through it)
from testkit.tiny_bert import build_tiny_bert  # noqa: E402


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture(autouse=True)
def llm_store(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This test's own machine store of LLM responses ($SYNTHBERT_LLM_STORE)."""
    path = tmp_path_factory.mktemp("llm-store")
    monkeypatch.setenv("SYNTHBERT_LLM_STORE", str(path))
    return path
