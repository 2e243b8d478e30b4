"""Named data sets a compare plan may use, per stage, and how local files are recognised.

A plan names data by a short key (``wikitext-103``, ``sst2``) so that a typo fails at
plan-validation time with the valid choices listed, not an hour into a run when the hub
answers 404. Anything that looks like a path is a local file (or glob) and must exist.
"""

from __future__ import annotations

import glob
from dataclasses import dataclass
from pathlib import Path

STAGES = ("pretrain", "classification", "ner", "generation")
LOCAL_SUFFIXES = (".txt", ".jsonl", ".json", ".csv", ".tsv", ".parquet", ".conll")


@dataclass(frozen=True)
class DataSource:
    """Where one stage's data comes from, in the data modules' own option names."""

    source: str  # "builtin", a hub name, or a local path/glob
    hub_config: str | None = None
    text_column: str | None = None  # pretraining / classification text
    label_column: str | None = None  # classification
    source_column: str | None = None  # generation input
    target_column: str | None = None  # generation reference

    @property
    def is_builtin(self) -> bool:
        return self.source == "builtin"


_BUILTIN = DataSource("builtin")

# The public sets the real-scale plan uses; add an entry here to name a new one.
REGISTRY: dict[str, dict[str, DataSource]] = {
    "pretrain": {
        "builtin": _BUILTIN,
        "wikitext-2": DataSource("Salesforce/wikitext", "wikitext-2-raw-v1", text_column="text"),
        "wikitext-103": DataSource("Salesforce/wikitext", "wikitext-103-raw-v1", text_column="text"),
        "bookcorpus": DataSource("bookcorpus/bookcorpus", text_column="text"),
    },
    "classification": {
        "builtin": _BUILTIN,
        "sst2": DataSource("nyu-mll/glue", "sst2", text_column="sentence", label_column="label"),
    },
    "ner": {
        "builtin": _BUILTIN,
        "conll2003": DataSource("eriktks/conll2003"),
        "wnut_17": DataSource("leondz/wnut_17"),
    },
    "generation": {
        "builtin": _BUILTIN,
        "xsum": DataSource("EdinburghNLP/xsum", source_column="document", target_column="summary"),
    },
}


def is_local(name: str) -> bool:
    return "/" in name or name.startswith(".") or name.endswith(LOCAL_SUFFIXES) or any(c in name for c in "*?[")


def resolve(stage: str, name: str, *, field: str, root: Path) -> DataSource:
    """The DataSource for `name` in `stage`; raises ValueError naming `field` and the valid choices.

    Local paths are taken relative to `root` (the working directory) and must match a file.
    Hub names outside the registry are refused: they would only fail later, online.
    """
    if stage not in REGISTRY:
        raise ValueError(f"unknown stage {stage!r}; expected one of {', '.join(STAGES)}")
    known = REGISTRY[stage]
    if name in known:
        return known[name]
    if is_local(name):
        pattern = name if Path(name).is_absolute() else str(root / name)
        if not glob.glob(pattern):
            raise ValueError(f"{field}={name!r}: no local file matches {pattern}")
        return DataSource(pattern)
    raise ValueError(
        f"{field}={name!r} is not a known {stage} data set; choose one of {', '.join(sorted(known))}, "
        f"or give a local file path/glob ({', '.join(LOCAL_SUFFIXES)})"
    )
