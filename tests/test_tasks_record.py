"""The task records: lookup by name and by module, and each record consistent with its config, module and metrics."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pretrain.compare.analysis.references import REFERENCE_TASKS
from pretrain.compare.planning.datasets import REGISTRY
from tasks.metric_spec import MetricSpec
from tasks.ner.module import NerModule
from tasks.record import FinetuneOptions
from tasks.registry import TASKS, task_of, task_record

CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "finetune"


def _path(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def test_lookup_by_name_and_by_module() -> None:
    assert TASKS == ("classification", "ner", "generation")
    assert all(task_record(name).name == name for name in TASKS)
    assert task_of(object.__new__(NerModule)) is task_record("ner")


def test_an_unknown_task_is_one_line_naming_the_tasks() -> None:
    with pytest.raises(ValueError, match=r"^task='qa' is not supported; choose one of classification, ner, "
                                         r"generation$"):
        task_record("qa")
    with pytest.raises(ValueError, match="object is no task's module"):
        task_of(object())  # type: ignore[arg-type]


@pytest.mark.parametrize("name", TASKS)
def test_the_config_file_names_the_records_classes_and_monitors_its_primary_metric(name: str) -> None:
    record = task_record(name)
    config = yaml.safe_load((CONFIGS / record.config_file).read_text())
    assert config["model"]["class_path"] == _path(record.module_class)
    assert config["data"]["class_path"] == _path(record.data_class)
    (checkpoint,
     ) = [c["init_args"] for c in config["trainer"]["callbacks"] if c["class_path"].endswith("ModelCheckpoint")]
    assert checkpoint["monitor"] == record.primary.on("val")
    assert checkpoint["mode"] == ("max" if record.metric(record.primary.name).higher_is_better else "min")


@pytest.mark.parametrize("name", TASKS)
def test_metrics_are_test_keys_and_the_reference_goes_with_reference_keys(name: str) -> None:
    record = task_record(name)
    assert all(spec.key.startswith("test/") for spec in (*record.metrics, *record.logged_only))
    assert record.metric("loss").higher_is_better is False
    has_reference_keys = any(spec.reference_key for spec in record.metrics)
    assert (record.reference is not None) == has_reference_keys == (name in REFERENCE_TASKS)
    assert set(record.datasets) | {"builtin"} == set(REGISTRY[name])
    with pytest.raises(ValueError, match=f"^{name} logs no metric 'nope'; its metrics are "):
        record.metric("nope")


def test_each_task_adds_its_own_finetuning_arguments() -> None:
    options = FinetuneOptions(pooling="mean", max_target_length=12, batch_size=16)
    assert task_record("classification").finetune_args(options) == ["--model.init_args.pooling", "mean"]
    assert task_record("ner").finetune_args(options) == []
    assert task_record("generation").finetune_args(options) == [
        "--data.init_args.max_target_length", "12", "--model.init_args.max_new_tokens", "12",
        "--model.init_args.validation_decode_limit", "128", "--trainer.limit_val_batches", "8"]  # the decoded only
    assert [name for name in TASKS if task_record(name).generates] == ["generation"]
    assert [name for name in TASKS if task_record(name).copies_source] == ["generation"]


def test_per_example_statistics_and_prediction_suffixes() -> None:
    ner, generation = task_record("ner").per_example, task_record("generation").per_example
    assert ner.width == 3 and list(ner.row([1, 2, 3])) == [1, 2, 3]
    assert generation.width == 1 and generation.row({"rouge1": 0.5, "rouge2": 0.1, "rougeL": 0.25}) == 0.25
    assert [task_record(name).predictions_suffix for name in TASKS] == [".txt", ".conll", ".jsonl"]


def test_metric_spec_names_a_metric_on_any_split() -> None:
    spec = MetricSpec("test/entity_f1", "entity F1", True)
    assert spec.name == "entity_f1" and spec.on("val") == "val/entity_f1"


def test_every_architecture_of_an_exportable_task_has_a_class_or_a_reason() -> None:
    """The export either writes an exact transformers class or refuses with the record's reason, never neither."""
    architectures = {(family, layout) for family in ("bert", "gpt") for layout in ("classic", "modernbert")}
    for name in TASKS:
        hub = task_record(name).hub
        assert hub is not None, name
        assert not set(hub.classes) & set(hub.no_exact_class), name
        if hub.head_prefix is None:  # exported as the whole LM: only the refused architectures are listed
            assert not hub.classes and set(hub.no_exact_class) < architectures, name
        else:
            assert set(hub.classes) | set(hub.no_exact_class) == architectures, name
    assert {task_record(name).hub.head_prefix for name in TASKS} == {"head.classifier.", "classifier.", None}
