"""The W&B Report of a comparison: built from results.json offline, saved as a spec, published later."""

import json
from dataclasses import asdict
from pathlib import Path

import pytest
from test_compare_report import _records

from pretrain.compare.planning.plan import ComparePlan
from pretrain.compare.reporting.report_command import main as report_main
from pretrain.compare.reporting.results import aggregate, environment
from pretrain.compare.reporting.wandb_report import build_report, load_spec, report_spec, save_spec
from pretrain.compare.running.ledger import Ledger


def _results() -> dict:
    plan = asdict(ComparePlan(experiment="synthetic"))
    plan["finetune"]["tasks"] = ["classification"]
    return aggregate(plan, _records(), environment())


def test_spec_filters_the_experiment_and_shows_loss_scores_and_the_answer(tmp_path: Path) -> None:
    spec = report_spec(_results(), "bert-vs-gpt", entity="team")
    titles = [s["title"] for s in spec["sections"]]
    assert titles[0] == "Pretraining loss vs tokens seen" and titles[1].startswith("classification: test accuracy")
    assert all("Metric('Group') == 'synthetic'" in s["filters"] for s in spec["sections"])
    assert spec["sections"][1]["groupby"] == ["config.family", "config.random_init"]
    assert "| classification (accuracy) |" in spec["answer"] and "pretraining effect" in spec["answer"]
    assert load_spec(save_spec(spec, tmp_path).parent) == spec


def test_spec_becomes_a_wandb_workspaces_report_without_network() -> None:
    import wandb_workspaces.reports.v2 as wr

    report = build_report(report_spec(_results(), "bert-vs-gpt", entity="team"))
    grids = [b for b in report.blocks if isinstance(b, wr.PanelGrid)]
    assert report.project == "bert-vs-gpt" and report.title == "BERT vs GPT: synthetic" and len(grids) == 2
    line, bar = grids[0].panels[0], grids[1].panels[0]
    assert isinstance(line, wr.LinePlot) and line.x == "train/tokens_seen"
    assert isinstance(bar, wr.BarPlot) and bar.metrics == ["test/acc"] and bar.groupby_rangefunc == "stderr"
    assert "Config('task') == 'classification'" in grids[1].runsets[0].filters


def test_offline_summary_saves_the_spec_and_publishing_without_one_fails_in_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from pretrain.compare.reporting.wandb_summary import log_summary

    results = _results()
    report_dir = tmp_path / "reports/synthetic"
    report_dir.mkdir(parents=True)
    (report_dir / "results.json").write_text(json.dumps(results, default=str))
    log_summary(results, "bert-vs-gpt", "synthetic", "offline", tmp_path / "runs", report_dir=report_dir)
    assert load_spec(report_dir)["title"] == "BERT vs GPT: synthetic"
    assert "--publish" in capsys.readouterr().out

    assert report_main(["--experiment", "missing", "--reports_dir", str(tmp_path), "--publish"]) == 2
    assert "wandb_report.json does not exist" in capsys.readouterr().err


def test_the_documented_publish_command_publishes_the_spec_a_rebuild_wrote(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """`scripts/report.py --experiment X --publish` as the README prints it: a flag, after a rebuild."""
    import pretrain.compare.reporting.report_command as report_command

    run_dir = tmp_path / "runs/synthetic"
    plan = asdict(ComparePlan(experiment="synthetic"))
    plan["finetune"]["tasks"] = ["classification"]
    run_dir.mkdir(parents=True)
    (run_dir / "plan.json").write_text(json.dumps(plan))
    ledger = Ledger(run_dir / "ledger.json")
    for record in _records():
        ledger.save(record)
    folders = ["--runs_dir", str(tmp_path / "runs"), "--reports_dir", str(tmp_path / "reports")]
    assert report_main(["--experiment", "synthetic", *folders]) == 0
    published: list[dict] = []
    monkeypatch.setattr(report_command, "publish", lambda spec: published.append(spec) or "https://wandb.ai/r")
    assert report_main(["--experiment", "synthetic", *folders, "--publish"]) == 0
    assert published[0]["title"] == "BERT vs GPT: synthetic" and published[0]["project"] == plan["wandb"]["project"]
    assert "W&B Report: https://wandb.ai/r" in capsys.readouterr().out
