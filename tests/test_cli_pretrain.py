"""The `pretrain` command: every shipped config parses, a tiny fit writes CSV + checkpoints,
resume and bad checkpoints are checked before any work, W&B runs offline without credentials."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest
import torch
import yaml
from lightning_fakes import tiny_config

from pretrain.cli import main

torch.set_num_threads(1)
CONFIGS = Path(__file__).resolve().parents[1] / "configs"


@pytest.fixture(autouse=True)
def _repo_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(CONFIGS.parent)
    monkeypatch.setenv("WANDB_MODE", "offline")


@pytest.mark.parametrize(
    ("plan", "extra"),
    [("bert", None), ("gpt", None), ("gpt", "trainer/cpu.yaml"), ("bert", "trainer/gpu.yaml"),
     ("gpt", "trainer/ddp.yaml"), ("gpt", "logger/wandb.yaml"),
     ("bert", "logger/csv.yaml")],
)
def test_every_config_parses(plan: str, extra: str | None, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["fit", "--config", str(CONFIGS / "pretrain" / f"{plan}.yaml")]
    if extra is not None:
        args += ["--config", str(CONFIGS / extra)]
    with pytest.raises(SystemExit) as exit_info:
        main(args + ["--print_config"])
    assert exit_info.value.code in (0, None)
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["model"]["class_path"] == f"pretrain.lightning.{plan.capitalize()}Pretraining"
    assert printed["model"]["init_args"]["config"]["d_model"] == 256  # the mini preset, resolved
    if extra is not None:
        section = yaml.safe_load((CONFIGS / extra).read_text())["trainer"]
        for key, value in section.items():
            if not isinstance(value, (dict, list)):
                assert printed["trainer"][key] == value, key


def _tiny_args(tmp_path: Path, family: str, steps: int = 4) -> list[str]:
    model_yaml = tmp_path / f"{family}-model.yaml"
    model_yaml.write_text(yaml.safe_dump(tiny_config(family).to_dict()))
    plan = CONFIGS / "pretrain" / f"{family}.yaml"
    return [
        "--config", str(plan), "--model.init_args.config", str(model_yaml), "--model.init_args.warmup_steps=1",
        "--data=lightning_fakes.TinyDataModule", f"--data.family={family}", "--data.vocab_size=48",
        f"--trainer.max_steps={steps}", "--trainer.val_check_interval=2", "--trainer.limit_val_batches=2",
        "--trainer.log_every_n_steps=1", f"--trainer.default_root_dir={tmp_path / 'run'}",
        "--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false",
    ]


@pytest.fixture(scope="module")
def gpt_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp_path = tmp_path_factory.mktemp("gpt")
    cwd = os.getcwd()
    os.chdir(CONFIGS.parent)
    try:
        main(["fit", *_tiny_args(tmp_path, "gpt")])
    finally:
        os.chdir(cwd)
    return tmp_path


def test_fit_writes_csv_and_checkpoints(gpt_run: Path) -> None:
    run = gpt_run / "run"
    rows = list(csv.DictReader((run / "csv" / "version_0" / "metrics.csv").open()))
    keys = set(rows[0])
    assert {"train/loss", "train/lr", "train/tokens_seen", "val/loss", "val/ppl", "val/bits_per_byte",
            "val/baseline_ppl", "val/copy_acc"} <= keys
    checkpoints = {p.name for p in (run / "checkpoints").iterdir()}
    assert "last.ckpt" in checkpoints and len(checkpoints) == 3  # top-2 + last
    assert not [p for p in (run / "checkpoints").iterdir() if p.name.startswith(".")]  # no temp files left
    saved = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    assert saved["hyper_parameters"]["config"]["vocab_size"] == 48  # linked from the tokenizer
    assert saved["global_step"] == 4


def test_resume_last_continues(gpt_run: Path, tmp_path: Path) -> None:
    args = _tiny_args(gpt_run, "gpt", steps=6)
    main(["fit", *args, "--ckpt_path", "last"])
    saved = torch.load(gpt_run / "run" / "checkpoints" / "last.ckpt", weights_only=True)
    assert saved["global_step"] == 6


def test_wrong_family_checkpoint_fails_before_work(gpt_run: Path, tmp_path: Path) -> None:
    ckpt = gpt_run / "run" / "checkpoints" / "last.ckpt"
    before = ckpt.stat().st_mtime_ns
    with pytest.raises(ValueError, match=rf"{ckpt}.*'gpt'.*expected 'bert'"):
        main(["fit", *_tiny_args(tmp_path, "bert"), "--ckpt_path", str(ckpt)])
    assert ckpt.stat().st_mtime_ns == before
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_config_mismatch_names_file(gpt_run: Path, tmp_path: Path) -> None:
    ckpt = gpt_run / "run" / "checkpoints" / "last.ckpt"
    args = _tiny_args(tmp_path, "gpt") + ["--data.vocab_size=40"]  # another tokenizer size
    with pytest.raises(ValueError, match=rf"{ckpt}: model config differs.*vocab_size: run=40 checkpoint=48"):
        main(["fit", *args, "--ckpt_path", str(ckpt)])


def test_corrupted_checkpoint_names_file(gpt_run: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.ckpt"
    broken.write_bytes(b"not a checkpoint at all")
    with pytest.raises(ValueError, match="broken.ckpt cannot be read"):
        main(["validate", *_tiny_args(tmp_path, "gpt"), "--ckpt_path", str(broken)])


def test_wandb_offline_run_is_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WANDB_MODE")
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    monkeypatch.setenv("HOME", str(tmp_path))
    args = _tiny_args(tmp_path, "gpt", steps=2) + [
        "--config", str(CONFIGS / "logger" / "wandb.yaml"),
        f"--trainer.logger.init_args.save_dir={tmp_path / 'wb'}", "--trainer.logger.init_args.group=test",
    ]
    main(["fit", *args])
    assert os.environ["WANDB_MODE"] == "offline"
    runs = list((tmp_path / "wb" / "wandb").glob("offline-run-*"))
    assert len(runs) == 1
    assert list(runs[0].glob("*.wandb"))  # the run's log, for `wandb sync`
    assert (tmp_path / "run" / "csv" / "version_0" / "metrics.csv").is_file()  # CSV alongside W&B


@pytest.mark.parametrize(("flag", "cls", "described"), [
    ("--model.help", "pretrain.lightning.BertPretraining",
     ["peak learning rate of AdamW", "{cosine,linear,constant}", "add next-sentence prediction", "{pre,post}"]),
    ("--model.help", "pretrain.lightning.GptPretraining",
     ["linear warmup steps", "{gelu,gelu_tanh,relu,swiglu,geglu}"]),
    ("--data.help", "pretrain.data.BertDataModule", ["{wordpiece,bpe}", "share of tokens chosen for masked-LM"]),
    ("--data.help", "pretrain.data.GptDataModule", ["attend only within each packed document", "examples per batch"]),
])
def test_help_describes_options_and_lists_choices(flag: str, cls: str, described: list[str],
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    from pretrain.cli import main as pretrain_main

    with pytest.raises(SystemExit) as exit_info:
        pretrain_main(["fit", flag, cls])
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    assert exit_info.value.code == 0 and all(d in text for d in described), [d for d in described if d not in text]


@pytest.mark.parametrize("family", ["bert", "gpt"])
def test_data_source_short_form_is_a_path_not_a_config_file(family: str, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    """`--data.source corpus.txt` (relative or absolute) is the file's name, never its contents read as a config."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "corpus.txt").write_text("one document\nanother document\n", encoding="utf-8")
    for value in ("corpus.txt", str(tmp_path / "corpus.txt")):
        with pytest.raises(SystemExit) as exit_info:
            main(["fit", "--config", str(CONFIGS / "pretrain" / f"{family}.yaml"), "--data.source", value,
                  "--print_config"])
        assert exit_info.value.code in (0, None)
        assert yaml.safe_load(capsys.readouterr().out)["data"]["init_args"]["source"] == value


def test_help_heads_the_data_with_our_sentence_and_lists_every_class_option_and_arm_overlay(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import sys

    monkeypatch.setattr(sys, "argv", ["pretrain", "fit", "--help"])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code in (0, None)
    out = " ".join(capsys.readouterr().out.split())
    assert "The main advantage is" not in out and "The pretraining data: a subclass of pretrain.data" in out
    assert "BertDataModule: source," in out and "eval_mlm_probability" in out and "causal_share" in out
    for overlay in ("mlm.yaml", "clm-mlm.yaml", "gpt-bert.yaml"):
        assert f"configs/pretrain/{overlay}" in out


@pytest.mark.parametrize("strategy", ["fsdp", "lightning.pytorch.strategies.FSDPStrategy"])
def test_fsdp_is_refused_in_one_line_before_anything_is_built(strategy: str) -> None:
    args = ["fit", "--config", str(CONFIGS / "pretrain" / "gpt.yaml"), "--trainer.strategy", strategy]
    with pytest.raises(ValueError, match=r"^trainer.strategy='(fsdp|FSDPStrategy)' is refused: .*configs/trainer/ddp"):
        main(args)
