"""Training throughput of one family, ours next to Hugging Face's: same weights, same batch, interleaved rounds.

Each model trains (forward, backward, AdamW step) on random tokens. Rounds alternate ours/HF
so that load from other processes hits both alike; the median round is reported. The HF
model is `pretrain.hf.to_hf(ours)`: same architecture, same initial weights.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from pretrain.bench.runner import LossFn, Runner
from pretrain.blocks.config import TransformerConfig
from pretrain.family import family_record
from pretrain.hf import to_hf
from pretrain.lightning.bert import bert_losses
from pretrain.lightning.peaks import device_peak_flops
from pretrain.models import flops_per_token
from pretrain.models.loss import IGNORE_INDEX

NOTES = {
    "bert": "ours projects only the ~15% masked positions onto the vocabulary (masked_positions); "
            "HF BertForPreTraining has no such option and projects all positions",
    "gpt": "ours: GptModel.lm_loss (LM head fused into torch's chunked F.linear_cross_entropy) and fused "
           "tanh-GELU; HF: GPT2LMHeadModel(labels=...), gelu_new as 5 pointwise ops",
}


@dataclass(frozen=True)
class BenchSettings:
    seq_len: int = 128
    batch_size: int = 16
    steps: int = 1  # timed training steps per model per round
    rounds: int = 10  # interleaved rounds; medians are reported
    warmup: int = 2  # untimed steps per model first
    fp32: bool = False  # on CUDA, fp32 instead of bf16 autocast
    cpu_bf16: bool = False  # on CPU, bf16 autocast
    compile: bool = False
    peak_flops: float | None = None  # device peak FLOP/s for MFU; None: Lightning's table by GPU name
    seed: int = 0

    def amp(self, device: torch.device) -> bool:
        return (device.type == "cuda" and not self.fp32) or self.cpu_bf16


@dataclass
class Row:
    family: str
    implementation: str  # ours | hf
    device: str
    dtype: str
    compiled: bool
    batch_size: int
    seq_len: int
    tokens_per_s: float  # median over rounds
    tokens_per_s_rounds: list[float]
    memory_mib: float
    memory_kind: str  # cuda_peak_allocated | cpu_saved_activations
    mfu: float | None
    ratio_ours_over_hf: float | None = None  # median over rounds of the paired ratio (same round, same load)
    note: str = ""


def random_batch(family: str, config: TransformerConfig, batch: int, seq: int, device: torch.device,
                 g: torch.Generator) -> dict[str, Tensor]:
    """Random tokens in the keys both our loss and the HF model take: MLM labels + NSP for BERT, LM labels for GPT."""
    # A branch, not a record field: the two objectives take different batches.
    if family == "gpt":
        input_ids = torch.randint(0, config.vocab_size, (batch, seq), generator=g)
        return {"input_ids": input_ids.to(device), "labels": input_ids.to(device)}
    input_ids = torch.randint(5, config.vocab_size, (batch, seq), generator=g)  # (B, T), no special-token ids
    selected = torch.rand(batch, seq, generator=g) < family_record(family).predicted_fraction()  # BERT's 15%
    labels = torch.where(selected, input_ids, torch.full_like(input_ids, IGNORE_INDEX))
    token_type_ids = (torch.arange(seq) >= seq // 2).long().expand(batch, seq).contiguous()  # two segments
    nsp = torch.randint(0, 2, (batch,), generator=g)
    return {k: v.to(device) for k, v in dict(input_ids=input_ids, attention_mask=torch.ones_like(input_ids),
                                              token_type_ids=token_type_ids, labels=labels,
                                              next_sentence_label=nsp).items()}


def _ours_bert_loss(model: nn.Module, batch: dict[str, Tensor]) -> Tensor:
    return bert_losses(model, batch).total  # the loss BertPretraining trains with


def _ours_gpt_loss(model: nn.Module, batch: dict[str, Tensor]) -> Tensor:
    # The LM head fused into torch's chunked linear_cross_entropy: no (B, T, V) logits kept.
    return model.lm_loss(batch["input_ids"], batch["labels"])


# Our training loss per family: the objectives differ, and BERT's lives in the Lightning layer, which the
# family record (a models-layer module) may not import.
_OURS_LOSS: dict[str, LossFn] = {"bert": _ours_bert_loss, "gpt": _ours_gpt_loss}


def _hf_loss(model: nn.Module, batch: dict[str, Tensor]) -> Tensor:
    return model(**batch).loss


def device_name(device: torch.device) -> str:
    return torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu ({torch.get_num_threads()} threads)"


def peak_flops(device: torch.device, dtype: torch.dtype, override: float | None) -> float | None:
    """The device's peak FLOP/s for MFU: the override, else the dense peak (pretrain.lightning.peaks; None on CPU)."""
    return override or device_peak_flops(device, dtype)


def ours_runner(family: str, config: TransformerConfig, batch_size: int, seq_len: int, device: torch.device,
                amp: bool, compile_model: bool = False, seed: int = 0) -> Runner:
    """Our model of `family` training with its own loss on a random batch (what the benchmark times, alone)."""
    torch.manual_seed(seed)
    model = family_record(family).build(config)
    batch = random_batch(family, config, batch_size, seq_len, device, torch.Generator().manual_seed(seed))
    return Runner(model, _OURS_LOSS[family], batch, device, amp, compile_model)


def bench_family(family: str, config: TransformerConfig, settings: BenchSettings, device: torch.device) -> list[Row]:
    """Rows for ours and HF's model of `family` (ours first, with the paired ratio and a note)."""
    if settings.seq_len > config.max_positions:
        raise ValueError(
            f"--seq-len {settings.seq_len} exceeds max_positions={config.max_positions} of the {family} config")
    torch.manual_seed(settings.seed)
    ours = family_record(family).build(config)
    theirs = to_hf(ours)  # same weights
    g = torch.Generator().manual_seed(settings.seed)
    batch = random_batch(family, config, settings.batch_size, settings.seq_len, device, g)
    amp = settings.amp(device)
    runners = {
        "ours": Runner(ours, _OURS_LOSS[family], batch, device, amp, settings.compile),
        "hf": Runner(theirs, _hf_loss, batch, device, amp, settings.compile),
    }
    for runner in runners.values():
        runner.steps(settings.warmup)
    times: dict[str, list[float]] = {"ours": [], "hf": []}
    for r in range(settings.rounds):
        order = ("ours", "hf") if r % 2 == 0 else ("hf", "ours")  # alternate who goes first
        for name in order:
            times[name].append(runners[name].steps(settings.steps))
    tokens = settings.batch_size * settings.seq_len * settings.steps
    # BERT's head projects only its masked positions (random_batch masks BERT's rate): count those, not every one.
    fpt = flops_per_token(ours, config, settings.seq_len, family_record(family).predicted_fraction())
    peak = peak_flops(device, torch.bfloat16 if amp else torch.float32, settings.peak_flops)
    rows = []
    for name, runner in runners.items():
        rates = [tokens / t for t in times[name]]
        median = statistics.median(rates)
        memory, kind = runner.memory_mib()
        rows.append(Row(
            family=family, implementation=name, device=device_name(device), dtype="bf16-autocast" if amp else "fp32",
            compiled=settings.compile, batch_size=settings.batch_size, seq_len=settings.seq_len,
            tokens_per_s=median, tokens_per_s_rounds=rates, memory_mib=memory, memory_kind=kind,
            mfu=fpt * median / peak if peak else None,
        ))
    rows[0].ratio_ours_over_hf = statistics.median(h / o for o, h in zip(times["ours"], times["hf"], strict=True))
    rows[0].note = NOTES[family]
    return rows
