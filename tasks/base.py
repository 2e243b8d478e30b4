"""What every fine-tuning task shares: where the data comes from, and how the backbone is optimised.

A task's LightningDataModule reads rows (built-in task, local files, or a hub data set) and
encodes them with the tokenizer of the backbone; the LightningModule loads the backbone in
__init__ and builds its label-dependent head from the data module's labels. `connect(module, data)`
hands each what it needs from the other; the `finetune` command calls it once both are built.
"""

from __future__ import annotations

import glob
from abc import abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

import datasets
import torch
from lightning import LightningDataModule, LightningModule
from lightning.pytorch.utilities import rank_zero_warn
from lightning.pytorch.utilities.types import OptimizerLRSchedulerConfig
from torch.optim import Optimizer
from torch.utils.data import DataLoader
from transformers import PreTrainedTokenizerBase

from pretrain.blocks.config import TransformerConfig
from pretrain.checkpoint import Backbone, load_backbone, random_weights, stored_source
from pretrain.data.sources import DataSource, DataSourceArg, load_hub_split
from pretrain.lightning.optim import Optimisation, clip_gradients, fused_adamw, use_tensor_cores
from pretrain.run_cli import init_options
from tasks.encoding import SpecialTokens
from tasks.files import Row, dataset_rows, read_table
from tasks.length_batches import LengthGroupedBatches

_STAGE_SPLITS = {"fit": ("train", "validation"), "validate": ("validation",), "test": ("test",), "predict": ("predict",
                                                                                                             )}
# The column naming each row's source document (built-in tasks: the docstring's id; hub or local data: a column
# the source maps to it, e.g. columns: {"document": "doc_id"}). Test rows of one document are resampled together by
# the comparison's bootstrap (pretrain.compare.analysis.bootstrap); without it each row is its own document.
DOCUMENT_COLUMN = "document"


class TaskDataModule(LightningDataModule):
    """Rows come from `source` (a pretrain.data.sources.DataSource, or its short form, a name or path):
    "builtin" (derived from the standard library, no download), local files (the train split's path;
    `splits` gives the validation/test files), or a hub data set with its configuration, split names and
    `columns` (the task's column -> the data's). The predict split is `predict_file`, or the test split.
    `group_by_length` draws training batches of similar lengths (tasks.length_batches), which pads less, and
    validates in length order where the task's validation score does not depend on the order."""

    # The columns every labelled split must have, by the task's own names (source.columns maps them).
    required_columns: tuple[str, ...] = ()
    # Whether the validation score is the same in any example order (a task that reads a fixed first subset of
    # the split, such as generation's decoded examples, is not).
    order_free_validation: ClassVar[bool] = True

    def __init__(
        self,
        source: DataSourceArg = "builtin",
        predict_file: str | None = None,
        batch_size: int = 32,
        max_length: int = 128,
        num_workers: int = 0,
        group_by_length: bool = False,
    ) -> None:
        super().__init__()
        if batch_size < 1:
            raise ValueError(f"data.batch_size={batch_size} must be >= 1")
        if max_length < 4:
            raise ValueError(f"data.max_length={max_length} must be >= 4")
        self.source = DataSource.of(source)
        self.predict_file = predict_file
        self.batch_size = batch_size
        self.max_length = max_length
        self.num_workers = num_workers
        self.group_by_length = group_by_length
        self.tokenizer: PreTrainedTokenizerBase | None = None
        self.family: str | None = None
        self.examples: dict[str, list[dict[str, Any]]] = {}
        self.truncated: dict[str, int] = {}
        self._splits: dict[str, datasets.Dataset] = {}

    # -- wiring ---------------------------------------------------------------------------------
    def attach(self, tokenizer: PreTrainedTokenizerBase, family: str, max_positions: int) -> None:
        """The tokenizer and family come from the backbone (`connect` passes the module's)."""
        self.tokenizer, self.family = tokenizer, family
        if self.max_length > max_positions:
            raise ValueError(
                f"data.max_length={self.max_length} exceeds the backbone's max_positions={max_positions}"
            )

    @property
    def special(self) -> SpecialTokens:
        return SpecialTokens.of(self._tokenizer, self._family)

    @property
    def _tokenizer(self) -> PreTrainedTokenizerBase:
        if self.tokenizer is None:
            raise RuntimeError("attach(tokenizer, family, max_positions) or connect(module, data) before encoding data")
        return self.tokenizer

    @property
    def _family(self) -> str:
        assert self.family is not None, "attach() sets the family"
        return self.family

    def setup(self, stage: str) -> None:
        if self.tokenizer is None:
            raise RuntimeError("attach(tokenizer, family, max_positions) or connect(module, data) before setup")
        self.prepare_labels()
        for split in _STAGE_SPLITS[stage]:
            if split not in self.examples:
                self.truncated[split] = 0
                self.examples[split] = self.encode(self.rows(split), split)
                if not self.examples[split]:
                    raise ValueError(f"the {split} split is empty ({self.describe(split)})")
                if self.truncated[split]:
                    rank_zero_warn(
                        f"{self.truncated[split]} of {len(self.examples[split])} {split} examples were truncated "
                        f"to fit ({self.describe(split)})"
                    )

    def check_split(self, split: str) -> None:
        """Read `split` without encoding it, so that a missing file or column (subclasses: an unknown label)
        fails before training rather than when the split is first used (the test split: after fit)."""
        self.rows(split)

    # -- rows -----------------------------------------------------------------------------------
    def uses_files(self) -> bool:
        return self.source.kind == "files"

    def describe(self, split: str) -> str:
        if split == "predict" and self.predict_file is not None:
            return self.predict_file
        split = "test" if split == "predict" else split
        return str(self.source.file(split)) if self.uses_files() else f"{self.source} {split}"

    def columns(self, split: str) -> list[str]:
        """The columns a split offers the task (after `source.columns`), without encoding anything; a
        missing split or required column is an error naming the source and what was expected."""
        return sorted(self.rows(split)[0].values) if self.uses_files() else list(self.hf_split(split).column_names)

    def rows(self, split: str) -> list[Row]:
        if split == "predict" and self.predict_file is not None:
            return self.read_file(Path(self.predict_file))
        split = "test" if split == "predict" else split
        if not self.uses_files():
            return dataset_rows(self.hf_split(split), f"{self.source} {split}")
        pattern = self.source.file(split)
        if pattern is None:
            raise ValueError(f"data.source.splits has no {split!r} file for {self.source.name}, but the run needs the "
                             f"{split} split: give e.g. splits: {{{split}: <path>}}")
        files = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern]
        if not files:
            raise ValueError(f"data.source {split} split: no file matches {pattern!r}")
        rows = [row for file in files for row in self.read_file(Path(file))]
        if rows:
            missing = [c for c in self.required_columns if self.source.column(c) not in rows[0].values]
            if missing:
                read_as = f" (read as {missing[0]!r})" if self.source.column(missing[0]) != missing[0] else ""
                raise ValueError(f"{rows[0].where}: no column {self.source.column(missing[0])!r}{read_as}; columns "
                                 f"are {sorted(rows[0].values)}. Set the data source's columns, e.g. "
                                 f"{{{missing[0]!r}: <one of them>}}")
        renames = {data: role for role, data in self.source.columns.items() if data != role}
        for row in rows:
            for data, role in renames.items():
                if data in row.values:
                    row.values[role] = row.values.pop(data)
        return rows

    def hf_split(self, split: str) -> datasets.Dataset:
        """A split of the built-in task or of a hub data set, its columns renamed to the task's."""
        if split not in self._splits:
            if self.source.is_builtin:
                self._splits.update(self.builtin())
            else:
                where = f"data set {self.source} split {self.source.hub_split(split)!r}"
                self._splits[split] = self.source.rename(load_hub_split(self.source, split), where,
                                                         self.required_columns)
        return self._splits[split]

    def read_file(self, path: Path) -> list[Row]:
        return read_table(path)

    def row_document(self, row: Row) -> str | None:
        """The document a row comes from (DOCUMENT_COLUMN), or None when the data names none; each encoded
        example keeps its row's, under the same key."""
        value = row.values.get(DOCUMENT_COLUMN)
        return None if value is None or value == "" else str(value)

    def documents(self, split: str) -> list[str] | None:
        """The document of each encoded example of `split`, in its order (the test pass's per-example order);
        None when no row names one. A row without one, beside rows with one, is its own document."""
        names = [example.get(DOCUMENT_COLUMN) for example in self.examples.get(split, [])]
        if all(name is None for name in names):
            return None
        return [name if name is not None else f"row {i}" for i, name in enumerate(names)]

    # -- loaders --------------------------------------------------------------------------------
    def example_length(self, example: dict[str, Any]) -> int:
        """The positions an example fills in a padded batch: its input, and its decoder input where it has one."""
        return len(example["input_ids"]) + len(example.get("decoder_input_ids", ()))

    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        examples = self.examples[split]
        if shuffle and self.group_by_length:
            batches = LengthGroupedBatches([self.example_length(e) for e in examples], self.batch_size)
            return DataLoader(examples, batch_sampler=batches, collate_fn=self.collate, num_workers=self.num_workers)
        if split == "validation" and self.group_by_length and self.order_free_validation:
            # Shortest first: a validation pays for its padding as training does (classification and NER: half
            # of a random batch), and its metric is the same in any order. Test and predict keep the split's
            # order, which per-example records and prediction files are written in.
            order = sorted(range(len(examples)), key=lambda i: self.example_length(examples[i]))
            batches = [order[i:i + self.batch_size] for i in range(0, len(order), self.batch_size)]
            return DataLoader(examples, batch_sampler=batches, collate_fn=self.collate, num_workers=self.num_workers)
        return DataLoader(examples, batch_size=self.batch_size, shuffle=shuffle, collate_fn=self.collate,
                          num_workers=self.num_workers)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("validation", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)

    def predict_dataloader(self) -> DataLoader:
        return self._loader("predict", shuffle=False)

    # -- per task -------------------------------------------------------------------------------
    @abstractmethod
    def builtin(self) -> datasets.DatasetDict: ...

    @abstractmethod
    def prepare_labels(self) -> None:
        """Fix the label vocabulary (from the train split) before any split is encoded."""

    @abstractmethod
    def encode(self, rows: list[Row], split: str) -> list[dict[str, Any]]: ...

    @abstractmethod
    def collate(self, examples: list[dict[str, Any]]) -> dict[str, Any]: ...


def check_dropout(classifier_dropout: float) -> None:
    """A task head's dropout, checked before any weights load."""
    if not 0.0 <= classifier_dropout < 1.0:
        raise ValueError(f"model.classifier_dropout={classifier_dropout} must be in [0, 1)")


@dataclass
class RestoredCheckpoint:
    """What a fine-tuned checkpoint recorded when it was saved: its step and validation metrics."""

    step: int
    val: dict[str, float]


def unmask_decoder(backbone: Backbone) -> None:
    """Let a decoder backbone's stack attend both ways (its weights unchanged); an encoder is an error, since it
    is bidirectional already and the option would mean nothing."""
    if not backbone.record.decoder_only:
        raise ValueError(f"decoder_attention='bidirectional' applies to a decoder; this {backbone.family} backbone "
                         "is an encoder, which attends both ways already (leave decoder_attention: causal)")
    stack = getattr(backbone.model, backbone.record.body)
    stack.causal = False


class TaskModule(LightningModule):
    """Loads the backbone; AdamW with linear warmup then linear decay, as BERT's fine-tuning recipe
    (Devlin et al. 2018, appendix A.3) and GPT-1's (Radford et al. 2018, section 4.1).

    `random_init` fine-tunes the same architecture from random weights (the checkpoint gives only
    the config and tokenizer), the control that measures what pretraining adds.

    A test pass leaves `per_example`: one score record per test example, in test-set order, from
    which the task's test metric is recomputed exactly (tasks.per_example), so runs can be paired
    by index in a bootstrap.
    """

    # The arguments that decide which weights a fine-tuned checkpoint holds: `finetune test/predict
    # --ckpt_path` takes them from the checkpoint and the rest (decoding, lr) from the run.
    weights_hparams: ClassVar[tuple[str, ...]] = ("checkpoint", "family", "random_init", "decoder_attention")

    def __init__(
        self,
        checkpoint: str,
        family: Literal["bert", "gpt"] | None = None,
        lr: float = 5e-5,
        weight_decay: float = 0.01,
        warmup_ratio: float = 0.1,
        random_init: bool = False,
        decoder_attention: Literal["causal", "bidirectional"] = "causal",
    ) -> None:
        """Options of the task module (a task's module adds its own; jsonargparse reads both for `finetune --help`).

        Args:
            checkpoint: a `pretrain` checkpoint (.ckpt) or hf:<local Hugging Face model directory>
            family: bert | gpt: rejects a checkpoint of the other family (unset: either)
            lr: peak learning rate (AdamW, linear warmup then linear decay)
            weight_decay: AdamW weight decay (none on biases, norms and embeddings)
            warmup_ratio: fraction of the steps spent warming up
            random_init: fine-tune the same architecture from random weights, the control that measures what
                pretraining adds (the checkpoint gives only its config and tokenizer)
            decoder_attention: causal | bidirectional: a decoder's (GPT's) attention while fine-tuning; bidirectional
                removes its causal mask, the control that separates what the decoder learned in pretraining from
                the left-only context it reads (Dukic & Snajder 2024, "Looking Right is Sometimes Right")
        """
        super().__init__()
        # transformers' get_linear_schedule_with_warmup, the fine-tuning recipe's schedule, to the bit.
        self.optimisation = Optimisation(lr=lr, weight_decay=weight_decay, warmup_ratio=warmup_ratio,
                                         arithmetic="transformers")
        self.save_hyperparameters()
        # Stored absolute: the fine-tuned checkpoint, its results and an export then name the backbone from any working
        # directory. (Under LightningCLI the hyperparameters are the parsed config's, not this frame's locals.)
        self.hparams["checkpoint"] = checkpoint = stored_source(checkpoint)
        # Loading never draws from the seeded global RNG (a hf: load builds models that do), so the
        # random weights and the task heads depend on the seed alone.
        with torch.random.fork_rng(devices=[]):
            backbone = load_backbone(checkpoint, family)
        if random_init:
            backbone = random_weights(backbone)
        if decoder_attention == "bidirectional":
            unmask_decoder(backbone)
        self.family: str = backbone.family
        self.tokenizer: PreTrainedTokenizerBase = backbone.tokenizer
        self.backbone_config: TransformerConfig = backbone.config
        self.special = SpecialTokens.of(self.tokenizer, self.family)
        self._configured = False
        self.per_example: list[Any] = []
        self.restored: RestoredCheckpoint | None = None
        self.build(backbone)
        self.train()  # load_backbone returns the model in eval mode; Lightning's fit keeps a module's mode

    @classmethod
    def option_defaults(cls) -> dict[str, Any]:
        """Every option the module takes, its own and TaskModule's (a task's __init__ forwards the shared ones),
        with its default (inspect.Parameter.empty for a required one)."""
        return init_options(cls, TaskModule)

    @abstractmethod
    def build(self, backbone: Backbone) -> None:
        """Keep the parts of the pretrained model the task uses (unused heads would get no gradient)."""

    def configure_task(self, datamodule: TaskDataModule) -> None:
        """Build what depends on the data (label heads, metrics); `connect` calls it once, before weights load."""

    def setup(self, stage: str) -> None:
        if not self._configured:  # checked first: a module set up without its data is the mistake to name
            raise RuntimeError(f"{type(self).__name__} has no label heads yet: call "
                               "tasks.base.connect(module, datamodule) before trainer.fit/test/predict")
        if self._trainer is not None:  # set up by a Trainer (a test may call setup by hand)
            use_tensor_cores(self.trainer.strategy.root_device)

    def on_test_epoch_start(self) -> None:
        self.per_example = []

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # ModelCheckpoint saves right after a validation, so these are the metrics that selected it.
        checkpoint["validation_metrics"] = {
            k: float(v) for k, v in self.trainer.callback_metrics.items() if k.startswith("val/")
        }

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.restored = RestoredCheckpoint(step=int(checkpoint.get("global_step", 0)),
                                           val=dict(checkpoint.get("validation_metrics", {})))

    def configure_optimizers(self) -> OptimizerLRSchedulerConfig:
        return self.optimisation.configure(self, lambda: self.trainer.estimated_stepping_batches,
                                           fused=fused_adamw(self._trainer))

    def configure_gradient_clipping(self, optimizer: Optimizer, gradient_clip_val: float | None = None,
                                    gradient_clip_algorithm: str | None = None) -> None:
        clip_gradients(self, optimizer, gradient_clip_val, gradient_clip_algorithm)


def connect(module: TaskModule, data: TaskDataModule) -> None:
    """Hand each side what it needs from the other, before the trainer runs: the data module encodes
    with the backbone's tokenizer and family, and the module builds its label heads (once) from the
    labels of the data's train split. The `finetune` command calls this right after building both."""
    data.attach(module.tokenizer, module.family, module.backbone_config.max_positions)
    if not module._configured:
        data.prepare_labels()
        module.configure_task(data)
        module._configured = True
