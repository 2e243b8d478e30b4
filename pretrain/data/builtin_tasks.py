"""The three fine-tuning data sets derived from the built-in corpus (distant supervision).

- classification: a docstring paragraph -> the top-level stdlib package it belongs to
  (K most frequent packages);
- NER: docstring sentences, words tagged BIO as PARAM / MODULE / EXCEPTION / TYPE
  mentions (rules in ``code_mentions``);
- generation: signature + docstring body -> the docstring's summary (first paragraph).

Splits come from the document buckets in ``builtin_corpus`` (validation = 62-80,
test = 81-99, train = the rest), so all three tasks evaluate on documents that the
pretraining train split never contains. Classification and NER take several examples
from one docstring; a paragraph (or sentence) that several documents share is kept once,
in the earliest split any of them is in (train, then validation, then test), so no
evaluation example is the text of a training example or of a paragraph (sentence) of
pretraining train. On Python 3.11 the splits hold (train / validation / test):
classification 3,109 / 839 / 921, NER 2,091 / 629 / 583, generation 1,794 / 536 / 522.
Each data set is cached on disk next to the parsed corpus and keyed by its fingerprint.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
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

TASKS_VERSION = 2  # bump when derivation rules change so that old caches are not reused
_CODE_KINDS = ("module", "class", "function")
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")
_SIGNATURE_LINE = re.compile(r"^[\w.]+\(.*\)\s*(->.*)?$")  # C-style docstrings that start with their own signature
# A sentence ends at . ! or ? followed by a capital letter or a code mark, so that "e.g. the" and "os.path" stay whole.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z`*'\"(\[])")
_MIN_CLASSIFICATION_WORDS = 4
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


def _split_of(bucket: int) -> int:
    """Index of the fine-tuning split (0 train, 1 validation, 2 test) that holds documents of ``bucket``."""
    return next(i for i, allowed in enumerate(FINETUNE_BUCKETS.values()) if bucket in allowed)


def _normalized(text: str) -> str:
    return " ".join(text.split())


def _earliest_split(units: Iterable[tuple[str, int]]) -> dict[str, int]:
    """For each normalized text unit (paragraph, sentence), the earliest split of a document that contains it."""
    earliest: dict[str, int] = {}
    for text, bucket in units:
        key, split = _normalized(text), _split_of(bucket)
        earliest[key] = min(split, earliest.get(key, split))
    return earliest


def _split_examples(examples: Iterable[tuple[str, dict[str, object], int]], earliest: dict[str, int] | None,
                    features: datasets.Features) -> datasets.DatasetDict:
    """(text unit, row, document bucket) -> train/validation/test by bucket.

    With ``earliest`` (see ``_earliest_split``) a unit that several documents share is kept
    once, in the earliest split any of them is in; without it every example is kept.
    """
    chosen: list[list[dict[str, object]]] = [[] for _ in FINETUNE_BUCKETS]
    kept: set[str] = set()
    for unit, row, bucket in examples:
        split = _split_of(bucket)
        if earliest is not None:
            key = _normalized(unit)
            if key in kept or earliest[key] != split:
                continue
            kept.add(key)
        chosen[split].append(row)
    return datasets.DatasetDict({name: datasets.Dataset.from_list(rows, features=features)
                                 for name, rows in zip(FINETUNE_BUCKETS, chosen)})


def _paragraphs(text: str) -> list[str]:
    """Blank-line separated paragraphs with their line layout (argument lists are marked by it)."""
    return [p.strip("\n") for p in _PARAGRAPH_BREAK.split(text) if p.strip()]


def _is_doctest(paragraph: str) -> bool:
    return paragraph.lstrip().startswith(">>>")  # code, not prose


def _sentence_spans(paragraph: str) -> list[tuple[int, int]]:
    spans, start = [], 0
    for boundary in _SENTENCE_END.finditer(paragraph):
        spans.append((start, boundary.start()))
        start = boundary.end()
    spans.append((start, len(paragraph)))
    return [(s, e) for s, e in spans if paragraph[s:e].strip()]


def top_packages(docs: datasets.Dataset, num_classes: int) -> list[str]:
    """The ``num_classes`` packages with most documents; ties broken by name so the order is stable."""
    counts = Counter(p for p, k in zip(docs["package"], docs["kind"]) if p and k in _CODE_KINDS)
    if len(counts) < num_classes:
        raise ValueError(f"num_classes={num_classes} but the built-in corpus has only {len(counts)} packages")
    return [name for name, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:num_classes]]


def builtin_classification(num_classes: int = 8, cache_dir: str | Path | None = None,
                           root: Path | None = None) -> datasets.DatasetDict:
    """Columns ``text`` (a docstring paragraph of at least 4 words, doctests left out) and ``label``
    (ClassLabel; names = package names, most frequent first)."""
    if num_classes < 2:
        raise ValueError(f"num_classes={num_classes}: a classification task needs at least 2 classes")
    docs = builtin_documents(cache_dir, root)

    def build(table: datasets.Dataset) -> datasets.DatasetDict:
        names = top_packages(table, num_classes)
        index = {name: i for i, name in enumerate(names)}
        earliest = _earliest_split((p, doc["bucket"]) for doc in table for p in _paragraphs(doc["text"]))
        examples = (
            (paragraph, {"text": paragraph, "label": index[doc["package"]]}, doc["bucket"])
            for doc in table if doc["package"] in index and doc["kind"] in _CODE_KINDS
            for paragraph in _paragraphs(doc["text"])
            if len(paragraph.split()) >= _MIN_CLASSIFICATION_WORDS and not _is_doctest(paragraph)
        )
        features = datasets.Features({"text": datasets.Value("string"), "label": datasets.ClassLabel(names=names)})
        return _split_examples(examples, earliest, features)

    return _cached("classification", docs, (num_classes,), cache_dir, build)


def builtin_ner(cache_dir: str | Path | None = None, root: Path | None = None,
                min_prose_docs: int = 3) -> datasets.DatasetDict:
    """Columns ``tokens`` (list[str]) and ``ner_tags`` (Sequence(ClassLabel), BIO names in ``NER_LABELS``).

    One example per docstring sentence of a function, class or module that mentions at
    least one entity; doctest paragraphs are left out (they are code, not prose).
    """
    docs = builtin_documents(cache_dir, root)

    def build(table: datasets.Dataset) -> datasets.DatasetDict:
        code_docs = table.filter(lambda kind: kind in _CODE_KINDS, input_columns="kind")
        vocab = MentionVocabulary(
            modules=stdlib_module_names(code_docs["module"]),
            prose_words=count_prose_words(zip(code_docs["text"], code_docs["params"]), min_prose_docs),
        )
        earliest = _earliest_split((p[s:e], doc["bucket"]) for doc in table for p in _paragraphs(doc["text"])
                                   for s, e in _sentence_spans(p))

        def examples() -> Iterable[tuple[str, dict[str, object], int]]:
            for doc in code_docs:
                for paragraph in _paragraphs(doc["text"]):
                    if _is_doctest(paragraph):
                        continue
                    # Mentions are found in the whole paragraph so that line-based code marks (argument lists) apply.
                    mentions = find_mentions(paragraph, doc["params"], vocab)
                    for start, end in _sentence_spans(paragraph):
                        inside = [(s - start, e - start, kind) for s, e, kind in mentions if start <= s and e <= end]
                        tokens, tags = bio_tag(paragraph[start:end], inside)
                        if _MIN_NER_TOKENS <= len(tokens) <= _MAX_NER_TOKENS and any(t != "O" for t in tags):
                            yield paragraph[start:end], {"tokens": tokens, "ner_tags": tags}, doc["bucket"]

        features = datasets.Features(
            {
                "tokens": datasets.Sequence(datasets.Value("string")),
                "ner_tags": datasets.Sequence(datasets.ClassLabel(names=NER_LABELS)),
            }
        )
        return _split_examples(examples(), earliest, features)

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
        # One pair per document, and documents are unique texts: nothing to deduplicate.
        pairs = ((doc, summary_and_body(doc["text"])) for doc in table if doc["kind"] in {"function", "class"})
        examples = (("", {"source": f"{doc['signature']}:\n{pair[1]}", "target": pair[0]}, doc["bucket"])
                    for doc, pair in pairs if pair is not None)
        features = datasets.Features({"source": datasets.Value("string"), "target": datasets.Value("string")})
        return _split_examples(examples, None, features)

    return _cached("generation", docs, (), cache_dir, build)
