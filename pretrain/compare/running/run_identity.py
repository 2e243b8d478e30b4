"""What a run of a plan is (its stage and the settings that tell it from the plan's other runs) and its run id.

The ledger stores it as each record's "meta", with the keys of its stage only:

    baseline, reference   stage, task
    pretrain              stage, family, seed, max_steps
    finetune, control     stage, family, task, seed, pretrain_seed, lr, random_init, probe_step, final
                          (+ probe_tokens, probe_flops once the pretraining run it starts from has finished)

(from_dict refuses a stage's missing or unknown keys, so a ledger of another layout fails in one line).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

TASK_STAGES = ("baseline", "reference")  # runs with no model, one per task
FINETUNE_STAGES = ("finetune", "control")  # control: the same recipe from random weights
STAGE_KEYS: dict[str, tuple[str, ...]] = {
    **{stage: ("task",) for stage in TASK_STAGES},
    "pretrain": ("family", "seed", "max_steps"),
    **{stage: ("family", "task", "seed", "pretrain_seed", "lr", "random_init", "probe_step", "final")
       for stage in FINETUNE_STAGES},
}
PROBE_BUDGET_KEYS = ("probe_tokens", "probe_flops")  # known only once the pretraining run has finished


def pretrain_run_id(family: str, seed: int) -> str:
    return f"pretrain-{family}-seed{seed}"


def finetune_run_id(task: str, family: str, pretrain_seed: int, probe: int | None, seed: int, lr: float,
                    random_init: bool) -> str:
    """`probe` None: the final checkpoint (its step is left out of the id)."""
    if random_init:
        return f"control-{task}-{family}-lr{lr:g}-seed{seed}"
    step = "" if probe is None else f"-step{probe}"
    return f"finetune-{task}-{family}-p{pretrain_seed}{step}-lr{lr:g}-seed{seed}"


def grid_run_id(task: str, family: str, lr: float, first_seed: int, first_pretrain_seed: int,
                random_init: bool = False) -> str:
    """The learning-rate search's run of a (task, family, pretrained | random-init) group at `lr`, the runs the
    group's rate is chosen from: the first fine-tuning seed on the first pretraining seed's final checkpoint (a
    control: from random weights of that architecture)."""
    return finetune_run_id(task, family, first_pretrain_seed, None, first_seed, lr, random_init)


@dataclass(frozen=True)
class RunIdentity:
    """One run's identity; the fields its stage does not have (STAGE_KEYS) are None."""

    stage: str
    family: str | None = None
    task: str | None = None
    seed: int | None = None
    max_steps: int | None = None
    pretrain_seed: int | None = None
    lr: float | None = None
    random_init: bool | None = None
    probe_step: int | None = None  # the pretraining step of the checkpoint fine-tuned from
    final: bool | None = None  # whether that checkpoint is the pretraining run's last probe
    probe_tokens: float | None = None  # tokens the backbone had seen at probe_step
    probe_flops: float | None = None  # and its training FLOPs by then

    def __post_init__(self) -> None:
        if self.stage not in STAGE_KEYS:
            raise ValueError(f"unknown run stage {self.stage!r}: expected one of {', '.join(STAGE_KEYS)}")

    @classmethod
    def for_task(cls, stage: str, task: str) -> RunIdentity:
        """A baseline or reference run of `task`."""
        return cls(stage, task=task)

    @classmethod
    def pretraining(cls, family: str, seed: int, max_steps: int) -> RunIdentity:
        return cls("pretrain", family=family, seed=seed, max_steps=max_steps)

    @classmethod
    def finetuning(cls, family: str, task: str, seed: int, pretrain_seed: int, lr: float, random_init: bool,
                   probe_step: int | None, final: bool) -> RunIdentity:
        """A fine-tuning run (or, `random_init`, its control) from the checkpoint at `probe_step`."""
        return cls("control" if random_init else "finetune", family=family, task=task, seed=seed,
                   pretrain_seed=pretrain_seed, lr=lr, random_init=random_init, probe_step=probe_step, final=final)

    def with_probe_budget(self, tokens: float, flops: float) -> RunIdentity:
        return replace(self, probe_tokens=tokens, probe_flops=flops)

    @property
    def is_finetuning(self) -> bool:
        return self.stage in FINETUNE_STAGES

    @property
    def run_id(self) -> str:
        if self.stage in TASK_STAGES:
            return f"{self.stage}-{self.task}"
        if self.stage == "pretrain":
            assert self.family is not None and self.seed is not None
            return pretrain_run_id(self.family, self.seed)
        assert self.task is not None and self.family is not None and self.pretrain_seed is not None
        assert self.seed is not None and self.lr is not None
        return finetune_run_id(self.task, self.family, self.pretrain_seed, None if self.final else self.probe_step,
                               self.seed, self.lr, bool(self.random_init))

    def is_grid_run(self, first_seed: int, first_pretrain_seed: int) -> bool:
        """A run of a group's learning-rate search (grid_run_id), at any rate it tried (the grid's or an extension)."""
        return (self.is_finetuning and self.lr is not None and self.task is not None and self.family is not None
                and self.run_id == grid_run_id(self.task, self.family, self.lr, first_seed, first_pretrain_seed,
                                               bool(self.random_init)))

    def to_dict(self) -> dict[str, Any]:
        """The ledger's "meta": stage, then its stage's keys in order (the probe budget once known)."""
        present = [key for key in PROBE_BUDGET_KEYS if getattr(self, key) is not None]
        return {"stage": self.stage, **{key: getattr(self, key) for key in (*STAGE_KEYS[self.stage], *present)}}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> RunIdentity:
        """The identity a ledger's "meta" holds; a key its stage does not have is a ValueError naming it."""
        stage = raw.get("stage")
        if stage not in STAGE_KEYS:
            raise ValueError(f"unknown run stage {stage!r}: expected one of {', '.join(STAGE_KEYS)}")
        allowed = {"stage", *STAGE_KEYS[stage], *(PROBE_BUDGET_KEYS if stage in FINETUNE_STAGES else ())}
        unknown = sorted(set(raw) - allowed)
        missing = sorted(set(STAGE_KEYS[stage]) - set(raw))
        if unknown or missing:
            raise ValueError(f"a {stage} run's meta has unknown keys {unknown} or lacks {missing}")
        return cls(**raw)
