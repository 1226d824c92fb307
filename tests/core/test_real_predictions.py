"""real_predictions.csv: real-set decisions keyed by a hash of the text, never the text (core/predictions.py)."""

import pandas as pd
import pytest

from stages.core.errors import DataError
from stages.core.predictions import read_real_predictions, text_key, write_real_predictions


def test_round_trip_keeps_no_text(tmp_path):
    frame = pd.DataFrame({"set": ["real", "real"], "row": [1, 2], "text": ["A secret headline", "Another one"],
                          "true": ["a", "b"], "predicted": ["a", "a"], "confidence": [0.9, 0.6],
                          "p_a": [0.9, 0.6], "p_b": [0.1, 0.4]})
    path = tmp_path / "real_predictions.csv"
    write_real_predictions(path, frame, ["a", "b"])
    assert "secret" not in path.read_text()
    back, labels = read_real_predictions(path)
    assert labels == ["a", "b"]
    assert back["row"].tolist() == [1, 2]
    assert back["key"].tolist() == [text_key("A secret headline"), text_key("Another one")]
    assert len(set(back["key"])) == 2 and all(len(k) == 16 for k in back["key"])


def test_a_bad_row_number_is_named(tmp_path):
    path = tmp_path / "real_predictions.csv"
    path.write_text("set,row,key,true,predicted,confidence,p_a,p_b\nreal,x,ab,a,a,1,1,0\n")
    with pytest.raises(DataError, match=r"line 2: row must be a positive integer, got 'x'"):
        read_real_predictions(path)
