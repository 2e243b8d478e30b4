"""The three fine-tuning data sets derived from the built-in corpus (distant supervision).

- classification: docstring -> top-level stdlib package it belongs to (K most frequent);
- NER: docstring paragraphs, words tagged BIO as PARAM / MODULE / EXCEPTION / TYPE
  mentions (rules in ``code_mentions``);
- generation: signature + docstring body -> the docstring's summary (first paragraph).

Splits come from the document buckets in ``builtin_corpus`` (validation = 90-94,
test = 95-99, train = the rest), so all three tasks evaluate on documents that the
pretraining corpus never contains. Each data set is cached on disk next to the parsed
corpus and keyed by its fingerprint.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import datasets

from pretrain.data.builtin_corpus import FINETUNE_BUCKETS, builtin_documents, select_buckets
from pretrain.data.caching import atomic_directory, resolve_cache_dir, stable_hash
from pretrain.data.code_mentions import (
    NER_LABELS,
    MentionVocabulary,
    bio_tag,
    count_prose_words,
    find_mentions,
    stdlib_module_names,
)

TASKS_VERSION = 1
_CODE_KINDS = ("module", "class", "function")
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")
_SIGNATURE_LINE = re.compile(r"^[\w.]+\(.*\)\s*(->.*)?$")  # C-style docstrings that start with their own signature
_MIN_NER_TOKENS, _MAX_NER_TOKENS = 4, 160


def _cached(name: str, docs: datasets.Dataset, settings: tuple[object, ...], cache_dir: str | Path | None,
            build: Callable[[datasets.Dataset], datasets.DatasetDict]) -> datasets.DatasetDict:
    key = stable_hash(TASKS_VERSION, name, docs._fingerprint, settings)
    target = resolve_cache_dir(cache_dir) / "builtin_tasks" / f"{name}-{key}"
    if not target.exists():
        built = build(docs)
        for split, dataset in built.items():
            if len(dataset) == 0:
                raise ValueError(f"built-in {name} task: the {split} split is empty; the corpus is too small")
        with atomic_directory(target) as tmp:
            built.save_to_disk(str(tmp))
    return datasets.load_from_disk(str(target))


def _split_rows(rows: list[dict[str, object]], buckets: list[int], features: datasets.Features) -> datasets.DatasetDict:
    splits = {}
    for split, allowed in FINETUNE_BUCKETS.items():
        chosen = [row for row, bucket in zip(rows, buckets) if bucket in allowed]
        splits[split] = datasets.Dataset.from_list(chosen, features=features)
    return datasets.DatasetDict(splits)


def top_packages(docs: datasets.Dataset, num_classes: int) -> list[str]:
    """The ``num_classes`` packages with most documents; ties broken by name so the order is stable."""
    counts = Counter(p for p, k in zip(docs["package"], docs["kind"]) if p and k in _CODE_KINDS)
    if len(counts) < num_classes:
        raise ValueError(f"num_classes={num_classes} but the built-in corpus has only {len(counts)} packages")
    return [name for name, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:num_classes]]


def builtin_classification(num_classes: int = 8, cache_dir: str | Path | None = None,
                           root: Path | None = None) -> datasets.DatasetDict:
    """Columns ``text`` (a docstring) and ``label`` (ClassLabel; names = package names, most frequent first)."""
    if num_classes < 2:
        raise ValueError(f"num_classes={num_classes}: a classification task needs at least 2 classes")
    docs = builtin_documents(cache_dir, root)

    def build(table: datasets.Dataset) -> datasets.DatasetDict:
        names = top_packages(table, num_classes)
        index = {name: i for i, name in enumerate(names)}
        rows, buckets = [], []
        for doc in table:
            if doc["package"] in index and doc["kind"] in _CODE_KINDS and len(doc["text"].split()) >= 4:
                rows.append({"text": doc["text"], "label": index[doc["package"]]})
                buckets.append(doc["bucket"])
        features = datasets.Features({"text": datasets.Value("string"), "label": datasets.ClassLabel(names=names)})
        return _split_rows(rows, buckets, features)

    return _cached("classification", docs, (num_classes,), cache_dir, build)


def _paragraphs(text: str) -> list[str]:
    return [" ".join(p.split()) for p in _PARAGRAPH_BREAK.split(text) if p.strip()]


def builtin_ner(cache_dir: str | Path | None = None, root: Path | None = None,
                min_prose_docs: int = 3) -> datasets.DatasetDict:
    """Columns ``tokens`` (list[str]) and ``ner_tags`` (Sequence(ClassLabel), BIO names in ``NER_LABELS``).

    One example per docstring paragraph of a function, class or module that mentions
    at least one entity; doctest paragraphs are left out (they are code, not prose).
    """
    docs = builtin_documents(cache_dir, root)

    def build(table: datasets.Dataset) -> datasets.DatasetDict:
        code_docs = table.filter(lambda kind: kind in _CODE_KINDS, input_columns="kind")
        vocab = MentionVocabulary(
            modules=stdlib_module_names(code_docs["module"]),
            prose_words=count_prose_words(zip(code_docs["text"], code_docs["params"]), min_prose_docs),
        )
        rows, buckets = [], []
        for doc in code_docs:
            # Paragraphs are tagged on the original text so that line-based code marks (argument lists) still apply.
            for paragraph in _PARAGRAPH_BREAK.split(doc["text"]):
                if paragraph.lstrip().startswith(">>>"):
                    continue
                tokens, tags = bio_tag(paragraph, find_mentions(paragraph, doc["params"], vocab))
                if _MIN_NER_TOKENS <= len(tokens) <= _MAX_NER_TOKENS and any(t != "O" for t in tags):
                    rows.append({"tokens": tokens, "ner_tags": tags})
                    buckets.append(doc["bucket"])
        features = datasets.Features(
            {
                "tokens": datasets.Sequence(datasets.Value("string")),
                "ner_tags": datasets.Sequence(datasets.ClassLabel(names=NER_LABELS)),
            }
        )
        return _split_rows(rows, buckets, features)

    return _cached("ner", docs, (min_prose_docs,), cache_dir, build)


def summary_and_body(text: str) -> tuple[str, str] | None:
    """PEP 257 layout: a summary paragraph, then the body. None when the docstring has no usable pair."""
    paragraphs = _PARAGRAPH_BREAK.split(text.strip())
    if len(paragraphs) < 2:
        return None
    summary = " ".join(paragraphs[0].split())
    body = "\n\n".join(p.strip("\n") for p in paragraphs[1:]).strip()
    first_line = paragraphs[0].strip().splitlines()[0]
    if _SIGNATURE_LINE.match(first_line) or not 3 <= len(summary.split()) <= 40 or len(body.split()) < 5:
        return None
    return summary, body


def builtin_generation(cache_dir: str | Path | None = None, root: Path | None = None) -> datasets.DatasetDict:
    """Columns ``source`` (signature line + docstring body) and ``target`` (the summary)."""
    docs = builtin_documents(cache_dir, root)

    def build(table: datasets.Dataset) -> datasets.DatasetDict:
        rows, buckets = [], []
        for doc in table:
            if doc["kind"] not in {"function", "class"}:
                continue
            pair = summary_and_body(doc["text"])
            if pair is not None:
                rows.append({"source": f"{doc['signature']}:\n{pair[1]}", "target": pair[0]})
                buckets.append(doc["bucket"])
        features = datasets.Features({"source": datasets.Value("string"), "target": datasets.Value("string")})
        return _split_rows(rows, buckets, features)

    return _cached("generation", docs, (), cache_dir, build)
