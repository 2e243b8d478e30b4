import pytest

from pretrain.compare.analysis.pretraining_spread import PretrainingSpread, pretraining_spread
from pretrain.compare.reporting.spread_section import spread_lines
from pretrain.compare.schema import TaskResults


def test_spread_is_the_sd_of_the_per_seed_gaps() -> None:
    scores = {"bert": {0: [0.80, 0.82], 1: [0.70, 0.72], 2: [0.75]},
              "gpt": {0: [0.70], 1: [0.70, 0.70], 2: [0.60, 0.70]}}
    spread = pretraining_spread("test/accuracy", scores)
    assert spread is not None
    assert spread.seed_means["bert"] == pytest.approx({0: 0.81, 1: 0.71, 2: 0.75})
    assert spread.gaps == pytest.approx({0: 0.11, 1: 0.01, 2: 0.10})
    assert spread.gap_sd == pytest.approx(0.0550757, abs=1e-6)  # stdev([0.11, 0.01, 0.10])
    assert spread.family_sd["gpt"] == pytest.approx(0.0288675, abs=1e-6)  # stdev([0.70, 0.70, 0.65])
    assert PretrainingSpread.from_dict(spread.to_dict()) == spread  # through results.json's string keys
    assert PretrainingSpread.from_dict({**spread.to_dict(), "gaps": {str(k): v for k, v in spread.gaps.items()},
                                        }) == spread


def test_one_pretraining_seed_has_no_spread() -> None:
    assert pretraining_spread("m", {"bert": {0: [0.8, 0.9]}, "gpt": {0: [0.7]}}) is None
    assert pretraining_spread("m", {"bert": {0: [0.8], 1: [0.9]}, "gpt": {0: [0.7], 2: [0.6]}}) is None  # one shared


def test_the_report_shows_each_seed_and_the_spread() -> None:
    spread = pretraining_spread("test/accuracy", {"bert": {0: [0.8], 1: [0.7]}, "gpt": {0: [0.6], 1: [0.65]}})
    entry = TaskResults({}, [], {}, {}, [], {}, [], [], pretraining_spread=spread)
    text = "\n".join(spread_lines(entry))
    assert "| 0 | 0.8000 | 0.6000 | +0.2000 |" in text and "| 1 | 0.7000 | 0.6500 | +0.0500 |" in text
    assert "| sd | 0.0707 | 0.0354 | 0.1061 |" in text
    assert TaskResults.from_dict(entry.to_dict()).pretraining_spread == spread
    assert spread_lines(TaskResults({}, [], {}, {}, [], {}, [], [])) == []
