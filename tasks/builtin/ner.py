"""Built-in NER: docstring sentences, words tagged BIO as PARAM / MODULE / EXCEPTION / TYPE mentions."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import datasets

from pretrain.data.builtin_corpus import builtin_documents
from tasks.builtin.code_mentions import (
    NER_LABELS,
    MentionVocabulary,
    bio_tag,
    count_prose_words,
    find_mentions,
    stdlib_module_names,
)
from tasks.builtin.splits import cached_task, earliest_split, split_examples
from tasks.builtin.text_units import CODE_KINDS, is_doctest, paragraphs, sentence_spans

_MIN_NER_TOKENS, _MAX_NER_TOKENS = 4, 160


def builtin_ner(cache_dir: str | Path | None = None, root: Path | None = None,
                min_prose_docs: int = 3) -> datasets.DatasetDict:
    """Columns ``tokens`` (list[str]), ``ner_tags`` (Sequence(ClassLabel), BIO names in ``NER_LABELS``) and
    ``document`` (the docstring's id).

    One example per docstring sentence of a function, class or module that mentions at
    least one entity; doctest paragraphs are left out (they are code, not prose).
    """
    docs = builtin_documents(cache_dir, root)

    def build(table: datasets.Dataset) -> datasets.DatasetDict:
        code_docs = table.filter(lambda kind: kind in CODE_KINDS, input_columns="kind")
        vocab = MentionVocabulary(
            modules=stdlib_module_names(code_docs["module"]),
            prose_words=count_prose_words(zip(code_docs["text"], code_docs["params"]), min_prose_docs),
        )
        earliest = earliest_split((p[s:e], doc["bucket"]) for doc in table for p in paragraphs(doc["text"])
                                  for s, e in sentence_spans(p))

        def examples() -> Iterable[tuple[str, dict[str, object], int]]:
            for doc in code_docs:
                for paragraph in paragraphs(doc["text"]):
                    if is_doctest(paragraph):
                        continue
                    # Mentions are found in the whole paragraph so that line-based code marks (argument lists) apply.
                    mentions = find_mentions(paragraph, doc["params"], vocab)
                    for start, end in sentence_spans(paragraph):
                        inside = [(s - start, e - start, kind) for s, e, kind in mentions if start <= s and e <= end]
                        tokens, tags = bio_tag(paragraph[start:end], inside)
                        if _MIN_NER_TOKENS <= len(tokens) <= _MAX_NER_TOKENS and any(t != "O" for t in tags):
                            row = {"tokens": tokens, "ner_tags": tags, "document": doc["id"]}
                            yield paragraph[start:end], row, doc["bucket"]

        features = datasets.Features(
            {
                "tokens": datasets.Sequence(datasets.Value("string")),
                "ner_tags": datasets.Sequence(datasets.ClassLabel(names=NER_LABELS)),
                "document": datasets.Value("string"),
            }
        )
        return split_examples(examples(), earliest, features)

    return cached_task("ner", docs, (min_prose_docs,), cache_dir, build)
