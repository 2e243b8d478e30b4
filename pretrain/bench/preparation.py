"""What preparing a pretraining corpus costs (`python scripts/bench.py --prepare FILE --prepare-copies N`).

The corpus is a text file repeated N times (WikiText-2's raw test file, 1.29 MB, x 420 is about WikiText-103's
540 MB of training text). Each step runs in a fresh process, so its peak resident memory is its own: the shared
tokenizer's training, then each family's `prepare_data` (tokenizing every split and building the examples
training reads: BERT's NSP pairs in `dupe_factor` copies, GPT's token file). The cache folder's size after each
family is what the prepared data holds on disk.
"""

from __future__ import annotations

import multiprocessing
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

from pretrain.data.datamodules import BertDataModule, GptDataModule, PretrainDataModule


def repeated_corpus(text_file: Path, copies: int, folder: Path) -> Path:
    """`text_file`'s text `copies` times over in one file (its suffix kept, so it is read the same way)."""
    if copies < 1:
        raise ValueError(f"copies={copies}: expected >= 1")
    text = Path(text_file).read_bytes()
    corpus = folder / f"corpus{Path(text_file).suffix}"
    with corpus.open("wb") as out:
        for _ in range(copies):
            out.write(text)
    return corpus


def _folder_mib(folder: Path) -> float:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 2**20


def _module(family: str, settings: dict[str, Any]) -> PretrainDataModule:
    common = {k: settings[k] for k in ("source", "vocab_size", "max_length", "num_proc", "cache_dir")}
    if family == "bert":
        return BertDataModule(tokenizer_kind="wordpiece", dupe_factor=settings["dupe_factor"], **common)
    return GptDataModule(tokenizer_kind="wordpiece", **common)


def _step(step: str, family: str, settings: dict[str, Any], results: Any) -> None:
    """In a child process: train the tokenizer, or run one family's prepare_data; time it and read the peak RSS."""
    module = _module(family, settings)
    start = time.perf_counter()
    if step == "tokenizer":
        _ = module.tokenizer
    else:
        _ = module.tokenizer  # cached by the tokenizer step
        start = time.perf_counter()
        module.prepare_data()
    seconds = time.perf_counter() - start
    results.put({"seconds": seconds, "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})


def preparation_cost(text_file: Path, copies: int, families: list[str], vocab_size: int = 32768,
                     max_length: int = 512, dupe_factor: int = 10, num_proc: int | None = None) -> dict[str, Any]:
    """Seconds, peak RSS (MiB) and cache size (MiB) of the tokenizer and each family's preparation."""
    context = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory(prefix="prepare-bench-") as scratch:
        folder = Path(scratch)
        corpus = repeated_corpus(text_file, copies, folder)
        cache = folder / "cache"
        settings = {"source": {"name": str(corpus), "documents": "wikitext"}, "vocab_size": vocab_size,
                    "max_length": max_length, "num_proc": num_proc, "cache_dir": str(cache),
                    "dupe_factor": dupe_factor}
        report: dict[str, Any] = {"corpus_mib": corpus.stat().st_size / 2**20, "copies": copies,
                                  "vocab_size": vocab_size, "max_length": max_length, "dupe_factor": dupe_factor,
                                  "num_proc": num_proc}
        for step, family in [("tokenizer", families[0])] + [("prepare", f) for f in families]:
            before = _folder_mib(cache) if cache.exists() else 0.0
            results = context.Queue()
            child = context.Process(target=_step, args=(step, family, settings, results))
            child.start()
            child.join()  # the one small result fits the queue's pipe, so joining first cannot block
            if child.exitcode != 0:
                raise RuntimeError(f"preparing {family} ({step}) failed with exit code {child.exitcode}")
            outcome = results.get()
            outcome["cache_mib"] = _folder_mib(cache) - before
            report[step if step == "tokenizer" else family] = outcome
    return report
