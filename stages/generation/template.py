"""The offline `template` provider: fills a task's templates with slot values, seeded and deterministic.

In a multi-label task a row's label is its label set: the owning label plus its template's `also` labels,
joined by core/labelsets.join_labels. A row's origin is its template's id (task.py, core/origin.py)."""

from __future__ import annotations

import logging
import random
import zlib

from stages.core.errors import DataError
from stages.core.labelsets import join_labels
from stages.generation.task import SLOT, Label, Task
from stages.core.progress import Progress
from stages.core.text import dedup_key, normalize

log = logging.getLogger(__name__)


def _fill(template: str, slots: dict[str, tuple[str, ...]], rng: random.Random) -> str:
    text = SLOT.sub(lambda m: rng.choice(slots[m.group(1)]), template)
    text = normalize(text)
    return text[:1].upper() + text[1:]


def generate_label(label: Label, n: int, seed: int, max_tries_factor: int = 50,
                   progress: Progress | None = None, weights: dict[str, float] | None = None) -> list[str]:
    """Up to `n` distinct texts for one label; fewer only if the templates cannot make that many."""
    return [text for text, _, _ in draw(label, n, seed, max_tries_factor, progress, weights)]


def draw(label: Label, n: int, seed: int, max_tries_factor: int = 50, progress: Progress | None = None,
         weights: dict[str, float] | None = None) -> list[tuple[str, tuple[str, ...], int]]:
    """Up to `n` distinct texts for one label, each with the other labels its template adds (`also`, multi-label
    tasks) and the index of its template; fewer only if the templates cannot make that many. `weights` (the
    focus file's, template -> weight; others weigh 1) draw the templates behind the model's errors more often;
    without them every template is equally likely."""
    # A per-label stream (seed + crc32 of the name) so adding a label does not change the others' rows.
    rng = random.Random(seed * 1_000_003 + zlib.crc32(label.name.encode()))
    seen: set[str] = set()
    texts: list[tuple[str, tuple[str, ...], int]] = []
    w = [weights.get(t, 1.0) for t in label.templates] if weights else None
    for _ in range(n * max_tries_factor):
        if len(texts) == n:
            break
        if w:
            index = rng.choices(range(len(label.templates)), weights=w)[0]
        else:
            index = rng.choice(range(len(label.templates)))  # the same draw as rng.choice(label.templates)
        text = _fill(label.templates[index], label.slots, rng)
        key = dedup_key(text)
        if key not in seen:
            seen.add(key)
            texts.append((text, label.extra_labels(index), index))
            if progress is not None and len(texts) % 1000 == 0:
                progress.update(1000)
    return texts


def generate(task: Task, n_per_label: int, seed: int,
             weights: dict[str, dict[str, float]] | None = None) -> list[dict[str, str]]:
    """n_per_label distinct rows per label (`weights`: label -> template -> weight, from the focus file)."""
    if not task.labels:
        raise DataError(f"{task.path}: no labels: the template provider needs 'labels' with templates")
    rows, progress = [], Progress("template", n_per_label * len(task.labels), "rows", log=log)
    for label in task.labels:
        if not label.templates:
            raise DataError(f"{task.path}: labels.{label.name} has no templates, which the template provider "
                            "needs (or set generate.provider: openai)")
        for text, also, index in draw(label, n_per_label, seed, progress=progress,
                                      weights=(weights or {}).get(label.name)):
            # A multi-label task's row carries its label set ("account|urgent"); a single-label task's, its name.
            name = join_labels((label.name, *also)) if task.multi_label else label.name
            rows.append({"text": text, "label": name, "source": "template", "origin": label.ids[index]})
    return rows
