"""One W&B run per command: its identity (group, job type, name, tags) and its end.

Lightning's WandbLogger reuses `wandb.run` when one is active and never finishes the run it
created, so several commands in one process (scripts/compare.py runs them in-process) would all
log into the first run. `finished_wandb_run` closes the run when a command ends, and
`identify_runs` fills in what the dashboard filters and groups by before the run starts.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from lightning.pytorch.loggers import Logger, WandbLogger

JOB_TYPES = ("pretrain", "finetune", "baseline", "summary")


def identify_runs(loggers: Sequence[Logger], *, job_type: str, name: str, tags: Sequence[str]) -> None:
    """Give every not-yet-started WandbLogger a job type, a name and tags, keeping what the config set.

    Explicit wandb.init arguments beat W&B's environment variables, and the shipped logger config
    sets `tags: []`, so the variables a sweep runner or agent sets (WANDB_NAME, WANDB_RUN_GROUP,
    WANDB_TAGS) are merged here instead of being silently overridden.
    """
    if job_type not in JOB_TYPES:
        raise ValueError(f"job_type={job_type!r}: expected one of {', '.join(JOB_TYPES)}")
    for logger in loggers:
        if not isinstance(logger, WandbLogger) or logger._experiment is not None:
            continue
        init = logger._wandb_init  # the kwargs WandbLogger passes to wandb.init on first use
        init["job_type"] = init.get("job_type") or job_type
        init["name"] = init.get("name") or os.environ.get("WANDB_NAME") or name
        init["group"] = init.get("group") or os.environ.get("WANDB_RUN_GROUP")
        env_tags = [t for t in os.environ.get("WANDB_TAGS", "").split(",") if t]
        init["tags"] = list(dict.fromkeys([*(init.get("tags") or []), *env_tags, *tags]))
        logger._name = init["name"]


def finish_active_run(exit_code: int = 0) -> None:
    """Finish the process's active W&B run, if any (wandb is only imported when a logger used it)."""
    wandb = sys.modules.get("wandb")
    run = getattr(wandb, "run", None) if wandb is not None else None
    if run is not None:
        run.finish(exit_code=exit_code)


@contextmanager
def finished_wandb_run() -> Iterator[None]:
    """A command's block: no W&B run is active before it starts, and its own run is finished when it ends."""
    finish_active_run()
    try:
        yield
    except SystemExit as exit_:
        finish_active_run(0 if exit_.code in (0, None) else 1)
        raise
    except BaseException:
        finish_active_run(1)
        raise
    finish_active_run(0)
