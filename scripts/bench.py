"""Training throughput of our BERT and GPT next to Hugging Face's, same config, same process, interleaved.

    python scripts/bench.py                      # CPU fp32, the standard config (bert-mini / gpt-mini shape)
    python scripts/bench.py --cpu-bf16           # the same with bf16 autocast on the CPU
    python scripts/bench.py --json bench.json    # also write the rows
    python scripts/bench.py --bert-config configs/model/bert-base.yaml --gpt-config configs/model/gpt2-small.yaml \
        --seq-len 1024 --batch-size 8 --device cuda --compile   # GPU: bf16 autocast, MFU

Each model trains (forward, backward, AdamW step) on random tokens. Rounds alternate ours/HF
so that load from other processes hits both alike; the median round is reported. The HF
model is `pretrain.hf.to_hf(ours)`: same architecture, same initial weights.

Memory: on CUDA the peak of torch.cuda.max_memory_allocated over a step. On CPU there is no
allocator statistic, so the column is the bytes of activations saved for backward during one
step (unique storages, parameters excluded): the dominant, model-dependent part of training memory.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from pretrain.blocks.config import TransformerConfig
from pretrain.hf import to_hf
from pretrain.models import BertModel, GptModel, flops_per_token

# Dense bf16 peak FLOP/s by device name substring (vendor datasheets), for MFU.
PEAK_FLOPS = {"H100": 989e12, "H200": 989e12, "A100": 312e12, "L4": 121e12, "A10": 125e12}
MLM_PROBABILITY = 0.15


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


def _bert_batch(config: TransformerConfig, batch: int, seq: int, device: torch.device, g: torch.Generator) -> dict:
    input_ids = torch.randint(5, config.vocab_size, (batch, seq), generator=g)
    selected = torch.rand(batch, seq, generator=g) < MLM_PROBABILITY
    labels = torch.where(selected, input_ids, torch.full_like(input_ids, -100))
    token_type_ids = (torch.arange(seq) >= seq // 2).long().expand(batch, seq).contiguous()
    nsp = torch.randint(0, 2, (batch,), generator=g)
    return {k: v.to(device) for k, v in dict(input_ids=input_ids, attention_mask=torch.ones_like(input_ids),
                                              token_type_ids=token_type_ids, labels=labels,
                                              next_sentence_label=nsp).items()}


def _gpt_batch(config: TransformerConfig, batch: int, seq: int, device: torch.device, g: torch.Generator) -> dict:
    input_ids = torch.randint(0, config.vocab_size, (batch, seq), generator=g)
    return {"input_ids": input_ids.to(device), "labels": input_ids.to(device)}


def _ours_bert_loss(model: nn.Module, b: dict) -> Tensor:
    # Only the ~15% selected positions go through the vocabulary projection (HF has no such option).
    selected = b["labels"] != -100
    out = model(b["input_ids"], b["attention_mask"], b["token_type_ids"], masked_positions=selected)
    return F.cross_entropy(out.mlm_logits.float(), b["labels"][selected]) + F.cross_entropy(
        out.nsp_logits.float(), b["next_sentence_label"])


def _hf_bert_loss(model: nn.Module, b: dict) -> Tensor:
    return model(**b).loss


def _ours_gpt_loss(model: nn.Module, b: dict) -> Tensor:
    # The LM head fused into torch's chunked linear_cross_entropy: no (B, T, V) logits kept.
    return model.lm_loss(b["input_ids"], b["labels"])


def _hf_gpt_loss(model: nn.Module, b: dict) -> Tensor:
    return model(**b).loss


@contextlib.contextmanager
def _saved_activation_bytes(model: nn.Module, total: list[int]) -> Iterator[None]:
    """Sum the unique storages autograd saves for backward, parameters excluded."""
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    seen: set[int] = set()

    def pack(t: Tensor) -> Tensor:
        storage = t.untyped_storage()
        ptr = storage.data_ptr()
        if ptr not in params and ptr not in seen:
            seen.add(ptr)
            total[0] += storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        yield


class Runner:
    """One model with its optimizer, loss and batch; `steps(n)` times n training steps."""

    def __init__(self, model: nn.Module, loss_fn: Callable[[nn.Module, dict], Tensor], batch: dict,
                 device: torch.device, amp: bool, compile_model: bool) -> None:
        self.model = model.to(device).train()
        # Compile the whole loss computation: compiling the module alone would miss methods such as
        # GptModel.lm_loss, which nn.Module.__call__ does not route through.
        loss = functools.partial(loss_fn, self.model)
        self.loss_fn = torch.compile(loss) if compile_model else loss
        self.batch = batch
        self.device = device
        self.amp = amp
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=1e-4)

    def _step(self) -> None:
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp):
            loss = self.loss_fn(self.batch)
        loss.backward()
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)

    def _sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize()

    def steps(self, n: int) -> float:
        self._sync()
        start = time.perf_counter()
        for _ in range(n):
            self._step()
        self._sync()
        return time.perf_counter() - start

    def memory_mib(self) -> tuple[float, str]:
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
            self._step()
            return torch.cuda.max_memory_allocated() / 2**20, "cuda_peak_allocated"
        total = [0]
        with _saved_activation_bytes(self.model, total):
            self._step()
        return total[0] / 2**20, "cpu_saved_activations"


def _peak_flops(device: torch.device, override: float | None) -> float | None:
    if override:
        return override
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((v for k, v in PEAK_FLOPS.items() if k in name), None)


def bench_family(family: str, config: TransformerConfig, args: argparse.Namespace, device: torch.device) -> list[Row]:
    if args.seq_len > config.max_positions:
        raise ValueError(f"--seq-len {args.seq_len} exceeds max_positions={config.max_positions} of the {family} config")
    torch.manual_seed(args.seed)
    ours = BertModel(config) if family == "bert" else GptModel(config)
    theirs = to_hf(ours)  # same weights
    g = torch.Generator().manual_seed(args.seed)
    make = _bert_batch if family == "bert" else _gpt_batch
    batch = make(config, args.batch_size, args.seq_len, device, g)
    amp = (device.type == "cuda" and not args.fp32) or args.cpu_bf16
    losses = (_ours_bert_loss, _hf_bert_loss) if family == "bert" else (_ours_gpt_loss, _hf_gpt_loss)
    runners = {
        "ours": Runner(ours, losses[0], batch, device, amp, args.compile),
        "hf": Runner(theirs, losses[1], batch, device, amp, args.compile),
    }
    for runner in runners.values():
        runner.steps(args.warmup)
    times: dict[str, list[float]] = {"ours": [], "hf": []}
    for r in range(args.rounds):
        order = ("ours", "hf") if r % 2 == 0 else ("hf", "ours")  # alternate who goes first
        for name in order:
            times[name].append(runners[name].steps(args.steps))
    tokens = args.batch_size * args.seq_len * args.steps
    fpt = flops_per_token(ours, config, args.seq_len)
    peak = _peak_flops(device, args.peak_flops)
    rows = []
    for name, runner in runners.items():
        rates = [tokens / t for t in times[name]]
        median = statistics.median(rates)
        memory, kind = runner.memory_mib()
        rows.append(Row(
            family=family, implementation=name, device=torch.cuda.get_device_name(device) if device.type == "cuda"
            else f"cpu ({torch.get_num_threads()} threads)", dtype="bf16-autocast" if amp else "fp32",
            compiled=args.compile, batch_size=args.batch_size, seq_len=args.seq_len, tokens_per_s=median,
            tokens_per_s_rounds=rates, memory_mib=memory, memory_kind=kind,
            mfu=fpt * median / peak if peak else None,
        ))
    rows[0].ratio_ours_over_hf = statistics.median(h / o for o, h in zip(times["ours"], times["hf"]))
    if family == "gpt":
        rows[0].note = ("ours: GptModel.lm_loss (LM head fused into torch's chunked F.linear_cross_entropy) and fused "
                        "tanh-GELU; HF: GPT2LMHeadModel(labels=...), gelu_new as 5 pointwise ops")
    else:
        rows[0].note = ("ours projects only the ~15% masked positions onto the vocabulary (masked_positions); "
                        "HF BertForPreTraining has no such option and projects all positions")
    return rows


def _data_section(cache_dir: str) -> dict | None:
    try:
        from pretrain.data import benchmarks
    except ImportError as error:
        print(f"--data: skipped, pretrain.data.benchmarks is not available ({error})")
        return None
    Path(cache_dir).mkdir(parents=True, exist_ok=True)
    result = {"tokenization": benchmarks.tokenization_throughput(cache_dir)}
    for family in ("bert", "gpt"):
        result[f"{family}_datamodule"] = benchmarks.datamodule_throughput(family, 50, cache_dir=cache_dir)
    return result


def _write_json(path: Path, payload: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, suffix=".tmp", delete=False) as f:
        json.dump(payload, f, indent=2)
    os.replace(f.name, path)


def _print_rows(rows: list[Row]) -> None:
    print(f"{'family':<6} {'impl':<5} {'tokens/s':>10} {'ours/HF':>8} {'memory MiB':>11} {'MFU':>6}  memory kind")
    for r in rows:
        ratio = f"{r.ratio_ours_over_hf:.2f}x" if r.ratio_ours_over_hf else ""
        mfu = f"{r.mfu:.1%}" if r.mfu is not None else "-"
        print(f"{r.family:<6} {r.implementation:<5} {r.tokens_per_s:>10,.0f} {ratio:>8} {r.memory_mib:>11.1f} "
              f"{mfu:>6}  {r.memory_kind}")
    for r in rows:
        if r.note:
            print(f"note ({r.family}): {r.note}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    root = Path(__file__).resolve().parents[1]
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bert-config", default=str(root / "configs/model/bert-mini.yaml"))
    p.add_argument("--gpt-config", default=str(root / "configs/model/gpt-mini.yaml"))
    p.add_argument("--families", default="bert,gpt", help="comma-separated: bert, gpt")
    p.add_argument("--seq-len", type=int, default=128)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--steps", type=int, default=1, help="timed training steps per model per round")
    p.add_argument("--rounds", type=int, default=10, help="interleaved rounds; medians are reported")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps per model first")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda")
    p.add_argument("--fp32", action="store_true", help="on CUDA, train in fp32 instead of bf16 autocast")
    p.add_argument("--cpu-bf16", action="store_true",
                   help="on CPU, train with bf16 autocast (fast on CPUs with AVX512-BF16 or AMX; compare with a run without)")
    p.add_argument("--compile", action="store_true", help="torch.compile both models")
    p.add_argument("--peak-flops", type=float, default=None, help="device peak FLOP/s for MFU (default: by GPU name)")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch default)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data", action="store_true", help="also time tokenization and the data modules")
    p.add_argument("--cache-dir", default=".cache")
    p.add_argument("--json", type=Path, default=None, help="write the rows here")
    args = p.parse_args(argv)
    for name in ("seq_len", "batch_size", "steps", "rounds"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    families = [f.strip() for f in args.families.split(",") if f.strip()]
    if not families or set(families) - {"bert", "gpt"}:
        p.error(f"--families {args.families!r}: choose from bert, gpt")
    args.families = families
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          ("cpu" if args.device == "auto" else args.device))
    configs = {"bert": TransformerConfig.from_yaml(args.bert_config), "gpt": TransformerConfig.from_yaml(args.gpt_config)}
    rows: list[Row] = []
    for family in args.families:
        rows += bench_family(family, configs[family], args, device)
    _print_rows(rows)
    payload: dict = {"rows": [asdict(r) for r in rows], "args": {k: str(v) for k, v in vars(args).items()}}
    if args.data:
        payload["data"] = _data_section(args.cache_dir)
        print(json.dumps(payload["data"], indent=2))
    if args.json:
        _write_json(args.json, payload)
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
