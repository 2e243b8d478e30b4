"""One description of where data comes from (``DataSource``), the one rule that tells local files from
hub data sets, and ``load_corpus``: any text source -> train/validation/test splits with a ``text`` column.

A ``DataSource`` is what the comparison plan, the ``pretrain`` data modules and every fine-tuning task
take, unchanged, so a data set is spelled once. Its ``name`` is one of
- ``"builtin"``: the standard-library corpus and tasks (``builtin_corpus``, ``tasks.builtin``), no download;
- local files by path or glob (``.txt``, ``.jsonl``/``.json``, ``.csv``, ``.tsv``, ``.parquet``; CoNLL column
  files for NER): the train split; ``splits`` gives the other splits' paths;
- anything else is a Hugging Face data set name (or a local data-set directory), loaded with
  ``datasets.load_dataset(name, config, split=...)``; ``splits`` maps our split to the hub's
  (a split expression such as ``train[:95%]`` works), ``revision`` picks a branch or commit of the hub
  repository (``refs/convert/parquet``: the hub's automatic parquet conversion, the way to read a repository
  that only ships a loading script, which ``datasets`` 4.0 and later refuse), and ``local_copy`` points the
  same entry at a directory holding a copy in the hub's own layout (offline machines, tests, the dry run).

``columns`` maps the column a reader expects (``text``; ``label``; ``tokens``/``ner_tags``;
``source``/``target``) to the data's own column (``{"text": "sentence"}`` for GLUE SST-2).

Missing validation/test splits of a pretraining corpus are carved from train by a stable hash of each
document's text (5% each), so the split is deterministic and duplicates never straddle two splits.
Every check runs here, in the main process, before any worker starts, and its message names the file or
data set and what was expected.
"""

from __future__ import annotations

import codecs
import glob
import hashlib
import json
import logging
import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Literal

import datasets

from pretrain.data.caching import resolve_cache_dir
from pretrain.data.dependency_corpus import BUILTIN_CORPORA, DEFAULT_BUILTIN_CORPUS, load_pretraining_corpus
from pretrain.data.documents import check_grouping, group_documents

log = logging.getLogger(__name__)

SPLITS = ("train", "validation", "test")
# WikiText ships its text as .raw (raw) and .tokens (tokenized) files: one paragraph per line, like .txt.
FILE_BUILDERS = {".txt": "text", ".text": "text", ".raw": "text", ".tokens": "text", ".jsonl": "json", ".json": "json",
                 ".csv": "csv", ".parquet": "parquet"}
# Suffixes that name a local file whatever reads it (fine-tuning also reads TSV and CoNLL column files).
LOCAL_SUFFIXES = (*FILE_BUILDERS, ".tsv", ".conll", ".gz", ".xml")
_VALIDATION_ALIASES = ("validation", "valid", "dev", "val")
# The branch where the hub's dataset viewer publishes its parquet conversion of a repository, one
# <config>/<split>/NNNN.parquet file set per configuration (huggingface.co/docs/dataset-viewer/parquet). It is how a
# repository that only ships a loading script is read by `datasets` 4.0 and later, which refuse scripts.
PARQUET_CONVERSION = "refs/convert/parquet"
# What `datasets` >= 4 raises for a repository or directory whose data only a loading script builds.
_SCRIPT_REFUSAL = "Dataset scripts are no longer supported"
_HOLDOUT_PERCENT = 5
_DECODE_CHECK_BYTES_STREAMING = 1 << 20

Corpus = datasets.DatasetDict | datasets.IterableDatasetDict
SourceKind = Literal["builtin", "files", "hub"]


@dataclass(frozen=True)
class DataSource:
    """Where one data set comes from: built-in, local files, or a hub data set (see the module docstring).

    Args:
        name: "builtin", a hub data set name (owner/name), a local data-set directory, or a path/glob to
            the train split's files
        config: the hub data set's configuration (e.g. wikitext-103-raw-v1, sst2)
        splits: our split (train, validation, test) -> the hub's split name or expression (e.g. train[:95%]),
            or, for local files, a path/glob of that split's files
        columns: the reader's column -> the data's column, e.g. {"text": "sentence"}
        local_copy: a directory holding this hub data set in the hub's schema (one folder per split or
            split-named files, as load_dataset reads them); used instead of the hub when set
        revision: the hub repository's branch, tag or commit (None: main); "refs/convert/parquet" reads the
            hub's parquet conversion of a repository whose main branch only has a loading script
        documents: how rows become documents (pretrain.data.documents): "wikitext" (articles at their
            ' = Title = ' headings), "lines:N" (runs of N consecutive rows) or None (a ``document`` column,
            else each row its own)
    """

    name: str = "builtin"
    config: str | None = None
    splits: dict[str, str] = field(default_factory=dict)
    columns: dict[str, str] = field(default_factory=dict)
    local_copy: str | None = None
    revision: str | None = None
    documents: str | None = None

    @classmethod
    def of(cls, value: DataSourceArg | dict) -> DataSource:
        """A DataSource from itself, a plain name/path (the command line's short form) or its fields."""
        if isinstance(value, DataSource):
            return value
        if isinstance(value, (str, os.PathLike)):
            return cls(os.fspath(value))
        if isinstance(value, dict):
            unknown = sorted(set(value) - {f for f in cls.__dataclass_fields__})
            if unknown:
                raise ValueError(f"data source {value}: unknown field(s) {unknown}; expected "
                                 f"{', '.join(cls.__dataclass_fields__)}")
            return cls(**value)
        fields_ = getattr(value, "__dict__", None)  # a jsonargparse Namespace of the fields
        if fields_ is not None:
            return cls.of({k: v for k, v in vars(value).items() if not k.startswith("_")})
        raise ValueError(f"data source {value!r}: expected a name, a path/glob or a mapping of "
                         f"{', '.join(cls.__dataclass_fields__)}")

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("data source name is empty: expected 'builtin', a hub name or a path/glob")
        if self.name == "builtin" and self.config is not None and self.config not in BUILTIN_CORPORA:
            raise ValueError(f"data source 'builtin': config {self.config!r} is not a built-in corpus; expected one of "
                             f"{', '.join(BUILTIN_CORPORA)} (default {DEFAULT_BUILTIN_CORPUS})")
        check_grouping(self.documents)
        bad = sorted(set(self.splits) - set(SPLITS))
        if bad:
            raise ValueError(f"data source {self.name!r}: splits has unknown split(s) {bad}; expected keys among "
                             f"{', '.join(SPLITS)}")

    @property
    def kind(self) -> SourceKind:
        """The one rule: built-in; local files (a glob, an existing file, or a file suffix, so that a missing
        file is reported as missing rather than looked up on the hub); else a hub set or data-set directory."""
        if self.name == "builtin":
            return "builtin"
        if self.local_copy is None and (glob.has_magic(self.name) or Path(self.name).is_file()
                                        or Path(self.name).suffix.lower() in LOCAL_SUFFIXES):
            return "files"
        return "hub"

    @property
    def is_builtin(self) -> bool:
        return self.kind == "builtin"

    def column(self, role: str) -> str:
        """The data's column holding what the reader calls `role`."""
        return self.columns.get(role, role)

    def file(self, split: str) -> str | None:
        """Local files: the path/glob of a split (train: `name`)."""
        return self.name if split == "train" else self.splits.get(split)

    def hub_split(self, split: str) -> str:
        return self.splits.get(split, split)

    def cli_value(self) -> str:
        """The command-line form of `--data.init_args.source`: the name alone when nothing else is set,
        else a JSON object of the fields that are set (jsonargparse parses it back into a DataSource)."""
        default = DataSource()
        set_fields = {k: v for k, v in asdict(self).items() if v != getattr(default, k) or k == "name"}
        return self.name if list(set_fields) == ["name"] else json.dumps(set_fields)

    def __str__(self) -> str:
        if self.kind != "hub":
            return self.name
        where = f" from {self.local_copy}" if self.local_copy else ""
        at = f"@{self.revision}" if self.revision and not self.local_copy else ""
        return f"{self.name}{at}" + (f" ({self.config})" if self.config else "") + where

    def rename(self, dataset: datasets.Dataset | datasets.IterableDataset, where: str,
               required: tuple[str, ...] = ()) -> datasets.Dataset | datasets.IterableDataset:
        """The data set with its columns renamed to the reader's (``columns``); a missing one is an error
        naming the split, the column and the columns there are."""
        present = _column_names(dataset)
        for role in required:
            if self.column(role) not in present:
                read_as = f" (read as {role!r})" if self.column(role) != role else ""
                raise ValueError(f"{where}: no column {self.column(role)!r}{read_as}; available columns: {present}. "
                                 f"Set the data source's columns, e.g. {{{role!r}: <one of them>}}")
        renames = {data: role for role, data in self.columns.items() if data in present and data != role}
        clashing = [role for role in renames.values() if role in present and role not in renames]
        if clashing:
            dataset = dataset.remove_columns(clashing)
        return dataset.rename_columns(renames) if renames else dataset


# What a data module, a task or a plan takes as its source: a DataSource, or its short form, a name or a
# path/glob. os.PathLike is there for jsonargparse, not only for Python callers: a type that may be a path
# tells it that a string value is a name, whereas with a dataclass in the union alone it reads an existing
# file given as `--data.source train.tsv` as a sub-config (the file's contents became the value).
DataSourceArg = DataSource | str | os.PathLike


def local_copy_dir(root: str | Path, name: str, config: str | None) -> Path:
    """Where a data-set directory root keeps a copy of hub set `name` (configuration `config`):
    <root>/<owner>/<name>/<config or "default">."""
    return Path(root) / name / (config or "default")


def _hub_cache(cache_dir: str | Path | None) -> str | None:
    """Hub data go to the `datasets` cache (HF_DATASETS_CACHE) unless a directory is given: the cache that
    plan validation reads offline is the one training fills."""
    return None if cache_dir is None else str(cache_dir)


def _hub_location(source: DataSource) -> tuple[str, str | None, str | None]:
    """(path, config, revision) for `datasets`: the local copy (read as a directory, no config or revision),
    else the hub repository at its revision."""
    if source.local_copy:
        return source.local_copy, None, None
    return source.name, source.config, source.revision


def script_refusal(error: BaseException) -> str | None:
    """The loading script `datasets` refused (e.g. "conll2003.py"), if that is what `error` is, else None."""
    message = str(error)
    if _SCRIPT_REFUSAL not in message:
        return None
    return message.rsplit("found ", 1)[-1].strip() or "a .py builder"


def hub_split_names(source: DataSource, cache_dir: str | Path | None = None) -> list[str]:
    """The splits the hub set (or its local copy) has, read from its metadata, not its rows."""
    path, config, revision = _hub_location(source)
    try:
        return list(datasets.get_dataset_split_names(path, config, revision=revision,
                                                     cache_dir=_hub_cache(cache_dir)))
    except FileNotFoundError as error:
        raise FileNotFoundError(f"data set {source} not found locally or on the hub: expected 'builtin', a path/glob "
                                f"to {'/'.join(sorted(FILE_BUILDERS))} files, a local data-set directory, or a hub "
                                f"data set name ({error})") from error


def hub_columns(source: DataSource, split: str, cache_dir: str | Path | None = None) -> list[str]:
    """The data's own column names of one hub split, from the builder's metadata when it has them
    (the hub's dataset card, or the local cache offline), else from the split itself (local copies)."""
    path, config, revision = _hub_location(source)
    features = datasets.load_dataset_builder(path, config, revision=revision,
                                             cache_dir=_hub_cache(cache_dir)).info.features
    if features is None:
        features = load_hub_split(source, split, cache_dir=cache_dir).features
    return list(features)


def load_hub_split(source: DataSource, split: str, streaming: bool = False,
                   cache_dir: str | Path | None = None) -> datasets.Dataset | datasets.IterableDataset:
    """One split of a hub set, ``load_dataset(name, config, split=...)``, or of its local copy; the data's
    own columns (``rename`` maps them)."""
    path, config, revision = _hub_location(source)
    expression = source.hub_split(split)
    if streaming and "[" in expression:
        raise ValueError(f"data set {source}: split {split!r} = {expression!r} slices a split, which streaming "
                         "cannot do; name a whole split or set streaming false")
    try:
        return datasets.load_dataset(path, config, split=expression, streaming=streaming, revision=revision,
                                     cache_dir=_hub_cache(cache_dir))
    except FileNotFoundError as error:
        raise FileNotFoundError(f"data set {source} not found locally or on the hub: expected 'builtin', a path/glob "
                                f"to {'/'.join(sorted(FILE_BUILDERS))} files, a local data-set directory, or a hub "
                                f"data set name ({error})") from error
    except ValueError as error:
        if "split" not in str(error).lower():
            raise
        raise ValueError(f"data set {source} has no split {expression!r} (for our {split!r} split): {error}") from None


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
    """Rows of ``train`` whose text hash falls in ``split``'s 5%; for ``train``, rows outside every carved split.
    Rows that name their document are carved by it, so a document never straddles two splits."""
    by = "document" if "document" in (_column_names(train)) else "text"

    def keep(key: object) -> bool:
        bucket = _text_hash_bucket(str(key))
        if split == "train":
            return not any(bucket in _CARVED_BUCKETS[c] for c in carved)
        return bucket in _CARVED_BUCKETS[split]

    if isinstance(train, datasets.IterableDataset):
        return train.filter(keep, input_columns=by)
    return train.filter(keep, input_columns=by, num_proc=num_proc, desc=f"carving {split} split")


def _column_names(dataset: datasets.Dataset | datasets.IterableDataset) -> list[str]:
    if dataset.column_names is not None:
        return list(dataset.column_names)
    first = next(iter(dataset), None)  # some streaming builders only know their columns after one row
    return [] if first is None else list(first)


def _select_text(dataset: datasets.Dataset | datasets.IterableDataset, where: str,
                 num_proc: int | None) -> datasets.Dataset | datasets.IterableDataset:
    """Keep ``text`` (and ``id`` and ``document`` if present: rows sharing a ``document`` are one natural
    document for NSP); drop blank or missing texts, counting them."""
    text_column = "text"
    columns = _column_names(dataset)
    dataset = dataset.select_columns([text_column] + [c for c in ("id", "document") if c in columns])

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


def _hub_splits(source: DataSource, streaming: bool, cache_dir: str | Path | None) -> tuple[Corpus, dict[str, str]]:
    """train/validation/test of a hub set as far as it has them (``splits``, else ``validation`` or an alias
    such as ``dev``, and ``test``), and where each came from, for messages."""
    available = hub_split_names(source, cache_dir)
    wanted = {
        "train": source.hub_split("train"),
        "validation": source.splits.get("validation") or next((s for s in _VALIDATION_ALIASES if s in available), None),
        "test": source.splits.get("test") or ("test" if "test" in available else None),
    }
    for split, expression in wanted.items():
        if expression is not None and expression.split("[")[0] not in available:
            raise ValueError(f"data set {source} has no split {expression!r} (for our {split!r} split); available "
                             f"splits: {available}")
    chosen = {split: expression for split, expression in wanted.items() if expression is not None}
    loaded = {split: load_hub_split(replace(source, splits=chosen), split, streaming, cache_dir) for split in chosen}
    kind = datasets.IterableDatasetDict if streaming else datasets.DatasetDict
    return kind(loaded), {split: f"data set {source} split {expression!r}" for split, expression in chosen.items()}


def load_corpus(source: DataSourceArg = "builtin", streaming: bool = False, cache_dir: str | Path | None = None,
                num_proc: int | None = None) -> Corpus:
    """Load ``source`` as a DatasetDict (IterableDatasetDict when streaming) with train/validation/test and
    one ``text`` column (``source.columns["text"]`` names the data's own). A split that is not given and
    not found is carved from train (5% each, by text hash). Hub data go to the `datasets` cache."""
    source = DataSource.of(source)
    cache = resolve_cache_dir(cache_dir)
    if source.is_builtin:
        corpus: Corpus = load_pretraining_corpus(cache, source.config or DEFAULT_BUILTIN_CORPUS)  # type: ignore[arg-type]
        if streaming:
            corpus = datasets.IterableDatasetDict(
                {split: ds.to_iterable_dataset(num_shards=min(8, len(ds))) for split, ds in corpus.items()}
            )
        return corpus

    if source.kind == "files":
        split_files = {split: pattern for split in SPLITS if (pattern := source.file(split)) is not None}
        raw = _load_files(split_files, streaming, cache / "hf_datasets")
        where = dict(split_files)
    else:
        raw, where = _hub_splits(source, streaming, None)

    splits = {split: _select_text(group_documents(source.rename(ds, where[split], ("text",)), source.documents,
                                                  where[split]), where[split], num_proc)
              for split, ds in raw.items()}
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
