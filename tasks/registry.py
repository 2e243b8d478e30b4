"""The fine-tuning tasks, looked up by name (or by module class):

    task_record("ner").data_class(source)   # NerDataModule over source
    TASKS                                  # ("classification", "ner", "generation"): the names configs use

Adding a task is its package (module, data, baseline) plus one record in tasks/<task>/task.py, listed here.
"""

from __future__ import annotations

from pretrain.named_records import record_named
from tasks.base import TaskModule
from tasks.classification.task import CLASSIFICATION
from tasks.generation.task import GENERATION
from tasks.ner.task import NER
from tasks.record import Task

_RECORDS: dict[str, Task] = {record.name: record for record in (CLASSIFICATION, NER, GENERATION)}
TASKS: tuple[str, ...] = tuple(_RECORDS)


def task_record(name: str) -> Task:
    """The record of a task name; anything else is an error naming the choices."""
    return record_named(_RECORDS, name, "task")


def task_of(module: TaskModule) -> Task:
    """The record of a task module (its class or a subclass of it)."""
    record = next((r for r in _RECORDS.values() if isinstance(module, r.module_class)), None)
    if record is None:
        raise ValueError(f"{type(module).__name__} is no task's module; the tasks are {', '.join(TASKS)}")
    return record
