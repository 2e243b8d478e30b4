"""What a plan costs before it runs (`python scripts/compare.py --config PLAN --estimate --gpu h100 --gpus 8`).

Per stage (pretraining, the learning-rate grid, the remaining seeds, the random-init controls) and in total: runs,
training tokens, training FLOPs, and on a named accelerator the wall time, GPU-hours and memory per device.

- FLOPs are the suite's one count, `pretrain.models.flops_per_token` (through `pipeline.preset_facts`), times the
  tokens each run trains on; validation forward passes add a third of that per validated token (forward only:
  2N of the 6N, Kaplan et al. 2020, arXiv:2001.08361) to the time, not to the FLOP column.
- Time on a GPU: FLOPs / (devices per run x peak x MFU), with the peak from Lightning's table (the one the
  benchmark's MFU uses) and an assumed MFU (`--mfu`), not a measured one. Runs go `parallel_runs` at a time, or
  with `device_slots` pretraining one at a time on every device and the fine-tuning stages one run per device; a
  stage takes max(its longest run, its runs' total / runs side by side). GPU-hours count every GPU of the node as
  held for the whole stage (without slots a one-device fine-tuning run leaves the others idle but rented).
- On a CPU (`--gpu cpu`) the rate is measured: a few timed training steps of each family's preset at the plan's
  batch and sequence length (`pretrain.bench`, our model alone), with the threads a run gets
  (threads_per_run, pretrain.compare.planning.cores) and bf16 autocast when the trainer asks for bf16-mixed.
- Memory per device in pretraining, bf16-mixed with AdamW: fp32 weights (4 bytes per parameter), gradients (4) and
  the two AdamW moments (8), whole on every DDP rank; activations per layer after Korthikanti et al.
  2022 (arXiv:2205.05198, section 4.1): s*b*(34h + 5as/h) bytes at d_ff = 4h, here s*b*(18h + 4 d_ff) + 4sbh
  for the fp32 LayerNorm inputs under autocast, without the 5as^2b attention-matrix term, which SDPA's flash and
  memory-efficient kernels never store (Dao et al. 2022, arXiv:2205.14135); plus BERT's logits at its masked
  positions (bf16 logits and their fp32 copy for the loss; GPT's chunked fused LM loss keeps no (B, T, V) logits).
  With activation checkpointing per block (BasePretraining's `activation_checkpointing`): each block's fp32 input
  plus one block's activations, recomputed in backward. A plan is refused when its setting does not fit in 90% of
  the device's memory (the rest: CUDA context, NCCL buffers, allocator fragmentation; a margin, not a measurement).
"""

from __future__ import annotations

import json
import os
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import yaml

from pretrain.arms import arm_record
from pretrain.bench.training import ours_runner
from pretrain.compare.planning.cores import side_by_side
from pretrain.compare.planning.plan import ResolvedPlan
from pretrain.compare.running.pipeline import baseline_runs, count_runs, preset_config, preset_facts, pretrain_steps
from pretrain.compare.running.slots import slot_count
from pretrain.data.caching import atomic_write
from pretrain.family import FAMILIES, family_record
from pretrain.lightning.peaks import chip_peak_flops
from tasks.registry import task_record

GIB = 2**30
USABLE_MEMORY = 0.9  # of the device's memory; see the module docstring
# Accelerator names -> (Lightning's peak-FLOPs table key, memory in GiB from NVIDIA's data sheets). Lightning's table
# has no memory sizes; --gpu-memory-gib overrides these (e.g. the 40 GB A100).
ACCELERATORS: dict[str, tuple[str, float]] = {
    "h200": ("h200 sxm1", 141 * 1e9 / GIB), "h100": ("h100 sxm", 80 * 1e9 / GIB),
    "h100-pcie": ("h100 pcie", 80 * 1e9 / GIB), "h100-nvl": ("h100 nvl", 94 * 1e9 / GIB),
    "a100": ("a100", 80 * 1e9 / GIB), "l4": ("l4", 24 * 1e9 / GIB), "a10g": ("a10g", 24 * 1e9 / GIB),
}
STAGES = ("pretrain", "grid", "seeds", "controls")


@dataclass(frozen=True)
class Accelerator:
    """Where the plan would run: `count` devices of `name`; `peak_flops` per device (None on a CPU, where
    `measured_flops` gives each family's achieved FLOP/s per run instead)."""

    name: str
    count: int
    peak_flops: float | None = None
    mfu: float | None = None
    memory_gib: float | None = None
    measured_flops: dict[str, float] = field(default_factory=dict)
    threads: int | None = None  # CPU: threads per run when measured

    def rate(self, family: str, devices: int) -> float:
        """FLOP/s one run of `family` achieves on `devices` devices."""
        if self.peak_flops is None:
            return self.measured_flops[family]
        assert self.mfu is not None
        return devices * self.peak_flops * self.mfu


@dataclass(frozen=True)
class StageEstimate:
    stage: str
    runs: int
    tokens: float  # training tokens, every run of the stage together
    train_flops: float  # tokens x the suite's training FLOPs per token
    wall_s: float  # the stage's wall time (runs side by side as the plan runs them)
    gpu_hours: float | None  # wall time x every device of the node (None on a CPU)
    run_wall_s: dict[str, float] = field(default_factory=dict)  # family -> its longest run in the stage


@dataclass(frozen=True)
class MemoryEstimate:
    """Pretraining memory per device of one family, in GiB."""

    family: str
    params: int
    batch_size: int  # per device
    seq_len: int
    weights_gib: float
    gradients_gib: float
    adamw_gib: float
    activations_gib: float
    activations_checkpointed_gib: float
    total_gib: float
    total_checkpointed_gib: float
    checkpointing: bool  # what the plan's pretrain config sets
    fits: bool | None  # with the plan's setting, in USABLE_MEMORY of the device (None: memory unknown)


@dataclass(frozen=True)
class PlanEstimate:
    experiment: str
    accelerator: Accelerator
    stages: list[StageEstimate]
    total: StageEstimate
    memory: list[MemoryEstimate]
    notes: list[str]

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def accelerator(name: str, count: int, mfu: float, memory_gib: float | None = None) -> Accelerator:
    """A named accelerator from Lightning's peak table (bf16 dense) and the memory table; ValueError naming the flag."""
    if name not in ACCELERATORS:
        raise ValueError(f"--gpu {name!r} is not known; choose one of {', '.join([*ACCELERATORS, 'cpu'])}")
    if count < 1:
        raise ValueError(f"--gpus {count} must be >= 1")
    if not 0 < mfu <= 1:
        raise ValueError(f"--mfu {mfu} must be in (0, 1]")
    chip, memory = ACCELERATORS[name]
    peak = chip_peak_flops(chip, torch.bfloat16)
    assert peak is not None  # every ACCELERATORS chip has a bf16 entry
    return Accelerator(name=f"{name} ({chip})", count=count, peak_flops=peak, mfu=mfu, memory_gib=memory_gib or memory)


def measure_cpu(resolved: ResolvedPlan, root: Path, steps: int = 5, warmup: int = 2) -> Accelerator:
    """Each family's achieved training FLOP/s on this CPU: the median of `steps` timed steps (after `warmup`) of its
    preset at the plan's batch and length, with a run's threads and the trainer's precision."""
    p = resolved.plan.pretrain
    threads = side_by_side(resolved.plan)[1]
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    amp = str(_trainer(root / p.trainer).get("precision", "32")).startswith("bf16")
    facts = preset_facts(resolved)
    measured = {}
    try:
        for family in FAMILIES:
            runner = ours_runner(family, preset_config(resolved, family), p.batch_size, p.seq_len,
                                 torch.device("cpu"), amp)
            runner.steps(warmup)
            seconds = statistics.median(runner.steps(1) for _ in range(steps))
            measured[family] = facts[family]["flops_per_token"] * p.tokens_per_step / seconds
    finally:
        torch.set_num_threads(previous)
    return Accelerator(name="cpu", count=1, measured_flops=measured, threads=threads)


def estimate(resolved: ResolvedPlan, device: Accelerator, root: Path = Path(".")) -> PlanEstimate:
    """The plan's runs, tokens, FLOPs, time and pretraining memory on `device` (see the module docstring)."""
    plan, p, f = resolved.plan, resolved.plan.pretrain, resolved.plan.finetune
    notes: list[str] = []
    # On a GPU node a run uses at most its devices; a CPU trainer's `devices` are processes (cpu-ddp.yaml: 2).
    on_gpu = device.peak_flops is not None
    available = device.count if on_gpu else (os.cpu_count() or 1)
    pre_devices, fine_devices = (_devices(_trainer(root / t), available, cap=on_gpu) for t in (p.trainer, f.trainer))
    steps = pretrain_steps(resolved)
    pre_facts = preset_facts(resolved)
    runs: dict[str, list[tuple[float, float, float, str]]] = {s: [] for s in STAGES}  # tokens, flops, seconds, family
    for arm in plan.arms:  # each at its family's measured rate
        tokens = steps[arm] * p.tokens_per_step * pre_devices  # batch_size is per process
        fpt = pre_facts[arm]["flops_per_token"]
        validated = (steps[arm] // p.val_check_interval) * p.limit_val_batches * p.tokens_per_step * pre_devices
        seconds = (tokens + validated / 3) * fpt / device.rate(arm_record(arm).family, pre_devices)
        if arm_record(arm).pretrained_with is not None:  # its record is another arm's run: nothing trained, no time
            tokens, fpt, seconds = 0, 0.0, 0.0
        runs["pretrain"] += [(tokens, tokens * fpt, seconds, arm)] * len(p.seeds)
    if pre_devices > 1:
        # The plan's steps are pretrain.tokens // (batch_size * seq_len), one process's batch; every process trains
        # that many steps on its own batch_size rows (pretrain.data.datamodules: global batch = batch_size x processes).
        one_process = p.max_steps * p.tokens_per_step
        notes.append(f"pretrain.tokens={p.tokens:,} and pretrain.batch_size={p.batch_size} count one process: on "
                     f"{pre_devices} devices each run trains {p.max_steps:,} steps of {p.batch_size * pre_devices} x "
                     f"{p.seq_len} = {one_process * pre_devices:,} tokens (divide both by {pre_devices} to train "
                     f"{one_process:,} in all)")
    for task in f.tasks:
        # Positions per example at most: the input (generating: source + [SEP] + target for GPT; BERT reads no more).
        length = f.max_length + (f.max_target_length + 1 if task_record(task).generates else 0)
        task_facts = preset_facts(resolved, length)
        for arm in plan.arms:
            tokens = f.steps(task) * f.batch_size * length * fine_devices
            # The pretraining count at the fine-tuning length: it includes the vocabulary projection, which the
            # classification and NER heads skip, so for them it is an upper bound.
            fpt = task_facts[arm]["flops_per_token"]
            run = (tokens, tokens * fpt, tokens * fpt / device.rate(arm_record(arm).family, fine_devices), arm)
            # Each group's search: the pretrained model's, and the random-init control's own; extensions past an
            # edge of the grid depend on the scores and are not counted.
            runs["grid"] += [run] * (len(f.lrs) * (2 if f.controls else 1))
            runs["seeds"] += [run] * (len(p.seeds) * p.probes * len(f.seeds) - 1)  # the grid's chosen run is reused
            runs["controls"] += [run] * max(0, f.controls - 1)  # the control's chosen search run is its first seed
    assert sum(len(r) for r in runs.values()) + baseline_runs(f.tasks) == count_runs(resolved)  # + runs with no model
    if p.match == "real_tokens":
        notes.append("match: real_tokens: a BERT-style arm trains the plan's steps over the real-token share of its "
                     "examples, measured when they are built (99.3% on WikiText-2's test file grouped into articles, "
                     "512 positions: 1% more steps); counted here at the plan's steps")
    notes.append("fine-tuning time counts training steps only: validation, test and generation decoding depend on "
                 "the data's size and are not included; so do runs that stop early and the grid's extensions past "
                 "an edge (one run each)")
    # With device slots fine-tuning fans out one run per device (pretraining takes them all: one run at a time).
    # On a CPU, numbered slots are stand-ins (the dry run's); "auto" counts GPUs, of which a CPU has none.
    slots = 0 if plan.device_slots == "auto" and not on_gpu else slot_count(plan.device_slots, available)
    side = {name: (1 if name == "pretrain" else slots) if slots else side_by_side(plan)[0] for name in STAGES}
    if slots:
        notes.append(f"device_slots={plan.device_slots!r}: pretraining runs one at a time on every device (DDP), "
                     f"fine-tuning and controls {slots} at a time, one per device")
    stages = [_stage(name, runs[name], side[name], device) for name in STAGES]
    everything = [r for name in STAGES for r in runs[name]]
    total = StageEstimate("total", len(everything), sum(r[0] for r in everything), sum(r[1] for r in everything),
                          sum(s.wall_s for s in stages),
                          None if device.peak_flops is None else sum(s.gpu_hours or 0.0 for s in stages))
    memory = [_memory(resolved, family, root, device, pre_facts[family]["params"]) for family in FAMILIES]
    return PlanEstimate(plan.experiment, device, stages, total, memory, notes)


def check_fits(result: PlanEstimate, resolved: ResolvedPlan) -> None:
    """Refuse a plan whose pretraining does not fit a device, naming the setting to change."""
    p = resolved.plan.pretrain
    for m in result.memory:
        if m.fits is not False:
            continue
        usable = USABLE_MEMORY * (result.accelerator.memory_gib or 0.0)
        states = m.weights_gib + m.gradients_gib + m.adamw_gib
        per_row = (m.activations_checkpointed_gib if m.checkpointing else m.activations_gib) / m.batch_size
        largest = int((usable - states) // per_row) if usable > states else 0
        fix = f"set pretrain.batch_size to at most {largest}" if largest >= 1 else "use a smaller preset or more memory"
        if not m.checkpointing and m.total_checkpointed_gib <= usable:
            fix += (f", or turn on activation checkpointing (model.init_args.activation_checkpointing: true in "
                    f"pretrain.{m.family}_config; {m.total_checkpointed_gib:.1f} GiB)")
        needed = m.total_checkpointed_gib if m.checkpointing else m.total_gib
        raise ValueError(f"pretrain.batch_size={p.batch_size}: {m.family} needs {needed:.1f} GiB per device at seq_len "
                         f"{p.seq_len}, more than {usable:.1f} GiB usable on {result.accelerator.name}; {fix}")


def format_estimate(result: PlanEstimate) -> str:
    """The printed table: stages and total, then memory per device."""
    device = result.accelerator
    if device.peak_flops is None:
        rates = ", ".join(f"{k} {v / 1e9:.2f} GFLOP/s" for k, v in device.measured_flops.items())
        head = f"[estimate] {result.experiment} on this CPU ({device.threads} thread(s) per run; measured: {rates})"
    else:
        head = (f"[estimate] {result.experiment} on {device.count} x {device.name}: peak "
                f"{device.peak_flops / 1e12:.1f} TFLOP/s bf16 per device (Lightning's table), assumed MFU "
                f"{device.mfu:.0%}, {device.memory_gib:.1f} GiB per device")
    lines = [head, f"{'stage':<9} {'runs':>5} {'tokens':>10} {'train FLOPs':>12} {'wall time':>11} {'GPU-hours':>10}"]
    for s in [*result.stages, result.total]:
        hours = f"{s.gpu_hours:,.1f}" if s.gpu_hours is not None else "-"
        lines.append(f"{s.stage:<9} {s.runs:>5} {s.tokens:>10.3g} {s.train_flops:>12.3g} {_duration(s.wall_s):>11} "
                     f"{hours:>10}")
    lines.append("one pretraining run: " + ", ".join(f"{family} {_duration(seconds)}"
                                                   for family, seconds in result.stages[0].run_wall_s.items()))
    lines.append("memory per device, pretraining (GiB; activations at the plan's batch per device and seq_len):")
    lines.append(f"{'family':<6} {'params':>12} {'weights':>8} {'grads':>6} {'AdamW':>6} {'activ.':>7} {'total':>7}"
                 f" | {'checkpointed activ.':>19} {'total':>7} | fits")
    for m in result.memory:
        fits = "-" if m.fits is None else ("yes" if m.fits else "NO")
        setting = "checkpointing on" if m.checkpointing else "checkpointing off"
        lines.append(f"{m.family:<6} {m.params:>12,} {m.weights_gib:>8.2f} {m.gradients_gib:>6.2f} {m.adamw_gib:>6.2f} "
                     f"{m.activations_gib:>7.2f} {m.total_gib:>7.2f} | {m.activations_checkpointed_gib:>19.2f} "
                     f"{m.total_checkpointed_gib:>7.2f} | {fits} ({setting}, batch {m.batch_size} x {m.seq_len})")
    lines += [f"note: {n}" for n in result.notes]
    return "\n".join(lines)


def write_json(result: PlanEstimate, path: Path) -> None:
    text = json.dumps(result.to_dict(), indent=2)
    atomic_write(path, lambda tmp: tmp.write_text(text))


def _stage(name: str, runs: list[tuple[float, float, float, str]], parallel: int, device: Accelerator) -> StageEstimate:
    seconds = [r[2] for r in runs]
    wall = max(max(seconds, default=0.0), sum(seconds) / max(1, min(parallel, len(runs) or 1)))
    hours = None if device.peak_flops is None else wall / 3600 * device.count
    longest = {arm: max(r[2] for r in runs if r[3] == arm) for arm in dict.fromkeys(r[3] for r in runs)}
    return StageEstimate(name, len(runs), sum(r[0] for r in runs), sum(r[1] for r in runs), wall, hours, longest)


def _memory(resolved: ResolvedPlan, family: str, root: Path, device: Accelerator, params: int) -> MemoryEstimate:
    p = resolved.plan.pretrain
    config = preset_config(resolved, family)
    s, b, h, layers = p.seq_len, p.batch_size, config.d_model, config.n_layers
    # The MLP keeps its up-projection and activation outputs in bf16 (2 + 2 bytes per d_ff unit); SwiGLU keeps
    # gate, up, SiLU and product (4 x 2 bytes).
    mlp = (8 if config.activation == "swiglu" else 4) * config.d_ff
    per_layer = s * b * (18 * h + mlp) + 4 * s * b * h  # bytes; see the module docstring
    logits = family_record(family).predicted_fraction() * s * b * config.vocab_size * 6 if family == "bert" else 0.0
    embeddings = 4 * s * b * h  # the fp32 embedding output (the first block's input)
    activations = layers * per_layer + logits + embeddings
    checkpointed = layers * 4 * s * b * h + per_layer + logits + embeddings
    weights, gradients, adamw = 4 * params, 4 * params, 8 * params  # every DDP rank holds all three (FSDP is refused)
    states = weights + gradients + adamw
    checkpointing = bool((_yaml(root / getattr(p, f"{family}_config")).get("model") or {}).get("init_args", {})
                         .get("activation_checkpointing", False))
    total, total_ckpt = (states + activations) / GIB, (states + checkpointed) / GIB
    fits = None
    if device.memory_gib is not None:
        fits = (total_ckpt if checkpointing else total) <= USABLE_MEMORY * device.memory_gib
    return MemoryEstimate(family, params, b, s, weights / GIB, gradients / GIB, adamw / GIB, activations / GIB,
                          checkpointed / GIB, total, total_ckpt, checkpointing, fits)


def _yaml(path: Path) -> dict:
    return yaml.safe_load(path.read_text()) or {}


def _trainer(path: Path) -> dict:
    return _yaml(path).get("trainer") or {}


def _devices(trainer: dict, available: int, cap: bool) -> int:
    """Devices one run uses under a `trainer:` config: -1 / "auto" = all `available`; a number, at most
    `available` when `cap`."""
    devices = trainer.get("devices", 1)
    if devices in (-1, "-1", "auto") or not str(devices).isdigit():
        return available
    return min(int(devices), available) if cap else int(devices)


def _duration(seconds: float) -> str:
    minutes, s = divmod(round(seconds), 60)
    hours, m = divmod(minutes, 60)
    return f"{hours}h {m:02d}m" if hours else f"{m}m {s:02d}s"
