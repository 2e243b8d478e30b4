"""The files of one run folder (a command's `trainer.default_root_dir`), named here and nowhere else:

    <run folder>/
        config.yaml                     the resolved config (pretrain.run_record)
        metrics.json                    the last value of every logged metric (what a sweep ranks trials by)
        csv/version_N/metrics.csv       every logged metric, one version per launch
        checkpoints/last.ckpt           the resume point (`--ckpt_path last`); probe-step=N.ckpt: the comparison's
                                        checkpoints to fine-tune from
        results.json                    a fine-tuning run's test results
        predictions.{txt,conll,jsonl}   what `finetune predict` wrote
        run.log                         the console output of a run the comparison launched

Writers and readers (the commands, pretrain.compare, the exporter, the copy-accuracy check) all go through
`RunLayout`, so a renamed file is renamed for every one of them at once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, overload

# Lightning's ModelCheckpoint.FILE_EXTENSION and CHECKPOINT_NAME_LAST (what `--ckpt_path last` looks for), spelled
# out so that this module imports nothing: every level of the suite, from pretrain.lightning up, reads it.
CHECKPOINT_SUFFIX = ".ckpt"
LAST_CHECKPOINT_NAME = "last"
LAST_CHECKPOINT = f"{LAST_CHECKPOINT_NAME}{CHECKPOINT_SUFFIX}"


def last_checkpoint_in(directory: Path) -> Path:
    """The "last" checkpoint a ModelCheckpoint keeps in `directory` (a callback's dirpath may be anywhere)."""
    return Path(directory) / LAST_CHECKPOINT


def last_checkpoints_in(directory: Path) -> list[Path]:
    """Every "last" checkpoint in `directory`: last.ckpt and the last-vN.ckpt Lightning writes beside one."""
    return list(Path(directory).glob(f"{LAST_CHECKPOINT_NAME}*{CHECKPOINT_SUFFIX}"))


class Entry:
    """A file or folder at a fixed name in a layout's folder (the layout's attribute `folder`): one line per name
    instead of one property each."""

    def __init__(self, folder: str, name: str) -> None:
        self.folder, self.name = folder, name

    @overload
    def __get__(self, layout: None, owner: type) -> Entry: ...
    @overload
    def __get__(self, layout: object, owner: type) -> Path: ...
    def __get__(self, layout: object | None, owner: type) -> Entry | Path:
        return self if layout is None else Path(getattr(layout, self.folder)) / self.name


@dataclass(frozen=True)
class RunLayout:
    """Where each file of the run folder `root` is."""

    root: Path

    CONFIG_FILE: ClassVar[str] = "config.yaml"
    METRICS_FILE: ClassVar[str] = "metrics.json"
    CSV_DIR: ClassVar[str] = "csv"
    CHECKPOINTS_DIR: ClassVar[str] = "checkpoints"
    RESULTS_FILE: ClassVar[str] = "results.json"
    RUN_LOG: ClassVar[str] = "run.log"
    PROBE_CHECKPOINTS: ClassVar[str] = "probe"  # the comparison's checkpoints to fine-tune from

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    @classmethod
    def of_checkpoint(cls, checkpoint: Path) -> RunLayout:
        """The run folder of a checkpoint the commands saved (RUN/checkpoints/*.ckpt), else the checkpoint's own
        folder (a file moved out of its run, or saved by hand)."""
        folder = Path(checkpoint).parent
        return cls(folder.parent if folder.name == cls.CHECKPOINTS_DIR else folder)

    config_file = Entry("root", CONFIG_FILE)
    metrics_file = Entry("root", METRICS_FILE)
    csv_dir = Entry("root", CSV_DIR)
    checkpoints_dir = Entry("root", CHECKPOINTS_DIR)
    results_file = Entry("root", RESULTS_FILE)
    run_log = Entry("root", RUN_LOG)

    @property
    def last_checkpoint(self) -> Path:
        return last_checkpoint_in(self.checkpoints_dir)

    def predictions_file(self, suffix: str) -> Path:
        """`finetune predict`'s default output, in the input's own format (`suffix`: .txt, .conll, .jsonl)."""
        return self.root / f"predictions{suffix}"

    def metrics_csvs(self) -> list[Path]:
        """The CSV logs, oldest launch first (csv/version_0, version_1, ...: ordered by number, not name)."""
        return sorted(self.csv_dir.glob("version_*/metrics.csv"), key=lambda p: int(p.parent.name.split("_")[1]))

    @staticmethod
    def step_checkpoint_filename(prefix: str) -> str:
        """A ModelCheckpoint `filename` that names each file by its step: Lightning writes <prefix>-step=N.ckpt."""
        return f"{prefix}-{{step}}"

    def checkpoints_at_step(self, prefix: str, step: int) -> list[Path]:
        """The checkpoints saved under `step_checkpoint_filename(prefix)` at `step`, in name order (Lightning adds
        -vN to a repeat). Exactly `step`: step 4's are not step 40's."""
        exact = re.compile(rf"{re.escape(prefix)}-step={step}(-v\d+)?{re.escape(CHECKPOINT_SUFFIX)}")
        return sorted(p for p in self.checkpoints_dir.glob(f"{prefix}-step={step}*") if exact.fullmatch(p.name))
