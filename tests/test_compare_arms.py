"""A miniature plan of all five arms end to end through the real pretrain/finetune commands, and the plan's checks
of its arms."""

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch
import yaml
from mini_plans import mini_plan_file

from pretrain.arms import ARMS, arm_record
from pretrain.cli import run as pretrain_run
from pretrain.compare.analysis.arms import compare_arms, holm_adjusted, holm_bounds
from pretrain.compare.analysis.bootstrap import PairedDifference, format_p, paired_difference
from pretrain.compare.analysis.stats import summarize
from pretrain.compare.analysis.verdict import compare
from pretrain.compare.planning.plan import parse_plan, validate
from pretrain.compare.reporting.plots import COLORS
from pretrain.compare.running.pipeline import execute, preset_facts
from pretrain.compare.running.runs import finetune_attention
from pretrain.compare.schema import ArmComparison, Counts, read_comparison
from tasks.cli import run as finetune_run
from tasks.outputs import FinetuneResults

REPO = Path(__file__).resolve().parents[1]


def _plan_file(tmp_path: Path, **changes: object) -> Path:
    return mini_plan_file(tmp_path, pretrain={"tokens": 8 * 64 * 8, "val_check_interval": 4},
                          finetune={"lrs": [1e-3]}, **{"experiment": "arms", "arms": list(ARMS), **changes})


def test_every_arm_plan_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # data caches land in the temporary folder
    torch.set_num_threads(1)
    resolved = validate(parse_plan(["--config", str(_plan_file(tmp_path)), "--parallel_runs", "1"]), REPO)
    finetune_calls: dict[str, list[str]] = {}

    def recording_finetune(args: list[str]) -> FinetuneResults | None:
        finetune_calls[args[args.index("--trainer.default_root_dir") + 1]] = args
        return finetune_run(args)

    results = execute(resolved, pretrain_run, recording_finetune)
    # baseline + reference + 6 pretraining records (gpt-bi's is gpt's, shared) + per arm: 1 grid run, the second
    # seed, 1 control
    assert results.counts == Counts(done=2 + 6 + 6 * 3, failed=0, skipped=0)
    saved = json.loads((tmp_path / "reports/arms/results.json").read_text())
    assert list(saved["pretraining"]) == list(ARMS)
    predicted = {arm: saved["pretraining"][arm]["supervised_tokens"] for arm in ARMS}
    seen = {arm: saved["pretraining"][arm]["tokens_seen"] for arm in ARMS}
    assert seen["gpt"] == seen["clm-mlm"] == seen["gpt-bert"]  # the same packed blocks, the same budget
    # gpt-bi trains nothing: its record is gpt's run, checkpoint for checkpoint
    shared = saved["pretraining"]["gpt-bi"]
    assert shared["checkpoints"] == saved["pretraining"]["gpt"]["checkpoints"] and shared["wall_s"] < 5
    assert predicted["gpt-bi"] == predicted["gpt"] and seen["gpt-bi"] == seen["gpt"]
    # Every target of a causal step; 30% of the tokens on a masked one (mlm twice BERT's 15%).
    assert predicted["gpt"] > predicted["clm-mlm"] > predicted["gpt-bert"]
    assert 1.5 < predicted["mlm"] / predicted["bert"] < 2.5
    for arm in ("mlm", "clm-mlm", "gpt-bert"):
        assert 0.0 <= saved["pretraining"][arm]["metrics"]["val/mlm_acc"] <= 1.0
    for arm in ("clm-mlm", "gpt-bert"):  # both modes are validated on every check
        assert saved["pretraining"][arm]["metrics"]["val/ppl"] > 1.0
    # The FLOPs count the vocabulary projection on the positions each objective predicts.
    flops = {arm: saved["pretraining"][arm]["model"]["flops_per_token"] for arm in ARMS}
    assert flops["gpt"] > flops["clm-mlm"] > flops["gpt-bert"] and flops["mlm"] > flops["bert"]
    task = saved["tasks"]["classification"]
    assert set(task["controls"]) == set(ARMS) and set(task["pretraining_effect"]) == set(ARMS)
    comparisons = task["arm_comparisons"]
    assert [(c["arm"], c["against"]) for c in comparisons] == [
        (arm, against) for arm in ("mlm", "clm-mlm", "gpt-bert", "gpt-bi") for against in ("bert", "gpt")]
    assert all(c["p_holm"] >= c["p_value"] for c in comparisons)
    assert [v["metric"] for v in task["verdicts"]]  # bert against gpt, as in a two-arm plan
    # Classification fine-tunes the mixed arms with the causal mask removed, gpt with it.
    attention = {Path(root).name: args for root, args in finetune_calls.items()}
    for run_id, args in attention.items():
        arm = next(a for a in sorted(ARMS, key=len, reverse=True) if f"-{a}-" in run_id)
        unmasked = "--model.init_args.decoder_attention" in args
        assert unmasked == (arm in ("clm-mlm", "gpt-bert", "gpt-bi")), run_id
    report = (tmp_path / "reports/arms/report.md").read_text()
    assert "## Arms" in report and "Holm" in report and "gpt-bert vs bert" in report
    assert read_comparison(tmp_path / "reports/arms/results.json").arms == list(ARMS)


def test_two_arm_plans_count_two_arms(tmp_path: Path) -> None:
    resolved = validate(parse_plan(["--config", str(_plan_file(tmp_path, arms=["bert", "gpt"]))]), REPO,
                        check_data=False)
    assert set(preset_facts(resolved)) == {"bert", "gpt"}


@pytest.mark.parametrize(("choice", "expected"), [
    (None, {"gpt": "causal", "clm-mlm": "bidirectional", "gpt-bert": "bidirectional",
            "gpt-bi": "bidirectional"}),  # each arm's own
    ("bidirectional", {"gpt": "bidirectional", "clm-mlm": "bidirectional", "gpt-bert": "bidirectional"}),
    ("causal", {"gpt": "causal", "clm-mlm": "causal", "gpt-bert": "causal"}),  # the control of the mixed arms
])
def test_decoder_attention_of_each_arm(tmp_path: Path, choice: str | None, expected: dict[str, str]) -> None:
    resolved = validate(parse_plan(["--config", str(_plan_file(tmp_path)), "--finetune.decoder_attention",
                                    choice or "null"]), REPO, check_data=False)
    for task in ("classification", "ner"):
        assert {arm: finetune_attention(resolved, arm, task) for arm in expected} == expected
    # Generation decodes left to right in every decoder arm; the encoders attend both ways whatever the option.
    assert {finetune_attention(resolved, arm, "generation") for arm in expected} == {"causal"}
    assert {finetune_attention(resolved, arm, "ner") for arm in ("bert", "mlm")} == {"bidirectional"}


@pytest.mark.parametrize(("args", "message"), [
    (["--arms", '["gpt", "mlm"]'], "including bert and gpt"),
    (["--arms", '["bert", "gpt", "bert"]'], "distinct arms"),
    (["--arms", '["bert", "gpt", "t5"]'], "unknown: t5"),
    (["--arms", '["bert", "gpt"]', "--pretrain.causal_share", '{"clm-mlm": 0.5}'], "names 'clm-mlm'"),
    (["--pretrain.causal_share", '{"gpt": 0.5}'], "names 'gpt'"),
    (["--arms", '["bert", "gpt-bi"]'], "including bert and gpt"),
    (["--pretrain.causal_share", '{"gpt-bert": 1.5}'], "expected a share of the steps in"),
])
def test_bad_arms_fail_before_training(tmp_path: Path, args: list[str], message: str) -> None:
    plan = parse_plan(["--config", str(_plan_file(tmp_path)), *args])
    with pytest.raises(ValueError, match=message):
        validate(plan, REPO, check_data=False)


def test_holm_adjusts_in_step_down_order() -> None:
    # m = 4: sorted 0.01, 0.02, 0.03, 0.04 -> 0.04, 0.06, 0.06 (monotone), 0.06 (capped by the running max)
    assert holm_adjusted([0.03, 0.01, 0.04, 0.02]) == pytest.approx([0.06, 0.04, 0.06, 0.06])
    assert holm_adjusted([0.5, 0.9]) == [1.0, 1.0]


def test_arm_overlays_match_their_records() -> None:
    for arm in ARMS:
        record = arm_record(arm)
        if record.overlay is None:
            continue
        overlay = yaml.safe_load((REPO / "configs/pretrain" / record.overlay).read_text())
        data = overlay["data"]["init_args"]
        assert data["mlm_probability"] == record.mlm_probability and data["eval_mlm_probability"] == 0.15
        model = overlay["model"]["init_args"]
        if record.share_option:
            assert model["causal_share"] == pytest.approx(record.causal_share)


def test_holm_bounds_follow_a_clamped_p_value_up_the_ranking() -> None:
    # sorted: 0.0005 (a clamped bootstrap p), 0.01, 0.3: the first two adjusted values are reached from the bound
    p = [0.3, 0.0005, 0.01]
    assert holm_adjusted(p) == pytest.approx([0.3, 0.0015, 0.02])
    assert holm_bounds(p, [False, True, False]) == [True, True, True]
    assert holm_bounds(p, [False, False, False]) == [False, False, False]


def _sure(difference: float) -> PairedDifference:
    """A bootstrap that never crossed zero in 2000 replicates."""
    return PairedDifference(difference, difference - 0.01, difference + 0.01, 0.0, 500, 2000, 100,
                            "fine-tuning seeds and test documents")


def test_an_arm_comparison_needs_both_tests_after_holm() -> None:
    """The verdicts' rule, Holm-corrected: a bootstrap that never crosses zero is not enough when the runs disagree,
    nor is a test over runs that would pass uncorrected but not after the correction."""
    summaries = {"bert": summarize([0.710, 0.711, 0.712]), "gpt": summarize([0.60, 0.70, 0.80]),
                 "mlm": summarize([0.80, 0.81, 0.82]), "clm-mlm": summarize([0.735, 0.745, 0.755])}
    comparisons = {(c.arm, c.against): c for c in compare_arms(
        ["bert", "gpt", "mlm", "clm-mlm"], "test/acc", summaries, lambda arm, against: _sure(0.1))}
    assert len(comparisons) == 4
    clear = comparisons[("mlm", "bert")]
    assert clear.significant and clear.runs_p is not None and clear.runs_p_holm is not None
    assert clear.runs_p_holm > clear.runs_p and clear.p_holm_bound
    # gpt's seeds spread over 0.2: the runs do not tell mlm from gpt, whatever the bootstrap says.
    spread = comparisons[("mlm", "gpt")]
    assert not spread.significant and "95% intervals overlap" in spread.evidence
    # clm-mlm vs bert: Welch p 0.027 on its own, which a 5% test passes, but 0.08 after Holm over 4.
    close = comparisons[("clm-mlm", "bert")]
    uncorrected = compare("acc", ("clm-mlm", summaries["clm-mlm"]), ("bert", summaries["bert"]),
                          higher_is_better=True, paired=_sure(0.1))
    assert uncorrected.significant and uncorrected.p_value == pytest.approx(close.runs_p)
    assert close.runs_p < 0.05 <= close.runs_p_holm and not close.significant
    for comparison in comparisons.values():
        assert "p < 0.0005" in comparison.evidence and "Holm p <= 0.002" in comparison.evidence
        assert "p = 0 " not in comparison.evidence and "p = 0;" not in comparison.evidence
    # One run per arm: no test over runs, the Holm-corrected bootstrap decides (as the verdicts do).
    single = {arm: summarize([summary.mean]) for arm, summary in summaries.items()}
    alone = compare_arms(["bert", "gpt", "mlm"], "test/acc", single, lambda arm, against: _sure(0.1))
    assert all(c.significant and c.runs_p is None for c in alone)
    unsure = compare_arms(["bert", "gpt", "mlm"], "test/acc", single, lambda arm, against: replace(
        _sure(0.1), ci_low=-0.01, p_value=0.03))  # 0.03 x 2 comparisons: not below 5%
    assert [c.p_holm for c in unsure] == [0.06, 0.06] and not any(c.significant for c in unsure)
    again = ArmComparison.from_dict(clear.to_dict())
    assert again == clear
    old = {k: v for k, v in clear.to_dict().items() if k not in ("runs_p", "runs_p_holm", "p_holm_bound",
                                                                  "evidence", "covers", "n_documents")}
    assert ArmComparison.from_dict(old).evidence == ""  # results written before both tests read back


def test_bootstrap_p_values_are_never_printed_as_zero() -> None:
    sure = paired_difference([[1] * 50], [[0] * 50])
    assert sure.p_value == 0.0 and sure.p_text == "p < 0.0005" == format_p(0.0, 2000)
    assert format_p(0.012, 2000) == "p = 0.012" and format_p(0.012, name="Holm p", bound=True) == "Holm p <= 0.012"
    verdict = compare("acc", ("BERT", summarize([1.0])), ("GPT", summarize([0.0])), higher_is_better=True, paired=sure)
    assert "p < 0.0005" in verdict.text and "p = 0" not in verdict.text


def test_every_arm_has_a_plot_colour() -> None:
    assert set(ARMS) <= set(COLORS)
