"""The spurious-pattern aggregate of the explain stage and its chart: per (true, predicted) pair, the tokens
that LIME finds pushing toward the wrong label across the explained mismatches. Params: explain.pattern_tokens.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

CHART = "spurious_tokens.png"
CHART_ROWS = 30  # bars in the chart at most: the largest (true, predicted) pairs first


def spurious_patterns(examples: list[dict[str, Any]], top: int) -> list[dict[str, Any]]:
    """Per (true, predicted) pair: the tokens that most often push toward the wrong label.

    A token counts once per mismatch (case-insensitively; case variants in one text add up); `mean_weight`
    is its mean weight toward the predicted label over the mismatches where it pushes that way."""
    per_pair: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for ex in examples:
        per_pair[(ex["true"], ex["predicted"])].append(ex)
    out = []
    for (true, predicted), items in sorted(per_pair.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        weights: dict[str, list[float]] = defaultdict(list)
        for ex in items:
            mine: dict[str, float] = defaultdict(float)
            for token, weight in ex["weights"]:
                if weight > 0:
                    mine[token.casefold()] += weight
            for token, weight in mine.items():
                weights[token].append(weight)
        tokens = [{"token": t, "count": len(ws), "share": round(len(ws) / len(items), 4),
                   "mean_weight": round(sum(ws) / len(ws), 6)} for t, ws in weights.items()]
        tokens.sort(key=lambda d: (-d["count"], -d["mean_weight"], d["token"]))
        out.append({"true": true, "predicted": predicted, "mismatches": len(items), "tokens": tokens[:top]})
    return out


def chart(patterns: list[dict[str, Any]], path: Path) -> None:
    """Horizontal bars, one measure: in how many explained mismatches each token pushed toward the wrong label,
    per pair (the mean weights are in mismatches.md's tables, not on this chart)."""
    from stages.core.plotting import pyplot, save_png

    rows = [(p, t) for p in patterns for t in p["tokens"]][:CHART_ROWS]
    plt = pyplot()
    # At least 2.6 inches: a one-bar chart must still hold its title, ticks and x-axis label.
    fig, ax = plt.subplots(figsize=(6.4, max(2.6, 1.6 + 0.32 * len(rows))), dpi=100)
    if not rows:
        ax.text(0.5, 0.5, "no explained mismatches", ha="center", va="center")
        ax.set_axis_off()
    else:
        pairs = list(dict.fromkeys((p["true"], p["predicted"]) for p, _ in rows))
        colors = [plt.get_cmap("tab10")(pairs.index((p["true"], p["predicted"])) % 10) for p, _ in rows]
        counts = [t["count"] for _, t in rows]
        ax.barh(range(len(rows)), counts, color=colors)
        ax.set_yticks(range(len(rows)), [f"{p['true']} → {p['predicted']}: {t['token']}" for p, t in rows])
        ax.invert_yaxis()
        for i, (p, t) in enumerate(rows):
            ax.text(t["count"], i, f" {t['count']} of {p['mismatches']}", va="center", fontsize=8)
        ax.set_xlim(0, max(counts) * 1.3)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.set_xlabel("explained mismatches")
    ax.set_title("Tokens pushing toward the wrong label")
    save_png(fig, path)
