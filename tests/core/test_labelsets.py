"""Label sets of multi-label rows: the `label` cell format and the decisions of a multi-label model."""

from __future__ import annotations

import numpy as np
import pytest

from stages.core import labelsets


def test_cells_are_sorted_unique_and_round_trip() -> None:
    assert labelsets.split_labels("urgent| billing|urgent") == ["billing", "urgent"]
    assert labelsets.join_labels(["urgent", "billing", "billing", " "]) == "billing|urgent"
    cells = ["billing|urgent", "account", "technical|account"]
    labels = labelsets.label_names(cells, multi_label=True)
    assert labels == ["account", "billing", "technical", "urgent"]
    matrix = labelsets.multi_hot(cells, labels)
    assert matrix.tolist() == [[0, 1, 0, 1], [1, 0, 0, 0], [1, 0, 1, 0]]
    assert labelsets.from_multi_hot(matrix, labels) == ["billing|urgent", "account", "account|technical"]


def test_single_label_names_keep_the_separator_character() -> None:
    assert labelsets.label_names(["a|b", "c"], multi_label=False) == ["a|b", "c"]


def test_unknown_label_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        labelsets.multi_hot(["billing|spam"], ["billing", "urgent"])


def test_decide_uses_each_labels_threshold() -> None:
    proba = np.array([[0.4, 0.4], [0.7, 0.2]])
    assert labelsets.decide(proba, [0.3, 0.5]).tolist() == [[1, 0], [1, 0]]
    assert labelsets.decide(proba, [0.5, 0.1]).tolist() == [[0, 1], [1, 1]]
