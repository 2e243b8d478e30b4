"""What the tasks with a label vocabulary (classification, NER) share: where the label names come from."""

from __future__ import annotations

from abc import abstractmethod
from typing import ClassVar

from tasks.base import TaskDataModule
from tasks.files import Row, class_names


class LabelledDataModule(TaskDataModule):
    """Label names are the ClassLabel names of `label_column` (built-in and hub data, whose rows then hold
    indices), or, for files, what `labels_from_rows` reads off the train split's plain strings."""

    label_column: ClassVar[str]
    label_noun: ClassVar[str] = "label"  # what errors call one label ("tag" for NER)
    label_names: list[str]  # set to [] by the subclass's __init__; fixed once by prepare_labels
    _class_label: bool  # labels are ClassLabel indices (built-in / hub), not names

    def prepare_labels(self) -> None:
        if self.label_names:
            return
        names = None if self.uses_files() else class_names(self.hf_split("train"), self.label_column)
        if names is not None:
            self.label_names, self._class_label = list(names), True
            return
        self.label_names = self.labels_from_rows(self.rows("train"))

    @abstractmethod
    def labels_from_rows(self, rows: list[Row]) -> list[str]:
        """The label vocabulary of a train split without ClassLabel names (local files)."""

    @abstractmethod
    def row_labels(self, row: Row) -> list[str]:
        """The label names a labelled row holds (one for classification, one per word for NER)."""

    def label_index(self, row: Row, name: str) -> int:
        """The head's index of a row's label; a label the train split lacks is an error naming the row."""
        if name not in self.label_names:
            raise ValueError(f"{row.where}: {self.label_noun} {name!r} is not one of the train {self.label_noun}s "
                             f"{self.label_names}")
        return self.label_names.index(name)

    def check_split(self, split: str) -> None:
        """Also every label of `split` must be one the train split has (the head has no output for others)."""
        super().check_split(split)
        self.prepare_labels()
        for row in self.rows(split):
            if self.label_column in row.values:
                for name in self.row_labels(row):
                    self.label_index(row, name)
