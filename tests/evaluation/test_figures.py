"""Layout of evaluate's PNGs: nothing covers the data, nothing is cut off."""

from __future__ import annotations

from pathlib import Path

from stages.evaluation import figures
from tests.figure_checks import capture, inside_figure


def test_reliability_legend_covers_no_bar_on_a_three_label_run(monkeypatch):
    caught = capture(monkeypatch, figures)
    # A 3-label run: confidences from 1/3 up, bars across most of the width and up to the top.
    table = [{"lower": i / 10, "accuracy": acc, "confidence": i / 10 + 0.05}
             for i, acc in zip(range(3, 10), (0.9, 0.95, 0.9, 0.97, 0.95, 0.98, 1.0))]
    figures.reliability(table, 10, Path("unused.png"), "Reliability (ECE 0.120)")
    fig = caught[0]
    ax = fig.axes[0]
    renderer = fig.canvas.get_renderer()
    legend = ax.get_legend().get_window_extent(renderer)
    for bar in ax.patches:
        assert not legend.overlaps(bar.get_window_extent(renderer)), "the legend covers a bar"
    assert inside_figure(fig, ax.get_legend()) and inside_figure(fig, ax.xaxis.label)
