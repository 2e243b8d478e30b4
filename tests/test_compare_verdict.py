from pretrain.compare.stats import summarize
from pretrain.compare.verdict import compare


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
    assert not v.significant and v.winner is None and "Not enough seeds" in v.text
