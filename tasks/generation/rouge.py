"""The ROUGE variants generation reports, and the one scorer of outputs against references."""

from __future__ import annotations

from torchmetrics.text import ROUGEScore

ROUGE_KEYS = ("rouge1", "rouge2", "rougeL")


def rouge_scores(outputs: list[str], references: list[list[str]]) -> dict[str, float]:
    """ROUGE F-measures of one output per test row against its references (torchmetrics' ROUGEScore, the
    scorer of the generation module's test/rouge*: the best reference per row, averaged over rows)."""
    scores = ROUGEScore(rouge_keys=ROUGE_KEYS)(outputs, references)
    return {key: float(scores[f"{key}_fmeasure"]) for key in ROUGE_KEYS}
