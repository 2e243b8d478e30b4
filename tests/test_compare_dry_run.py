"""The dry run of the real plan (`make dry-run`) end to end: the real plan's registry sources through their
synthetic copies, subprocess runs, 2-process gloo DDP pretraining, fine-tuning, report. To stay within a
minute on one core it runs one task (classification), one seed, one rate and no random-init control;
`make dry-run` runs all three tasks and the controls."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pretrain.compare.command import main

pytestmark = pytest.mark.usefixtures("private_datasets_cache")  # conftest.py

REPO = Path(__file__).resolve().parents[1]


def test_the_real_plan_runs_end_to_end_on_a_cpu(hub_copies: Path, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    code = main(["--config", "configs/compare/real.yaml", "--config", "configs/compare/dry-run.yaml",
                 "--datasets_dir", str(hub_copies), "--runs_dir", str(tmp_path / "runs"),
                 "--reports_dir", str(tmp_path / "reports"), "--finetune.tasks", '["classification"]',
                 "--finetune.controls", "0", "--pretrain.tokens", "512"])
    assert code == 0
    results = json.loads((tmp_path / "reports/dry-run/results.json").read_text())
    # baseline, classical reference, 2 pretrainings, 2 fine-tunings
    assert results["counts"]["done"] == 6 and results["counts"]["failed"] == 0
    log = (tmp_path / "runs/dry-run/pretrain-gpt-seed0/run.log").read_text()
    assert "Starting with 2 processes" in log and "distributed_backend=gloo" in log  # DDP, as on GPUs
    assert "Salesforce/wikitext (wikitext-103-raw-v1)" in log  # the real plan's source, from its copy
    finetune_dir = next((tmp_path / "runs/dry-run").glob("finetune-classification-gpt-*"))
    finetune = json.loads((finetune_dir / "results.json").read_text())
    assert finetune["data"].startswith("nyu-mll/glue (sst2)") and "test/acc" in finetune["metrics"]
    assert (tmp_path / "reports/dry-run/report.md").is_file()
