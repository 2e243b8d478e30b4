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
