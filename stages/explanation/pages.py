"""Reports of the explain stage: mismatches.md, the spurious-pattern aggregate and its chart, LIME pages.

Texts are untrusted (LLM output): markdown shows them escaped, never as markup; LIME pages get LIME's own
1.2 MB script once, as html/lime.js, which every page loads by a relative link.
"""

from __future__ import annotations

import html
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

from stages.core.markdown import table
from stages.core.text import md_escape

LIME_JS = "lime.js"
CHART = "spurious_tokens.png"
CHART_ROWS = 30  # bars in the chart at most: the largest (true, predicted) pairs first
_PIECES = re.compile(r"(\W+)", re.UNICODE)  # LIME's default split_expression, keeping the separators


def lime_page(page: str, bundle: str, heading: str) -> str:
    """LIME's `as_html()` page with its inline bundle replaced by a link to html/lime.js.

    The explanation's own script embeds labels as JSON; a label containing `</script>` must not end it.
    """
    inline = f"<script>{bundle} </script>"
    if inline not in page:
        raise RuntimeError("lime: as_html() no longer inlines bundle.js as expected (lime version changed?)")
    link = f'<script src="{LIME_JS}"></script>'
    page = page.replace(inline, link, 1)
    # The explanation's script is the first one after the link (text and labels come after its start).
    start, end = page.index("<script>", page.index(link) + len(link)) + len("<script>"), page.rfind("</script>")
    script = page[start:end].replace("</", "<\\/").replace("<!--", "<\\!--")
    page = page[:start] + script + page[end:]
    return page.replace("<body>", f"<body><h3>{html.escape(heading)}</h3>", 1)


def _escape_separator(sep: str) -> str:
    return " ".join(md_escape(part) for part in re.sub(r"\s+", " ", sep).split(" "))


def mark_text(text: str, toward_predicted: set[str], toward_true: set[str]) -> str:
    """`text` escaped for markdown, with LIME's tokens marked: **bold** toward the predicted label,
    *italic* toward the true label (***both*** when a token pushes toward both, with 3+ labels)."""
    out = []
    for piece in _PIECES.split(text):
        if not piece or _PIECES.fullmatch(piece):
            out.append(_escape_separator(piece))
            continue
        mark = ("**" if piece in toward_predicted else "") + ("*" if piece in toward_true else "")
        out.append(f"{mark}{md_escape(piece)}{mark}")
    return "".join(out).strip()


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
    """Horizontal bars: how many mismatches each token pushed toward the wrong label, per pair."""
    from stages.core.plotting import pyplot, save_png

    rows = [(p, t) for p in patterns for t in p["tokens"]][:CHART_ROWS]
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 1.4 + 0.32 * max(len(rows), 1)), dpi=100)
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
        for i, (_, t) in enumerate(rows):
            ax.text(t["count"], i, f" {t['mean_weight']:+.3f}", va="center", fontsize=8)
        ax.set_xlim(0, max(counts) * 1.25)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.set_xlabel("mismatches it pushes toward the wrong label (mean weight)")
    ax.set_title("Tokens pushing toward the wrong label")
    save_png(fig, path)


def _weights_table(ex: dict[str, Any]) -> list[str]:
    pred = dict(ex["weights"])
    true = dict(ex.get("weights_true") or [])
    tokens = list(dict.fromkeys([t for t, _ in ex["weights"]] + [t for t, _ in ex.get("weights_true") or []]))
    header = ["token", f"weight toward predicted {md_escape(ex['predicted'])}"]
    if "weights_true" in ex:
        header.append(f"weight toward true {md_escape(ex['true'])}")
    rows = [[md_escape(t), f"{pred[t]:+.4f}" if t in pred else "—"]
            + ([f"{true[t]:+.4f}" if t in true else "—"] if "weights_true" in ex else []) for t in tokens]
    return table(header, rows)


def _example(i: int, ex: dict[str, Any], contrast: bool) -> list[str]:
    up = {t for t, w in ex["weights"] if w > 0}
    toward_true = {t for t, w in ex.get("weights_true") or [] if w > 0}
    title = (f"### {i}. {md_escape(ex['true'])}, confidence {ex['confidence']:.3f}" if contrast else
             f"### {i}. true {md_escape(ex['true'])}, predicted {md_escape(ex['predicted'])} "
             f"(confidence {ex['confidence']:.3f})")
    return ["", title, "", f"> {mark_text(ex['text'], up, toward_true)}", "", *_weights_table(ex), "",
            f"[LIME page]({ex['html']})"]


def _patterns_section(patterns: list[dict[str, Any]]) -> list[str]:
    out = ["", "## Spurious patterns", "",
           "Tokens that most often push toward the wrong label, per (true, predicted) pair: in how many of the "
           "pair's explained mismatches LIME found the token pushing toward the predicted label, and its mean "
           "weight there. A token that recurs across mistakes is a pattern the model leans on.", "",
           f"![tokens pushing toward the wrong label]({CHART})"]
    for p in patterns:
        rows = [[md_escape(t["token"]), f"{t['count']} of {p['mismatches']}", f"{t['mean_weight']:+.4f}"]
                for t in p["tokens"]]
        out += ["", f"### true {md_escape(p['true'])} → predicted {md_escape(p['predicted'])} "
                    f"({p['mismatches']} explained)", ""]
        out += table(["token", "mismatches", "mean weight"], rows) if rows else ["No token pushes toward it."]
    return out


def render_markdown(summary: dict[str, Any]) -> str:
    examples, contrast = summary["examples"], summary["contrast"]
    lines = ["# Test mismatches explained with LIME", ""]
    if summary["mismatches"] == 0:
        lines.append("No mismatches to explain: every test row was classified correctly.")
    elif not examples:
        lines.append(f"None of the {summary['mismatches']} mismatches could be explained (see below).")
    else:
        lines.append(f"{len(examples)} of {summary['mismatches']} test mismatches, most confident first. LIME fits a "
                     f"local linear model of each label's probability on {summary['num_samples']:,} perturbations "
                     f"(words removed); a token's weight is the change in probability it brings. In the text, "
                     "**bold** tokens push toward the predicted label, *italic* ones toward the true label.")
    if summary["skipped_no_words"]:
        lines += ["", f"Skipped {summary['skipped_no_words']} mismatches whose text has no word characters "
                      "(LIME cannot perturb them)."]
    if examples:
        lines += _patterns_section(summary["patterns"])
        lines += ["", "## Mismatches"]
        for i, ex in enumerate(examples, 1):
            lines += _example(i, ex, contrast=False)
    if contrast:
        lines += ["", "## Correctly classified, for contrast", "",
                  "The most confident correct predictions per label: the tokens a right answer rests on."]
        for i, ex in enumerate(contrast, 1):
            lines += _example(i, ex, contrast=True)
    return "\n".join(lines) + "\n"
