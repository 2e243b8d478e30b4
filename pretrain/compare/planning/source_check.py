"""Before any training: does each data source of a plan resolve, with the splits and columns its stage reads?

Local files are read with the same readers the runs use. Hub sets are checked from their metadata
(the hub's dataset card online; the local `datasets` cache offline, e.g. HF_DATASETS_OFFLINE=1), and
local copies from the copy itself, so a missing split or a renamed column costs seconds, not a GPU hour.
"""

from __future__ import annotations

from pathlib import Path

import datasets

from pretrain.data.sources import (
    FILE_BUILDERS,
    PARQUET_CONVERSION,
    SPLITS,
    DataSource,
    hub_columns,
    hub_split_names,
    resolve_files,
    script_refusal,
)
from tasks.registry import task_record

# What pretraining reads; the fine-tuning tasks' own lists are their data modules' `required_columns`.
PRETRAIN_COLUMNS = ("text",)


def check_source(stage: str, source: DataSource, field: str) -> None:
    """Raise one ValueError naming `field`, the source and the missing split or column (and what was expected)."""
    if source.is_builtin:
        return
    scripts = sorted(p.name for p in Path(source.local_copy).glob("*.py")) if source.local_copy else []
    if scripts:
        raise ValueError(refuse_script(field, source, scripts[0]))
    try:
        if source.kind == "files":
            _check_files(stage, source)
        else:
            _check_hub(stage, source)
    except Exception as error:  # the hub and file readers raise many kinds; the plan needs one line
        script = script_refusal(error)
        if script is not None:
            raise ValueError(refuse_script(field, source, script)) from error
        message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ValueError(f"{field}: data source {source}: {message}") from error


def refuse_script(field: str, source: DataSource, script: str) -> str:
    """The one line for a source only a loading script could build: the field, the repository, the fix."""
    where = f"local copy {source.local_copy}" if source.local_copy else f"hub repository {source.name}"
    at = f" at revision {source.revision}" if source.revision and not source.local_copy else ""
    return (f"{field}: {where}{at} only has a loading script ({script}), which datasets 4.0 and later refuse; set "
            f"revision: {PARQUET_CONVERSION} (the hub's parquet conversion), or name a parquet copy or local files")


def required_columns(stage: str, source: DataSource) -> tuple[str, ...]:
    """The columns (by the reader's names) every labelled split of `stage` must have."""
    if stage == "pretrain":
        return PRETRAIN_COLUMNS
    return task_record(stage).data(source).required_columns


def _check_files(stage: str, source: DataSource) -> None:
    if stage != "pretrain":
        module = task_record(stage).data(source)
        for split in SPLITS:
            if not module.rows(split):  # reads with the run's reader; a missing column or file raises
                raise ValueError(f"the {split} split ({module.describe(split)}) has no rows")
        return
    for split in SPLITS:
        pattern = source.file(split)
        if pattern is None:
            continue  # carved from train
        files, builder = resolve_files(pattern)
        if builder == "text":
            continue  # one document per line: the text column by construction
        columns = list(datasets.load_dataset(builder, data_files=files[:1], split="train", streaming=True).features
                       or {})
        wanted = source.column("text")
        if columns and wanted not in columns:
            raise ValueError(f"{files[0]}: no column {wanted!r} (read as 'text'); columns are {columns}; expected "
                             f"a {'/'.join(sorted(FILE_BUILDERS))} file with a text column")


def _check_hub(stage: str, source: DataSource) -> None:
    available = hub_split_names(source)
    # Pretraining carves a missing validation/test split from train; fine-tuning needs all three.
    needed = ("train", *(s for s in SPLITS[1:] if s in source.splits)) if stage == "pretrain" else SPLITS
    for split in needed:
        expression = source.hub_split(split)
        if expression.split("[")[0] not in available:
            raise ValueError(f"no split {expression!r} for the {split} split; it has {', '.join(available)}; set "
                             f"splits: {{{split}: <one of them>}}")
    columns = hub_columns(source, "train")
    for role in required_columns(stage, source):
        if source.column(role) not in columns:
            raise ValueError(f"no column {source.column(role)!r} (read as {role!r}); it has {', '.join(columns)}; "
                             f"set columns: {{{role}: <one of them>}}")
