"""The typed `generate.real` params: real annotated rows mixed into any provider's rows. Kept beside params.py
(which builds it into the generate section) so that module stays under the size limit."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePosixPath

from stages.core.schema import check


@dataclass(frozen=True)
class RealRows:
    path: str | None = None  # null: no real rows (the default)
    text_column: str = "text"
    label_column: str = "label"
    per_label: int = 0  # rows drawn per label (per label set when label_separator is set) with base.seed; 0: all
    label_separator: str | None = None  # null: one label per row; e.g. "|": label sets (multi-label tasks only)
    label_map: dict[str, str] = field(default_factory=dict)  # {file label: task label}, applied after whitespace cleaning

    def validate(self, p: str) -> None:
        check(self.per_label >= 0, f"{p}.per_label", ">= 0 rows per label (0: all)", self.per_label)
        check_separator(self.label_separator, f"{p}.label_separator")
        check(self.path is None or self.path.lower().endswith(".csv"), f"{p}.path", "null or a .csv file", self.path)
        check(self.path is None or under_raw(self.path), f"{p}.path",
              "a relative path under data/raw/ (which DVC watches for the inputs stage; e.g. data/raw/mine.csv)", self.path)
        for source in self.label_map:
            check(source.strip() != "", f"{p}.label_map", "file labels that are not blank", source)


def under_raw(path: str) -> bool:
    """Whether `path` is a relative path inside data/raw/ (no `..`): what dvc.yaml tracks as generate's input."""
    parts = PurePosixPath(path.replace("\\", "/")).parts
    return len(parts) > 2 and parts[:2] == ("data", "raw") and ".." not in parts


def check_separator(value: str | None, key: str) -> None:
    """A label separator: null (one label per row) or a non-blank string such as "|" or ";"."""
    check(value is None or value.strip() != "", key,
          'null (one label per row) or a non-blank separator such as "|" or ";"', value)
