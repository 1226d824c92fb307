"""Catch a matplotlib figure at save time (monkeypatched save_png) and check its layout as drawn."""

from __future__ import annotations

from typing import Any


def capture(monkeypatch: Any, module: Any) -> list:
    """Figures `module.save_png` would have written, laid out as save_png lays them out."""
    caught: list = []

    def fake(fig: Any, path: Any) -> None:
        fig.tight_layout()
        fig.canvas.draw()
        caught.append(fig)

    monkeypatch.setattr(module, "save_png", fake)
    return caught


def inside_figure(fig: Any, artist: Any) -> bool:
    box = artist.get_window_extent(fig.canvas.get_renderer())
    return box.x0 >= 0 and box.y0 >= 0 and box.x1 <= fig.bbox.width and box.y1 <= fig.bbox.height
