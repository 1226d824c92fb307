"""Upload the trained model (and its ONNX export) and the generated data to the Hugging Face Hub.

    synthbert push --model-repo USER/NAME
    synthbert push --model-repo USER/NAME --dataset-repo USER/NAME-data --private

The model repository gets the model directory with the completed card (reports/model_card.md, test and real-set
scores in its model-index) as README.md, its usage code pointing at the repository, and `onnx/` when `synthbert
export` wrote one. The dataset repository gets data/generated.csv as parquet with its dataset card
(reports/data_card.md). One commit per repository (huggingface_hub.HfApi: create_repo, create_commit). The token
comes from HF_TOKEN or `hf auth login` and is never written or printed; HF_ENDPOINT points at another Hub.
"""

from __future__ import annotations

import argparse
import io
import logging
import re
from pathlib import Path
from typing import Any

from stages.core import cli
from stages.core.errors import DataError
from stages.generation.datacard import PARQUET
from stages.training.modelcard import CARD, MODEL_PATH

log = logging.getLogger(__name__)
REPO_ID = re.compile(r"[A-Za-z0-9][\w.-]{0,95}/[A-Za-z0-9][\w.-]{0,95}")  # the Hub's USER/NAME (no '--', '..')
ONNX = "onnx"  # the folder of a model repository that holds the ONNX files (the layout optimum uses)


def check_repo(repo: str, flag: str) -> str:
    if not REPO_ID.fullmatch(repo) or "--" in repo or ".." in repo or repo.endswith((".", "-")):
        raise DataError(f"{flag} {repo!r}: expected a Hub repository id USER/NAME (letters, digits, '-', '_', '.')")
    return repo


def token() -> str:
    """HF_TOKEN, else the token `hf auth login` stored; never logged."""
    from huggingface_hub import get_token

    found = get_token()
    if not found:
        raise DataError("no Hugging Face token: set HF_TOKEN or run `hf auth login` (a token with write access)")
    return found


def model_card(card: Path, model_dir: Path, repo: str, dataset_repo: str | None) -> bytes:
    """The completed card (else train's), its usage code pointing at `repo`, `datasets` naming the data repo."""
    from huggingface_hub import ModelCard

    source = card if card.is_file() else model_dir / CARD
    if not card.is_file():
        log.warning("%s not found (run `dvc repro report`): uploading train's card, without test metrics", card)
    parsed = ModelCard(source.read_text(encoding="utf-8").replace(f'"{MODEL_PATH}"', f'"{repo}"')
                       .replace(f"--model {MODEL_PATH}", f"--model {repo}"))
    if dataset_repo:
        parsed.data.datasets = [dataset_repo]
    return str(parsed).encode("utf-8")


def model_operations(model_dir: Path, card: bytes, onnx_dir: Path | None) -> list[Any]:
    from huggingface_hub import CommitOperationAdd

    ops = [CommitOperationAdd(path_in_repo=p.relative_to(model_dir).as_posix(), path_or_fileobj=str(p))
           for p in sorted(model_dir.rglob("*")) if p.is_file() and p.relative_to(model_dir).as_posix() != CARD]
    if onnx_dir is not None and onnx_dir.is_dir():
        ops += [CommitOperationAdd(path_in_repo=f"{ONNX}/{p.relative_to(onnx_dir).as_posix()}", path_or_fileobj=str(p))
                for p in sorted(onnx_dir.rglob("*")) if p.is_file()]
    return ops + [CommitOperationAdd(path_in_repo=CARD, path_or_fileobj=card)]


def dataset_operations(data: Path, card: Path) -> list[Any]:
    import pandas as pd
    from huggingface_hub import CommitOperationAdd

    if not card.is_file():
        raise DataError(f"--data-card {card}: no such file (the report stage writes it: `dvc repro report`)")
    frame = pd.read_csv(data, dtype=str, keep_default_na=False)
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)  # pyarrow
    log.info("%s: %s rows as %s (%s bytes)", data, f"{len(frame):,}", PARQUET, f"{buffer.tell():,}")
    return [CommitOperationAdd(path_in_repo=PARQUET, path_or_fileobj=buffer.getvalue()),
            CommitOperationAdd(path_in_repo=CARD, path_or_fileobj=card.read_bytes())]


def commit(api: Any, repo: str, kind: str, private: bool, ops: list[Any], message: str) -> str:
    from huggingface_hub.errors import HfHubHTTPError

    try:
        api.create_repo(repo, repo_type=kind, private=private, exist_ok=True)
        info = api.create_commit(repo, ops, commit_message=message, repo_type=kind)
    except HfHubHTTPError as exc:  # 401 bad token, 403 no write access, ...: the server's reason in one line
        status = exc.response.status_code if exc.response is not None else "?"
        reason = f": {exc.server_message.strip()}" if exc.server_message else ""
        hint = "; check that HF_TOKEN (or `hf auth login`) is a token with write access" if status in (401, 403) else ""
        raise DataError(f"{kind} repository {repo}: the Hub refused with HTTP {status}{reason}{hint}") from None
    log.info("pushed %s files to %s (commit %s)", len(ops), info.commit_url, info.oid[:12])
    return info.commit_url


def run(model_repo: str, dataset_repo: str | None = None, private: bool = False, *, model_dir: Path,
        card: Path, onnx_dir: Path | None, data: Path, data_card: Path) -> dict[str, str]:
    """Check every input first (nothing is sent when one is bad), then one commit per repository."""
    from huggingface_hub import HfApi

    check_repo(model_repo, "--model-repo")
    if dataset_repo is not None:
        check_repo(dataset_repo, "--dataset-repo")
        if not data.is_file():
            raise DataError(f"--data {data}: no such file (generate writes it: `dvc repro generate` or `dvc pull`)")
    cli.require_model_dir(model_dir)
    api = HfApi(token=token())
    ops = model_operations(model_dir, model_card(card, model_dir, model_repo, dataset_repo), onnx_dir)
    data_ops = dataset_operations(data, data_card) if dataset_repo is not None else None
    urls = {"model": commit(api, model_repo, "model", private, ops, "synthbert push: model")}
    if data_ops is not None:
        urls["dataset"] = commit(api, dataset_repo, "dataset", private, data_ops, "synthbert push: generated data")
    return urls


def main(argv: list[str] | None = None) -> int:
    def add(p: argparse.ArgumentParser) -> None:
        p.add_argument("--model-repo", required=True, help="Hub model repository to create or update, USER/NAME")
        p.add_argument("--dataset-repo", help="Hub dataset repository for the generated data, USER/NAME")
        p.add_argument("--private", action="store_true", help="create the repositories private")
        p.add_argument("--model", type=Path, default=Path(MODEL_PATH), help="trained model directory")
        p.add_argument("--card", type=Path, default=Path("reports/model_card.md"), help="completed model card")
        p.add_argument("--onnx", type=Path, default=Path("models/onnx"), help="ONNX export (uploaded when present)")
        p.add_argument("--data", type=Path, default=Path("data/generated.csv"), help="generated data")
        p.add_argument("--data-card", type=Path, default=Path("reports/data_card.md"), help="dataset card")

    def body(args: argparse.Namespace) -> None:
        urls = run(args.model_repo, args.dataset_repo, args.private, model_dir=args.model, card=args.card,
                   onnx_dir=args.onnx, data=args.data, data_card=args.data_card)
        print("\n".join(f"{kind}: {url}" for kind, url in urls.items()))

    return cli.main(__doc__.splitlines()[0], add, body, argv, example=cli.examples(__doc__), prog="synthbert push")


if __name__ == "__main__":
    raise SystemExit(main())
