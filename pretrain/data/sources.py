"""``load_corpus``: any text source -> a DatasetDict with train/validation/test splits and a ``text`` column.

A source is one of
- ``"builtin"``: the standard-library corpus (``builtin_corpus``), no download;
- local files by path or glob: ``.txt`` (one document per non-blank line), ``.jsonl``/``.json``,
  ``.csv``, ``.parquet`` with the documents in ``text_column``;
- anything else is a Hugging Face data set name (or a local data set directory), loaded
  with ``datasets.load_dataset(source, hub_config)``.

Missing validation/test splits are carved from train by a stable hash of each
document's text (5% each), so the split is deterministic and duplicates never straddle
two splits. Every check runs here, in the main process, before any worker starts, and
its message names the file or data set and what was expected.
"""

from __future__ import annotations

import codecs
import glob
import hashlib
import logging
from pathlib import Path

import datasets

from pretrain.data.builtin_corpus import load_builtin_corpus
from pretrain.data.caching import resolve_cache_dir

log = logging.getLogger(__name__)

SPLITS = ("train", "validation", "test")
FILE_BUILDERS = {".txt": "text", ".text": "text", ".jsonl": "json", ".json": "json", ".csv": "csv", ".parquet": "parquet"}
_VALIDATION_ALIASES = ("validation", "valid", "dev", "val")
_HOLDOUT_PERCENT = 5
_DECODE_CHECK_BYTES_STREAMING = 1 << 20

Corpus = datasets.DatasetDict | datasets.IterableDatasetDict


def is_local_files(source: str) -> bool:
    """A path or glob to data files (as opposed to ``builtin`` or a hub name / data set directory)."""
    if source == "builtin":
        return False
    if glob.has_magic(source) or Path(source).is_file():
        return True
    return Path(source).suffix.lower() in FILE_BUILDERS or Path(source).suffix.lower() in {".tsv", ".gz", ".xml"}


def resolve_files(pattern: str) -> tuple[list[str], str]:
    """Sorted files matching ``pattern`` and the ``datasets`` builder that reads them."""
    files = sorted(p for p in glob.glob(pattern, recursive=True) if Path(p).is_file())
    if not files:
        raise FileNotFoundError(f"no file matches '{pattern}': expected a path or glob to text files "
                                f"({', '.join(sorted(FILE_BUILDERS))})")
    builders = set()
    for file in files:
        suffix = Path(file).suffix.lower()
        if suffix not in FILE_BUILDERS:
            raise ValueError(f"unsupported file type '{suffix}' for {file}: expected one of "
                             f"{', '.join(sorted(FILE_BUILDERS))}")
        builders.add(FILE_BUILDERS[suffix])
    if len(builders) > 1:
        raise ValueError(f"'{pattern}' matches files of different formats ({', '.join(sorted(builders))}); "
                         "give one format per split")
    return files, builders.pop()


def check_utf8(file: str, limit: int | None = None) -> None:
    """Raise naming the file, line and byte offset of the first byte sequence that is not UTF-8."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset, line = 0, 1
    with open(file, "rb") as handle:
        while limit is None or offset < limit:
            chunk = handle.read(1 << 20)
            if not chunk:
                break
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as error:
                bad = offset + error.start
                line += chunk[: error.start].count(b"\n")
                raise ValueError(f"{file}: line {line} (byte {bad}) is not valid UTF-8: expected UTF-8 text; "
                                 "re-encode the file, e.g. `iconv -f latin1 -t utf-8`") from None
            line += chunk.count(b"\n")
            offset += len(chunk)
        if limit is None:
            try:
                decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                raise ValueError(f"{file}: ends inside a UTF-8 character: expected UTF-8 text") from None


def _text_hash_bucket(text: str) -> int:
    return int(hashlib.sha256(text.encode("utf-8")).hexdigest()[:8], 16) % 100


_CARVED_BUCKETS = {"validation": range(0, _HOLDOUT_PERCENT), "test": range(_HOLDOUT_PERCENT, 2 * _HOLDOUT_PERCENT)}


def _carve(train: datasets.Dataset | datasets.IterableDataset, split: str, carved: list[str],
           num_proc: int | None) -> datasets.Dataset | datasets.IterableDataset:
    """Rows of ``train`` whose text hash falls in ``split``'s 5%; for ``train``, rows outside every carved split."""

    def keep(text: str) -> bool:
        bucket = _text_hash_bucket(text)
        if split == "train":
            return not any(bucket in _CARVED_BUCKETS[c] for c in carved)
        return bucket in _CARVED_BUCKETS[split]

    if isinstance(train, datasets.IterableDataset):
        return train.filter(keep, input_columns="text")
    return train.filter(keep, input_columns="text", num_proc=num_proc, desc=f"carving {split} split")


def _column_names(dataset: datasets.Dataset | datasets.IterableDataset) -> list[str]:
    if dataset.column_names is not None:
        return list(dataset.column_names)
    first = next(iter(dataset), None)  # some streaming builders only know their columns after one row
    return [] if first is None else list(first)


def _select_text(dataset: datasets.Dataset | datasets.IterableDataset, text_column: str, where: str,
                 num_proc: int | None) -> datasets.Dataset | datasets.IterableDataset:
    """Keep ``text_column`` as ``text`` (and ``id`` if present); drop blank or missing texts, counting them."""
    columns = _column_names(dataset)
    if text_column not in columns:
        raise ValueError(f"{where}: no column '{text_column}'; available columns: {columns}. "
                         "Pass text_column=<one of them>")
    keep = [text_column] + (["id"] if "id" in columns and text_column != "id" else [])
    dataset = dataset.select_columns(keep)
    if text_column != "text":
        dataset = dataset.rename_column(text_column, "text")

    def non_blank(text: object) -> bool:
        return isinstance(text, str) and bool(text.strip())

    if isinstance(dataset, datasets.IterableDataset):
        return dataset.filter(non_blank, input_columns="text")
    before = len(dataset)
    dataset = dataset.filter(non_blank, input_columns="text", num_proc=num_proc, desc="dropping blank documents")
    if len(dataset) < before:
        log.warning("%s: dropped %d of %d documents whose '%s' is blank or not a string",
                    where, before - len(dataset), before, text_column)
    return dataset


def _load_files(split_files: dict[str, str], streaming: bool, cache: Path) -> Corpus:
    data_files: dict[str, list[str]] = {}
    builders = set()
    for split, pattern in split_files.items():
        files, builder = resolve_files(pattern)
        builders.add(builder)
        for file in files:
            if builder != "parquet":
                check_utf8(file, _DECODE_CHECK_BYTES_STREAMING if streaming else None)
        data_files[split] = files
    if len(builders) > 1:
        raise ValueError(f"splits use different file formats ({', '.join(sorted(builders))}): {split_files}")
    builder = builders.pop()
    if all(Path(f).stat().st_size == 0 for files in data_files.values() for f in files):
        raise ValueError(f"{split_files['train']}: every file is empty: expected at least one document")
    return datasets.load_dataset(builder, data_files=data_files, streaming=streaming, cache_dir=str(cache))


def _load_hub(source: str, hub_config: str | None, streaming: bool, cache: Path) -> Corpus:
    try:
        return datasets.load_dataset(source, hub_config, streaming=streaming, cache_dir=str(cache))
    except FileNotFoundError as error:
        raise FileNotFoundError(f"data set '{source}' (config {hub_config!r}) not found locally or on the hub: "
                                f"expected 'builtin', a path/glob to {'/'.join(sorted(FILE_BUILDERS))} files, "
                                f"or a hub data set name. ({error})") from error


def load_corpus(source: str = "builtin", text_column: str = "text", hub_config: str | None = None,
                validation_split: str | None = None, test_split: str | None = None,
                streaming: bool = False, cache_dir: str | Path | None = None,
                num_proc: int | None = None) -> Corpus:
    """Load ``source`` as a DatasetDict (IterableDatasetDict when streaming) with train/validation/test.

    ``validation_split``/``test_split`` name the hub split to use (default: ``validation``
    or an alias such as ``dev``, and ``test``) or, for local files, a path/glob of their
    own. A split that is not given and not found is carved from train (5% each, by text hash).
    """
    cache = resolve_cache_dir(cache_dir)
    if source == "builtin":
        corpus: Corpus = load_builtin_corpus(cache)
        if streaming:
            corpus = datasets.IterableDatasetDict(
                {split: ds.to_iterable_dataset(num_shards=min(8, len(ds))) for split, ds in corpus.items()}
            )
        return corpus

    if is_local_files(source):
        split_files = {"train": source}
        split_files.update({k: v for k, v in (("validation", validation_split), ("test", test_split)) if v})
        raw = _load_files(split_files, streaming, cache / "hf_datasets")
        where = {split: pattern for split, pattern in split_files.items()}
    else:
        raw = _load_hub(source, hub_config, streaming, cache / "hf_datasets")
        where = {split: f"data set '{source}' split '{split}'" for split in raw}
        if "train" not in raw:
            raise ValueError(f"data set '{source}' has no 'train' split; available splits: {list(raw)}")
        wanted = {
            "validation": validation_split or next((s for s in _VALIDATION_ALIASES if s in raw), None),
            "test": test_split or ("test" if "test" in raw else None),
        }
        for split, name in wanted.items():
            if name is not None and name not in raw:
                raise ValueError(f"data set '{source}' has no split '{name}'; available splits: {list(raw)}")
        raw = type(raw)({"train": raw["train"], **{s: raw[n] for s, n in wanted.items() if n is not None}})
        where.update({s: f"data set '{source}' split '{n}'" for s, n in wanted.items() if n is not None})

    splits = {split: _select_text(ds, text_column, where[split], num_proc) for split, ds in raw.items()}
    missing = [s for s in SPLITS if s not in splits]
    if missing:
        log.info("%s: no %s split given; carving %d%% of train for each", source, " or ".join(missing),
                 _HOLDOUT_PERCENT)
        train = splits["train"]
        splits.update({split: _carve(train, split, missing, num_proc) for split in missing})
        splits["train"] = _carve(train, "train", missing, num_proc)
    if not streaming:
        for split in SPLITS:
            if len(splits[split]) == 0:
                raise ValueError(f"{where.get(split, source)}: the {split} split has no documents after "
                                 "dropping blank ones: expected at least one non-blank text")
    kind = datasets.IterableDatasetDict if streaming else datasets.DatasetDict
    return kind({split: splits[split] for split in SPLITS})
