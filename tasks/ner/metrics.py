"""Entity-level precision, recall and F1, per type and micro-averaged, with conlleval semantics.

An entity is a chunk (type, first word, last word) found by seqeval's `get_entities`, the
conlleval chunking that seqeval's default mode uses (BIO and IOBES prefixes; an I- after O or
after another type starts a new chunk). A predicted entity is correct only if a gold entity has
the same type, start and end. Counts are summed per sentence, so evaluation never holds the
whole set; they are torchmetrics sum states, so they also reduce across DDP processes.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from seqeval.metrics.sequence_labeling import get_entities
from torch import Tensor
from torchmetrics import Metric

SCHEMES = {"BIO": ("B", "I"), "IOBES": ("B", "I", "E", "S")}


def entity_types(tag_names: Sequence[str]) -> list[str]:
    return sorted({tag.split("-", 1)[1] for tag in tag_names if tag != "O"})


def check_tag(tag: str, scheme: str, where: str) -> None:
    """A tag is O or <prefix>-<type> with a prefix the scheme allows."""
    if scheme not in SCHEMES:
        raise ValueError(f"scheme={scheme!r} is not supported; choose one of {', '.join(SCHEMES)}")
    prefix, _, kind = tag.partition("-")
    if tag != "O" and (prefix not in SCHEMES[scheme] or not kind):
        raise ValueError(
            f"{where}: tag {tag!r} is not valid in the {scheme} scheme; expected O or "
            f"{'/'.join(SCHEMES[scheme])}-<TYPE>"
        )


Entity = tuple[str, int, int]  # (type, first word, last word)


def sentence_entities(pred: Sequence[str], gold: Sequence[str]) -> tuple[set[Entity], set[Entity]]:
    """Predicted and gold entities of one sentence's word-level tags."""
    if len(pred) != len(gold):
        raise ValueError(f"a sentence has {len(gold)} gold tags but {len(pred)} predicted tags")
    return set(get_entities(list(pred))), set(get_entities(list(gold)))


def sentence_counts(pred: Sequence[str], gold: Sequence[str]) -> list[int]:
    """[correct, predicted, gold] entity counts of one sentence; summed over sentences they give the
    micro scores of EntityScores (F1 = 2 * correct / (predicted + gold))."""
    pred_entities, gold_entities = sentence_entities(pred, gold)
    return [len(pred_entities & gold_entities), len(pred_entities), len(gold_entities)]


class EntityScores(Metric):
    full_state_update = False

    def __init__(self, types: Sequence[str]) -> None:
        super().__init__()
        self.types = list(types)
        self._index = {t: i for i, t in enumerate(self.types)}
        for name in ("correct", "predicted", "gold"):
            self.add_state(name, default=torch.zeros(len(self.types), dtype=torch.long), dist_reduce_fx="sum")

    def update(self, predictions: Sequence[Sequence[str]], targets: Sequence[Sequence[str]]) -> None:
        """Word-level tag sequences, one pair per sentence."""
        for pred, gold in zip(predictions, targets, strict=True):
            pred_entities, gold_entities = sentence_entities(pred, gold)
            for entities, state in ((pred_entities, self.predicted), (gold_entities, self.gold),
                                    (pred_entities & gold_entities, self.correct)):
                for kind, _, _ in entities:
                    if kind not in self._index:
                        raise ValueError(f"entity type {kind!r} is not one of {self.types}")
                    state[self._index[kind]] += 1

    def compute(self) -> dict[str, Tensor]:
        """`precision`, `recall`, `f1` (micro over all types) and `f1_<TYPE>` etc. per type; 0 when undefined."""
        scores: dict[str, Tensor] = {}
        p, r, f = _prf(self.correct.sum(), self.predicted.sum(), self.gold.sum())
        scores.update(precision=p, recall=r, f1=f)
        for i, kind in enumerate(self.types):
            p, r, f = _prf(self.correct[i], self.predicted[i], self.gold[i])
            scores.update({f"precision_{kind}": p, f"recall_{kind}": r, f"f1_{kind}": f})
        return scores


def _prf(correct: Tensor, predicted: Tensor, gold: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    correct, predicted, gold = correct.double(), predicted.double(), gold.double()
    precision = correct / predicted if predicted > 0 else torch.zeros((), dtype=torch.double)
    recall = correct / gold if gold > 0 else torch.zeros((), dtype=torch.double)
    zero = torch.zeros((), dtype=torch.double)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else zero
    return precision.float(), recall.float(), f1.float()
