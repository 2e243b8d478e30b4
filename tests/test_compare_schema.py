"""The typed results: results.json and the ledger read back to the same JSON, typed by each run's stage."""

import json
from dataclasses import asdict
from pathlib import Path

import pytest
from test_compare_report import _records

from pretrain.compare.planning.plan import ComparePlan
from pretrain.compare.reporting.results import aggregate, environment
from pretrain.compare.running.ledger import Ledger
from pretrain.compare.schema import PretrainResult, read_comparison, write_comparison
from tasks.outputs import FinetuneResults


def test_results_json_reads_back_typed_to_the_same_json(tmp_path: Path) -> None:
    plan = asdict(ComparePlan(experiment="synthetic"))
    plan["finetune"].update(tasks=["classification"], seeds=[0, 1, 2, 9])  # seed 9's run failed
    path = tmp_path / "results.json"
    write_comparison(aggregate(plan, _records(), environment()), path)
    results = read_comparison(path)
    assert json.loads(json.dumps(results.to_dict(), default=str)) == json.loads(path.read_text())
    final = results.tasks["classification"].final()
    assert final is not None and final["bert"].metrics["test/acc"].n == 3 and final["gpt"].failed_seeds == [9]
    assert results.pretraining["gpt"].result.model.flops_per_token == 9000
    assert results.counts.done == 19 and results.environment.versions["torch"]


def test_ledger_stores_each_stage_typed(tmp_path: Path) -> None:
    path = tmp_path / "ledger.json"
    ledger = Ledger(path)
    for record in _records():
        ledger.save(record)
    again = Ledger(path)
    assert isinstance(again.get("pretrain-bert").result, PretrainResult)
    finetune = again.get("control-gpt").result
    assert isinstance(finetune, FinetuneResults) and finetune.metrics == {"test/acc": 0.4}
    assert again.get("baseline-classification").result == {"baseline/majority_acc": 0.25}
    assert again.get("ft-gpt-4-9").result == {}  # a failed run has no result
    stored = json.loads(path.read_text())["runs"]["control-gpt"]["result"]
    assert list(stored) == list(asdict(finetune))  # the layout of the run's own results file


def test_a_file_that_is_not_results_json_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    path.write_text(json.dumps({"experiment": "x"}))
    with pytest.raises(ValueError, match="results.json: not a readable comparison results.json"):
        read_comparison(path)
