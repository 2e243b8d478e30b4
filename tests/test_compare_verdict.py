from pretrain.compare.analysis.stats import summarize
from pretrain.compare.analysis.verdict import compare


def test_overlapping_intervals_are_not_significant() -> None:
    bert, gpt = summarize([0.60, 0.70, 0.65]), summarize([0.62, 0.72, 0.66])
    v = compare("accuracy", ("BERT", bert), ("GPT", gpt), higher_is_better=True, baseline=0.5)
    assert not v.significant and v.winner is None
    assert "not significant" in v.text and "Both beat the trivial baseline" in v.text
    assert v.p_value is not None and v.p_value > 0.05


def test_clear_difference_names_the_winner() -> None:
    bert, gpt = summarize([0.90, 0.91, 0.92]), summarize([0.70, 0.71, 0.69])
    v = compare("accuracy", ("BERT", bert), ("GPT", gpt), higher_is_better=True)
    assert v.significant and v.winner == "BERT"
    assert "BERT is better" in v.text and "significant" in v.text


def test_lower_is_better_and_baseline_wording() -> None:
    bert, gpt = summarize([30.0, 31.0, 29.0]), summarize([10.0, 11.0, 9.0])
    v = compare("perplexity", ("BERT", bert), ("GPT", gpt), higher_is_better=False, baseline=20.0)
    assert v.winner == "GPT"
    assert "Only GPT beats the trivial baseline" in v.text


def test_one_seed_claims_no_winner() -> None:
    v = compare("F1", ("BERT", summarize([0.9])), ("GPT", summarize([0.1])), higher_is_better=True)
    assert not v.significant and v.winner is None and "not enough seeds" in v.text


def test_paired_bootstrap_must_agree_with_the_seed_test() -> None:
    from pretrain.compare.analysis.bootstrap import paired_difference

    bert, gpt = summarize([0.80, 0.81, 0.82]), summarize([0.60, 0.61, 0.62])
    sure = paired_difference([[1] * 40 + [0] * 10], [[1] * 30 + [0] * 20])
    unsure = paired_difference([[1, 0] * 5], [[0, 1] * 4 + [1, 0]])
    v = compare("acc", ("BERT", bert), ("GPT", gpt), higher_is_better=True, paired=sure)
    assert v.significant and v.winner == "BERT" and "paired bootstrap over test examples only (50 test rows)" in v.text
    v = compare("acc", ("BERT", bert), ("GPT", gpt), higher_is_better=True, paired=unsure)
    assert not v.significant and v.winner is None  # seeds agree, but the test set is too small to tell


def test_one_run_per_family_is_judged_by_the_bootstrap_and_says_so() -> None:
    from pretrain.compare.analysis.bootstrap import paired_difference

    sure = paired_difference([[1] * 45 + [0] * 5], [[1] * 25 + [0] * 25])
    v = compare("acc", ("BERT", summarize([0.9])), ("GPT", summarize([0.5])), higher_is_better=True, paired=sure)
    assert v.significant and "the bootstrap interval covers test examples only" in v.text


def test_a_gap_inside_the_measured_pretraining_spread_is_not_called() -> None:
    """Fine-tuning seeds agree on a 0.2 gap, but pretraining runs were measured to move it by sd 0.15: 0.2 lies
    inside 1.96 x 0.15, so no winner; the same gap against sd 0.05 is called."""
    bert, gpt = summarize([0.90, 0.91, 0.92]), summarize([0.70, 0.71, 0.69])
    wide = compare("accuracy", ("BERT", bert), ("GPT", gpt), higher_is_better=True, pretraining_spread=0.15)
    assert not wide.significant and wide.winner is None
    assert "inside the measured pretraining-seed spread (1.96 x sd 0.15 = 0.294)" in wide.text
    narrow = compare("accuracy", ("BERT", bert), ("GPT", gpt), higher_is_better=True, pretraining_spread=0.05)
    assert narrow.significant and narrow.winner == "BERT" and "outside the measured pretraining-seed" in narrow.text
