"""Classical references (TF-IDF + logistic regression, TF-IDF retrieval): their answers on tiny data where the
answer is known, their place in results.json and the report, and that no verdict or baseline note reads them."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest
from test_compare_local import PLAN, root  # noqa: F401 - the local plan's fixture: files in their usual formats
from test_compare_report import _records

from pretrain.compare.analysis.references import task_reference
from pretrain.compare.planning.plan import ComparePlan, parse_plan, validate
from pretrain.compare.reporting import markdown
from pretrain.compare.reporting.report import write_report
from pretrain.compare.reporting.results import aggregate, environment
from pretrain.compare.reporting.wandb_summary import COLUMNS, summary_rows
from pretrain.compare.running.ledger import RunRecord
from pretrain.compare.running.run_identity import RunIdentity
from pretrain.compare.schema import ComparisonResults, TaskResults
from tasks.classification.reference import classification_reference
from tasks.generation.reference import generation_reference, nearest_targets

SOURCES = ["def add(a, b): return the sum of two numbers", "class Stack: push and pop items",
           "def read_file(path): open a file and read its text"]
TARGETS = ["Add two numbers.", "A last-in first-out stack.", "Read a whole file."]


def test_retrieval_answers_a_duplicate_source_with_its_training_target() -> None:
    assert nearest_targets(SOURCES, TARGETS, [SOURCES[1], SOURCES[2], SOURCES[0]]) == [TARGETS[1], TARGETS[2],
                                                                                      TARGETS[0]]
    # The nearest, not only the identical: a paraphrase of the stack's source gets the stack's summary.
    assert nearest_targets(SOURCES, TARGETS, ["class Queue: push items, pop items"]) == [TARGETS[1]]
    scores = generation_reference(SOURCES, TARGETS, [SOURCES[2], SOURCES[0]], [[TARGETS[2]], [TARGETS[0], "x"]])
    assert scores["reference/tfidf_retrieval_rougeL"] == pytest.approx(1.0)  # exact targets, best reference
    assert set(scores) == {f"reference/tfidf_retrieval_{k}" for k in ("rouge1", "rouge2", "rougeL")}


def test_logistic_regression_fits_separable_data() -> None:
    fruit = ["apple and banana", "ripe banana", "an apple a day", "pear and apple"]
    vehicles = ["a red car", "truck and car", "a fast truck", "the old bus and a car"]
    scores = classification_reference(fruit + vehicles, ["fruit"] * 4 + ["vehicle"] * 4,
                                      ["banana split", "car park", "apple pie", "truck stop"],
                                      ["fruit", "vehicle", "fruit", "vehicle"])
    assert scores == {"reference/tfidf_logreg_acc": pytest.approx(1.0),
                      "reference/tfidf_logreg_macro_f1": pytest.approx(1.0)}


def test_every_task_gets_its_reference_through_its_data_module(root: Path) -> None:  # noqa: F811
    resolved = validate(parse_plan(PLAN), root)
    generation = task_reference("generation", resolved.task_data["generation"])
    assert generation["reference/tfidf_retrieval_rougeL"] == pytest.approx(1.0)  # test sources = train sources
    classification = task_reference("classification", resolved.task_data["classification"])
    assert 0.0 <= classification["reference/tfidf_logreg_acc"] <= 1.0
    assert task_reference("ner", resolved.task_data["ner"]) == {}  # no classical reference for NER


def _with_reference(value: float) -> list[RunRecord]:
    """The synthetic classification runs (BERT 0.65, GPT 0.667, majority 0.25) plus a classical reference."""
    reference = {"reference/tfidf_logreg_acc": value, "reference/tfidf_logreg_macro_f1": 0.9}
    return [*_records(),
            RunRecord("reference-classification", "done", RunIdentity.for_task("reference", "classification"),
                                   result=reference)]


def _results(value: float) -> ComparisonResults:
    plan = asdict(ComparePlan(experiment="synthetic", parallel_runs=2, threads_per_run=1))
    plan["finetune"]["tasks"] = ["classification"]
    return aggregate(plan, _with_reference(value), environment())


def test_references_are_kept_apart_shown_and_never_judged_against(tmp_path: Path) -> None:
    results = _results(0.95)
    write_report(results, tmp_path)
    saved = json.loads((tmp_path / "results.json").read_text())["tasks"]["classification"]
    assert saved["references"] == {"reference/tfidf_logreg_acc": 0.95, "reference/tfidf_logreg_macro_f1": 0.9}
    assert not any(k.startswith("reference/") for k in saved["baselines"])
    # The verdict is judged against the trivial baseline only (0.25), not the reference both models miss.
    verdict = saved["verdicts"][0]["text"]
    assert "Both beat the trivial baseline (0.25)" in verdict and "0.95" not in verdict

    report = (tmp_path / "report.md").read_text()
    assert "classical reference (not a baseline)" in report
    assert "| tfidf_logreg_acc 0.95 |" in report  # in the answer table and the task's table
    assert "Classical reference (TF-IDF + logistic regression, fit on the training split" in report
    assert "models minus reference BERT -0.3, GPT -0.283" in report
    assert "have not yet learned of those cues" in report  # what the gap means
    assert "**Classical references** (classification: TF-IDF + logistic regression)" in report
    assert not [line for line in markdown.answer_lines(results) if "does not beat" in line]

    rows = summary_rows(results)
    assert {row[COLUMNS.index("reference")] for row in rows if row[1] == "test/acc"} == {0.95}
    assert {row[COLUMNS.index("baseline")] for row in rows if row[1] == "test/acc"} == {0.25}


def test_a_model_above_the_reference_is_said_to_reach_it(tmp_path: Path) -> None:
    note = markdown._reference_note("classification", _results(0.66).tasks["classification"])
    assert "GPT reaches it" in note and "have not yet learned" not in note


def test_results_without_references_read_back_with_none() -> None:
    raw = _results(0.9).tasks["classification"].to_dict()
    del raw["references"]  # a results.json written before references existed
    assert TaskResults.from_dict(raw).references == {}
