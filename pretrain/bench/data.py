"""Data-pipeline throughput for `python scripts/bench.py --data` (benchmarks, never timed assertions in tests)."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from pretrain.data.datamodules import BertDataModule, GptDataModule, PretrainDataModule
from pretrain.family import FAMILIES


def tokenization_throughput(cache_dir: str | Path, kind: str = "bpe", vocab_size: int = 8192) -> dict[str, float]:
    """MB/s of tokenizing the built-in corpus: a first run (tokenizes) and a second one (reads the cache).

    The tokenizer is trained (or taken from ``cache_dir``) before timing starts; the
    tokenized-data cache lives in a fresh sub-directory so the first run really tokenizes.
    """
    with tempfile.TemporaryDirectory(dir=cache_dir) as fresh:
        timings: list[float] = []
        megabytes = 0.0
        for _ in range(2):
            module = GptDataModule(tokenizer_kind=kind, vocab_size=vocab_size, cache_dir=str(cache_dir))
            _ = module.tokenizer  # trained or loaded outside the timed region
            module.cache_dir = fresh  # tokenized splits go to the fresh directory
            start = time.perf_counter()
            for split in ("train", "validation", "test"):
                module.tokenized(split)
            timings.append(time.perf_counter() - start)
            megabytes = sum(module.split_statistics(s)["bytes"] for s in ("train", "validation", "test")) / 1e6
    return {
        "corpus_mb": megabytes,
        "first_run_mb_per_s": megabytes / timings[0],
        "cached_run_mb_per_s": megabytes / timings[1],
        "first_run_s": timings[0],
        "cached_run_s": timings[1],
    }


def datamodule_throughput(family: str, n_batches: int, cache_dir: str | Path = ".cache", batch_size: int = 32,
                          max_length: int = 128, vocab_size: int = 8192) -> dict[str, float]:
    """Training batches per second of a family's data module on the built-in corpus (after warm-up)."""
    modules: dict[str, type[PretrainDataModule]] = {"bert": BertDataModule, "gpt": GptDataModule}
    if family not in modules:
        raise ValueError(f"family '{family}' is not supported: expected one of {sorted(modules)}")
    module = modules[family](vocab_size=vocab_size, max_length=max_length, batch_size=batch_size,
                             cache_dir=str(cache_dir))
    module.prepare_data()
    module.setup("fit")
    loader = module.train_dataloader()
    iterator = iter(loader)
    next(iterator)  # the first batch pays for worker start-up and lazy imports
    count, start = 0, time.perf_counter()
    for _ in range(n_batches):
        try:
            next(iterator)
        except StopIteration:
            iterator = iter(loader)
            next(iterator)
        count += 1
    elapsed = time.perf_counter() - start
    return {"batches_per_s": count / elapsed, "tokens_per_s": count * batch_size * max_length / elapsed,
            "batches": float(count), "seconds": elapsed}


def data_throughput(cache_dir: str | Path) -> dict[str, Any]:
    """Tokenization MB/s and each family's data-module batches/s (50 batches) on the built-in corpus."""
    Path(cache_dir).mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {"tokenization": tokenization_throughput(cache_dir)}
    for family in FAMILIES:
        result[f"{family}_datamodule"] = datamodule_throughput(family, 50, cache_dir=cache_dir)
    return result
