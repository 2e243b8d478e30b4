"""results_diff: two results.json equal to the digit but for wall-clock values and run order give 0 differ;
one changed score is named and fails the check."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pretrain.compare.reporting.results_diff import differences, main


def _results(score: float, wall: float, order: tuple[str, ...]) -> dict:
    runs = {"pretrain-bert-seed0": {"run_id": "pretrain-bert-seed0", "wall_s": wall, "status": "done"},
            "finetune-ner-bert": {"run_id": "finetune-ner-bert", "wall_s": wall, "result": {"test/entity_f1": score}}}
    return {"environment": {"git_commit": f"commit-{wall}"}, "created": f"day {wall}",
            "tasks": {"ner": {"bert": {"mean": score, "checkpoints": [f"/tmp/{wall}.ckpt"]}}},
            "runs": [runs[run_id] for run_id in order]}


def test_wall_clock_values_and_run_order_do_not_count() -> None:
    a = _results(0.5, 1.0, ("pretrain-bert-seed0", "finetune-ner-bert"))
    b = _results(0.5, 2.0, ("finetune-ner-bert", "pretrain-bert-seed0"))
    compared, differing = differences(a, b)
    assert compared == 5 and differing == []  # run ids, a status, two scores


def test_a_changed_score_is_named_and_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    paths = [tmp_path / "a.json", tmp_path / "b.json"]
    for path, score in zip(paths, (0.5, 0.5000001)):
        path.write_text(json.dumps(_results(score, 1.0, ("pretrain-bert-seed0", "finetune-ner-bert"))))
    assert main([str(p) for p in paths]) == 1
    out = capsys.readouterr().out
    assert "/tasks/ner/bert/mean: 0.5 != 0.5000001" in out and "5 leaves, 2 differ" in out
    assert main([str(paths[0]), str(paths[0])]) == 0
    assert main([str(paths[0]), str(tmp_path / "missing.json")]) == 2


def test_a_file_that_is_not_a_results_json_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    results = tmp_path / "results.json"
    results.write_text(json.dumps(_results(0.5, 1.0, ("pretrain-bert-seed0",))))
    readme, empty = tmp_path / "README.md", tmp_path / "empty.json"
    readme.write_text("# a report\n")
    empty.write_text("{}")
    assert main([str(results), str(readme)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"results_diff: error: {readme} is not JSON (") and "expected a comparison's results" in err
    assert main([str(results), str(empty)]) == 2
    assert capsys.readouterr().err == f"results_diff: error: {empty} is not a comparison's results.json (no tasks or " \
                                      "runs); expected reports/<experiment>/results.json\n"
