"""The report folder from synthetic run records: no training, only aggregation and rendering."""

import json
from dataclasses import asdict, replace
from pathlib import Path

import pytest

from pretrain.compare.planning.plan import ComparePlan
from pretrain.compare.reporting import markdown
from pretrain.compare.reporting.report import write_report
from pretrain.compare.reporting.report_command import main as report_main
from pretrain.compare.reporting.results import aggregate, environment
from pretrain.compare.running.ledger import Ledger, RunRecord
from pretrain.compare.running.run_identity import RunIdentity
from tasks.outputs import FinetuneResults
from tasks.registry import task_record


def _records() -> list[RunRecord]:
    curve = [{"step": s, "tokens": s * 100, "train/loss": 5.0 / s, "val/loss": 5.5 / s} for s in (1, 2, 4)]
    records = []
    for family, metrics in (("bert", {"val/mlm_acc": 0.3, "val/baseline_mlm_acc": 0.05}),
                            ("gpt", {"val/ppl": 40.0, "val/baseline_ppl": 300.0})):
        records.append(RunRecord(f"pretrain-{family}", "done", RunIdentity.pretraining(family, 0, 4), 12.0, {
            "metrics": metrics, "curve": curve, "tokens_seen": 400,
            "model": {"preset": f"{family}-tiny", "params": 1000, "non_embedding_params": 500, "flops_per_token": 9000},
            "attention": {"tokens": ["a", "b", "c"], "weights": [[1, 0, 0], [0.5, 0.5, 0], [0.2, 0.3, 0.5]]},
        }))
    records.append(RunRecord("baseline-classification", "done", RunIdentity.for_task("baseline", "classification"),
                             result={"baseline/majority_acc": 0.25}))
    scores = {"bert": [0.60, 0.70, 0.65], "gpt": [0.62, 0.72, 0.66]}

    def result(value: float, val: float) -> FinetuneResults:
        correct = round(value * 100)
        return FinetuneResults(task="classification", family="bert", checkpoint="p.ckpt", finetuned_checkpoint=None,
                               seed=0, data="built-in", truncated=0, metrics={"test/acc": correct / 100},
                               monitor="val/acc", val={"val/acc": val},
                               per_example=[1] * correct + [0] * (100 - correct))

    for family, values in scores.items():
        for step in (2, 4):
            for seed, value in enumerate(values):
                for lr in (1e-3, 3e-4):
                    if lr == 3e-4 and (seed or step == 2):
                        continue  # the grid: the first seed of the final checkpoint only
                    meta = RunIdentity.finetuning(family, "classification", seed, 0, lr, False, step, step == 4)
                    meta = meta.with_probe_budget(step * (100 if family == "bert" else 128), step * 900)
                    score = value - 0.1 * (step == 2) - 0.2 * (lr == 3e-4)
                    records.append(RunRecord(f"ft-{family}-{step}-{lr}-{seed}", "done", meta, 1.0,
                                             result(score, 0.5 - (lr == 3e-4) * 0.1)))
        meta = RunIdentity.finetuning(family, "classification", 0, 0, 1e-3, True, 4, True)
        records.append(RunRecord(f"control-{family}", "done", meta, 1.0, result(0.40, 0.4)))
    failed = RunIdentity.finetuning("gpt", "classification", 9, 0, 1e-3, False, 4, True)
    records.append(RunRecord("ft-gpt-4-9", "failed", failed,
                             error="RuntimeError: out of memory"))
    return records


def test_report_folder_from_synthetic_runs(tmp_path: Path) -> None:
    plan = asdict(ComparePlan(experiment="synthetic"))
    plan["finetune"].update(tasks=["classification"], classification_pooling="mean", task_steps={"generation": 500},
                            seeds=[0, 1, 2, 9])  # seed 9's run failed
    results = aggregate(plan, _records(), environment())
    written = write_report(results, tmp_path)
    names = {p.name for p in written}
    assert {"results.json", "report.md", "loss_vs_tokens.png", "downstream_scores.png",
            "score_vs_pretraining_tokens.png", "attention_bert.png", "attention_gpt.png"} <= names
    for path in written:
        assert path.stat().st_size > 0

    saved = json.loads((tmp_path / "results.json").read_text())
    task = saved["tasks"]["classification"]
    final = task["probes"][-1]["families"]
    assert final["bert"]["metrics"]["test/acc"]["n"] == 3  # the chosen rate's seeds only, not the grid's other rate
    # The plan's grid is [3e-4, 1e-3, 3e-3] and 3e-3 never ran: the pretrained choice is the highest rate tried,
    # flagged as an edge; the control tried one rate, which is no edge of anything.
    assert final["bert"]["lr"] == 1e-3 and task["lr"]["bert"] == {
        "pretrained": 1e-3, "random_init": 1e-3, "pretrained_on_edge": True, "random_init_on_edge": False}
    assert final["gpt"]["failed_seeds"] == [9]
    assert (final["bert"]["tokens"], final["gpt"]["tokens"]) == (400, 512)  # each family's own tokens
    assert task["controls"]["bert"]["metrics"]["test/acc"]["mean"] == 0.40  # the control, at the chosen rate
    effect = task["pretraining_effect"]["bert"]
    assert effect["difference"] == pytest.approx(0.65 - 0.40) and effect["ci_low"] > 0
    assert task["verdicts"][0]["significant"] is False and task["verdicts"][0]["paired_bootstrap"]["n_examples"] == 100
    assert len(task["grid"]) == 6  # 2 families x (2 pretrained rates + the control's one)
    assert saved["environment"]["versions"]["torch"]
    assert saved["counts"] == {"done": 19, "failed": 1, "skipped": 0}

    report = (tmp_path / "report.md").read_text()
    assert "## The answer" in report and "not significant" in report
    assert "majority_acc 0.25" in report  # the majority-class baseline sits next to the scores
    assert "Pretraining effect for BERT" in report and "random-init" in report
    assert "ft-gpt-4-9" in report and "out of memory" in report
    assert "NOT better" not in report  # both pretrained models beat their trivial baselines
    # generation is not among the plan's tasks: its steps are not the run's
    assert ("**Fine-tuning:** at most 100 steps, batch 32 (training batches drawn from examples of similar length), "
            "validation every 50 steps") in report
    assert "A difference is called significant only when both agree." in report
    # Every rate each group tried, the chosen one in bold, the edge flagged.
    assert "| BERT | 0.400 | **0.500** | 0.001 (edge) |" in report
    assert "| BERT random-init |  | **0.400** | 0.001 |" in report
    assert "Still on an edge of the rates tried" in report and ": BERT, GPT." in report
    assert "Classification reads the mean hidden state over the input's tokens in both families" in report


def test_report_script_rebuilds_from_the_run_folder(tmp_path: Path) -> None:
    run_dir = tmp_path / "runs/synthetic"
    plan = asdict(ComparePlan(experiment="synthetic"))
    plan["finetune"].update(tasks=["classification"], seeds=[0, 1, 2, 9])  # seed 9's run failed
    run_dir.mkdir(parents=True)
    (run_dir / "plan.json").write_text(json.dumps(plan))
    ledger = Ledger(run_dir / "ledger.json")
    for record in _records():
        ledger.save(record) if record.status == "done" else ledger.skip(record.run_id, record.error, record.identity)
    args = ["--experiment", "synthetic", "--runs_dir", str(tmp_path / "runs"), "--reports_dir", str(tmp_path / "out")]
    assert report_main(args) == 0
    saved = json.loads((tmp_path / "out/synthetic/results.json").read_text())
    assert saved["counts"] == {"done": 19, "failed": 0, "skipped": 1}
    assert "Elapsed (this invocation, runs side by side): not measured (this report was rebuilt from the run " \
           "records by scripts/report.py)." in (tmp_path / "out/synthetic/report.md").read_text()
    assert report_main(["--experiment", "missing", "--runs_dir", str(tmp_path / "runs")]) == 2


def test_a_copying_task_below_its_baseline_cites_the_copy_probe(monkeypatch: pytest.MonkeyPatch) -> None:
    records = []
    for record in _records():
        if record.run_id == "baseline-classification":
            record = RunRecord(record.run_id, "done", record.identity, result={"baseline/majority_acc": 0.99})
        elif record.run_id == "pretrain-gpt":
            record.result.metrics["val/copy_acc"] = 0.0
        records.append(record)
    plan = asdict(ComparePlan(experiment="synthetic"))
    plan["finetune"]["tasks"] = ["classification"]
    results = aggregate(plan, records, environment())
    classification = task_record("classification")
    monkeypatch.setattr(markdown, "task_record", lambda task: replace(classification, copies_source=True))
    notes = [line for line in markdown.answer_lines(results) if "does not beat" in line]
    gpt = next(line for line in notes if line.startswith("- GPT"))
    assert "predicts 0% of a repeated random sequence" in gpt and "cannot copy from its input yet" in gpt
    bert = next(line for line in notes if line.startswith("- BERT"))
    assert "repeated random sequence" not in bert  # no probe value logged for it: nothing claimed


@pytest.mark.parametrize(("accuracy", "learned"), [(0.74, True), (0.53, False)])
def test_report_says_whether_nsp_learned(accuracy: float, learned: bool) -> None:
    """An NSP at chance is called out as a bug in the pretraining verdict; one well above chance is not."""
    records = _records()
    records[0].result.metrics["val/nsp_acc"] = accuracy
    results = aggregate(asdict(ComparePlan()), records, environment())
    verdict = results.pretraining_verdicts["bert"]
    assert f"NSP accuracy {accuracy:.3f}" in verdict and ("learned nothing" in verdict) != learned
    assert "NSP" not in results.pretraining_verdicts["gpt"]


def _synthetic_results(probes: tuple[int, ...] = (2, 4)):
    """The synthetic plan's results, keeping only the fine-tuning runs at the given probe steps."""
    plan = asdict(ComparePlan(experiment="synthetic"))
    plan["finetune"].update(tasks=["classification"], classification_pooling="mean")
    records = [r for r in _records() if r.identity.stage != "finetune" or r.identity.probe_step in probes]
    return aggregate(plan, records, environment())


def test_score_vs_tokens_draws_only_curves_with_two_points_and_the_baselines() -> None:
    from pretrain.compare.reporting.plots import score_vs_tokens

    figure = score_vs_tokens(_synthetic_results())
    assert figure is not None
    [ax] = figure.axes
    curves = {container.get_label(): container.lines[0] for container in ax.containers}  # errorbar: data line first
    assert {f: len(line.get_xdata()) for f, line in curves.items()} == {"BERT": 2, "GPT": 2}  # two probes each
    lines = {line.get_label(): line for line in ax.get_lines() if not line.get_label().startswith("_")}
    horizontal = {label: line.get_ydata()[0] for label, line in lines.items() if len(set(line.get_ydata())) == 1}
    assert horizontal == {"majority_acc (trivial baseline)": 0.25, "BERT random-init": 0.40, "GPT random-init": 0.40}
    assert ax.get_ylim()[0] <= 0.25  # the axis spans the baseline, not only the gap between the points


def test_score_vs_tokens_is_skipped_and_the_report_says_so_with_one_probe(tmp_path: Path) -> None:
    from pretrain.compare.reporting.plots import score_vs_tokens

    results = _synthetic_results(probes=(4,))
    assert score_vs_tokens(results) is None  # one dot per family on a tiny axis says nothing
    names = {p.name for p in write_report(results, tmp_path)}
    assert "score_vs_pretraining_tokens.png" not in names
    assert "no family was fine-tuned at two or more pretraining checkpoints" in (tmp_path / "report.md").read_text()


def test_downstream_scores_draw_each_familys_random_init_control_beside_it(tmp_path: Path) -> None:
    from pretrain.compare.reporting.plots import downstream_scores

    figure = downstream_scores(_synthetic_results())
    assert figure is not None
    ax = figure.axes[0]
    labels = [" ".join(t.get_text().split()) for t in ax.get_xticklabels()]
    assert labels == ["BERT", "BERT random-init", "GPT", "GPT random-init"]
    heights = [round(p.get_height(), 4) for p in ax.patches]
    assert heights[1] == heights[3] == 0.40 and heights[0] == pytest.approx(0.65) and heights[2] == 0.6667
    write_report(_synthetic_results(), tmp_path)  # looked at by eye too: reports/.../downstream_scores.png


def test_every_interval_says_what_it_covers(tmp_path: Path) -> None:
    """Two pretraining seeds and test rows named by document: the verdict's and the pretraining effects'
    bootstraps resample both seed levels and the documents, and results.json and the report say so; the same runs
    without documents and with one pretraining seed cover fine-tuning seeds and test rows."""
    plan = asdict(ComparePlan(experiment="synthetic"))
    plan["finetune"]["tasks"] = ["classification"]
    plan["pretrain"]["seeds"] = [0, 1]
    documents = [f"function:m.f{i // 4}" for i in range(100)]  # four test rows per docstring
    records = []
    for record in _records():
        if record.identity.is_finetuning and isinstance(record.result, FinetuneResults):
            record = replace(record, result=replace(record.result, documents=documents))
            if record.identity.final and record.identity.lr == 1e-3 and not record.identity.random_init:
                second = replace(record.identity, pretrain_seed=1)
                records.append(replace(record, run_id=record.run_id + "-p1", identity=second))
        records.append(record)
    results = aggregate(plan, records, environment())
    task = results.tasks["classification"]
    everything = "pretraining seeds, fine-tuning seeds and test documents"
    paired = task.verdicts[0].paired_bootstrap
    assert paired is not None and (paired.covers, paired.n_documents, paired.n_examples) == (everything, 25, 100)
    assert {effect.paired.covers for effect in task.pretraining_effect.values()} == {everything}
    written = write_report(results, tmp_path)
    saved = json.loads((tmp_path / "results.json").read_text())["tasks"]["classification"]
    assert saved["verdicts"][0]["paired_bootstrap"]["covers"] == everything
    assert saved["pretraining_effect"]["bert"]["covers"] == everything
    report = (tmp_path / "report.md").read_text()
    assert f"paired bootstrap over {everything} (25 documents, 100 test rows)" in report
    assert f"95% paired bootstrap interval over {everything}" in report
    assert "resamples pretraining seeds, then fine-tuning seeds within each, then test documents" in report
    assert written
    spread = task.pretraining_spread  # seed 1's runs copy seed 0's scores: a zero spread, per seed in the report
    assert spread is not None and spread.gaps == pytest.approx({0: -1 / 60, 1: -1 / 60}) and spread.gap_sd == 0
    assert "| 1 | 0.6500 | 0.6667 | -0.0167 |" in report
    # The same run folder read by a plan of one pretraining seed: seed 1's runs stay in the ledger, unread.
    one_seed = aggregate(asdict(ComparePlan(experiment="synthetic")) | {"finetune": plan["finetune"]}, records,
                         environment()).tasks["classification"]
    assert one_seed.pretraining_spread is None and one_seed.final()["bert"].pretrain_seeds == [0]
    flat = aggregate(asdict(ComparePlan(experiment="synthetic")) | {"finetune": plan["finetune"]}, _records(),
                     environment()).tasks["classification"]
    paired = flat.verdicts[0].paired_bootstrap
    assert paired is not None and paired.covers == "fine-tuning seeds and test examples"


def test_the_protocol_of_a_released_pair_says_what_the_runs_did(tmp_path: Path) -> None:
    """A pretrain.from_pretrained plan with --finetune.max_steps 4 and one seed: validated at step 4, no generation,
    the architectures not checked, and verdicts on the bootstrap alone."""
    plan = asdict(ComparePlan(experiment="pair"))
    plan["pretrain"]["from_pretrained"] = {"bert": "/models/encoder", "gpt": "/models/decoder"}
    plan["finetune"].update(tasks=["classification"], max_steps=4, task_steps={"generation": 500},
                            val_check_interval=125, seeds=[0])
    report = markdown.render(aggregate(plan, _records(), environment()), [])
    assert "**Fine-tuning:** at most 4 steps, batch 32 (training batches drawn from examples of similar length), " \
           "validation at the last step; the best" in report
    assert "generation 500" not in report and "every 125 steps" not in report
    assert "- **Architecture: as released.** The Hugging Face folders" in report
    assert "Architecture: matched" not in report
    assert "With one run per family there is no test over seeds: a difference is called significant on the paired " \
           "bootstrap alone" in report and "only when both agree" not in report


def test_the_report_says_which_fine_tuning_runs_the_step_cap_ended() -> None:
    """A run whose best checkpoint is its last allowed step was still improving: named; one that validation
    stopped, or whose best came earlier, converged."""
    plan = asdict(ComparePlan(experiment="synthetic"))
    plan["finetune"].update(tasks=["classification"], max_steps=100, seeds=[0, 1, 2, 9])
    records = []
    for index, record in enumerate(_records()):
        if record.identity.is_finetuning and isinstance(record.result, FinetuneResults):
            steps, best = ((100, 100), (75, 25), (100, 50))[index % 3]
            record = replace(record, result=replace(record.result, steps=steps, best_step=best))
        records.append(record)
    task = aggregate(plan, records, environment()).tasks["classification"]
    convergence = task.convergence
    assert convergence is not None and convergence.runs == 16  # 7 per family + the two controls; not the failed run
    capped = [r.run_id for i, r in enumerate(records) if i % 3 == 0 and r.identity.is_finetuning
              and r.status == "done"]
    assert convergence.at_cap == sorted(capped) and convergence.converged == 16 - len(capped)
    assert convergence.stopped == sum(1 for i, r in enumerate(records) if i % 3 == 1 and r.identity.is_finetuning
                                      and r.status == "done")
    text = "\n".join(markdown._task_section("classification", task))
    assert f"Fine-tuning length: {16 - len(capped)} of 16 runs converged ({convergence.stopped} stopped by" in text
    named = "at the step cap, still improving: " + ", ".join(sorted(capped))
    assert named + ". The rate decays to 0 at the cap" in text
