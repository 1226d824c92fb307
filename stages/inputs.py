"""Stage inputs: the content hashes of the files generate reads from data/raw/, so generate reruns when one of them
changes and not when an unrelated file lands in data/raw/.

DVC cannot make a dependency of a params value that may be null (`generate.real.path: null`), so this small stage
depends on the whole folder, and generate depends on what it writes: the md5 and size of each file the params
name. A new or edited file that generate does not read reruns this stage (under a second) and leaves its output
unchanged, so DVC skips generate and everything after it. A file outside data/raw/ (a `generate.csv.path`
elsewhere) is hashed too, with a warning: DVC does not watch it, so an edit there reruns nothing until this stage
runs again (`dvc repro -f inputs`).
Reads: the files named by generate.csv.path (csv provider), generate.llm_label.path (llm_label provider) and
generate.real.path.
Writes: data/inputs.json ({"files": [{"param", "path", "md5", "bytes"}]}, sorted by path; no timestamps).
Params: generate.provider, generate.csv.path, generate.llm_label.path, generate.real.path
"""

from __future__ import annotations

import argparse
import hashlib
import logging
from pathlib import Path
from typing import Any

from stages.core import cli, params
from stages.core.errors import DataError
from stages.core.io import write_json
from stages.core.params_real import under_raw

log = logging.getLogger(__name__)


def named_files(cfg: params.Generate) -> list[tuple[str, str]]:
    """(params key, path) of each file generate will read from the user's data: the csv provider's CSV, the
    llm_label provider's texts and the real rows' CSV."""
    files = [("generate.csv.path", cfg.csv.path)] if cfg.provider == "csv" else []
    if cfg.provider == "llm_label":
        files.append(("generate.llm_label.path", cfg.llm_label.path))
    if cfg.real.path is not None:
        files.append(("generate.real.path", cfg.real.path))
    return files


def fingerprint(key: str, path: str) -> dict[str, Any]:
    """The file's md5 and size; a missing or unreadable file is a one-line error naming the params key."""
    digest = hashlib.md5()
    try:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    except FileNotFoundError:
        raise DataError(f"params.yaml: {key} names {path}, which does not exist (expected a CSV file; `git add` or "
                        "`dvc add` it so a fresh clone has it too)") from None
    except IsADirectoryError:
        raise DataError(f"params.yaml: {key} must name a CSV file, got the directory {path}") from None
    except OSError as err:
        raise DataError(f"params.yaml: {key}: cannot read {path} ({err.strerror})") from None
    if not under_raw(path):
        log.warning("%s (%s) lies outside data/raw/: DVC does not watch it, so an edit there reruns nothing until "
                    "`dvc repro -f inputs`; move it under data/raw/", path, key)
    return {"param": key, "path": path, "md5": digest.hexdigest(), "bytes": Path(path).stat().st_size}


def run(*, cfg: params.Generate, out: Path) -> dict[str, Any]:
    """Hash the files the generate params name and write the manifest to `out` (atomically)."""
    manifest = {"files": sorted((fingerprint(key, path) for key, path in named_files(cfg)),
                                key=lambda f: (f["path"], f["param"]))}
    write_json(out, manifest)
    log.info("inputs: %s", ", ".join(f"{f['path']} ({f['bytes']:,} bytes)" for f in manifest["files"]) or
             "no user files (the provider reads only the task file)")
    return manifest


def main(argv: list[str] | None = None) -> int:
    def add(p: argparse.ArgumentParser) -> None:
        p.add_argument("--out", required=True, type=Path, help="manifest to write (md5 and size of each input file)")

    def body(args: argparse.Namespace) -> None:
        run(cfg=params.load("generate", args.params), out=args.out)

    return cli.main(__doc__.splitlines()[0], add, body, argv,
                    example="python -m stages.inputs --out data/inputs.json")  # as dvc.yaml runs it


if __name__ == "__main__":
    raise SystemExit(main())
