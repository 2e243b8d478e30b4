"""What BERT and GPT pretraining share: optimizer, schedule, throughput logging, checkpoint contents.

Subclasses add the objective (`_step`) and the split metrics (`_epoch_values`); the model
itself is a plain nn.Module from pretrain.models, held as `self.model`.
"""

from __future__ import annotations

import contextlib
import os
import time
from abc import abstractmethod
from collections.abc import Iterator
from typing import Any, ClassVar, Protocol

import torch
from lightning.fabric.utilities.seed import _collect_rng_states, _set_rng_states
from lightning.pytorch import LightningModule
from lightning.pytorch.utilities.types import OptimizerLRSchedulerConfig
from torch import Tensor, nn
from torch.distributed.algorithms._checkpoint.checkpoint_wrapper import apply_activation_checkpointing
from torch.optim import Optimizer
from torchmetrics import MetricCollection
from transformers import PreTrainedTokenizerBase

from pretrain.blocks.block import TransformerBlock
from pretrain.blocks.config import TransformerConfig
from pretrain.checkpoint import CHECKPOINT_FORMAT
from pretrain.family import MLM_PROBABILITY, family_record
from pretrain.lightning.metrics import UnigramBaseline
from pretrain.lightning.optim import Optimisation, clip_gradients, fused_adamw, use_tensor_cores
from pretrain.lightning.peaks import device_peak_flops
from pretrain.lightning.schedule import Schedule
from pretrain.models.copying import random_sequences
from pretrain.models.counting import flops_per_token

DATA_SPLIT = {"train": "train", "val": "validation", "test": "test"}  # metric prefix -> DatasetDict key


class PretrainingData(Protocol):
    """What a pretraining module takes from its data module (`PretrainingModule.attach`)."""

    @property
    def tokenizer(self) -> PreTrainedTokenizerBase: ...

    def bytes_per_token(self, split: str) -> float: ...

    def split_statistics(self, split: str) -> dict[str, int]: ...


COPY_PROBE_ROWS, COPY_PROBE_LENGTH = 64, 24  # sequences and tokens per copy of the copying probe


class PretrainingModule(LightningModule):
    """Base LightningModule; see BertPretraining and GptPretraining.

    AdamW with decoupled weight decay (Loshchilov & Hutter 2019, arXiv:1711.05101) on weight
    matrices only (pretrain.lightning.optim.decay_groups: biases, norm gains and embeddings are not
    decayed). Linear warmup, then cosine (Radford et al. 2018) or linear (Devlin et al. 2018)
    decay to `min_lr_ratio * lr`; `max_steps=None` decays over the Trainer's whole run.
    Gradient clipping and precision are Trainer settings (`gradient_clip_val`, `precision`).
    """

    family: ClassVar[str]

    def __init__(
        self,
        config: TransformerConfig,
        *,
        lr: float = 5e-4,
        weight_decay: float = 0.01,
        betas: tuple[float, float] = (0.9, 0.98),
        eps: float = 1e-8,
        warmup_steps: int = 100,
        max_steps: int | None = None,
        schedule: Schedule = "cosine",
        min_lr_ratio: float = 0.1,
        compile: bool = False,
        activation_checkpointing: bool = False,
        peak_flops_per_device: float | None = None,
    ) -> None:
        """Options of the pretraining module.

        Args:
            config: the model: a preset YAML (configs/model/*.yaml) or its fields; vocab_size comes from the tokenizer
            lr: peak learning rate of AdamW
            weight_decay: AdamW decoupled weight decay, on weight matrices only
            betas: AdamW betas
            eps: AdamW epsilon
            warmup_steps: linear warmup steps
            max_steps: steps of the schedule (null: the Trainer's whole run)
            schedule: decay after warmup, down to min_lr_ratio * lr
            min_lr_ratio: the final learning rate as a fraction of lr
            compile: torch.compile each transformer block in place (checkpoints keep the eager parameter names)
            activation_checkpointing: recompute each block's activations in backward (less memory, ~30% slower)
            peak_flops_per_device: peak FLOP/s for MFU (null: by GPU name; none on CPU)
        """
        super().__init__()
        if isinstance(config, dict):  # Lightning's load_from_checkpoint passes the stored plain dict back
            config = TransformerConfig(**config)
        self.optimisation = Optimisation(
            lr=lr, weight_decay=weight_decay, eps=eps,
            betas=tuple(betas),  # type: ignore[arg-type]  # a YAML list; Optimisation checks there are two
            warmup_steps=warmup_steps, max_steps=max_steps, schedule=schedule, min_lr_ratio=min_lr_ratio,
        )
        self.save_hyperparameters(ignore=["config"])
        # Stored as a plain dict so checkpoints load with torch.load(weights_only=True).
        self.hparams["config"] = config.to_dict()
        self.hparams["family"] = self.family
        self.config = config
        self.model = self._build_model(config)
        self.train_metrics = self._build_metrics()
        self.val_metrics = self._build_metrics()
        self.test_metrics = self._build_metrics()
        self.val_baseline = UnigramBaseline(config.vocab_size)
        self.val_masked_baseline: UnigramBaseline | None = None  # set by objectives with a second, masked mode
        # Counted on the device where the counts arise (summed over ranks), float64 so exact below 2**53: a step
        # reads no value on the host (pretrain.models.host_sync); `tokens_seen` and `supervised_tokens` read them.
        self.register_buffer("_tokens_seen", torch.zeros((), dtype=torch.float64), persistent=False)
        # Positions the objective predicted (BERT: masked tokens; GPT: every target).
        self.register_buffer("_supervised_tokens", torch.zeros((), dtype=torch.float64), persistent=False)
        self._last_step_time: float | None = None
        self._data: PretrainingData | None = None
        self._bytes_per_token: dict[str, float | None] = {}
        # The model preset's name (configs/model/<preset>.yaml), set by the `pretrain` command and saved in every
        # checkpoint, so a fine-tuning run reports the same preset as the pretraining run it starts from.
        self.preset: str | None = None

    def attach(self, data: PretrainingData) -> None:
        """Take what this module records from its data: the tokenizer (saved into every checkpoint, so
        fine-tuning needs nothing else) and the bytes per token (bits per byte). The `pretrain` command
        calls it once both are built; in Python, call it before `trainer.fit`. Without it, checkpoints
        hold no tokenizer and no bits per byte is logged."""
        self._data = data
        self._bytes_per_token = {}

    # --- what a family defines -------------------------------------------------------------
    def _build_model(self, config: TransformerConfig) -> nn.Module:
        return family_record(self.family).build(config)

    @abstractmethod
    def _build_metrics(self) -> MetricCollection: ...

    @abstractmethod
    def _step(self, batch: dict[str, Tensor], split: str) -> Tensor:
        """Forward + loss for one batch; updates `self.metrics(split)` and returns the loss."""

    @abstractmethod
    def _epoch_values(self, split: str) -> dict[str, Tensor]:
        """Split-level values (without prefix) from the accumulated metrics."""

    @abstractmethod
    def copy_accuracy(self, tokens: Tensor) -> float:
        """In-context copying (pretrain.models.copying) of the (rows, length) random `tokens`, shown twice."""

    # --- model setup ---------------------------------------------------------------------------
    def configure_model(self) -> None:
        use_tensor_cores(self.trainer.strategy.root_device)
        if self.hparams["activation_checkpointing"] and not getattr(self, "_checkpointing_applied", False):
            # Recompute each block's activations in backward: memory O(layers) -> O(1) blocks
            # (Chen et al. 2016, arXiv:1604.06174). The wrapper keeps state_dict keys unchanged.
            apply_activation_checkpointing(self.model, check_fn=lambda m: isinstance(m, TransformerBlock))
            self._checkpointing_applied = True
        if self.hparams["compile"] and not getattr(self, "_compiled", False):
            # Per block, as torchtitan compiles its models: every path through the model (GPT's fused `lm_loss`,
            # BERT's masked-position head, validation) runs the compiled blocks, where compiling `forward` left
            # `lm_loss` eager; one block's graph serves every layer (one compilation, not n_layers). In place:
            # parameter names (and checkpoints) stay those of the eager model.
            for block in self.model.modules():
                if isinstance(block, TransformerBlock):
                    block.compile()
            self._compiled = True

    def metrics(self, split: str) -> MetricCollection:
        return {"train": self.train_metrics, "val": self.val_metrics, "test": self.test_metrics}[split]

    # --- optimisation ----------------------------------------------------------------------------
    def configure_optimizers(self) -> OptimizerLRSchedulerConfig:
        return self.optimisation.configure(self.model, lambda: self.trainer.estimated_stepping_batches,
                                           fused=fused_adamw(self._trainer))

    def configure_gradient_clipping(self, optimizer: Optimizer, gradient_clip_val: float | None = None,
                                    gradient_clip_algorithm: str | None = None) -> None:
        clip_gradients(self, optimizer, gradient_clip_val, gradient_clip_algorithm)

    # --- steps -------------------------------------------------------------------------------------
    @property
    def tokens_seen(self) -> int:
        """Tokens trained on so far, all ranks (padding left out)."""
        return int(self._tokens_seen.item())

    @tokens_seen.setter
    def tokens_seen(self, value: int) -> None:
        self._tokens_seen.fill_(value)

    @property
    def supervised_tokens(self) -> int:
        """Positions the objective predicted so far, all ranks."""
        return int(self._supervised_tokens.item())

    @supervised_tokens.setter
    def supervised_tokens(self, value: int) -> None:
        self._supervised_tokens.fill_(value)

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        with self._step_rng():
            loss = self._step(batch, "train")
        # Averaged over ranks: each rank's loss is its share of the global mean (share_of_global_mean).
        self.log("train/loss", loss, prog_bar=True, sync_dist=True)
        self.log("train/lr", self.lr_schedulers().get_last_lr()[0])  # type: ignore[union-attr]
        self._log_throughput(batch)
        return loss

    @contextlib.contextmanager
    def _step_rng(self) -> Iterator[None]:
        """Dropout draws from a generator seeded by (run seed, step, rank), forked off the global one.

        So a resumed run drops exactly the same units at every later step as an uninterrupted
        run, whatever else (sampler, collator) consumed random numbers in between, and the
        global RNG stream seen by the data pipeline does not depend on the model.
        """
        devices = [self.device.index or 0] if self.device.type == "cuda" else []
        seed = int(os.environ.get("PL_GLOBAL_SEED", 0))
        with torch.random.fork_rng(devices=devices, device_type=self.device.type):
            torch.manual_seed((seed * 1_000_003 + self.global_step) * 4099 + self.global_rank)
            yield

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        self._step(batch, "val")

    def test_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        self._step(batch, "test")

    def on_validation_epoch_end(self) -> None:
        self._log_epoch("val")
        baseline = self.val_baseline.compute()
        self.log("val/baseline_ppl", baseline["ppl"], sync_dist=False)
        if "mlm_acc" in self.val_metrics:  # the majority baseline sits next to the token accuracy BERT reports
            masked = self.val_masked_baseline  # an objective whose masked targets are not its val_baseline's
            majority = masked.compute()["majority_acc"] if masked is not None else baseline["majority_acc"]
            self.log("val/baseline_mlm_acc", majority, sync_dist=False)
            if masked is not None:
                masked.reset()
        self.val_baseline.reset()
        if self._data is not None and not getattr(self._data, "streaming", False):  # a stream's size is unknown
            # The unique tokens training reads from: epochs = train/tokens_seen / this.
            self.log("data/train_tokens", float(self._data.split_statistics("train")["tokens"]), sync_dist=False)
        tokenizer = self.tokenizer
        if tokenizer is not None:  # the special tokens to leave out come from it
            # The same tokens at every validation and on every rank (fixed seed): one value per step.
            length = min(COPY_PROBE_LENGTH, (self.config.max_positions - 3) // 2)
            tokens = random_sequences(self.config.vocab_size, tokenizer.all_special_ids, COPY_PROBE_ROWS, length)
            self.log("val/copy_acc", self.copy_accuracy(tokens.to(self.device)), sync_dist=False)

    def on_test_epoch_end(self) -> None:
        self._log_epoch("test")

    def on_train_epoch_end(self) -> None:
        self.metrics("train").reset()

    def _log_epoch(self, split: str) -> None:
        # torchmetrics already reduced over ranks in compute(): no sync_dist needed.
        values = self._epoch_values(split)
        for name, value in values.items():
            self.log(f"{split}/{name}", value, prog_bar=name in ("loss", "ppl", "mlm_acc"))
        self.metrics(split).reset()

    def bytes_per_token(self, split: str) -> float | None:
        """The attached data's UTF-8 bytes per token for this split, or None without attached data."""
        if split not in self._bytes_per_token:
            data = self._data
            self._bytes_per_token[split] = float(data.bytes_per_token(DATA_SPLIT[split])) if data is not None else None
        return self._bytes_per_token[split]

    @property
    def tokenizer(self) -> PreTrainedTokenizerBase | None:
        """The attached data's tokenizer (None without attached data)."""
        return self._data.tokenizer if self._data is not None else None

    def global_counts(self, *local: int | Tensor) -> Tensor:
        """This rank's counts summed over all ranks, in one all-reduce: (len(local),) float64 on the device,
        exact below 2**53, never read on the host here (a count may itself be a device tensor)."""
        # A Python count goes in through a fill kernel: copying it from the host would also wait for the device.
        counts = torch.stack([c.to(torch.float64) if isinstance(c, Tensor)
                              else torch.full((), c, dtype=torch.float64, device=self.device) for c in local])
        return self.trainer.strategy.reduce(counts, reduce_op="sum")

    def share_of_global_mean(self, local_mean: Tensor, local: int | Tensor, total: Tensor) -> Tensor:
        """This rank's loss such that DDP's average of the ranks' gradients is the gradient of the global mean.

        local_mean * local / (total / world_size) is this rank's sum of per-item losses over the
        average per-rank count. Plain per-rank means, averaged by DDP, would be a mean of means: an item
        on a rank with fewer items (MLM's random masking, ignored labels, a short last batch) would weigh
        more, and N processes would not train like one process with the same global batch. With equal
        counts the factor is exactly 1.
        """
        # No item anywhere (total 0 means every rank's local is 0: the loss then weighs nothing).
        scale = local * self.trainer.world_size / total.clamp(min=1)
        return local_mean * scale.to(local_mean.dtype)

    def count_supervised(self, total: Tensor) -> None:
        """Add this step's predicted positions (already summed over ranks) to train/supervised_tokens."""
        self._supervised_tokens += total
        self.log("train/supervised_tokens", self._supervised_tokens, reduce_fx="max")

    def _log_throughput(self, batch: dict[str, Tensor]) -> None:
        """train/tokens_seen (all ranks), tokens_per_sec and, where the peak is known, MFU (PaLM, arXiv:2204.02311)."""
        mask = batch.get("attention_mask")
        (tokens,) = self.global_counts(mask.sum() if mask is not None else batch["input_ids"].numel())
        self._tokens_seen += tokens
        self.log("train/tokens_seen", self._tokens_seen, reduce_fx="max")
        now = time.perf_counter()
        if self._last_step_time is not None:  # the first step after (re)start includes set-up time
            tokens_per_sec = tokens / max(now - self._last_step_time, 1e-9)
            self.log("train/tokens_per_sec", tokens_per_sec, reduce_fx="max")
            peak = self._peak_flops()
            if peak:
                seq_len = batch["input_ids"].shape[1]
                fpt = flops_per_token(self.model, self.config, seq_len, self.predicted_fraction())
                achieved = fpt * tokens_per_sec
                self.log("train/mfu", achieved / (peak * self.trainer.world_size), reduce_fx="max")
        self._last_step_time = now

    def _peak_flops(self) -> float | None:
        if self.hparams["peak_flops_per_device"] is not None:
            return float(self.hparams["peak_flops_per_device"])
        precision = str(self.trainer.precision)
        dtype = torch.bfloat16 if "bf16" in precision else torch.float16 if "16" in precision else torch.float32
        return device_peak_flops(self.device, dtype)  # dense; None on CPU: no honest peak to divide by

    def predicted_fraction(self) -> float:
        """Share of positions this objective sends through the vocabulary projection (the FLOP count's output
        term): the masking rate of the attached data for a masked LM (BERT's 15% without data), every position
        for a causal LM."""
        rate = getattr(self._data, "mlm_probability", None)
        return family_record(self.family).predicted_fraction(float(rate) if rate else MLM_PROBABILITY)

    # --- checkpoints ----------------------------------------------------------------------------------
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["pretrain_format"] = CHECKPOINT_FORMAT
        checkpoint["preset"] = self.preset
        checkpoint["tokens_seen"] = self.tokens_seen
        checkpoint["supervised_tokens"] = self.supervised_tokens
        # Torch and Python RNG (e.g. MLM masking in the main process), restored on resume;
        # numpy's state is left out so the file stays loadable with weights_only=True.
        checkpoint["rng_states"] = {k: v for k, v in _collect_rng_states().items() if k != "numpy"}
        tokenizer = self.tokenizer
        if tokenizer is not None:
            checkpoint["tokenizer_json"] = tokenizer.backend_tokenizer.to_str()
            checkpoint["tokenizer_special_tokens"] = dict(tokenizer.special_tokens_map)

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        source = getattr(self._trainer, "ckpt_path", None) if self._trainer is not None else None
        hp = checkpoint.get("hyper_parameters", {})
        family = hp.get("family")
        if family != self.family:
            raise ValueError(
                f"checkpoint {source}: it holds a {family!r} model, but this run trains {self.family!r}; "
                f"pass a {self.family} checkpoint or switch the model class"
            )
        stored = hp.get("config", {})
        diff = {k: (v, stored.get(k)) for k, v in self.config.to_dict().items() if stored.get(k) != v}
        if diff:
            details = ", ".join(f"{k}: run={a!r} checkpoint={b!r}" for k, (a, b) in diff.items())
            raise ValueError(f"checkpoint {source}: model config differs from this run's ({details})")
        self.tokens_seen = int(checkpoint.get("tokens_seen", 0))
        self.supervised_tokens = int(checkpoint.get("supervised_tokens", 0))
        if checkpoint.get("rng_states"):
            _set_rng_states(checkpoint["rng_states"])
        self._last_step_time = None

