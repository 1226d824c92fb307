"""Shared fixtures: a tiny local BERT (2 layers, hidden 32, word-level vocab) built once per session.

The helpers themselves live in `testkit/` (shared with benchmarks/); nothing here downloads anything or
writes into the work tree.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Set before anything imports huggingface_hub: tests never touch the network.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

from testkit import ROOT  # noqa: E402,F401  (re-exported: tests read project files through it)
from testkit.tiny_bert import build_tiny_bert  # noqa: E402


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))
