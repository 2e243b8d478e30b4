"""Rows of local CSV / TSV / JSONL files and of Hugging Face data sets, each tagged with where it came from.

The csv and json modules are used directly instead of datasets' csv/json builders because an
error must name the file and line of the bad row (datasets reports a pandas/arrow exception
instead), and TSV files such as GLUE's SST-2 contain unbalanced quotes that csv quoting breaks.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import datasets

TABLE_SUFFIXES = (".csv", ".tsv", ".jsonl", ".json")


@dataclass
class Row:
    values: dict[str, Any]
    where: str  # "file:line" or "<hub name> <split> row i", for error messages

    def get(self, column: str, required: bool = True) -> Any:
        if column not in self.values:
            if not required:
                return None
            raise ValueError(f"{self.where}: missing column {column!r}; columns are {sorted(self.values)}")
        return self.values[column]

    def text(self, column: str, required: bool = True) -> str | None:
        value = self.get(column, required)
        if value is None and not required:
            return None
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{self.where}: column {column!r} must be a non-empty text, got {value!r}")
        return value


def read_table(path: str | Path) -> list[Row]:
    """One Row per record: CSV and TSV with a header line, JSONL one object per line."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise ValueError(f"{path}: unsupported file type {suffix!r}; expected one of {', '.join(TABLE_SUFFIXES)}")
    if suffix in (".jsonl", ".json"):
        return _read_jsonl(path)
    return _read_delimited(path, "\t" if suffix == ".tsv" else ",")


def _read_jsonl(path: Path) -> list[Row]:
    rows = []
    with path.open(encoding="utf-8") as f:
        for line_no, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise ValueError(f"{path}:{line_no}: not valid JSON ({error.msg})") from None
            if not isinstance(record, dict):
                raise ValueError(f"{path}:{line_no}: expected a JSON object per line, got {type(record).__name__}")
            rows.append(Row(record, f"{path}:{line_no}"))
    return rows


def _read_delimited(path: Path, delimiter: str) -> list[Row]:
    rows = []
    with path.open(encoding="utf-8", newline="") as f:
        # TSV: no quoting at all (GLUE's files are plain tab-separated text with stray quotes).
        reader = csv.reader(f, delimiter=delimiter, quoting=csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL)
        header: list[str] | None = None
        for record in reader:
            line_no = reader.line_num
            if not record or not any(field.strip() for field in record):
                continue
            if header is None:
                header = [name.strip() for name in record]
                continue
            if len(record) != len(header):
                raise ValueError(
                    f"{path}:{line_no}: expected {len(header)} fields ({', '.join(header)}), got {len(record)}"
                )
            rows.append(Row(dict(zip(header, record)), f"{path}:{line_no}"))
    if header is None:
        raise ValueError(f"{path}: empty file; expected a header line naming the columns")
    return rows


def dataset_rows(dataset: datasets.Dataset, name: str) -> list[Row]:
    """Rows of an in-memory data set (built-in or hub); ClassLabel ints stay ints."""
    return [Row(record, f"{name} row {i}") for i, record in enumerate(dataset)]


def class_names(dataset: datasets.Dataset, column: str) -> Sequence[str] | None:
    """Label names of a ClassLabel column (or of a Sequence of ClassLabel), else None."""
    feature = dataset.features.get(column)
    feature = getattr(feature, "feature", feature)  # Sequence(ClassLabel) -> ClassLabel
    return list(feature.names) if isinstance(feature, datasets.ClassLabel) else None
