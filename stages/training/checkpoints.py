"""The train stage's checkpoint directory: kept across `dvc repro` (persist: true) so a killed run resumes.

`run.json` holds the fingerprint of the run the checkpoints belong to (train params, seed, process count and
the hashes of train.csv and val.csv); checkpoints of any other run are deleted, never resumed from.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shutil
from pathlib import Path
from typing import Any

from stages.core.io import write_json

log = logging.getLogger(__name__)
RUN_FILE = "run.json"
PREFIX = "checkpoint-"


def file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fingerprint(train_params: dict[str, Any], seed: int, world_size: int, files: list[Path]) -> str:
    """What a checkpoint must match to be resumed from (train.resume itself excluded)."""
    data = {"train": {k: v for k, v in train_params.items() if k != "resume"}, "seed": seed,
            "world_size": world_size, "files": {p.name: file_hash(p) for p in files}}
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]


def step_of(path: Path) -> int:
    match = re.fullmatch(PREFIX + r"(\d+)", path.name)
    return int(match.group(1)) if match else -1


def complete(path: Path, with_optimizer: bool) -> bool:
    """A checkpoint the Trainer finished writing: its trainer_state.json (written last) parses."""
    try:
        json.loads((path / "trainer_state.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    needed = ["config.json"] + (["optimizer.pt", "scheduler.pt"] if with_optimizer else [])
    has_weights = any(path.glob("*.safetensors")) or any(path.glob("*.bin"))
    return has_weights and all((path / name).is_file() for name in needed)


def checkpoints(directory: Path) -> list[Path]:
    return sorted((p for p in directory.glob(PREFIX + "*") if p.is_dir() and step_of(p) >= 0), key=step_of)


def last_complete(directory: Path) -> Path | None:
    done = [p for p in checkpoints(directory) if complete(p, with_optimizer=True)]
    return done[-1] if done else None


def read_run(directory: Path) -> dict[str, Any]:
    try:
        data = json.loads((directory / RUN_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def prepare(directory: Path, fp: str, resume: bool) -> None:
    """Main process, before training: keep this run's complete checkpoints when resuming; else empty."""
    directory.mkdir(parents=True, exist_ok=True)
    run = read_run(directory)
    same = run.get("fingerprint") == fp and not run.get("complete")
    found = checkpoints(directory)
    if resume and same:
        for path in found:
            if not complete(path, with_optimizer=True):
                log.info("removing %s: written only in part when the previous run stopped", path)
                shutil.rmtree(path, ignore_errors=True)
        return
    if found:
        why = "train.resume is false" if not resume else "they belong to other params, data or process count"
        log.info("deleting %s old checkpoint(s) in %s: %s", len(found), directory, why)
    for path in found:
        shutil.rmtree(path, ignore_errors=True)
    write_json(directory / RUN_FILE, {"fingerprint": fp, "complete": False})


def finish(directory: Path, fp: str) -> None:
    """Main process, after the model is saved: drop the checkpoints (the model directory has the result)."""
    for path in checkpoints(directory):
        shutil.rmtree(path, ignore_errors=True)
    write_json(directory / RUN_FILE, {"fingerprint": fp, "complete": True})
