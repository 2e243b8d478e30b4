"""The size ladder: a tiny two-size ladder end to end, each size's budget, the plan's checks, and what the report
says when the gap changes sign inside the ladder, when a trend crosses zero beyond it, and when it does not."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from mini_plans import mini_plan_file

from pretrain.compare.analysis.bootstrap import PairedDifference
from pretrain.compare.analysis.ladder import FamilyScore, LadderPoint, TaskLadder, fit_trend, sign_change
from pretrain.compare.command import main as compare_main
from pretrain.compare.planning.ladder import rung_plan, rung_tokens
from pretrain.compare.planning.plan import ComparePlan, LadderRung, PretrainPlan, validate

REPO = Path(__file__).resolve().parents[1]
SIZES = [{"name": "nano", "bert_model": "bert-tiny-matched", "gpt_model": "gpt-tiny-matched"},
         {"name": "micro", "bert_model": "bert-micro", "gpt_model": "gpt-micro"}]


def _point(size: str, flops: float, gap: float, half_width: float = 0.01) -> LadderPoint:
    difference = PairedDifference(gap, gap - half_width, gap + half_width, 0.01, 100, 1000)
    scores = {"bert": FamilyScore(0.5 + gap, 0.49 + gap, 0.51 + gap, flops),
              "gpt": FamilyScore(0.5, 0.49, 0.51, flops)}
    return LadderPoint(size, flops, {"bert": 1000, "gpt": 1000}, scores, difference, abs(gap) > half_width)


def test_a_tiny_two_size_ladder_runs_every_size_and_writes_the_gap_against_compute(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # data caches land in the temporary folder
    torch.set_num_threads(1)
    plan = mini_plan_file(tmp_path, experiment="ladder", sizes=SIZES, parallel_runs=1,
                          finetune={"seeds": [0], "lrs": [1e-3, 3e-3], "controls": 1})
    assert compare_main(["--config", str(plan)]) == 0
    reports = tmp_path / "reports"
    saved = json.loads((reports / "ladder/results.json").read_text())
    assert [s["name"] for s in saved["sizes"]] == ["nano", "micro"]
    assert set(saved["results"]) == {"nano", "micro"}  # every size's results, in the comparison's own schema
    for size in ("nano", "micro"):
        assert (reports / f"ladder-{size}/report.md").is_file()  # each size is a whole comparison of its own
        result = saved["results"][size]
        assert result["tasks"]["classification"]["controls"]["bert"]["metrics"]  # with its controls
        assert result["tasks"]["classification"]["baselines"]  # and baselines
        assert {g["random_init"] for g in result["tasks"]["classification"]["grid"]} == {False, True}
    ladder = saved["ladder"]["classification"]
    points = {p["size"]: p for p in ladder["points"]}
    assert points["micro"]["flops"] > points["nano"]["flops"] > 0  # the larger pair costs more per token
    assert points["nano"]["non_embedding_params"]["bert"] < points["micro"]["non_embedding_params"]["bert"]
    assert all(p["gap"] is not None for p in ladder["points"])
    assert (reports / "ladder/ladder_classification.png").stat().st_size > 0
    text = (reports / "ladder/ladder.md").read_text()
    assert "## classification" in text and "BERT - GPT by size: nano" in text
    assert "ladder-nano/report.md" in text


def test_each_size_trains_the_plan_tokens_or_its_tokens_per_parameter_in_whole_steps() -> None:
    plan = ComparePlan(pretrain=PretrainPlan(tokens=4096, seq_len=64, batch_size=8),
                       sizes=[LadderRung("a", "bert-tiny", "gpt-tiny"), LadderRung("b", "bert-mini", "gpt-mini")])
    assert rung_tokens(plan, {"bert": 10_000, "gpt": 9_000}) == 4096
    per_parameter = ComparePlan(pretrain=plan.pretrain, sizes=plan.sizes, tokens_per_parameter=20.0)
    assert rung_tokens(per_parameter, {"bert": 10_000, "gpt": 9_000}) == round(200_000 / 512) * 512
    assert rung_tokens(per_parameter, {"bert": 1, "gpt": 1}) == 512  # at least one step
    derived = rung_plan(per_parameter, plan.sizes[1], 1024)
    assert (derived.experiment, derived.bert_model, derived.gpt_model) == ("default-b", "bert-mini", "gpt-mini")
    assert derived.pretrain.tokens == 1024 and derived.sizes == [] and derived.tokens_per_parameter is None


@pytest.mark.parametrize("fields, message", [
    ({"sizes": [LadderRung("a", "bert-tiny", "gpt-tiny")]}, "at least two sizes"),
    ({"sizes": [LadderRung("a", "bert-tiny", "gpt-tiny")] * 2}, "distinct plain names"),
    ({"tokens_per_parameter": 20.0}, "give sizes"),
    ({"sizes": [LadderRung("a", "bert-tiny", "gpt-tiny"), LadderRung("b", "bert-tiny", "gpt-tiny")],
      "tokens_per_parameter": 0.0}, "a number > 0"),
])
def test_a_ladder_plan_is_checked_before_anything_trains(fields: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        validate(ComparePlan(**fields), REPO, check_data=False)


def test_a_size_with_an_unknown_preset_fails_naming_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sizes = [SIZES[0], {"name": "huge", "bert_model": "bert-huge", "gpt_model": "gpt-tiny"}]
    assert compare_main(["--config", str(mini_plan_file(tmp_path, sizes=sizes))]) == 2
    assert "bert-huge" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()  # nothing ran, not even the first size


def test_the_report_names_where_the_gap_changes_sign_inside_the_ladder() -> None:
    points = [_point("a", 1e12, 0.05), _point("b", 1e13, 0.02), _point("c", 1e14, -0.03)]
    assert sign_change(points) == ["b", "c"]
    text = TaskLadder("ner", "test/entity_f1", points, {}, {}, sign_change=sign_change(points)).sentence()
    assert "changes sign between b and c, and both sides are significant" in text


def test_a_trend_that_reaches_zero_past_the_ladder_is_given_as_an_extrapolation() -> None:
    points = [_point("a", 1e12, 0.06, 0.002), _point("b", 1e13, 0.04, 0.002), _point("c", 1e14, 0.02, 0.002)]
    assert sign_change(points) == []
    trend = fit_trend(points, np.random.default_rng(0))
    assert trend.slope_per_decade == pytest.approx(-0.02)
    assert trend.crossing_flops == pytest.approx(1e15, rel=1e-6)
    assert trend.crossing_low is not None and trend.crossing_high is not None
    assert trend.crossing_low < 1e15 < trend.crossing_high and trend.crossing_share > 0.9
    text = TaskLadder("ner", "test/entity_f1", points, {}, {}, trend=trend).sentence()
    assert "BERT ahead at every size" in text and "reaches zero at about 1.0e+15 FLOPs" in text
    assert "an extrapolation beyond the sizes measured" in text


def test_a_gap_that_grows_with_size_predicts_no_crossing() -> None:
    points = [_point("a", 1e12, -0.02), _point("b", 1e13, -0.04), _point("c", 1e14, -0.06)]
    trend = fit_trend(points, np.random.default_rng(0))
    assert trend.crossing_flops is None and trend.crossing_share < 0.05
    text = TaskLadder("generation", "test/rougeL", points, {}, {}, trend=trend).sentence()
    assert "GPT ahead at every size" in text and "no crossing within 3 decades" in text
