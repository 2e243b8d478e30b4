"""The run folder's and the experiment's layouts: every file where the commands and the comparison look for it."""

from pathlib import Path

from lightning.pytorch.callbacks import ModelCheckpoint

from pretrain.compare.running.experiment_layout import ExperimentLayout
from pretrain.run_layout import LAST_CHECKPOINT, RunLayout, last_checkpoints_in


def test_run_layout_names_every_file_of_a_run_folder(tmp_path: Path) -> None:
    run = RunLayout(tmp_path / "bert")
    assert run.config_file == tmp_path / "bert/config.yaml" and run.metrics_file == tmp_path / "bert/metrics.json"
    assert run.csv_dir == tmp_path / "bert/csv" and run.run_log == tmp_path / "bert/run.log"
    assert run.last_checkpoint == tmp_path / "bert/checkpoints/last.ckpt"
    assert run.results_file == tmp_path / "bert/results.json"
    assert run.predictions_file(".conll") == tmp_path / "bert/predictions.conll"
    assert RunLayout(str(tmp_path)).root == tmp_path  # a configured path string is a Path


def test_the_last_checkpoint_is_the_one_lightning_resumes_from() -> None:
    assert LAST_CHECKPOINT == f"{ModelCheckpoint.CHECKPOINT_NAME_LAST}{ModelCheckpoint.FILE_EXTENSION}"


def test_a_checkpoint_leads_back_to_its_run_folder(tmp_path: Path) -> None:
    assert RunLayout.of_checkpoint(tmp_path / "run/checkpoints/probe-step=4.ckpt").root == tmp_path / "run"
    assert RunLayout.of_checkpoint(tmp_path / "moved/model.ckpt").root == tmp_path / "moved"


def test_step_checkpoints_and_csv_logs_are_found_in_order(tmp_path: Path) -> None:
    run = RunLayout(tmp_path)
    run.checkpoints_dir.mkdir()
    for name in ("probe-step=4.ckpt", "probe-step=4-v1.ckpt", "probe-step=40.ckpt", "probe-step=8.ckpt", "last.ckpt",
                 "last-v1.ckpt"):
        (run.checkpoints_dir / name).touch()
    assert RunLayout.step_checkpoint_filename("probe") == "probe-{step}"  # what Lightning expands to probe-step=N
    found = [p.name for p in run.checkpoints_at_step(RunLayout.PROBE_CHECKPOINTS, 4)]
    assert found == ["probe-step=4-v1.ckpt", "probe-step=4.ckpt"]  # not step 40's
    assert sorted(p.name for p in last_checkpoints_in(run.checkpoints_dir)) == ["last-v1.ckpt", "last.ckpt"]
    for version in (10, 2):
        (run.csv_dir / f"version_{version}").mkdir(parents=True)
        (run.csv_dir / f"version_{version}/metrics.csv").touch()
    assert [p.parent.name for p in run.metrics_csvs()] == ["version_2", "version_10"]  # by number, not by name


def test_experiment_layout_puts_plan_ledger_and_runs_under_the_run_folder(tmp_path: Path) -> None:
    layout = ExperimentLayout.of(tmp_path / "runs", tmp_path / "reports", "exp")
    assert layout.plan_file == tmp_path / "runs/exp/plan.json"
    assert layout.ledger_file == tmp_path / "runs/exp/ledger.json"
    assert layout.run("pretrain-bert-seed0") == RunLayout(tmp_path / "runs/exp/pretrain-bert-seed0")
    assert layout.results_file == tmp_path / "reports/exp/results.json"
    assert layout.report_file == tmp_path / "reports/exp/report.md"


def test_a_layout_entry_read_on_the_class_is_the_entry_itself() -> None:
    entry = RunLayout.config_file
    assert (entry.folder, entry.name) == ("root", RunLayout.CONFIG_FILE)
