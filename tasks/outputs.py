"""Files a fine-tuning run leaves behind: test results as JSON, predictions in the input's own format.

Results JSON (`FinetuneResults`, written by `finetune fit --test_after_fit true` and `finetune test`;
read it back with `read_results`):

    {"task": "<a task name: tasks.registry.TASKS>",
     "family": "bert" | "gpt",
     "checkpoint": "<the pretrained checkpoint or hf:dir the run started from>",
     "random_init": <bool, true: the checkpoint gave only config and tokenizer, weights were random>,
     "finetuned_checkpoint": "<the fine-tuned .ckpt tested, or null for the in-memory weights>",
     "seed": <int | null>,
     "data": "<where the test split came from>",
     "truncated": <int, test examples truncated to fit max_length>,
     "metrics": {"test/<name>": <float>, ...},
     "best_step": <int | null, the global step the tested checkpoint was saved at>,
     "monitor": "<the validation metric that selected it, e.g. val/acc>" | null,
     "val": {"val/<name>": <float>, ...}   (the tested checkpoint's validation metrics; {} if unknown),
     "steps": <int | null, optimizer steps trained>, "train_examples": <int | null, training split size>,
     "per_example": [...] | null   (one record per test example in test-set order, see tasks.per_example;
                                    null when the test ran on several processes),
     "documents": ["<id>", ...] | null   (the source document of each per_example record, in the same order:
                                    rows of one document are resampled together by the comparison's bootstrap;
                                    null when the data names no documents: each row is its own)}
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lightning import LightningModule, Trainer
from lightning.pytorch.callbacks import BasePredictionWriter

from pretrain.data.caching import atomic_write


@dataclass
class FinetuneResults:
    task: str
    family: str
    checkpoint: str
    finetuned_checkpoint: str | None
    seed: int | None
    data: str
    truncated: int
    metrics: dict[str, float]
    random_init: bool = False
    best_step: int | None = None
    monitor: str | None = None
    val: dict[str, float] = field(default_factory=dict)
    per_example: list[Any] | None = None
    steps: int | None = None  # optimizer steps the run trained (fewer than planned when validation stopped it)
    train_examples: int | None = None  # examples in its training split: steps * batch / this = epochs
    documents: list[str] | None = None

    def __post_init__(self) -> None:
        # Sorted, so the file, the comparison's ledger and its results.json list metrics in one order.
        self.metrics, self.val = dict(sorted(self.metrics.items())), dict(sorted(self.val.items()))


def write_results(path: Path, results: FinetuneResults) -> None:
    record = dataclasses.asdict(results)
    atomic_write(path, lambda tmp: tmp.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8"))


def read_results(path: Path) -> FinetuneResults:
    """The results a fine-tuning run wrote to `path` (fields added later default; unknown keys are ignored)."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"fine-tuning finished without writing its results file {path}")
    record = json.loads(path.read_text(encoding="utf-8"))
    known = {f.name for f in dataclasses.fields(FinetuneResults)}
    return FinetuneResults(**{k: v for k, v in record.items() if k in known})


class PredictionFileWriter(BasePredictionWriter):
    """Appends each batch's lines (what `predict_step` returns) to a temporary file that replaces
    `path` only when prediction finishes, so an interrupted run never leaves a partial file."""

    def __init__(self, path: str | Path) -> None:
        super().__init__(write_interval="batch")
        self.path = Path(path)
        self._tmp: Path | None = None

    def on_predict_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = self.path.with_name(f".{self.path.name}.partial")
        self._tmp.write_text("", encoding="utf-8")

    def write_on_batch_end(self, trainer: Trainer, pl_module: LightningModule, prediction: Sequence[str],
                           batch_indices: Sequence[int] | None, batch: Any, batch_idx: int,
                           dataloader_idx: int) -> None:
        assert self._tmp is not None
        with self._tmp.open("a", encoding="utf-8") as f:
            f.writelines(f"{line}\n" for line in prediction)

    def on_predict_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if self._tmp is not None:
            self._tmp.replace(self.path)
            self._tmp = None
