"""A compare plan: what to pretrain, for how long, and what to fine-tune on, validated before any training.

Plans are YAML files read by jsonargparse (the suite's one config system), so
``scripts/compare.py --help`` and ``--print_config`` show every setting and any of
them can be overridden on the command line (``--pretrain.tokens 200000``).
"""

from __future__ import annotations

import json
import re
from argparse import ArgumentError
from dataclasses import dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any, Literal, get_args, get_type_hints

import yaml
from jsonargparse import ActionConfigFile, ArgumentParser

from pretrain.arms import ARMS, MISSION_ARMS, Attention, arm_record
from pretrain.blocks.config import TransformerConfig
from pretrain.cli_errors import describe_type
from pretrain.compare.planning.cores import side_by_side
from pretrain.compare.planning.datasets import resolve
from pretrain.compare.planning.source_check import check_source
from pretrain.compare.running.experiment_layout import ExperimentLayout
from pretrain.compare.running.slots import DeviceSlots, check_device_slots
from pretrain.data.sources import DataSource, DataSourceArg
from pretrain.family import FAMILIES, family_record
from pretrain.run_cli import check_strategy
from tasks.classification.head import Pooling
from tasks.registry import TASKS, task_record

# The fields with a fixed set of values are Literal types, so `--help` lists the choices; validate() checks
# them again for plans built in Python (ComparePlan(architecture=...) is not parsed by jsonargparse).
WandbMode = Literal["offline", "online", "disabled"]
Architecture = Literal["matched", "classic"]
MatchBy = Literal["tokens", "real_tokens", "flops"]
WANDB_MODES: tuple[str, ...] = get_args(WandbMode)
ARCHITECTURES: tuple[str, ...] = get_args(Architecture)
MATCH_BY: tuple[str, ...] = get_args(MatchBy)
POOLINGS: tuple[str, ...] = get_args(Pooling)
# What may differ between the two families' presets in the "matched" architecture mode: BERT's segment
# (A/B) embeddings exist only for sentence pairs; everything else about the blocks must be identical.
FAMILY_ONLY_FIELDS = ("type_vocab_size",)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
# The first comment line of an overlay plan, naming the plan it changes: "# Overlay on configs/compare/default.yaml"
OVERLAY = re.compile(r"^#\s*Overlay on (\S+?\.ya?ml)\b")


# The Args sections below are what `scripts/compare.py --help` prints for each option (jsonargparse reads them).
@dataclass
class PretrainPlan:
    """Pretraining: identical for both families except the objective.

    Same data, tokenizer, batch, sequence length, optimizer and schedule, and the same budget (tokens
    seen, or FLOPs with `match: flops`).

    Args:
        data: a name from pretrain.compare.planning.datasets.REGISTRY["pretrain"], a local file/glob, or a whole data
            source {name, config, splits, columns} (pretrain.data.sources.DataSource)
        tokens: training tokens each family sees (batch_size * seq_len * steps)
        seq_len: positions per sequence
        batch_size: sequences per optimizer step
        lr: peak learning rate of AdamW, the same for both families
        warmup_steps: linear warmup steps of the schedule
        vocab_size: size of the tokenizer trained on the pretraining data
        shared_tokenizer: one tokenizer for both families, which isolates the objective
        match: tokens: both families train the same number of steps (the same positions seen); real_tokens: the
            same real tokens seen: GPT's packed blocks are full, BERT's examples end where their text does and
            pad the rest, so a BERT-style arm trains the plan's steps divided by its measured fill (real tokens
            per position of its first copy of training examples, built once before the runs); flops: the family
            with fewer training FLOPs per token trains proportionally more steps
        nsp: BERT's next-sentence prediction; false = RoBERTa's full-sentence MLM (arXiv:1907.11692)
        dupe_factor: copies of BERT's training pairs, each with its own A/B cuts and negatives (BERT's
            create_pretraining_data.py --dupe_factor); enough that no pair repeats over the passes the plan
            makes (the built-in default reads under one pass; the standard library alone needs 10)
        seeds: one pretraining run per family per seed; every fine-tuning statistic pools them (the interval
            then covers pretraining randomness too, not only fine-tuning seeds)
        probes: fine-tune at this many evenly spaced checkpoints (1 = the final one only)
        val_check_interval: validate every this many steps: the points of the loss-vs-tokens curve
        limit_val_batches: validation batches per check (the same fixed batches every time)
        log_every_n_steps: steps between training-loss points of the curve (and tokens seen)
        trainer: a `trainer:` YAML from configs/trainer/
        bert_config: BERT's base pretrain config; the plan overrides its budgets
        gpt_config: GPT's base pretrain config; the plan overrides its budgets
        causal_share: {arm: share} for the arms that mix causal and masked steps (clm-mlm: the causal share
            from the start, default 0.5; gpt-bert: the causal share spread over the run, default 1/16)
        from_pretrained: {bert: DIR, gpt: DIR}: two local Hugging Face folders (e.g. Ettin's encoder/decoder
            pair) fine-tuned instead of pretraining; each brings its own architecture and tokenizer
    """

    data: DataSourceArg = "builtin"
    tokens: int = 1_000_000
    seq_len: int = 128
    batch_size: int = 32
    lr: float = 1e-3
    warmup_steps: int = 10
    vocab_size: int = 8192
    shared_tokenizer: bool = True
    match: MatchBy = "tokens"
    nsp: bool = True
    dupe_factor: int = 10
    seeds: list[int] = field(default_factory=lambda: [0])
    probes: int = 1
    val_check_interval: int = 50
    limit_val_batches: int = 20
    log_every_n_steps: int = 10
    trainer: str = "configs/trainer/cpu.yaml"
    bert_config: str = "configs/pretrain/bert.yaml"
    gpt_config: str = "configs/pretrain/gpt.yaml"
    causal_share: dict[str, float] = field(default_factory=dict)
    # {bert: DIR, gpt: DIR}: two local Hugging Face folders (save_pretrained / `huggingface-cli download`, e.g.
    # Ettin's encoder/decoder pair) fine-tuned instead of pretraining. Each folder brings its own architecture
    # and tokenizer, so the presets, data, budget and shared tokenizer above do not apply.
    from_pretrained: dict[str, str] | None = None

    @property
    def tokens_per_step(self) -> int:
        return self.batch_size * self.seq_len

    @property
    def probe_interval(self) -> int:
        """Steps between fine-tuned checkpoints; the run's length is a whole number of intervals."""
        return max(1, (self.tokens // self.tokens_per_step) // self.probes)

    @property
    def max_steps(self) -> int:
        return self.probe_interval * self.probes

    def arm_causal_share(self, arm: str) -> float:
        """The share of `arm`'s steps trained with causal LM: the plan's for a mixing arm, else the arm's own."""
        return self.causal_share.get(arm, arm_record(arm).causal_share)

    def arm_config(self, arm: str) -> list[str]:
        """The pretrain configs of `arm`: its family's base config, then the arm's overlay (pretrain.arms)."""
        record = arm_record(arm)
        base = getattr(self, f"{record.family}_config")
        return [base] + ([str(Path(base).parent / record.overlay)] if record.overlay else [])

    def probe_steps(self, max_steps: int | None = None) -> list[int]:
        """Steps at which a checkpoint is fine-tuned, ending with the last one, for a run of `max_steps`
        (default: the plan's; a family matched by FLOPs may train longer)."""
        interval = self.probe_interval if max_steps is None else max(1, max_steps // self.probes)
        return [interval * (i + 1) for i in range(self.probes)]


@dataclass
class FinetunePlan:
    """Fine-tuning: identical for both families; several seeds give the spread.

    Args:
        tasks: the tasks to fine-tune on (tasks.registry.TASKS)
        classification_data: a name from pretrain.compare.planning.datasets.REGISTRY[<task>], a local file
            (the train split), or a whole data source {name, config, splits, columns}, e.g. local files with
            their validation/test paths
        ner_data: as classification_data, for NER
        generation_data: as classification_data, for generation
        seeds: fine-tuning seeds of every (task, family)
        max_steps: fine-tuning steps per run
        task_steps: per-task overrides of max_steps, e.g. {generation: 500}: a task that learns slower gets
            more steps (for both families alike); each a multiple of val_check_interval, so the last step
            is validated
        batch_size: examples per optimizer step
        group_by_length: draw each training batch from examples of similar length (tasks.length_batches), in a
            random batch order; batches are padded to their longest example, so this pays for about half the
            positions on the built-in classification and NER tasks
        lrs: the learning-rate grid every group starts from, the same for every arm: each (task, arm,
            pretrained | random-init) group runs every value with the first seed on the first pretraining
            seed and keeps the best on validation; when that is the lowest or highest rate tried, the grid is
            extended one step past it (the ratio of the two rates at that edge) and the group chooses again,
            within lr_bounds; then the group's other seeds run at its rate
        lr_bounds: [lowest, highest] rate an extension may reach; a choice still on an edge there is flagged
            in the report
        controls: random-init controls per (task, arm): this many seeds (the first ones) fine-tune the same
            architecture from random weights with the same recipe and their own learning-rate search (a model
            without pretraining needs its own rate); 0 turns the control off
        patience: stop a fine-tuning run after this many validations without improvement of its monitor (the
            best checkpoint is tested either way); null = run every step
        val_check_interval: validate every this many steps; the best checkpoint is the one tested
        pretraining_spread: per task, the standard deviation of the BERT - GPT gap of its headline metric
            between single pretraining runs, as a plan with several pretraining seeds measured it (its
            results.json: tasks.<task>.pretraining_spread.gap_sd). A plan with one pretraining seed judges
            each verdict against it as well (a gap inside 1.96 of it is not called); ignored with several
            seeds, whose intervals cover pretraining themselves
        max_length: input tokens; generation sources are cut further so source + target fit GPT
        max_target_length: generation target tokens
        decoder_attention: the attention a decoder arm's classification and NER fine-tuning uses: causal, or
            bidirectional (the causal mask removed, Dukic & Snajder 2024, "Looking Right is Sometimes Right");
            null = each arm's own (gpt causal; clm-mlm and gpt-bert bidirectional); generation stays causal
        classification_pooling: the classification readout: mean pools the hidden states of both families
            the same way; native is BERT's pooled [CLS] vs GPT's last token (a readout difference that
            random-init controls show is worth ~0.19 accuracy on the built-in task by itself); null = mean in
            the matched mode, native in the classic
        trainer: a `trainer:` YAML from configs/trainer/
        configs_dir: the folder of the <task>.yaml base configs; the plan overrides their budgets
    """

    tasks: list[str] = field(default_factory=lambda: list(TASKS))
    classification_data: DataSourceArg = "builtin"
    ner_data: DataSourceArg = "builtin"
    generation_data: DataSourceArg = "builtin"
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    max_steps: int = 100
    task_steps: dict[str, int] = field(default_factory=dict)
    batch_size: int = 32
    group_by_length: bool = True
    lrs: list[float] = field(default_factory=lambda: [3e-4, 1e-3, 3e-3])
    lr_bounds: list[float] = field(default_factory=lambda: [1e-5, 3e-2])
    controls: int = 1
    patience: int | None = None
    val_check_interval: int = 50
    pretraining_spread: dict[str, float] = field(default_factory=dict)
    max_length: int = 128
    max_target_length: int = 32
    classification_pooling: Pooling | None = None
    decoder_attention: Attention | None = None
    trainer: str = "configs/trainer/cpu.yaml"
    configs_dir: str = "configs/finetune"

    def data_name(self, task: str) -> DataSourceArg:
        return getattr(self, f"{task}_data")

    def steps(self, task: str) -> int:
        """Fine-tuning steps of `task`."""
        return self.task_steps.get(task, self.max_steps)


@dataclass
class WandbPlan:
    """Weights & Biases: where every run of the plan is logged.

    Args:
        project: the W&B project
        mode: offline, online or disabled; online falls back to offline without credentials
    """

    project: str = "bert-vs-gpt"
    mode: WandbMode = "offline"


@dataclass
class LadderRung:
    """One size of a ladder (ComparePlan.sizes): a matched pair of presets under a name.

    Args:
        name: the size's name (a plain name): its runs and report go to <experiment>-<name>
        bert_model: BERT's preset at this size (a preset in model_dir or a YAML path)
        gpt_model: GPT's preset at this size
    """

    name: str
    bert_model: str
    gpt_model: str


@dataclass
class ComparePlan:
    """The comparison plan: models, pretraining, fine-tuning, logging and where results go.

    Args:
        experiment: the W&B group and the report folder name
        arms: the pretraining objectives compared (pretrain.arms.ARMS), always with bert and gpt: each is
            pretrained on the same data, budget, optimizer and schedule, on its family's preset (bert_model or
            gpt_model), then fine-tuned and controlled as they are
        bert_model: a preset in configs/model/ (file stem) or a YAML path
        gpt_model: a preset in configs/model/ (file stem) or a YAML path
        pretrain: pretraining, identical for both families except the objective
        finetune: fine-tuning, identical for both families
        wandb: Weights & Biases logging
        runs_dir: checkpoints, logs and the run ledger go to <runs_dir>/<experiment>/
        reports_dir: report.md, results.json and plots go to <reports_dir>/<experiment>/
        model_dir: the folder of the model presets
        datasets_dir: a data-set directory root: the registry's hub sets are read from local copies in the
            hub's schema at <datasets_dir>/<owner>/<name>/<config> (offline machines, the dry run); null reads
            the hub
        architecture: matched: both presets share every block setting (only the attention mask, objective
            and heads differ; checked before training); classic: each family's own layout (e.g. post-LN BERT,
            GPT-2)
        param_tolerance: max relative gap in non-embedding parameters between the families
        subprocess_runs: run each pretrain/finetune command in its own process; needed with multi-GPU
            trainers: Lightning's DDP launcher re-executes the current command once per rank, which must be
            that run, not the whole plan
        parallel_runs: independent runs (the two pretrainings, fine-tunings) side by side in this many worker
            processes; null = derived from the cores (pretrain.compare.planning.cores: min(cores, the widest stage))
        threads_per_run: threads of each in-process run; null = cores // parallel_runs
        sizes: a ladder (pretrain.compare.planning.ladder): the whole plan once per size, each with its own pair of
            presets in place of bert_model and gpt_model, then the gap between the families against pretraining
            compute; empty = one size, bert_model and gpt_model
        tokens_per_parameter: with sizes, each size pretrains this many tokens per non-embedding parameter (of
            the larger family, in whole steps) instead of pretrain.tokens; null = the same tokens at every size
        device_slots: the node's devices as slots runs take (pretrain.compare.running.slots; subprocess runs
            only): a number, or auto = every GPU this process sees; a pretraining run takes every slot (DDP), a
            fine-tuning run one, so fine-tuning fans out one run per GPU, each child seeing only its own
            (CUDA_VISIBLE_DEVICES); null = no slots (parallel_runs alone decides)
    """

    experiment: str = "default"
    arms: list[str] = field(default_factory=lambda: list(MISSION_ARMS))
    bert_model: str = "bert-micro"
    gpt_model: str = "gpt-micro"
    pretrain: PretrainPlan = field(default_factory=PretrainPlan)
    finetune: FinetunePlan = field(default_factory=FinetunePlan)
    wandb: WandbPlan = field(default_factory=WandbPlan)
    runs_dir: str = "runs"
    reports_dir: str = "reports"
    model_dir: str = "configs/model"
    datasets_dir: str | None = None
    architecture: Architecture = "matched"
    param_tolerance: float = 0.1
    subprocess_runs: bool = False
    parallel_runs: int | None = None
    threads_per_run: int | None = None
    device_slots: DeviceSlots = None
    sizes: list[LadderRung] = field(default_factory=list)
    tokens_per_parameter: float | None = None

    def classification_pooling(self) -> str:
        """The classification readout both families use (finetune.classification_pooling, resolved)."""
        chosen = self.finetune.classification_pooling
        return chosen if chosen is not None else ("mean" if self.architecture == "matched" else "native")

    def layout(self) -> ExperimentLayout:
        """The experiment's run folder and report folder."""
        return ExperimentLayout.of(self.runs_dir, self.reports_dir, self.experiment)


@dataclass(frozen=True)
class ResolvedPlan:
    """A validated plan with every name turned into something runnable."""

    plan: ComparePlan
    model_presets: dict[str, Path]  # family -> preset YAML
    pretrain_data: DataSource
    task_data: dict[str, DataSource]  # task -> source
    pretrained: dict[str, Path] = field(default_factory=dict)  # family -> Hugging Face folder (from_pretrained)

    def max_positions(self) -> int:
        """The positions both families' models hold: the presets', or the folders' (from_pretrained)."""
        return model_positions(self.model_presets, self.pretrained)


def model_positions(presets: dict[str, Path], pretrained: dict[str, Path]) -> int:
    if pretrained:
        from transformers import AutoConfig  # only plans that name folders pay for importing transformers

        return min(AutoConfig.from_pretrained(d, local_files_only=True).max_position_embeddings
                   for d in pretrained.values())
    return min(TransformerConfig.from_yaml(path).max_positions for path in presets.values())


def check_pretrained(plan: ComparePlan, root: Path) -> dict[str, Path]:
    """The folders of `pretrain.from_pretrained`, each checked to hold a model of its family's Hugging Face
    classes (Family.hf_classes), its weights and its tokenizer; {} when the plan pretrains."""
    folders = plan.pretrain.from_pretrained
    if folders is None:
        return {}
    if sorted(folders) != sorted(FAMILIES):
        raise ValueError(f"pretrain.from_pretrained={folders} must name one folder per family: {', '.join(FAMILIES)}")
    p = plan.pretrain
    if len(p.seeds) != 1 or p.probes != 1:
        raise ValueError(f"pretrain.from_pretrained gives one model per family: pretrain.seeds={p.seeds} and "
                         f"pretrain.probes={p.probes} must be one seed and 1")
    checked = {}
    for family in FAMILIES:
        name = f"pretrain.from_pretrained.{family}"
        folder = Path(folders[family]) if Path(folders[family]).is_absolute() else root / folders[family]
        config = folder / "config.json"
        if not folder.is_dir():
            raise ValueError(f"{name}={folders[family]!r}: no such folder ({folder}); give a local Hugging Face model "
                             "folder (save_pretrained or `huggingface-cli download --local-dir`)")
        if not config.is_file():
            raise ValueError(f"{name}={folders[family]!r}: no config.json in {folder}; give a folder written by "
                             "save_pretrained or `huggingface-cli download`")
        kinds = family_record(family).hf_classes
        model_type = json.loads(config.read_text(encoding="utf-8")).get("model_type")
        if model_type not in kinds:
            raise ValueError(f"{name}={folders[family]!r}: model_type={model_type!r} in {config} is not a {family} "
                             f"model; expected one of {', '.join(kinds)}")
        if not any(folder.glob("*.safetensors")) and not any(folder.glob("pytorch_model*.bin")):
            raise ValueError(f"{name}={folders[family]!r}: no weights (*.safetensors or pytorch_model.bin) in {folder}")
        if not (folder / "tokenizer.json").is_file() and not (folder / "tokenizer_config.json").is_file():
            raise ValueError(f"{name}={folders[family]!r}: no tokenizer (tokenizer.json) in {folder}; save the "
                             "tokenizer beside the model")
        checked[family] = folder.resolve()
    return checked


def check_arms(plan: ComparePlan) -> None:
    """plan.arms: known, distinct, with the mission's two; the causal shares of mixing arms only, in [0, 1]."""
    arms, p = plan.arms, plan.pretrain
    unknown = [arm for arm in arms if arm not in ARMS]
    if unknown or len(set(arms)) != len(arms) or not set(MISSION_ARMS) <= set(arms):
        raise ValueError(f"arms={arms}: expected distinct arms from {', '.join(ARMS)}, including "
                         f"{' and '.join(MISSION_ARMS)}" + (f" (unknown: {', '.join(unknown)})" if unknown else ""))
    if p.from_pretrained is not None and sorted(arms) != sorted(MISSION_ARMS):
        raise ValueError(f"arms={arms}: pretrain.from_pretrained fine-tunes two given models, the arms "
                         f"{' and '.join(MISSION_ARMS)} only")
    for arm, share in p.causal_share.items():
        if arm not in arms or not arm_record(arm).share_option:
            mixing = [a for a in arms if arm_record(a).share_option]
            raise ValueError(f"pretrain.causal_share names {arm!r}; it sets the arms that mix causal and masked steps"
                             f" ({', '.join(mixing) or 'none in this plan'})")
        if not 0.0 <= share <= 1.0:
            raise ValueError(f"pretrain.causal_share.{arm}={share}: expected a share of the steps in [0, 1]")
    attention = plan.finetune.decoder_attention
    if attention is not None and attention not in ("causal", "bidirectional"):
        raise ValueError(f"finetune.decoder_attention={attention!r}; choose causal, bidirectional or null")


def check_sizes(plan: ComparePlan) -> None:
    """A ladder's sizes: plain, distinct names, at least two of them; tokens_per_parameter only with sizes, > 0."""
    names = [rung.name for rung in plan.sizes]
    if plan.sizes and (len(names) < 2 or len(set(names)) != len(names) or not all(_NAME.match(n) for n in names)):
        raise ValueError(f"sizes={names}: a ladder needs at least two sizes with distinct plain names (letters, "
                         "digits, '_', '.', '-')")
    if plan.tokens_per_parameter is not None and (not plan.sizes or not plan.tokens_per_parameter > 0):
        raise ValueError(f"tokens_per_parameter={plan.tokens_per_parameter}: it sets a ladder's pretraining tokens "
                         "per size; give sizes and a number > 0, or null")


def model_presets(model_dir: Path) -> list[str]:
    return sorted(p.stem for p in model_dir.glob("*.yaml"))


def validate(plan: ComparePlan, root: Path = Path("."), check_data: bool = True) -> ResolvedPlan:
    """Check everything that can be checked without training; raise one ValueError naming the field.

    Runs before any tokenizer or model is built, so a typo costs seconds. `check_data` also checks that
    every data source resolves with the splits and columns its stage reads (pretrain.compare.planning.source_check).
    """
    if not _NAME.match(plan.experiment):
        raise ValueError(f"experiment={plan.experiment!r} must be a plain name (letters, digits, '_', '.', '-')")
    presets = {family: _preset(plan, family, root) for family in FAMILIES}
    pretrained = check_pretrained(plan, root)
    p, f = plan.pretrain, plan.finetune
    check_arms(plan)
    for name in ("tokens", "seq_len", "batch_size", "warmup_steps", "vocab_size", "probes", "val_check_interval",
                 "limit_val_batches", "log_every_n_steps", "dupe_factor"):
        _positive(f"pretrain.{name}", getattr(p, name), allow_zero=name == "warmup_steps")
    for name in ("max_steps", "batch_size", "max_length", "max_target_length", "val_check_interval"):
        _positive(f"finetune.{name}", getattr(f, name))
    for name in ("parallel_runs", "threads_per_run"):
        if getattr(plan, name) is not None:
            _positive(name, getattr(plan, name))
    check_device_slots(plan.device_slots)
    check_sizes(plan)
    if plan.device_slots is not None and not plan.subprocess_runs:
        raise ValueError(f"device_slots={plan.device_slots!r} needs subprocess_runs: true (a run's devices are its "
                         "child process's CUDA_VISIBLE_DEVICES); set it, or device_slots: null")
    if not p.lr > 0:
        raise ValueError(f"pretrain.lr={p.lr} must be > 0")
    if not f.lrs or any(not lr > 0 for lr in f.lrs) or len(set(f.lrs)) != len(f.lrs):
        raise ValueError(f"finetune.lrs={f.lrs} must be a non-empty list of distinct learning rates > 0")
    if len(f.lr_bounds) != 2 or not 0 < f.lr_bounds[0] < f.lr_bounds[1]:
        raise ValueError(f"finetune.lr_bounds={f.lr_bounds} must be [lowest, highest] with 0 < lowest < highest")
    outside = [lr for lr in f.lrs if not f.lr_bounds[0] <= lr <= f.lr_bounds[1]]
    if outside:
        raise ValueError(f"finetune.lrs {outside} lie outside finetune.lr_bounds={f.lr_bounds}")
    if f.patience is not None:
        _positive("finetune.patience", f.patience)
    for task, spread in f.pretraining_spread.items():
        if task not in TASKS or not spread > 0:
            raise ValueError(f"finetune.pretraining_spread.{task}={spread}: expected a task ({', '.join(TASKS)}) "
                             "and a standard deviation > 0")
    if not 0 <= f.controls <= len(f.seeds):
        raise ValueError(f"finetune.controls={f.controls} must be between 0 and the number of seeds ({len(f.seeds)})")
    if not p.seeds or len(set(p.seeds)) != len(p.seeds):
        raise ValueError(f"pretrain.seeds={p.seeds} must be a non-empty list of distinct integers")
    for name, value, choices in (("architecture", plan.architecture, ARCHITECTURES),
                                 ("pretrain.match", p.match, MATCH_BY),
                                 ("finetune.classification_pooling", plan.classification_pooling(), POOLINGS)):
        if value not in choices:
            raise ValueError(f"{name}={value!r}; choose one of {', '.join(choices)}")
    for task, steps in f.task_steps.items():
        if task not in TASKS:
            raise ValueError(f"finetune.task_steps names {task!r}; tasks are {', '.join(TASKS)}")
        _positive(f"finetune.task_steps.{task}", steps)
    for task in f.tasks:
        if f.steps(task) > f.val_check_interval and f.steps(task) % f.val_check_interval:
            raise ValueError(f"finetune: {task} runs {f.steps(task)} steps, not a multiple of val_check_interval="
                             f"{f.val_check_interval}, so its last steps would never be validated")
    if p.tokens < p.tokens_per_step:
        raise ValueError(
            f"pretrain.tokens={p.tokens} is less than one step (batch_size * seq_len = {p.tokens_per_step})"
        )
    if p.probes > p.tokens // p.tokens_per_step:
        raise ValueError(
            f"pretrain.probes={p.probes} exceeds the number of pretraining steps ({p.tokens // p.tokens_per_step})"
        )
    if p.warmup_steps >= p.max_steps:
        raise ValueError(f"pretrain.warmup_steps={p.warmup_steps} must be less than the {p.max_steps} pretraining "
                         "steps that pretrain.tokens gives")
    if not f.tasks:
        raise ValueError(f"finetune.tasks is empty; choose from {', '.join(TASKS)}")
    for task in f.tasks:
        if task not in TASKS:
            raise ValueError(f"finetune.tasks: unknown task {task!r}; valid tasks are {', '.join(TASKS)}")
    if len(set(f.tasks)) != len(f.tasks):
        raise ValueError(f"finetune.tasks={f.tasks} lists a task twice")
    if not f.seeds or len(set(f.seeds)) != len(f.seeds):
        raise ValueError(f"finetune.seeds={f.seeds} must be a non-empty list of distinct integers")
    if plan.wandb.mode not in WANDB_MODES:
        raise ValueError(f"wandb.mode={plan.wandb.mode!r}; choose one of {', '.join(WANDB_MODES)}")
    if not 0 <= plan.param_tolerance < 1:
        raise ValueError(f"param_tolerance={plan.param_tolerance} must be in [0, 1)")
    for name in ("pretrain.trainer", "pretrain.bert_config", "pretrain.gpt_config", "finetune.trainer"):
        path = getattr(p if name.startswith("pretrain") else f, name.split(".")[1])
        if not (root / path).is_file():
            raise ValueError(f"{name}={path!r}: no such config file ({root / path})")
        if name.endswith(".trainer"):
            trainer = (yaml.safe_load((root / path).read_text()) or {}).get("trainer") or {}
            check_strategy(trainer.get("strategy"), f"{name} ({path}): trainer.strategy")
            if name == "finetune.trainer" and plan.device_slots is not None and trainer.get("devices", 1) != 1:
                raise ValueError(f"finetune.trainer={path!r} has devices={trainer.get('devices')!r}; with "
                                 f"device_slots each fine-tuning run takes one slot: use a one-device trainer "
                                 "(configs/trainer/gpu.yaml)")
    for arm in plan.arms:
        for path in p.arm_config(arm)[1:]:
            if not (root / path).is_file():
                raise ValueError(f"arms: {arm} is laid over its family's config by {path}, which is missing "
                                 f"({root / path})")
    for task in f.tasks:
        config = task_record(task).config_file
        if not (root / f.configs_dir / config).is_file():
            raise ValueError(f"finetune.configs_dir={f.configs_dir!r} has no {config} ({root / f.configs_dir})")
    if any(task_record(task).generates for task in f.tasks):
        positions = model_positions(presets, pretrained)
        if positions - f.max_target_length - 1 < 8:
            raise ValueError(
                f"finetune.max_target_length={f.max_target_length} leaves no room for a source: GPT reads "
                f"source + [SEP] + target within max_positions={positions}; use at most {positions - 9}"
            )
    if plan.architecture == "matched" and not pretrained:  # folders bring their own (Ettin's pairs are matched)
        check_matched_architecture(presets)
    pretrain_data = resolve("pretrain", p.data, field="pretrain.data", root=root, datasets_dir=plan.datasets_dir)
    task_data = {t: resolve(t, f.data_name(t), field=f"finetune.{t}_data", root=root, datasets_dir=plan.datasets_dir)
                 for t in f.tasks}
    if check_data:
        if not pretrained:  # from_pretrained reads no pretraining data
            check_source("pretrain", pretrain_data, "pretrain.data")
        for task, source in task_data.items():
            check_source(task, source, f"finetune.{task}_data")
    # The readout and the runs side by side are recorded as chosen (results.json, the report), not as null.
    runs, threads = side_by_side(plan)
    plan = replace(plan, finetune=replace(f, classification_pooling=plan.classification_pooling()),
                   parallel_runs=runs, threads_per_run=threads)
    return ResolvedPlan(plan, presets, pretrain_data, task_data, pretrained)


def block_settings(preset: Path) -> dict[str, object]:
    """A preset's TransformerConfig fields, as the report shows them side by side."""
    return TransformerConfig.from_yaml(preset).to_dict()


def check_matched_architecture(presets: dict[str, Path]) -> None:
    """The matched mode's promise: the presets differ in no block setting (vocab size is set by the tokenizer)."""
    settings = {family: block_settings(path) for family, path in presets.items()}
    differing = sorted(k for k in settings["bert"] if k not in (*FAMILY_ONLY_FIELDS, "vocab_size")
                       and settings["bert"][k] != settings["gpt"].get(k))
    if differing:
        details = ", ".join(f"{k}: bert={settings['bert'][k]!r} gpt={settings['gpt'][k]!r}" for k in differing)
        raise ValueError(f"architecture='matched' but the presets differ in {details} ({presets['bert']} vs "
                         f"{presets['gpt']}); use presets with the same block settings or architecture='classic'")


def _preset(plan: ComparePlan, family: str, root: Path) -> Path:
    name = getattr(plan, f"{family}_model")
    model_dir = root / plan.model_dir
    if name.endswith((".yaml", ".yml")):
        path = Path(name) if Path(name).is_absolute() else root / name
    else:
        path = model_dir / f"{name}.yaml"
    if not path.is_file():
        choices = [c for c in model_presets(model_dir) if c.startswith(family)]
        raise ValueError(
            f"{family}_model={name!r} is not a model preset; valid {family} presets in {model_dir}: "
            f"{', '.join(choices) or '(none found)'}"
        )
    return path


def _positive(name: str, value: int, *, allow_zero: bool = False) -> None:
    if value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{name}={value} must be {'>= 0' if allow_zero else '> 0'}")


def plan_parser() -> ArgumentParser:
    """`--config plan.yaml` plus one flag per field (`--pretrain.tokens`), as LightningCLI does."""
    parser = ArgumentParser(description="Compare BERT- and GPT-style pretraining end to end.", exit_on_error=False)
    parser.add_argument("--config", action=ActionConfigFile, help="a compare plan YAML (configs/compare/*.yaml)")
    parser.add_class_arguments(ComparePlan, None)
    return parser


def config_files(args: list[str]) -> list[str]:
    """The plan files of `--config FILE` / `--config=FILE` in `args`, in order."""
    return [args[i + 1] if arg == "--config" else arg.split("=", 1)[1]
            for i, arg in enumerate(args) if (arg == "--config" and i + 1 < len(args)) or arg.startswith("--config=")]


def overlay_base(config: Path) -> str | None:
    """The plan an overlay plan changes, named by its first comment line (`# Overlay on configs/compare/default.yaml:
    ...`); None for a plan that stands alone (or a file that cannot be read: the parser reports it)."""
    try:
        lines = config.read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    first = next((line for line in lines if line.startswith("#")), "")
    match = OVERLAY.match(first)
    return match.group(1) if match else None


def check_overlays(configs: list[str]) -> None:
    """An overlay plan holds only what it changes: alone it would run the defaults of every field it leaves out,
    not the plan its comment describes. Refuse one whose base is not among the plan files before it."""
    for i, config in enumerate(configs):
        base = overlay_base(Path(config))
        if base is None:
            continue
        wanted = Path(base).parts
        if not any(Path(earlier).resolve().parts[-len(wanted):] == wanted for earlier in configs[:i]):
            raise ValueError(f"{config} is an overlay on {base}, which must come first: --config {base} "
                             f"--config {config}")


def parse_plan(args: list[str]) -> ComparePlan:
    """The plan from command-line arguments; unknown keys and wrong types fail here, naming the key, and an overlay
    plan without the plan it changes fails before anything is parsed."""
    configs = config_files(args)
    check_overlays(configs)
    parser = plan_parser()
    try:
        namespace = parser.instantiate(parser.parse_args(args))
    except ArgumentError as error:
        raise ValueError(_parse_error(error, args, configs)) from None
    return ComparePlan(**{f.name: namespace[f.name] for f in fields(ComparePlan)})


def _parse_error(error: ArgumentError, args: list[str], configs: list[str]) -> str:
    """One line for a value the parser refused, as validate() words a plan's: the field, the value and the values
    the field takes, blamed on the command line when it was typed there (the last --key wins), else on the files."""
    # jsonargparse's message spans lines ('Parser key "architecture":' / 'Expected a ... Got value: x').
    message = " ".join(line.strip() for line in str(error).splitlines() if line.strip())
    key = re.search(r'Parser key "([^"]+)"', message)
    hint = _field_type(key.group(1)) if key else None
    if key is None or hint is None:
        return f"{', '.join(configs) or 'command line'}: {message}"
    typed = [arg.split("=", 1)[1] if "=" in arg else args[i + 1] for i, arg in enumerate(args)
             if (arg == f"--{key.group(1)}" and i + 1 < len(args)) or arg.startswith(f"--{key.group(1)}=")]
    if typed:
        return f"--{key.group(1)} {typed[-1]}: expected {describe_type(hint)}"
    value = re.search(r"(?:Got|Given) value: (.*?)(?: Given value|$)", message)
    got = f"; got {value.group(1)}" if value else ""
    return f"{', '.join(configs) or 'command line'}: {key.group(1)}: expected {describe_type(hint)}{got}"


def _field_type(key: str) -> Any:
    """The type of a plan field by its dotted key (`finetune.decoder_attention`), or None for no such field."""
    hint: Any = ComparePlan
    for part in key.split("."):
        hints = get_type_hints(hint) if is_dataclass(hint) else {}
        if part not in hints:
            return None
        hint = hints[part]
    return hint
