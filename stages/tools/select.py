"""Which unlabelled real texts to label next: the ones the model is least sure of, spread out, as a CSV to fill in.

    synthbert select --pool unlabelled.csv --n 50
    synthbert select --pool unlabelled.csv --n 50 --uncertainty entropy --seed 7 --out data/raw/round2.csv

Reads the pool (a UTF-8 CSV with a --column of texts; other columns, a label column included, are ignored) and the
trained model (--model, default models/classifier, run as `synthbert predict` runs it). Scores every text's
uncertainty under the model's own decision rule (margin or entropy, select_rank.py), drops near-duplicates of more
uncertain texts, and spreads the picks over k-means groups of the frozen base encoder's embeddings (the model's
train.model, from its synthbert_params.json, or --encoder), seeded by --seed: the same pool, model and seed give
the same picks. Writes --out (default data/raw/to_label.csv): text, an empty label column, uncertainty, pool_row
(the text's 1-based data row in the pool) and cluster, most uncertain first. Fill in the labels (a multi-label
task: labels joined by "|", and generate.real.label_separator: "|"; a row left blank is dropped as missing_label),
then set generate.real.path to the file (it must lie under data/raw/) and `dvc repro`. An --out that already
holds labels is never overwritten (--force does). Needs no params.yaml.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

from stages.core import cli
from stages.core.errors import DataError
from stages.core.io import read_csv, write_csv
from stages.core.params_real import under_raw
from stages.tools import focus_nearest, select_rank

log = logging.getLogger(__name__)
COLUMNS = ("text", "label", "uncertainty", "pool_row", "cluster")


def read_pool(path: Path, column: str) -> tuple[list[str], list[int]]:
    """The pool's non-blank texts and their 1-based data rows."""
    try:
        frame = read_csv(path, columns=(column,), what="pool of unlabelled texts")
    except DataError as exc:  # the file's own problem, blamed on the option that named it
        hint = " (--column names the text column)" if "missing column" in str(exc) else ""
        raise DataError(f"--pool {exc}{hint}") from None
    except OSError as exc:
        raise DataError(f"--pool {path}: cannot read ({exc.strerror or exc})") from None
    kept = [(text, row) for row, text in enumerate(frame[column].tolist(), 1) if text.strip()]
    if not kept:
        raise DataError(f"--pool {path}: column {column!r} holds no text")
    return [t for t, _ in kept], [r for _, r in kept]


def check_out(out: Path, force: bool) -> None:
    """--out must be a file name, and an existing one holding labels is kept unless --force."""
    if out.is_dir():
        raise DataError(f"--out {out}: is a directory; expected a file name such as data/raw/to_label.csv")
    if out.is_file() and not force:
        frame = read_csv(out, what="earlier selection (--out)") if out.stat().st_size else None
        filled = 0 if frame is None or "label" not in frame else int((frame["label"].str.strip() != "").sum())
        if filled:
            raise DataError(f"--out {out}: already holds {filled} labels; choose another --out, or --force to "
                            "overwrite it")


def encoder_of(model: Path, encoder: str | None) -> str:
    """--encoder, else the base encoder the model was fine-tuned from (its synthbert_params.json train.model)."""
    if encoder:
        return encoder
    saved = model / "synthbert_params.json"
    name = json.loads(saved.read_text(encoding="utf-8")).get("train", {}).get("model") if saved.is_file() else None
    if not isinstance(name, str) or not name:
        raise DataError(f"--model {model}: no synthbert_params.json naming its base encoder; pass --encoder NAME")
    return name


def load_predictor(model: Path, batch_size: int) -> Any:
    from stages.tools.predict import Predictor
    from stages.tools.predict_io import InputError

    cli.require_model_dir(model)
    try:
        return Predictor(model, batch_size=batch_size)
    except InputError as exc:
        raise DataError(str(exc)) from None


def embedder(texts: list[str], encoder: str, batch_size: int) -> Any:
    """embed(rows): unit embeddings of those rows' texts by the frozen encoder, loaded on the first call."""
    def embed(rows: list[int]) -> Any:
        from stages.core import modeling

        model, tokenizer = modeling.load_encoder(encoder, "synthbert select's clusters")
        return focus_nearest.unit_embeddings(model, tokenizer, [texts[i] for i in rows], batch_size)
    return embed


def run(*, pool: Path, n: int, out: Path, model: Path = Path("models/classifier"), column: str = "text",
        kind: str = "margin", seed: int = 0, pre_filter: int = 10, threshold: float = 0.8,
        encoder: str | None = None, batch_size: int = 64, force: bool = False) -> dict[str, Any]:
    """Score the pool, pick `n` texts, write --out; returns a summary (rows, picks, near_duplicates, ...)."""
    if n < 1:
        raise DataError(f"--n must be >= 1, got {n}")
    if batch_size < 1:
        raise DataError(f"--batch-size must be >= 1, got {batch_size}")
    if pre_filter < 1:
        raise DataError(f"--pre-filter must be >= 1, got {pre_filter}")
    if not 0 < threshold <= 1:
        raise DataError(f"--near-duplicate-threshold must be in (0, 1], got {threshold}")
    texts, rows = read_pool(pool, column)
    if n > len(texts):
        raise DataError(f"--n {n} is larger than the pool: {pool} holds {len(texts):,} texts in column {column!r}")
    check_out(out, force)
    predictor = load_predictor(model, batch_size)
    name = encoder_of(model, encoder)
    cut = predictor.thresholds if predictor.multi_label else predictor.offsets
    scores = select_rank.uncertainty(predictor.proba(texts), kind, predictor.multi_label, cut)
    picks, groups = select_rank.pick(texts, scores, embedder(texts, name, batch_size), n, pre_filter=pre_filter,
                                     threshold=threshold, seed=seed)
    write_picks(out, texts, rows, scores, picks, groups)
    summary = {"out": str(out), "pool": len(texts), "asked": n, "picks": len(picks), "uncertainty": kind, "seed": seed,
               "multi_label": predictor.multi_label, "encoder": name,
               "range": [round(float(scores[picks].min()), 4), round(float(scores[picks].max()), 4)] if picks else None}
    log.info("scored %s pool texts (%s); picked %s spread over the %s's groups", f"{len(texts):,}", kind,
             len(picks), name)
    return summary


def write_picks(out: Path, texts: list[str], rows: list[int], scores: Any, picks: list[int], groups: list[int]) -> None:
    import pandas as pd

    frame = pd.DataFrame({"text": [texts[i] for i in picks], "label": "",
                          "uncertainty": [round(float(scores[i]), 6) for i in picks],
                          "pool_row": [rows[i] for i in picks], "cluster": groups}, columns=list(COLUMNS))
    write_csv(out, frame)


def in_raw(out: Path) -> bool:
    """Whether `out` lies under this directory's data/raw/, where generate.real.path must point."""
    try:
        return under_raw(out.resolve().relative_to(Path.cwd().resolve()).as_posix())
    except ValueError:
        return False


def say(summary: dict[str, Any]) -> str:
    short = (f"; {summary['picks']} distinct texts only (near-duplicates of more uncertain ones skipped)"
             if summary["picks"] < summary["asked"] else "")
    low, high = summary["range"] or (0, 0)
    where = "" if in_raw(Path(summary["out"])) else " (move it under data/raw/ first: generate.real reads only there)"
    how = 'labels joined by "|", generate.real.label_separator: "|"' if summary["multi_label"] else "one label a row"
    return (f"{summary['out']}: {summary['picks']} of {summary['pool']:,} pool texts to label, {summary['uncertainty']} "
            f"uncertainty {low:.3f}-{high:.3f}{short}; fill in the label column ({how}), then set "
            f"generate.real.path: {summary['out']}{where} and run dvc repro")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="synthbert select", description=__doc__.splitlines()[0],
                                epilog=cli.epilog(cli.examples(__doc__)), formatter_class=cli.HelpFormatter)
    p.add_argument("--pool", type=Path, required=True, help="UTF-8 CSV of unlabelled real texts")
    p.add_argument("--n", type=int, required=True, help="how many texts to pick")
    p.add_argument("--out", type=Path, default=Path("data/raw/to_label.csv"), help="CSV to write")
    p.add_argument("--model", type=Path, default=Path("models/classifier"), help="trained model directory")
    p.add_argument("--column", default="text", help="the pool's text column")
    p.add_argument("--uncertainty", choices=select_rank.KINDS, default="margin", help="how uncertainty is measured")
    p.add_argument("--seed", type=int, default=0, help="seeds k-means and the near-duplicate search")
    p.add_argument("--pre-filter", type=int, default=10,
                   help="cluster the (this x n) most uncertain texts; 1: the n most uncertain, no clusters")
    p.add_argument("--near-duplicate-threshold", type=float, default=0.8,
                   help="word-set Jaccard at or above which a text is a near-duplicate of a more uncertain one")
    p.add_argument("--encoder", help="frozen encoder for the clusters (default: the model's base, train.model)")
    p.add_argument("--batch-size", type=int, default=64, help="texts per forward pass")
    p.add_argument("--force", action="store_true", help="overwrite an --out that already holds labels")

    def body(args: argparse.Namespace) -> None:
        summary = run(pool=args.pool, n=args.n, out=args.out, model=args.model, column=args.column,
                      kind=args.uncertainty, seed=args.seed, pre_filter=args.pre_filter,
                      threshold=args.near_duplicate_threshold, encoder=args.encoder, batch_size=args.batch_size,
                      force=args.force)
        print(say(summary))

    return cli.serve(p, body, argv)


if __name__ == "__main__":
    raise SystemExit(main())
