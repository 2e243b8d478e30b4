"""NER's trivial baseline: a unigram tagger (each word gets its most frequent training tag, unseen words "O"),
the classic CoNLL baseline (Tjong Kim Sang & De Meulder 2003), scored with seqeval."""

from __future__ import annotations

from collections import Counter

from seqeval.metrics import f1_score

from tasks.ner.data import NerDataModule


def ner_baseline(train: list[tuple[list[str], list[str]]], test: list[tuple[list[str], list[str]]]) -> dict[str, float]:
    """Unigram tagger over (words, tags) sentences: each word's most frequent train tag, unseen words "O"."""
    counts: dict[str, Counter[str]] = {}
    for words, tags in train:
        for word, tag in zip(words, tags, strict=True):
            counts.setdefault(word, Counter())[tag] += 1
    gold = [tags for _, tags in test]
    pred = [[counts[w].most_common(1)[0][0] if w in counts else "O" for w in words] for words, _ in test]
    return {"baseline/unigram_tagger_f1": float(f1_score(gold, pred))}


def unigram_tagger_baseline(data: NerDataModule) -> dict[str, float]:
    """The unigram tagger of `data`'s train split, scored on its test split."""
    return ner_baseline([(data.words(r), data.tags(r)) for r in data.rows("train")],
                        [(data.words(r), data.tags(r)) for r in data.rows("test")])
