"""Matplotlib without a display, and PNGs that are the same bytes for the same figure.

Used by every stage that draws (evaluate's figures, explain's chart, report's training curves).
"""

from __future__ import annotations

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
