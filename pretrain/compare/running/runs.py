"""One pretraining or fine-tuning run of a plan: the CLI arguments it gets and what is read back.

Runs go through the suite's own commands in-process (`pretrain.cli.run`, `tasks.cli.run`),
so a compare run is exactly what a user gets typing those commands. Every arm gets the same
arguments except its configs (the model/data classes, pretrain.arms), its options and its family's
preset: same data, tokenizer, batch, sequence length, steps, optimizer and schedule.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from pretrain.arms import Attention, arm_record
from pretrain.checkpoint import load_backbone
from pretrain.compare.planning.cores import preparation_processes
from pretrain.compare.planning.plan import ResolvedPlan
from pretrain.compare.running.slots import child_environment
from pretrain.compare.running.stopping import child_process
from pretrain.compare.schema import AttentionExample, ModelFacts
from pretrain.family import family_record
from pretrain.models import count_parameters, flops_per_token
from pretrain.run_layout import RunLayout
from pretrain.run_record import run_data_option
from tasks.record import FinetuneOptions
from tasks.registry import task_record

Cli = Callable[[list[str]], object]


def pretrain_args(resolved: ResolvedPlan, arm: str, seed: int, max_steps: int, run_dir: Path) -> list[str]:
    """`max_steps` is the arm's own length (plan.pretrain.max_steps, or more when matching FLOPs);
    checkpoints for fine-tuning are saved every `max_steps // probes` steps."""
    p = resolved.plan.pretrain
    data = resolved.pretrain_data
    record = arm_record(arm)
    family = record.family
    probe_interval = p.probe_steps(max_steps)[0]
    args = [
        # --ckpt_path last: a re-run continues an interrupted pretraining (a fresh start when there is none).
        "fit", *(a for config in p.arm_config(arm) for a in ("--config", config)), "--config", p.trainer,
        "--seed_everything", str(seed),
        "--ckpt_path", "last",
        "--trainer.max_steps", str(max_steps), "--trainer.max_epochs", "-1",
        "--trainer.val_check_interval", str(min(p.val_check_interval, max_steps)),
        "--trainer.check_val_every_n_epoch", "null", "--trainer.limit_val_batches", str(p.limit_val_batches),
        "--trainer.log_every_n_steps", str(min(p.log_every_n_steps, probe_interval)),
        "--trainer.default_root_dir", str(run_dir), "--trainer.enable_progress_bar", "false",
        "--trainer.callbacks+=lightning.pytorch.callbacks.ModelCheckpoint",
        "--trainer.callbacks.every_n_train_steps", str(probe_interval),
        "--trainer.callbacks.save_top_k", "-1", "--trainer.callbacks.filename",
        RunLayout.step_checkpoint_filename(RunLayout.PROBE_CHECKPOINTS),
        "--model.init_args.config", str(resolved.model_presets[family]),
        "--model.init_args.lr", str(p.lr), "--model.init_args.warmup_steps", str(p.warmup_steps),
        "--model.init_args.max_steps", str(max_steps),
        "--data.init_args.source", data.cli_value(),
        # One shared tokenizer is BERT's WordPiece for both families; otherwise each family its own.
        "--data.init_args.tokenizer_kind", family_record("bert" if p.shared_tokenizer else family).tokenizer_kind,
        "--data.init_args.vocab_size", str(p.vocab_size), "--data.init_args.max_length", str(p.seq_len),
        # The data seed is the pretraining seed: a second pretraining seed draws its own data order, NSP pairs,
        # masks and GPT block cuts as well as its own initialisation, so the spread over pretraining seeds is
        # the whole pretraining variance (the tokenizer depends on the text alone and stays shared).
        "--data.init_args.batch_size", str(p.batch_size), "--data.init_args.seed", str(seed),
    ]
    if record.record.nsp:
        nsp = str(p.nsp and record.nsp).lower()
        args += ["--model.init_args.nsp", nsp, "--data.init_args.nsp", nsp,
                 "--data.init_args.dupe_factor", str(p.dupe_factor)]
    if record.mlm_probability is not None:
        args += ["--data.init_args.mlm_probability", str(record.mlm_probability)]
    if (processes := preparation_processes(resolved.plan)) > 1:
        args += ["--data.init_args.num_proc", str(processes)]
    if record.share_option:
        args += ["--model.init_args.causal_share", str(p.arm_causal_share(arm))]
    return args + logger_args(resolved, [arm, "pretrain"], run_dir)


def finetune_args(
    resolved: ResolvedPlan, arm: str, task: str, checkpoint: Path, seed: int, lr: float, random_init: bool,
    run_dir: Path, results: Path,
) -> list[str]:
    f = resolved.plan.finetune
    family = arm_record(arm).family
    data = resolved.task_data[task]
    record = task_record(task)
    args = [
        "fit", "--config", str(Path(f.configs_dir) / record.config_file), "--config", f.trainer,
        "--seed_everything", str(seed), "--test_after_fit", "true", "--results_file", str(results),
        "--trainer.max_steps", str(f.steps(task)), "--trainer.max_epochs", "-1",
        "--trainer.val_check_interval", str(min(f.val_check_interval, f.steps(task))),
        "--trainer.check_val_every_n_epoch", "null", "--trainer.enable_progress_bar", "false",
        "--trainer.default_root_dir", str(run_dir),
        "--model.init_args.checkpoint", str(checkpoint), "--model.init_args.family", family,
        "--model.init_args.lr", str(lr), "--model.init_args.random_init", str(random_init).lower(),
        "--data.init_args.batch_size", str(f.batch_size),
        "--data.init_args.group_by_length", str(f.group_by_length).lower(),
        "--data.init_args.max_length", str(_source_length(resolved, task)),
        "--data.init_args.source", data.cli_value(),  # the plan's DataSource, unchanged
    ]
    args += record.finetune_args(FinetuneOptions(resolved.plan.classification_pooling(), f.max_target_length,
                                                 f.batch_size))
    if f.patience is not None:
        args += early_stopping_args(task, f.patience)
    if arm_record(arm).record.decoder_only and finetune_attention(resolved, arm, task) == "bidirectional":
        args += ["--model.init_args.decoder_attention", "bidirectional"]
    return args + logger_args(resolved, [arm, task, "random-init" if random_init else "pretrained"], run_dir)


def early_stopping_args(task: str, patience: int) -> list[str]:
    """Stop a fine-tuning run after `patience` validations without improvement of the task's headline metric (its
    checkpoint monitor); the best checkpoint is tested either way. A run that has converged stops paying for steps."""
    primary = task_record(task).primary
    return ["--trainer.callbacks+=lightning.pytorch.callbacks.EarlyStopping",
            "--trainer.callbacks.monitor", primary.key.replace("test/", "val/", 1),
            "--trainer.callbacks.mode", "max" if primary.higher_is_better else "min",
            "--trainer.callbacks.patience", str(patience)]


def finetune_attention(resolved: ResolvedPlan, arm: str, task: str) -> Attention:
    """The attention `arm` is fine-tuned on `task` with: an encoder's is bidirectional, generation decodes
    causally; otherwise the plan's finetune.decoder_attention, else the arm's own."""
    record = arm_record(arm)
    if not record.record.decoder_only:
        return "bidirectional"
    if task_record(task).generates:
        return "causal"
    return resolved.plan.finetune.decoder_attention or record.finetune_attention


def _source_length(resolved: ResolvedPlan, task: str) -> int:
    """The input length, the same for both families. GPT reads an example of a generating task as source +
    [SEP] + target in one sequence, so there the source gets what the target and separator leave of the
    smaller model's positions."""
    f = resolved.plan.finetune
    if not task_record(task).generates:
        return f.max_length
    return min(f.max_length, resolved.max_positions() - f.max_target_length - 1)


def logger_args(resolved: ResolvedPlan, tags: list[str], run_dir: Path) -> list[str]:
    """W&B: every run of the experiment in one group, named by its run id (its folder's name); none when
    disabled. The command adds job type and family/task/seed tags, and finishes its run (pretrain.run_cli)."""
    plan = resolved.plan
    if plan.wandb.mode == "disabled":
        return ["--trainer.logger", "false"]
    return [
        "--trainer.logger", "lightning.pytorch.loggers.WandbLogger",
        "--trainer.logger.project", plan.wandb.project, "--trainer.logger.group", plan.experiment,
        "--trainer.logger.name", run_dir.name, "--trainer.logger.save_dir", str(run_dir),
        "--trainer.logger.tags", json.dumps(tags), "--trainer.logger.offline",
        str(plan.wandb.mode == "offline").lower(),
    ]


def read_metrics_csv(run_dir: Path) -> list[dict[str, float]]:
    """All rows of the newest CSV log the pretrain command wrote under `run_dir` (csv/version_N)."""
    layout = RunLayout(run_dir)
    logs = layout.metrics_csvs()
    if not logs:
        raise ValueError(f"no CSV metrics log under {layout.csv_dir}: the run logged nothing")
    with logs[-1].open() as f:
        return [{k: float(v) for k, v in row.items() if v not in ("", None)} for row in csv.DictReader(f)]


# Two counts of "tokens seen at step N", for two kinds of step. A logged row's `step` is the number of optimizer
# updates before the batch that logged it, so by the time it is logged that batch is seen too: N + 1 batches. A
# checkpoint named step=N is saved after N updates: N batches.


def tokens_after_logged_step(step: int, tokens_per_step: int) -> int:
    """Tokens seen once the batch of the row logged at `step` is trained on (no logged count to read)."""
    return (step + 1) * tokens_per_step


def tokens_at_checkpoint(points: list[dict[str, float]], step: int, tokens_per_step: int) -> float:
    """Tokens seen when the checkpoint of `step` was saved: the most logged at rows up to `step`, else N batches."""
    logged = [pt["train/tokens_seen"] for pt in points if pt["step"] <= step and "train/tokens_seen" in pt]
    return max(logged) if logged else float(step * tokens_per_step)


def curve(rows: list[dict[str, float]], tokens_per_step: int) -> list[dict[str, float]]:
    """Rows merged per step, each with the tokens seen by then (logged, else `tokens_after_logged_step`)."""
    by_step: dict[int, dict[str, float]] = {}
    for row in rows:
        if "step" in row:
            by_step.setdefault(int(row["step"]), {}).update(row)
    seen = 0.0
    points = []
    for step in sorted(by_step):
        point = by_step[step]
        seen = point.get("train/tokens_seen", max(seen, tokens_after_logged_step(step, tokens_per_step)))
        points.append({**point, "step": step, "tokens": seen})
    return points


def final_metrics(points: list[dict[str, float]], prefix: str = "val/") -> dict[str, float]:
    """The last logged value of every `prefix` metric."""
    last: dict[str, float] = {}
    for point in points:
        last.update({k: v for k, v in point.items() if k.startswith(prefix)})
    return last


def probe_checkpoints(run_dir: Path, steps: list[int]) -> dict[int, Path]:
    layout = RunLayout(run_dir)
    found = {}
    for step in steps:
        matches = layout.checkpoints_at_step(RunLayout.PROBE_CHECKPOINTS, step)
        if not matches:
            raise ValueError(f"no checkpoint for step {step} in {layout.checkpoints_dir}")
        found[step] = matches[-1]
    return found


def model_facts(checkpoint: Path, preset: Path, seq_len: int, output_fraction: float) -> ModelFacts:
    """Sizes and training FLOPs per token; `output_fraction` is the share of positions that go through the
    vocabulary projection (BERT: the masked ones only; GPT: all)."""
    backbone = load_backbone(checkpoint)
    return ModelFacts(
        preset=preset.stem,
        params=count_parameters(backbone.model),
        non_embedding_params=count_parameters(backbone.model, exclude_embeddings=True),
        flops_per_token=flops_per_token(backbone.model, backbone.config, seq_len, output_fraction),
        vocab_size=backbone.config.vocab_size,
        block_settings=backbone.config.to_dict(),
    )


def predicted_fraction(arm: str, run_dir: Path, causal_share: float | None = None) -> float:
    """The share of positions a pretraining run predicted, at the masking rate the run's data used (and, for an arm
    mixing causal and masked steps, at the plan's causal share; default the arm's)."""
    rate = run_data_option(run_dir, "mlm_probability")
    return arm_record(arm).predicted_fraction(causal_share, float(rate) if rate is not None else None)


@torch.no_grad()
def attention_example(checkpoint: Path, text: str, max_tokens: int = 24) -> AttentionExample:
    """Last layer's attention, averaged over heads, for one text: what the report's heat map shows."""
    backbone = load_backbone(checkpoint)
    encoded = backbone.tokenizer(text, truncation=True, max_length=max_tokens, return_tensors="pt")
    output = backbone.model(encoded["input_ids"], encoded["attention_mask"], need_weights=True)
    weights = output.attentions[-1][0].mean(dim=0)  # (T, T)
    tokens = backbone.tokenizer.convert_ids_to_tokens(encoded["input_ids"][0].tolist())
    return AttentionExample(tokens, [[round(float(w), 4) for w in row] for row in weights])


def call(cli: Cli, args: list[str]) -> object:
    """Run a command; returns what it returns (a subprocess: None). Its argument errors exit (SystemExit),
    which becomes a recorded failure."""
    try:
        return cli(args)
    except SystemExit as exit_:
        if exit_.code not in (0, None):
            raise RuntimeError(f"command exited with status {exit_.code}: {' '.join(args[:1])} ...") from None
        return None


def subprocess_cli(module: str) -> Cli:
    """A CLI that runs `python -m <module> ARGS` in a child process (see ComparePlan.subprocess_runs); its
    output goes to the run log in the run's folder (`--trainer.default_root_dir`), as in-process runs' does."""

    def run(args: list[str]) -> None:
        command = [sys.executable, "-m", module, *args]
        env = child_environment()  # only the run's device slots visible, when it holds some
        if "--trainer.default_root_dir" not in args:
            code, where = _child(command, env=env), ""
        else:
            layout = RunLayout(Path(args[args.index("--trainer.default_root_dir") + 1]))
            layout.root.mkdir(parents=True, exist_ok=True)
            with open(layout.run_log, "a") as log:
                code = _child(command, stdout=log, stderr=subprocess.STDOUT, env=env)
            where = f"; its output is in {layout.run_log}"
        if code:
            raise RuntimeError(f"python -m {module} {args[0]} ... exited with status {code}{where}")

    return run


def _child(command: list[str], **kwargs: Any) -> int:
    """Run `command` to its end, as a child process that a stop of the plan passes the signal on to."""
    with subprocess.Popen(command, **kwargs) as child, child_process(child.pid):
        return child.wait()
