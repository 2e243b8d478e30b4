"""One W&B run per command (finished before the next), its flat config, the run folder's files,
and one-line errors on the command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch
import yaml
from lightning_fakes import tiny_config
from tasks_fixtures import classification_files, hf_backbone, source_option
from wandb_offline import offline_runs

from pretrain.cli import main as pretrain_main
from pretrain.cli_errors import DEBUG_ENV_VAR
from pretrain.run_config import RUN_CONFIG_KEYS
from tasks.cli import main as finetune_main

torch.set_num_threads(1)
REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "configs"


@pytest.fixture(autouse=True)
def _repo_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    monkeypatch.setenv("WANDB_MODE", "offline")
    for name in ("WANDB_NAME", "WANDB_RUN_GROUP", "WANDB_TAGS", "WANDB_SWEEP_ID", "PRETRAIN_TRIAL_DIR"):
        monkeypatch.delenv(name, raising=False)


def _pretrain_args(tmp_path: Path, family: str, run: str, wandb_dir: Path | None) -> list[str]:
    model_yaml = tmp_path / f"{family}-tiny.yaml"
    model_yaml.write_text(yaml.safe_dump(tiny_config(family).to_dict()))
    args = [
        "fit", "--config", str(CONFIGS / "pretrain" / f"{family}.yaml"), "--model.init_args.config", str(model_yaml),
        "--model.init_args.warmup_steps=1", "--data=lightning_fakes.TinyDataModule", f"--data.family={family}",
        "--data.vocab_size=48", "--trainer.max_steps=2", "--trainer.val_check_interval=2",
        "--trainer.limit_val_batches=1", f"--trainer.default_root_dir={tmp_path / run}", "--seed_everything=5",
        "--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false",
    ]
    if wandb_dir is not None:
        args += ["--config", str(CONFIGS / "logger" / "wandb.yaml"), f"--trainer.logger.init_args.save_dir={wandb_dir}",
                 "--trainer.logger.init_args.group=exp1"]
    return args


def test_two_in_process_runs_give_two_finished_wandb_runs(tmp_path: Path) -> None:
    wandb_dir = tmp_path / "wb"
    pretrain_main(_pretrain_args(tmp_path, "bert", "pretrain-bert", wandb_dir))
    pretrain_main(_pretrain_args(tmp_path, "gpt", "pretrain-gpt", wandb_dir))
    import wandb

    assert wandb.run is None  # finished when the command ended
    wandb.teardown()  # the service process writes the offline log; it has flushed once it has stopped
    # By name: run folders sort by their start second, and both runs can start within one second.
    runs = sorted(offline_runs(wandb_dir), key=lambda r: r.name)
    assert [r.name for r in runs] == ["pretrain-bert", "pretrain-gpt"]
    for run, family in zip(runs, ("bert", "gpt"), strict=True):
        assert (run.group, run.job_type) == ("exp1", "pretrain")
        assert set(run.tags) == {family, "seed5"}
        assert set(RUN_CONFIG_KEYS) <= set(run.config)
        assert run.config["family"] == family and run.config["preset"] == f"{family}-tiny"
        assert run.config["d_model"] == 32 and run.config["n_layers"] == 2 and run.config["seed"] == 5
        assert run.config["train_steps"] == 2 and run.config["params"] > run.config["non_embedding_params"] > 0
        assert run.config["lr"] == 1e-3 and run.config["schedule"] == "cosine"
        assert "config" not in run.config  # no JSON string: every key is filterable
    # Each run's own folder holds its resolved config and final metrics; nothing shared is written.
    for family in ("bert", "gpt"):
        saved = yaml.safe_load((tmp_path / f"pretrain-{family}" / "config.yaml").read_text())
        assert saved["model"]["class_path"].endswith(f"{family.capitalize()}Pretraining")
        assert "val/loss" in json.loads((tmp_path / f"pretrain-{family}" / "metrics.json").read_text())
        hparams = yaml.safe_load((tmp_path / f"pretrain-{family}" / "csv" / "version_0" / "hparams.yaml").read_text())
        assert set(RUN_CONFIG_KEYS) <= set(hparams) and hparams["family"] == family
    assert not (wandb_dir / "config.yaml").exists()


def test_finetune_run_config_has_task_seed_data_and_checkpoint(tmp_path: Path) -> None:
    checkpoint = hf_backbone("bert", tmp_path / "bert")
    files = classification_files(tmp_path)
    run_dir = tmp_path / "ft-run"
    # The console script does `sys.exit(main())`: None is exit status 0 (a returned CLI object was status 1).
    assert finetune_main([
        "fit", "--model", "tasks.classification.module.ClassificationModule", f"--model.checkpoint={checkpoint}",
        "--data", "tasks.classification.data.ClassificationDataModule",
        source_option(files), "--data.batch_size=4",
        "--data.max_length=24", f"--trainer.default_root_dir={run_dir}", "--trainer.max_steps=2",
        "--trainer.limit_val_batches=1", "--trainer.enable_progress_bar=false", "--seed_everything=7",
        "--test_after_fit=true", "--trainer.logger=lightning.pytorch.loggers.WandbLogger",
        f"--trainer.logger.save_dir={tmp_path / 'wb'}",
    ]) is None
    import wandb

    wandb.teardown()  # the service process writes the offline log; it has flushed once it has stopped
    (run,) = offline_runs(tmp_path / "wb")
    assert (run.name, run.job_type) == ("ft-run", "finetune")
    assert set(run.tags) == {"bert", "classification", "seed7"}
    config = run.config
    assert (config["task"], config["seed"], config["family"]) == ("classification", 7, "bert")
    assert config["pretrain_checkpoint"] == checkpoint and config["data_source"].endswith("train.tsv")
    assert config["batch_size"] == 4 and config["seq_len"] == 24 and config["tokens_budget"] == 2 * 4 * 24
    # Results land in the configured run folder, not in the logger's save_dir.
    assert json.loads((run_dir / "results.json").read_text())["seed"] == 7
    assert (run_dir / "config.yaml").is_file()
    assert list((run_dir / "checkpoints").glob("*.ckpt"))  # not under the W&B save_dir


def _command_line(monkeypatch: pytest.MonkeyPatch, prog: str, argv: list[str]) -> None:
    monkeypatch.setattr(sys, "argv", [prog, *argv])


@pytest.mark.parametrize(("prog", "argv", "expected"), [
    ("finetune", ["fit", "--config", "configs/finetune/classification.yaml", "--model.init_args.lr=-1"],
     "model.lr=-1.0 must be > 0"),
    ("finetune", ["fit", "--config", "configs/finetune/classification.yaml"], "model.checkpoint is empty"),
    ("pretrain",
     ["fit", "--config", "configs/pretrain/gpt.yaml", "--model.init_args.config", "configs/model/nope.yaml"],
     "nope.yaml"),
    ("pretrain", ["fit", "--config", "configs/pretrain/gpt.yaml", "--data.init_args.max_length=256"],
     "data.max_length=256 exceeds the model's max_positions=128"),
])
def test_config_errors_are_one_line(prog: str, argv: list[str], expected: str, monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    monkeypatch.setenv("PRETRAIN_CACHE_DIR", str(tmp_path / "cache"))
    _command_line(monkeypatch, prog, argv)
    main = pretrain_main if prog == "pretrain" else finetune_main
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"{prog}: error: ") and expected in err[0], err
    assert DEBUG_ENV_VAR in err[0]


def test_max_length_is_checked_before_data_preparation(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The check fires before the data module builds a corpus or trains a tokenizer (nothing cached)."""
    cache = tmp_path / "cache"
    with pytest.raises(ValueError, match="exceeds the model's max_positions"):
        pretrain_main(["fit", "--config", "configs/pretrain/gpt.yaml", "--data.init_args.max_length=256",
                       f"--data.init_args.cache_dir={cache}"])
    assert not cache.exists() or not any(cache.iterdir())


def test_debug_env_var_shows_the_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DEBUG_ENV_VAR, "1")
    _command_line(monkeypatch, "finetune", ["fit", "--config", "configs/finetune/classification.yaml",
                                            "--model.init_args.lr=-1"])
    with pytest.raises(ValueError, match="must be > 0"):
        finetune_main()


def test_help_names_the_debug_switch_and_predict_is_not_offered(monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    _command_line(monkeypatch, "pretrain", ["fit", "--help"])
    with pytest.raises(SystemExit) as exit_info:
        pretrain_main()
    assert exit_info.value.code == 0 and DEBUG_ENV_VAR in capsys.readouterr().out
    _command_line(monkeypatch, "pretrain", ["predict", "--config", "configs/pretrain/gpt.yaml"])
    with pytest.raises(SystemExit) as exit_info:
        pretrain_main()
    assert exit_info.value.code == 2 and "predict" in capsys.readouterr().err


def test_experiment_summary_and_baselines_are_their_own_runs(tmp_path: Path) -> None:
    from dataclasses import asdict

    from pretrain.compare.planning.plan import ComparePlan
    from pretrain.compare.reporting.results import aggregate, environment
    from pretrain.compare.reporting.wandb_summary import log_summary
    from pretrain.compare.running.run_identity import RunIdentity
    from pretrain.compare.schema import RunRecord

    plan = asdict(ComparePlan(experiment="exp1"))
    plan["finetune"]["tasks"] = ["classification"]
    baseline = RunRecord("baseline-classification", "done", RunIdentity.for_task("baseline", "classification"), 0.1,
                         result={"baseline/majority_acc": 0.25})
    log_summary(aggregate(plan, [baseline], environment()), "bert-vs-gpt", "exp1", "offline", tmp_path)
    import wandb

    wandb.teardown()
    runs = {r.name: r for r in offline_runs(tmp_path)}
    assert set(runs) == {"exp1-summary", "baseline-classification"}
    assert runs["exp1-summary"].job_type == "summary" and runs["baseline-classification"].job_type == "baseline"
    assert runs["baseline-classification"].config["task"] == "classification"
    assert all(r.group == "exp1" for r in runs.values())


def test_finetune_run_config_matches_its_pretraining_runs(tmp_path: Path) -> None:
    """A dashboard groups a fine-tune with the pretraining run it started from: every key both stages
    describe (the backbone's preset, tokenizer and size) has the same value in both."""
    pretrain_main(_pretrain_args(tmp_path, "gpt", "pretrain-gpt", None))
    checkpoint = tmp_path / "pretrain-gpt" / "checkpoints" / "last.ckpt"
    finetune_main([
        "fit", "--model", "tasks.classification.module.ClassificationModule", f"--model.checkpoint={checkpoint}",
        "--data", "tasks.classification.data.ClassificationDataModule", source_option(classification_files(tmp_path)),
        "--data.batch_size=4", "--data.max_length=24", f"--trainer.default_root_dir={tmp_path / 'ft'}",
        "--trainer.max_steps=1", "--trainer.limit_val_batches=1", "--trainer.enable_progress_bar=false",
        "--trainer.logger=false",
    ])
    pretrained, finetuned = (yaml.safe_load((tmp_path / run / "csv" / "version_0" / "hparams.yaml").read_text())
                             for run in ("pretrain-gpt", "ft"))
    shared = ("family", "preset", "tokenizer", "params", "non_embedding_params", "d_model", "n_layers", "n_heads",
              "max_positions", "vocab_size")
    assert {k: finetuned[k] for k in shared} == {k: pretrained[k] for k in shared}
    assert pretrained["preset"] == "gpt-tiny" and pretrained["tokenizer"] is not None
