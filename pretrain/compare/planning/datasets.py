"""Named data sets a compare plan may use, per stage, and how a plan's data field becomes a DataSource.

A plan names data by a short key (``wikitext-103``, ``sst2``) so that a typo fails at
plan-validation time with the valid choices listed, not an hour into a run when the hub
answers 404. Anything that is local files (pretrain.data.sources.DataSource.kind) must exist.
With a data-set directory root (the plan's ``datasets_dir``) the same entries read local copies
in the hub's schema (<root>/<owner>/<name>/<config>) instead of the hub.
"""

from __future__ import annotations

import glob
from dataclasses import replace
from pathlib import Path

from pretrain.data.sources import LOCAL_SUFFIXES, PARQUET_CONVERSION, DataSource, DataSourceArg, local_copy_dir
from tasks.registry import TASKS, task_record

STAGES = ("pretrain", *TASKS)

_BUILTIN = DataSource("builtin")

# The public sets the real-scale plan uses; add an entry here (pretraining) or to a task record's `datasets`
# (fine-tuning) to name a new one. Each entry is the same
# DataSource the data modules take, so its splits and columns reach pretraining and fine-tuning unchanged.
# Every entry reads files the hub serves as parquet: `datasets` 4.0 and later refuse loading scripts ("Dataset
# scripts are no longer supported, but found conll2003.py"), so a repository that only ships a .py builder is read
# at the dataset viewer's parquet conversion (revision refs/convert/parquet: <config>/<split>/NNNN.parquet, one
# config directory, features with ClassLabel names in the files' metadata; huggingface.co/docs/dataset-viewer/parquet).
# pretrain/data/sample_copies.py writes each layout below for the dry run; a test checks the two agree.
REGISTRY: dict[str, dict[str, DataSource]] = {
    "pretrain": {
        "builtin": _BUILTIN,  # the standard library's and the pinned dependencies' docstrings (about one epoch)
        # The standard library's alone: the former default, which a 3000-step plan reads 18 times over.
        "builtin-stdlib": DataSource("builtin", "stdlib"),
        # Parquet in the repository: wikitext-2-raw-v1/{train,validation,test}-00000-of-00001.parquet; column text,
        # one row per paragraph, heading or blank line: grouped into articles at their ' = Title = ' headings.
        "wikitext-2": DataSource("Salesforce/wikitext", "wikitext-2-raw-v1", documents="wikitext"),
        # wikitext-103-raw-v1/train-0000{0,1}-of-00002.parquet, {validation,test}-00000-of-00001.parquet; column text.
        "wikitext-103": DataSource("Salesforce/wikitext", "wikitext-103-raw-v1", documents="wikitext"),
        # Script repository (bookcorpus.py); its conversion: plain_text/train/0000..0009.parquet, column text, no
        # validation or test split (carved from train, by document). One sentence per row, books in order but their
        # boundaries not marked: runs of 256 rows (about 4,000 tokens, several 512-token pairs) are the documents.
        "bookcorpus": DataSource("bookcorpus/bookcorpus", revision=PARQUET_CONVERSION, documents="lines:256"),
    },
    # Each task's public sets are its record's (tasks/<task>/task.py).
    **{task: {"builtin": _BUILTIN, **task_record(task).datasets} for task in TASKS},
}


def resolve(stage: str, value: DataSourceArg, *, field: str, root: Path,
            datasets_dir: str | None = None) -> DataSource:
    """The DataSource for a plan's data field: a registry name, a local path/glob, or a whole DataSource
    (e.g. local files with their splits and columns). Raises ValueError naming `field` and the choices.

    Local paths are taken relative to `root` (the working directory) and must match a file. Hub names
    outside the registry are refused unless described in full (they would only fail later, online).
    With `datasets_dir`, a registry entry reads its local copy there, which must exist.
    """
    if stage not in REGISTRY:
        raise ValueError(f"unknown stage {stage!r}; expected one of {', '.join(STAGES)}")
    known = REGISTRY[stage]
    if isinstance(value, str) and value in known:
        source = known[value]
        if datasets_dir is None or source.is_builtin:
            return source
        copy = local_copy_dir(datasets_dir if Path(datasets_dir).is_absolute() else root / datasets_dir,
                              source.name, source.config)
        if not copy.is_dir():
            raise ValueError(f"{field}={value!r}: datasets_dir={datasets_dir!r} has no copy of {source} "
                             f"(expected a directory {copy})")
        return replace(source, local_copy=str(copy))
    source = DataSource.of(value)
    if source.is_builtin:
        return source
    if source.kind == "files" or source.name.startswith((".", "/")):
        anchored = {split: _local(pattern, field if split == "train" else f"{field}.splits.{split}", root)
                    for split in ("train", *source.splits) if (pattern := source.file(split)) is not None}
        return replace(source, name=anchored.pop("train"), splits=anchored)
    if isinstance(value, DataSource):  # a hub set described in full: validation checks that it resolves
        return source
    raise ValueError(
        f"{field}={value!r} is not a known {stage} data set; choose one of {', '.join(sorted(known))}, "
        f"give a local file path/glob ({', '.join(LOCAL_SUFFIXES)}), or describe the source in full "
        "({name, config, splits, columns})"
    )


def _local(pattern: str, field: str, root: Path) -> str:
    path = pattern if Path(pattern).is_absolute() else str(root / pattern)
    if not glob.glob(path):
        raise ValueError(f"{field}={pattern!r}: no local file matches {path}")
    return path
