"""GPT's token stream prepared once into a file that every process maps read-only.

A tokenized split (one Arrow row of ids per document) becomes one ``.npy`` file of all its tokens in the smallest
unsigned integer type that holds the vocabulary (uint16 up to 65,536 entries: a quarter of int64), and one of
document start offsets. The file is written once, atomically, by the process that prepares the data (Lightning's
``prepare_data``: local rank 0), and every rank opens it with ``np.load(mmap_mode="r")``: the pages are the
operating system's, shared by all processes on the node, so eight ranks hold one copy of the corpus, not eight
int64 ones. Blocks are read from the map and widened to int64 one block at a time (pretrain.data.gpt_batches).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pretrain.data.caching import atomic_write


def smallest_token_dtype(vocab_size: int) -> np.dtype:
    """The smallest unsigned integer type whose range holds ids 0 .. vocab_size - 1."""
    for dtype in (np.uint16, np.uint32):
        if vocab_size - 1 <= np.iinfo(dtype).max:
            return np.dtype(dtype)
    raise ValueError(f"vocab_size={vocab_size}: more token ids than uint32 holds")


def stream_files(prefix: Path) -> tuple[Path, Path]:
    """The tokens file and the document-starts file of the stream at `prefix`."""
    return prefix.with_name(prefix.name + "-tokens.npy"), prefix.with_name(prefix.name + "-starts.npy")


def write_stream(prefix: Path, tokens: np.ndarray, starts: np.ndarray, vocab_size: int) -> None:
    """Write the stream (`tokens` of any integer type, ids below `vocab_size`) and its document starts, each
    atomically: a reader sees a whole file or none. The starts file goes last, so its presence means both are
    complete."""
    dtype = smallest_token_dtype(vocab_size)
    if len(tokens) and (int(tokens.min()) < 0 or int(tokens.max()) >= vocab_size):
        raise ValueError(f"{prefix}: token ids {int(tokens.min())}..{int(tokens.max())} do not fit a vocabulary of "
                         f"{vocab_size}")
    tokens_file, starts_file = stream_files(prefix)
    atomic_write(tokens_file, lambda tmp: _save(tmp, tokens.astype(dtype, copy=False)))
    atomic_write(starts_file, lambda tmp: _save(tmp, starts.astype(np.int64, copy=False)))


def stream_ready(prefix: Path) -> bool:
    return all(path.is_file() for path in stream_files(prefix))


def open_stream(prefix: Path) -> tuple[np.ndarray, np.ndarray]:
    """(tokens, document starts) of a written stream, memory-mapped read-only."""
    tokens_file, starts_file = stream_files(prefix)
    return np.load(tokens_file, mmap_mode="r"), np.load(starts_file, mmap_mode="r")


def _save(path: Path, array: np.ndarray) -> None:
    with path.open("wb") as handle:  # an open handle: np.save would append ".npy" to the temporary name
        np.save(handle, array)
