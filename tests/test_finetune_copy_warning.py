"""`finetune` on a generation task warns in one line when the backbone's logged copy accuracy is near zero."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tasks_fixtures import generation_files, hf_backbone, source_option

import tasks.copying_check
from tasks.cli import main
from tasks.copying_check import CANNOT_COPY_BELOW, backbone_copy_accuracy, copy_warning


def _pretraining_run(tmp_path: Path, metrics: dict[str, float] | None) -> str:
    """A fake pretraining run folder: <run>/checkpoints/last.ckpt and, when given, <run>/metrics.json."""
    run = tmp_path / "pretrain-gpt"
    (run / "checkpoints").mkdir(parents=True)
    checkpoint = run / "checkpoints/last.ckpt"
    checkpoint.write_bytes(b"")  # never opened: the probe's value lives in the run's metrics.json
    if metrics is not None:
        (run / "metrics.json").write_text(json.dumps(metrics))
    return str(checkpoint)


def test_a_backbone_that_cannot_copy_gets_one_warning_line(tmp_path: Path) -> None:
    checkpoint = _pretraining_run(tmp_path, {"val/copy_acc": 0.0, "val/loss": 4.2})
    warning = copy_warning("generation", checkpoint, random_init=False)
    assert warning is not None and "\n" not in warning
    assert warning.startswith(f"warning: backbone {checkpoint} has in-context copy accuracy 0.000 (val/copy_acc")
    assert "stay near the copy baseline" in warning
    assert copy_warning("classification", checkpoint, random_init=False) is None  # copies nothing from its input
    assert copy_warning("generation", checkpoint, random_init=True) is None  # the control's weights are random


@pytest.mark.parametrize("metrics", [None, {"val/loss": 4.2}, {"val/copy_acc": CANNOT_COPY_BELOW},
                                     {"val/copy_acc": 0.6}])
def test_no_warning_when_the_probe_is_absent_or_above_the_threshold(tmp_path: Path,
                                                                     metrics: dict[str, float] | None) -> None:
    assert copy_warning("generation", _pretraining_run(tmp_path, metrics), random_init=False) is None


def test_where_the_value_is_read(tmp_path: Path) -> None:
    checkpoint = _pretraining_run(tmp_path, {"val/copy_acc": 0.25})
    assert backbone_copy_accuracy(checkpoint) == 0.25
    assert backbone_copy_accuracy("hf:" + str(tmp_path)) is None  # a Hugging Face backbone has no probe
    (tmp_path / "pretrain-gpt/metrics.json").write_text("{not json")
    assert backbone_copy_accuracy(checkpoint) is None  # a damaged file is no reason to stop the run


def test_finetune_fit_prints_the_warning_and_trains_on(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    backbone = hf_backbone("gpt", tmp_path / "gpt")
    # The tiny Hugging Face backbone has no pretraining run; give it the probe value of one that cannot copy.
    monkeypatch.setattr(tasks.copying_check, "backbone_copy_accuracy", lambda checkpoint: 0.0)
    main(["fit", "--model", "tasks.generation.module.GenerationModule", f"--model.checkpoint={backbone}",
          "--data", "tasks.generation.data.GenerationDataModule", source_option(generation_files(tmp_path)),
          "--data.batch_size=4", "--data.max_length=24", "--data.max_target_length=8", "--model.max_new_tokens=4",
          f"--trainer.default_root_dir={tmp_path / 'run'}", "--trainer.max_steps=1", "--trainer.limit_val_batches=1",
          "--trainer.enable_progress_bar=false", "--trainer.logger=false", "--trainer.enable_model_summary=false"])
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("warning: backbone")]
    assert len(lines) == 1 and "copy accuracy 0.000" in lines[0]
    assert (tmp_path / "run/checkpoints").is_dir()  # the run went on
