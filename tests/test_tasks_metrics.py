"""Entity-level scores: equal to seqeval's (conlleval semantics) on the same predictions."""

from __future__ import annotations

import random

import pytest
from seqeval.metrics import classification_report, f1_score, precision_score, recall_score

from tasks.ner.metrics import EntityScores, check_tag, entity_types


def _random_tags(rng: random.Random, n: int, prefixes: str) -> list[str]:
    return [rng.choice(["O", "O"] + [f"{p}-{t}" for p in prefixes for t in ("PER", "LOC", "MISC")]) for _ in range(n)]


@pytest.mark.parametrize("prefixes", ["BI", "BIES"])
def test_equals_seqeval_on_random_sequences(prefixes: str) -> None:
    rng = random.Random(0)
    gold = [_random_tags(rng, rng.randint(1, 12), prefixes) for _ in range(60)]
    pred = [[t if rng.random() < 0.7 else rng.choice(_random_tags(rng, 1, prefixes)) for t in s] for s in gold]
    metric = EntityScores(["LOC", "MISC", "PER"])
    for start in range(0, len(gold), 7):  # per-batch accumulation
        metric.update(pred[start:start + 7], gold[start:start + 7])
    scores = metric.compute()
    assert scores["precision"].item() == pytest.approx(precision_score(gold, pred), abs=1e-6)
    assert scores["recall"].item() == pytest.approx(recall_score(gold, pred), abs=1e-6)
    assert scores["f1"].item() == pytest.approx(f1_score(gold, pred), abs=1e-6)
    report = classification_report(gold, pred, output_dict=True)
    for kind in ("LOC", "MISC", "PER"):
        assert scores[f"f1_{kind}"].item() == pytest.approx(report[kind]["f1-score"], abs=1e-6)
        assert scores[f"precision_{kind}"].item() == pytest.approx(report[kind]["precision"], abs=1e-6)


def test_hand_computed_example() -> None:
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["B-LOC", "O"]]
    # PER span correct; first LOC missed; second sentence: a stray I-LOC after O starts a LOC chunk
    # (conlleval), which is correct here; one wrong PER predicted.
    pred = [["B-PER", "I-PER", "O", "O"], ["I-LOC", "B-PER"]]
    metric = EntityScores(["LOC", "PER"])
    metric.update(pred, gold)
    scores = metric.compute()
    assert scores["precision"].item() == pytest.approx(2 / 3)
    assert scores["recall"].item() == pytest.approx(2 / 3)
    assert scores["f1_LOC"].item() == pytest.approx(2 * 1 * 0.5 / 1.5)
    assert scores["f1_PER"].item() == pytest.approx(2 * 0.5 * 1 / 1.5)


def test_no_entities_gives_zero_not_nan() -> None:
    metric = EntityScores(["LOC"])
    metric.update([["O", "O"]], [["O", "O"]])
    assert metric.compute()["f1"].item() == 0.0


def test_length_mismatch_and_bad_tags_are_errors() -> None:
    metric = EntityScores(["LOC"])
    with pytest.raises(ValueError, match="2 gold tags but 1 predicted"):
        metric.update([["O"]], [["O", "B-LOC"]])
    with pytest.raises(ValueError, match="f.conll:3: tag 'E-LOC' is not valid in the BIO scheme"):
        check_tag("E-LOC", "BIO", "f.conll:3")
    check_tag("E-LOC", "IOBES", "f.conll:3")
    assert entity_types(["O", "B-LOC", "I-LOC", "S-PER"]) == ["LOC", "PER"]
