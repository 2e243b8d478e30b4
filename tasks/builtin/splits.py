"""Which split a derived example lands in (by its document's bucket), and the on-disk cache of a task."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import datasets

from pretrain.data.builtin_corpus import FINETUNE_BUCKETS
from pretrain.data.caching import atomic_directory, resolve_cache_dir, stable_hash
from tasks.builtin.text_units import normalized

TASKS_VERSION = 3  # bump when derivation rules change so that old caches are not reused


def cached_task(name: str, docs: datasets.Dataset, settings: tuple[object, ...], cache_dir: str | Path | None,
                build: Callable[[datasets.Dataset], datasets.DatasetDict]) -> datasets.DatasetDict:
    """``build(docs)``, saved once under a key of the rules' version, the corpus fingerprint and ``settings``."""
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


def split_of(bucket: int) -> int:
    """Index of the fine-tuning split (0 train, 1 validation, 2 test) that holds documents of ``bucket``."""
    return next(i for i, allowed in enumerate(FINETUNE_BUCKETS.values()) if bucket in allowed)


def earliest_split(units: Iterable[tuple[str, int]]) -> dict[str, int]:
    """For each normalized text unit (paragraph, sentence), the earliest split of a document that contains it."""
    earliest: dict[str, int] = {}
    for text, bucket in units:
        key, split = normalized(text), split_of(bucket)
        earliest[key] = min(split, earliest.get(key, split))
    return earliest


def split_examples(examples: Iterable[tuple[str, dict[str, object], int]], earliest: dict[str, int] | None,
                   features: datasets.Features) -> datasets.DatasetDict:
    """(text unit, row, document bucket) -> train/validation/test by bucket.

    With ``earliest`` (see ``earliest_split``) a unit that several documents share is kept
    once, in the earliest split any of them is in; without it every example is kept.
    """
    chosen: list[list[dict[str, object]]] = [[] for _ in FINETUNE_BUCKETS]
    kept: set[str] = set()
    for unit, row, bucket in examples:
        split = split_of(bucket)
        if earliest is not None:
            key = normalized(unit)
            if key in kept or earliest[key] != split:
                continue
            kept.add(key)
        chosen[split].append(row)
    return datasets.DatasetDict({name: datasets.Dataset.from_list(rows, features=features)
                                 for name, rows in zip(FINETUNE_BUCKETS, chosen)})
