"""What a fine-tuning task is, as data: one frozen record per task (tasks/<task>/task.py), looked up by name
in tasks.registry.

Everything that would otherwise list the tasks or branch on a task's name (the finetune command, the
comparison's plan, data sets, baselines, references, metrics, report, bootstrap) reads a field here, so
adding a task is one record plus the task's own package.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pretrain.data.sources import DataSource
from tasks.base import TaskDataModule, TaskModule
from tasks.metric_spec import MetricSpec

# Scores of a task's data module (its labels prepared), keyed as results.json keeps them.
Scorer = Callable[[Any], dict[str, float]]


@dataclass(frozen=True)
class Reference:
    """A classical method with no neural network, scored on the task's test rows: shown, never judged against."""

    method: str  # in words: the report's row label
    gap_meaning: str  # what a model's gap below it says (the report's explanation)
    score: Scorer  # fit on the train split, scored on the test split: {"reference/<name>": value}


@dataclass(frozen=True)
class PerExampleStatistic:
    """How a test pass's per-example records become the (examples, width) array whose column sums give the
    task's primary metric (tasks.per_example.metric_from_sums: a mean for width 1, micro F1 for width 3)."""

    row: Callable[[Any], float | Sequence[float]]  # one example's record -> its row of numbers
    width: int
    description: str  # what each record must be, for the one-line error on a wrong shape


@dataclass(frozen=True)
class FinetuneOptions:
    """The settings a comparison decides once for every task's runs; each task takes the ones it has."""

    pooling: str  # the classification readout both families use
    max_target_length: int  # target tokens a generation run trains on and decodes
    batch_size: int  # examples per training and validation batch


# What a matched-layout fine-tuning must change to be exported exactly.
MATCHED_LAYOUT_FIX = ("fine-tune a classic-layout backbone (pretrain with --model.init_args.config "
                      "configs/model/bert-mini.yaml or gpt-mini.yaml) to export one")
# A backbone's (family, layout) as the Hugging Face export tells them apart; layout: "classic" | "modernbert".
Architecture = tuple[str, str]


@dataclass(frozen=True)
class HubExport:
    """How a fine-tuned checkpoint of the task leaves the suite as a transformers model (pretrain.hf.export).

    head_prefix: the state-dict prefix of the task's classifier (dropout + linear, as transformers' own), which
        also tells a checkpoint of this task apart; None: the task fine-tunes the whole model (its weights under
        pretrain.checkpoint.MODEL_PREFIX) and is exported as that model's LM class.
    classes: (family, layout) -> the transformers class whose head computes exactly our logits.
    no_exact_class: (family, layout) -> why no transformers class does, and what to change (the export's error).
    pooler: BERT's readout is its pretrained-then-fine-tuned pooler (transformers' sequence classifiers read the
        pooled [CLS]), so only `pooling: native` fine-tunings export exactly.
    """

    pipeline_tag: str  # the model card's Hugging Face pipeline
    head_prefix: str | None
    classes: dict[Architecture, str] = field(default_factory=dict, hash=False)
    no_exact_class: dict[Architecture, str] = field(default_factory=dict, hash=False)
    pooler: bool = False


@dataclass(frozen=True)
class Task:
    name: str  # as configs, results and the comparison's plan spell it
    module_class: type[TaskModule]
    data_class: type[TaskDataModule]
    config_file: str  # the fine-tuning config in configs/finetune (or a plan's finetune.configs_dir)
    metrics: tuple[MetricSpec, ...]  # test metrics reported; the first is the primary one, which decides
    # Further metrics the module logs that the report leaves out (losses): a checkpoint monitor may name them.
    logged_only: tuple[MetricSpec, ...]
    baseline: Scorer  # the trivial baselines: {"baseline/<name>": value}
    reference: Reference | None
    per_example: PerExampleStatistic
    predictions_suffix: str  # `finetune predict` writes in the input's own format
    # The task's own fine-tuning arguments beyond those every task gets (pretrain.compare.running.runs).
    finetune_args: Callable[[FinetuneOptions], list[str]] = field(hash=False)
    # The target follows the source within the model's positions (GPT reads source [SEP] target), so a run's
    # source length is what max_target_length + 1 leave of them.
    generates: bool = False
    copies_source: bool = False  # outputs repeat words of the input: the copying probe matters (tasks.copying_check)
    datasets: dict[str, DataSource] = field(default_factory=dict, hash=False)  # public sets a plan names by key
    hub: HubExport | None = None  # how its checkpoints export to Hugging Face (None: they do not)

    @property
    def primary(self) -> MetricSpec:
        return self.metrics[0]

    def metric(self, name: str) -> MetricSpec:
        """The metric logged as `<split>/name`; anything else is an error naming the task's metrics."""
        known = self.metrics + self.logged_only
        found = next((spec for spec in known if spec.name == name), None)
        if found is None:
            raise ValueError(f"{self.name} logs no metric {name!r}; its metrics are "
                             f"{', '.join(spec.name for spec in known)}")
        return found

    def data(self, source: DataSource) -> TaskDataModule:
        """The task's data module over `source`, for reading rows (no tokenizer needed)."""
        return self.data_class(source)

    def labelled_data(self, source: DataSource) -> TaskDataModule:
        """The data module with its label set read from the data: what baselines and references score."""
        module = self.data(source)
        module.prepare_labels()
        return module
