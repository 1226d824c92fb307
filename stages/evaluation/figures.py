"""PNG figures of the evaluate stage: confusion matrix, ROC and precision-recall curves, per-label F1 bars
and the reliability diagram. Each is saved without timestamp metadata, so the same numbers give the same bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from stages.core.plotting import pyplot, save_png


def confusion(cm: dict[str, Any], path: Path, title: str) -> None:
    labels, matrix = cm["labels"], cm["matrix"]
    fig, ax = pyplot().subplots(figsize=(1.6 + 1.1 * len(labels), 1.2 + 1.0 * len(labels)), dpi=100)
    ax.imshow(matrix, cmap="Blues")
    ax.set(xticks=range(len(labels)), yticks=range(len(labels)), xticklabels=labels, yticklabels=labels,
           xlabel="predicted", ylabel="actual", title=title)
    peak = max(max(row) for row in matrix) or 1
    for i, row in enumerate(matrix):
        for j, v in enumerate(row):
            ax.text(j, i, str(v), ha="center", va="center", color="white" if v > peak / 2 else "black")
    save_png(fig, path)


def curve(points: Sequence[dict[str, float]], x: str, y: str, path: Path, title: str, diagonal: bool) -> None:
    """A step curve through `points` (ROC: fpr/tpr with the chance diagonal; PR: recall/precision)."""
    fig, ax = pyplot().subplots(figsize=(4.2, 4.0), dpi=100)
    ax.step([p[x] for p in points], [p[y] for p in points], where="post", color="tab:blue")
    if diagonal:
        ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=0.8)
    ax.set(xlim=(-0.01, 1.01), ylim=(-0.01, 1.01), xlabel=x, ylabel=y, title=title)
    save_png(fig, path)


def curves(lines: dict[str, Sequence[dict[str, float]]], x: str, y: str, path: Path, title: str, diagonal: bool,
           highlight: str | None = None) -> None:
    """One step curve per label (one-vs-rest), the `highlight` label drawn thicker; legend below the axes."""
    fig, ax = pyplot().subplots(figsize=(4.6, 4.6 + 0.22 * len(lines)), dpi=100)
    for name, points in lines.items():
        ax.step([p[x] for p in points], [p[y] for p in points], where="post", label=name,
                linewidth=2.4 if name == highlight else 1.2)
    if diagonal:
        ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=0.8)
    ax.set(xlim=(-0.01, 1.01), ylim=(-0.01, 1.01), xlabel=x, ylabel=y, title=title)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=min(3, len(lines)), fontsize="small")
    save_png(fig, path)


def bars(values: dict[str, float], path: Path, title: str, xlabel: str) -> None:
    """Horizontal bars, one per label, in the given order (top to bottom)."""
    names = list(values)
    fig, ax = pyplot().subplots(figsize=(5.0, 1.0 + 0.45 * len(names)), dpi=100)
    ax.barh(range(len(names)), [values[n] for n in names], color="tab:blue")
    ax.set(yticks=range(len(names)), yticklabels=names, xlim=(0, 1), xlabel=xlabel, title=title)
    ax.invert_yaxis()
    for i, n in enumerate(names):
        inside = values[n] > 0.85  # no room to the right of the bar: write inside it
        ax.text(values[n] - 0.01 if inside else values[n] + 0.01, i, f"{values[n]:.3f}", va="center",
                ha="right" if inside else "left", color="white" if inside else "black")
    save_png(fig, path)


def reliability(table: Sequence[dict[str, Any]], bins: int, path: Path, title: str) -> None:
    """Accuracy against mean confidence per confidence bin; a calibrated model lies on the diagonal."""
    fig, ax = pyplot().subplots(figsize=(4.6, 4.6), dpi=100)
    width = 1 / bins
    ax.bar([row["lower"] for row in table], [row["accuracy"] for row in table], width=width, align="edge",
           edgecolor="black", color="tab:blue", alpha=0.8, label="accuracy per bin")
    ax.plot([row["confidence"] for row in table], [row["accuracy"] for row in table], "o", color="tab:orange",
            label="accuracy at mean confidence")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=0.8)
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="confidence", ylabel="accuracy", title=title)
    # Below the axes, never over the bars (with 3+ labels confidences spread over the whole width).
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, fontsize="small", frameon=False)
    save_png(fig, path)
