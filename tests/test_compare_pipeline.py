"""A miniature plan end to end through the real pretrain/finetune commands: tiny models, a few steps.

Checks the report folder (report.md, results.json, plots), that a failed run is recorded while the
rest continues, and that running the plan again resumes: only the failed run is executed again.
"""

import json
from pathlib import Path

import pytest
import torch
from mini_plans import mini_plan_file

from pretrain.cli import run as pretrain_run
from pretrain.compare.command import main as compare_main
from pretrain.compare.planning.plan import parse_plan, validate
from pretrain.compare.reporting.wandb_summary import summary_rows
from pretrain.compare.running.pipeline import (
    _check_same_plan,
    check_matched_parameters,
    execute,
    pretrain_steps,
    real_token_fill,
)
from pretrain.compare.schema import Counts, read_comparison
from tasks.cli import run as finetune_run
from tasks.outputs import FinetuneResults

REPO = Path(__file__).resolve().parents[1]


def _plan_file(tmp_path: Path) -> Path:
    return mini_plan_file(tmp_path)


def test_miniature_plan_end_to_end_with_failure_and_resume(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # data caches land in the temporary folder
    torch.set_num_threads(1)
    # One run at a time, in this process: the flaky command below is a closure, which worker processes cannot take.
    resolved = validate(parse_plan(["--config", str(_plan_file(tmp_path)), "--parallel_runs", "1"]), REPO)
    check_matched_parameters(resolved)
    calls: list[list[str]] = []

    def flaky_finetune(args: list[str]) -> FinetuneResults | None:
        calls.append(args)
        if "gpt" in args and args[args.index("--seed_everything") + 1] == "1":
            raise RuntimeError("simulated crash")
        return finetune_run(args)

    results = execute(resolved, pretrain_run, flaky_finetune)
    # baseline + reference + 2 pretrainings + the searches (2 families x pretrained and random-init x 2 rates; the
    # chosen control run is the control) + the second seed per family
    assert results.counts == Counts(done=13, failed=1, skipped=0)
    report_dir = tmp_path / "reports/mini"
    for name in ("report.md", "results.json", "loss_vs_tokens.png", "downstream_scores.png",
                 "attention_bert.png", "attention_gpt.png"):
        assert (report_dir / name).stat().st_size > 0, name
    saved = json.loads((report_dir / "results.json").read_text())
    for family in ("bert", "gpt"):
        pre = saved["pretraining"][family]
        assert pre["status"] == "done"
        assert pre["model"]["non_embedding_params"] > 0 and pre["model"]["flops_per_token"] > 0
        assert pre["curve"] and pre["tokens_seen"] > 0
        assert 0.0 <= pre["metrics"]["val/copy_acc"] <= 1.0  # the copying probe ran for both families
        regime = pre["data_regime"]  # unique tokens, passes over them and the loss gap, from the run's own log
        assert regime["unique_tokens"] > 0 and regime["epochs"] == pytest.approx(pre["tokens_seen"] / regime[
            "unique_tokens"]) and regime["loss_gap"] is not None
    assert "val/baseline_ppl" in saved["pretraining"]["gpt"]["metrics"]
    task = saved["tasks"]["classification"]
    final = task["probes"][-1]["families"]
    assert final["bert"]["metrics"]["test/acc"]["n"] == 2 and final["gpt"]["failed_seeds"] == [1]
    assert "baseline/majority_acc" in task["baselines"]
    assert 0 < task["references"]["reference/tfidf_logreg_acc"] <= 1  # the classical reference, kept apart
    assert len(task["grid"]) == 8 and {g["lr"] for g in task["grid"]} == {1e-3, 3e-3}
    assert {g["random_init"] for g in task["grid"]} == {False, True}  # the controls search their own rate
    assert all(g["steps"] == 2 and g["epochs"] > 0 for g in task["grid"] if g["status"] == "done")
    assert task["lr"]["bert"]["random_init"] in (1e-3, 3e-3) and task["lr"]["bert"]["pretrained"] in (1e-3, 3e-3)
    assert set(task["pretraining_effect"]) == {"bert", "gpt"}
    assert task["controls"]["gpt"]["metrics"]["test/acc"]["n"] == 1
    assert saved["pretraining"]["bert"]["supervised_tokens"] > 0
    assert saved["pretraining"]["gpt"]["supervised_tokens"] > saved["pretraining"]["bert"]["supervised_tokens"]
    assert set(saved["wall_s"]["per_stage_run_total"]) == {"baseline", "reference", "pretrain", "finetune", "control"}
    plan = saved["plan"]  # the runs side by side as resolved: one, with every usable core
    assert (plan["parallel_runs"], plan["threads_per_run"]) == (1, saved["environment"]["usable_cores"])
    assert saved["wall_s"]["elapsed"] > 0
    assert saved["environment"]["git_commit"] and saved["environment"]["versions"]["lightning"]
    report = (report_dir / "report.md").read_text()
    assert "simulated crash" in report and "trivial baseline" in report
    assert "Learning-rate search" in report and "## Data regime" in report
    assert any(row[2] == "bert" for row in summary_rows(read_comparison(report_dir / "results.json")))
    # The typed view reads results.json back to exactly the JSON that was written.
    assert json.loads(json.dumps(read_comparison(report_dir / "results.json").to_dict(), default=str)) == saved

    calls.clear()
    reruns: list[list[str]] = []

    def counting_pretrain(args: list[str]) -> Path:
        reruns.append(args)
        return pretrain_run(args)

    failed = [r.run_id for r in results.runs if r.status == "failed"]
    # The retry goes through the worker pool (2 spawned processes): the same run, recorded the same way.
    resolved = validate(parse_plan(["--config", str(_plan_file(tmp_path)), "--parallel_runs", "2"]), REPO)
    results = execute(resolved, counting_pretrain, finetune_run)
    assert results.counts == Counts(done=14, failed=0, skipped=0)
    assert reruns == [] and calls == []  # only the failed run was run again, by the real command
    ledger = json.loads((tmp_path / "runs/mini/ledger.json").read_text())["runs"]
    assert len(failed) == 1 and failed[0].startswith("finetune-classification-gpt-p0-") and failed[0].endswith("-seed1")
    assert ledger[failed[0]]["status"] == "done" and (tmp_path / "runs/mini" / failed[0] / "run.log").is_file()


def test_bad_plan_fails_before_training(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert compare_main(["--config", str(_plan_file(tmp_path)), "--finetune.tasks", "[qa]"]) == 2
    assert "unknown task 'qa'" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_changed_plan_is_not_resumed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plan = _plan_file(tmp_path)
    (tmp_path / "runs/mini").mkdir(parents=True)
    (tmp_path / "runs/mini/plan.json").write_text(json.dumps({"experiment": "mini", "pretrain": {"tokens": 1}}))
    assert compare_main(["--config", str(plan), "--wandb.mode", "disabled"]) == 2
    err = capsys.readouterr().err
    assert "holds runs of a different plan (changed:" in err and "pretrain.tokens" in err
    assert not (tmp_path / "runs/mini/ledger.json").exists()


def test_a_plan_with_more_seeds_resumes_the_runs_it_shares(tmp_path: Path) -> None:
    """pretrain-seeds.yaml over a copy of the default's run folder: only the seeds and the name differ."""
    stored = {"experiment": "default", "pretrain": {"tokens": 1, "seeds": [0]}, "finetune": {"seeds": [0, 1, 2]}}
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(stored))
    more_seeds = {"experiment": "pretrain-seeds", "pretrain": {"tokens": 1, "seeds": [0, 1, 2]},
                  "finetune": {"seeds": [0, 1, 2, 3]}}
    _check_same_plan(path, more_seeds)  # accepted
    # A folder written before plans had sizes: a one-size plan's empty ladder fields change none of its runs.
    _check_same_plan(path, {**more_seeds, "sizes": [], "tokens_per_parameter": None})
    with pytest.raises(ValueError, match=r"changed: pretrain\.tokens\)"):
        _check_same_plan(path, {**more_seeds, "pretrain": {"tokens": 2, "seeds": [0, 1, 2]}})


def test_matching_real_tokens_gives_bert_the_steps_its_padding_costs(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # data caches land in the temporary folder
    plan = parse_plan(["--config", str(mini_plan_file(tmp_path, pretrain={"match": "real_tokens"}))])
    resolved = validate(plan, REPO)
    fill = real_token_fill(resolved)
    assert fill["gpt"] == 1.0 and 0.5 < fill["bert"] < 1.0  # docstrings shorter than a sequence pad BERT's examples
    steps, planned = pretrain_steps(resolved, fill), plan.pretrain.max_steps
    assert steps["gpt"] == planned and pretrain_steps(resolved) == {"bert": planned, "gpt": planned}
    # The fewest steps at which BERT reads at least GPT's real tokens.
    assert steps["bert"] * fill["bert"] >= planned > (steps["bert"] - 1) * fill["bert"] and steps["bert"] > planned
    tokens = validate(parse_plan(["--config", str(mini_plan_file(tmp_path))]), REPO)
    assert pretrain_steps(tokens, fill) == {"bert": planned, "gpt": planned}  # match: tokens ignores the padding
