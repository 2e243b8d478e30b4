"""Files a fine-tuning run leaves behind: test results as JSON, predictions in the input's own format.

Results JSON schema (stable; scripts/compare.py reads it):

    {"task": "classification" | "ner" | "generation",
     "family": "bert" | "gpt",
     "checkpoint": "<the pretrained checkpoint or hf:dir the run started from>",
     "finetuned_checkpoint": "<the fine-tuned .ckpt tested, or null for the in-memory weights>",
     "seed": <int>,
     "data": "<where the test split came from>",
     "truncated": <int, test examples truncated to fit max_length>,
     "metrics": {"test/<name>": <float>, ...}}
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lightning import LightningModule, Trainer
from lightning.pytorch.callbacks import BasePredictionWriter

from pretrain.data.caching import atomic_write


def write_results(path: Path, *, task: str, family: str, checkpoint: str, finetuned_checkpoint: str | None,
                  seed: int | None, data: str, truncated: int, metrics: dict[str, float]) -> dict[str, Any]:
    results = {
        "task": task, "family": family, "checkpoint": checkpoint, "finetuned_checkpoint": finetuned_checkpoint,
        "seed": seed, "data": data, "truncated": truncated, "metrics": dict(sorted(metrics.items())),
    }
    atomic_write(path, lambda tmp: tmp.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8"))
    return results


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
                           batch_indices: Sequence[int] | None, batch: Any, batch_idx: int, dataloader_idx: int) -> None:
        assert self._tmp is not None
        with self._tmp.open("a", encoding="utf-8") as f:
            f.writelines(f"{line}\n" for line in prediction)

    def on_predict_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if self._tmp is not None:
            self._tmp.replace(self.path)
            self._tmp = None
