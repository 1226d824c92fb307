"""Matplotlib without a display, and PNGs that are the same bytes for the same figure.

Used by every stage that draws (evaluate's figures, explain's chart, report's training curves).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from stages.core.io import atomic_path


def pyplot() -> Any:
    """matplotlib.pyplot on the Agg backend (no display needed); imported on first use."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_png(fig: Any, path: Path) -> None:
    """Lay out, write atomically without timestamp metadata (same figure, same bytes), close."""
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", metadata={"Software": None})
    pyplot().close(fig)


def read_tsv(path: Path, column: str) -> list[tuple[int, float]]:
    """(step, value) rows of a DVCLive plot file; [] when it is missing."""
    if not path.is_file():
        return []
    rows = csv.DictReader(path.read_text(encoding="utf-8").splitlines(), delimiter="\t")
    return [(int(r["step"]), float(r[column])) for r in rows if r.get(column)]


def plot_training_curves(train_dir: Path, path: Path) -> bool:
    """report's PNG: loss (train, val) and val macro-F1 per epoch from train's DVCLive logs under `train_dir`
    (plots/metrics/*.tsv); False when there are none."""
    metrics = train_dir / "plots" / "metrics"
    series = {"train loss": read_tsv(metrics / "loss.tsv", "loss"),
              "val loss": read_tsv(metrics / "eval" / "loss.tsv", "loss"),
              "val macro-F1": read_tsv(metrics / "eval" / "f1_macro.tsv", "f1_macro")}
    if not any(series.values()):
        return False
    epoch = dict(read_tsv(metrics / "epoch.tsv", "epoch"))  # DVCLive steps count log calls, not epochs
    from matplotlib.ticker import MaxNLocator

    fig, (left, right) = pyplot().subplots(1, 2, figsize=(8.0, 3.2), dpi=100)
    for ax, names in ((left, ("train loss", "val loss")), (right, ("val macro-F1",))):
        for name in names:
            if series[name]:
                xs = [epoch.get(step, step) for step, _ in series[name]]
                ax.plot(xs, [v for _, v in series[name]], marker="o", label=name)
        ax.set(xlabel="epoch" if epoch else "DVCLive step", title=" and ".join(names))
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend()
    save_png(fig, path)
    return True
