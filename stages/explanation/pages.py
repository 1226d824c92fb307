"""Pages of the explain stage: one LIME page per example (html/), mismatches.md, and writing them all with
explanations.json and the pattern chart into the output directory at once.

Texts are untrusted (LLM output): markdown shows them escaped, never as markup; LIME pages get LIME's own
1.2 MB script once, as html/lime.js, which every page loads by a relative link.
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

from stages.core.io import atomic_dir, write_json, write_text
from stages.core.markdown import table
from stages.core.text import md_escape
from stages.explanation.patterns import CHART, chart

LIME_JS = "lime.js"
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


def write_reports(out_dir: Path, summary: dict[str, Any], explained: list[tuple[dict[str, Any], Any]]) -> None:
    """Everything into a temporary directory that replaces out_dir at the end: nothing half-written, and
    pages of examples no longer explained do not linger."""
    with atomic_dir(out_dir) as tmp:
        if explained:
            from lime import explanation

            bundle = (Path(explanation.__file__).parent / "bundle.js").read_text(encoding="utf-8")
            write_text(tmp / "html" / LIME_JS, bundle)
            for item, exp in explained:
                heading = (f"true: {item['true']}, predicted: {item['predicted']} "
                           f"(confidence {item['confidence']:.3f})")
                write_text(tmp / item["html"], lime_page(exp.as_html(text=True), bundle, heading))
        chart(summary["patterns"], tmp / CHART)
        write_text(tmp / "mismatches.md", render_markdown(summary))
        write_json(tmp / "explanations.json", summary)
