"""The report folder from synthetic run records: no training, only aggregation and rendering."""

import json
from pathlib import Path

from pretrain.compare.ledger import RunRecord
from pretrain.compare.plan import ComparePlan
from pretrain.compare.report import write_report
from pretrain.compare.results import aggregate, environment


def _records() -> list[RunRecord]:
    curve = [{"step": s, "tokens": s * 100, "train/loss": 5.0 / s, "val/loss": 5.5 / s} for s in (1, 2, 4)]
    records = []
    for family, metrics in (("bert", {"val/mlm_acc": 0.3, "val/baseline_mlm_acc": 0.05}),
                            ("gpt", {"val/ppl": 40.0, "val/baseline_ppl": 300.0})):
        records.append(RunRecord(f"pretrain-{family}", "done", {"stage": "pretrain", "family": family}, 12.0, {
            "metrics": metrics, "curve": curve, "tokens_seen": 400,
            "model": {"preset": f"{family}-tiny", "params": 1000, "non_embedding_params": 500, "flops_per_token": 9000},
            "attention": {"tokens": ["a", "b", "c"], "weights": [[1, 0, 0], [0.5, 0.5, 0], [0.2, 0.3, 0.5]]},
        }))
    records.append(RunRecord("baseline-classification", "done", {"stage": "baseline", "task": "classification"},
                             result={"baseline/majority_acc": 0.25}))
    scores = {"bert": [0.60, 0.70, 0.65], "gpt": [0.62, 0.72, 0.66]}
    for family, values in scores.items():
        for step in (2, 4):
            for seed, value in enumerate(values):
                meta = {"stage": "finetune", "family": family, "task": "classification", "seed": seed,
                        "probe_step": step, "probe_tokens": step * (100 if family == "bert" else 128),
                        "probe_flops": {family: step * 900}}
                records.append(RunRecord(f"ft-{family}-{step}-{seed}", "done", meta, 1.0,
                                         {"metrics": {"test/acc": value - 0.1 * (step == 2)}}))
    records.append(RunRecord("ft-gpt-4-9", "failed", {"stage": "finetune", "family": "gpt", "task": "classification",
                                                     "seed": 9, "probe_step": 4}, error="RuntimeError: out of memory"))
    return records


def test_report_folder_from_synthetic_runs(tmp_path: Path) -> None:
    from dataclasses import asdict

    plan = asdict(ComparePlan(experiment="synthetic"))
    plan["finetune"]["tasks"] = ["classification"]
    results = aggregate(plan, _records(), environment())
    written = write_report(results, tmp_path)
    names = {p.name for p in written}
    assert {"results.json", "report.md", "loss_vs_tokens.png", "downstream_scores.png",
            "score_vs_pretraining_tokens.png", "attention_bert.png", "attention_gpt.png"} <= names
    for path in written:
        assert path.stat().st_size > 0

    saved = json.loads((tmp_path / "results.json").read_text())
    final = saved["tasks"]["classification"]["probes"][-1]["families"]
    assert final["bert"]["metrics"]["test/acc"]["n"] == 3
    assert final["gpt"]["failed_seeds"] == [9]
    assert (final["bert"]["tokens"], final["gpt"]["tokens"]) == (400, 512)  # each family's own tokens
    assert saved["tasks"]["classification"]["verdicts"][0]["significant"] is False
    assert saved["environment"]["versions"]["torch"]
    assert saved["counts"] == {"done": 15, "failed": 1, "skipped": 0}

    report = (tmp_path / "report.md").read_text()
    assert "not significant" in report
    assert "0.25" in report  # the majority-class baseline sits next to the scores
    assert "ft-gpt-4-9" in report and "out of memory" in report
    assert "NOT better" not in report  # both pretrained models beat their trivial baselines


def test_report_script_rebuilds_from_the_run_folder(tmp_path: Path) -> None:
    import sys

    from pretrain.compare.ledger import Ledger

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
    import report as report_script

    from dataclasses import asdict

    run_dir = tmp_path / "runs/synthetic"
    plan = asdict(ComparePlan(experiment="synthetic"))
    plan["finetune"]["tasks"] = ["classification"]
    run_dir.mkdir(parents=True)
    (run_dir / "plan.json").write_text(json.dumps(plan))
    ledger = Ledger(run_dir / "ledger.json")
    for record in _records():
        ledger.run(record.run_id, lambda r=record: r.result, record.meta) if record.status == "done" else \
            ledger.skip(record.run_id, record.error, record.meta)
    args = ["--experiment", "synthetic", "--runs_dir", str(tmp_path / "runs"), "--reports_dir", str(tmp_path / "out")]
    assert report_script.main(args) == 0
    saved = json.loads((tmp_path / "out/synthetic/results.json").read_text())
    assert saved["counts"] == {"done": 15, "failed": 0, "skipped": 1}
    assert (tmp_path / "out/synthetic/report.md").is_file()
    assert report_script.main(["--experiment", "missing", "--runs_dir", str(tmp_path / "runs")]) == 2
