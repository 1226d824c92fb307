"""Test helpers shared by tests/ and benchmarks/: a tiny local BERT, a local OpenAI-compatible server and
temporary DVC repositories. Not part of the shipped `stages` package (pyproject packages only `stages`).

    testkit.tiny_bert       build_tiny_bert, words_of, SPECIAL
    testkit.openai_server   FakeOpenAI
    testkit.dvc_repo        make_repo, dvc, run_cmd, subprocess_env, stages_ran, write_params

Importing a module here does nothing heavy: torch and transformers load inside build_tiny_bert.
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]  # the repository root: the project these helpers copy and test
