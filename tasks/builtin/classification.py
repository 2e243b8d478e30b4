"""Built-in classification: a docstring paragraph -> the top-level stdlib package it belongs to."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import datasets

from pretrain.data.builtin_corpus import builtin_documents
from tasks.builtin.splits import cached_task, earliest_split, split_examples
from tasks.builtin.text_units import CODE_KINDS, is_doctest, paragraphs

_MIN_CLASSIFICATION_WORDS = 4


def top_packages(docs: datasets.Dataset, num_classes: int) -> list[str]:
    """The ``num_classes`` packages with most documents; ties broken by name so the order is stable."""
    counts = Counter(p for p, k in zip(docs["package"], docs["kind"]) if p and k in CODE_KINDS)
    if len(counts) < num_classes:
        raise ValueError(f"num_classes={num_classes} but the built-in corpus has only {len(counts)} packages")
    return [name for name, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:num_classes]]


def builtin_classification(num_classes: int = 8, cache_dir: str | Path | None = None,
                           root: Path | None = None) -> datasets.DatasetDict:
    """Columns ``text`` (a docstring paragraph of at least 4 words, doctests left out), ``label``
    (ClassLabel; names = package names, most frequent first) and ``document`` (the docstring's id)."""
    if num_classes < 2:
        raise ValueError(f"num_classes={num_classes}: a classification task needs at least 2 classes")
    docs = builtin_documents(cache_dir, root)

    def build(table: datasets.Dataset) -> datasets.DatasetDict:
        names = top_packages(table, num_classes)
        index = {name: i for i, name in enumerate(names)}
        earliest = earliest_split((p, doc["bucket"]) for doc in table for p in paragraphs(doc["text"]))
        examples = (
            (paragraph, {"text": paragraph, "label": index[doc["package"]], "document": doc["id"]}, doc["bucket"])
            for doc in table if doc["package"] in index and doc["kind"] in CODE_KINDS
            for paragraph in paragraphs(doc["text"])
            if len(paragraph.split()) >= _MIN_CLASSIFICATION_WORDS and not is_doctest(paragraph)
        )
        features = datasets.Features({"text": datasets.Value("string"), "label": datasets.ClassLabel(names=names),
                                      "document": datasets.Value("string")})
        return split_examples(examples, earliest, features)

    return cached_task("classification", docs, (num_classes,), cache_dir, build)
