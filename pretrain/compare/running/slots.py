"""Device slots: which accelerators a run of a plan may see, so that one-device runs fan out over a node's GPUs.

A plan's `device_slots` (null: none) names the node's devices: N, or "auto" (every GPU this process sees). A run
takes the slots it needs, each run's child process sees only those (`CUDA_VISIBLE_DEVICES`, the CUDA runtime's own
mask: inside the child the run's device is cuda:0), and no two running runs share one:

    a pretraining run    every slot (DDP over the node: configs/trainer/ddp.yaml, devices -1 = all it sees)
    a fine-tuning run    one slot (configs/trainer/gpu.yaml, devices 1)
    a baseline run       none (CPU)

So after DDP pretraining, fine-tuning and control runs go one per GPU, N at a time. A slot is a name: on a CPU the
same path runs with stand-in slots (the dry run: the children see CUDA_VISIBLE_DEVICES and no GPU). Across nodes,
SLURM places runs (a job array over a plan's runs, or one job per run), not this module: see the README.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Literal, TypeVar

VISIBLE_DEVICES = "CUDA_VISIBLE_DEVICES"
EVERY_SLOT = -1  # a run that needs every slot of the node (Job.slots)
DeviceSlots = int | Literal["auto"] | None

_current = threading.local()  # the slots of the run this thread is running (each pooled run has its own thread)
T = TypeVar("T")


def check_device_slots(setting: DeviceSlots) -> None:
    """`device_slots` is null, a positive number or "auto"; anything else is one line naming the field."""
    if setting is not None and setting != "auto" and (isinstance(setting, bool) or not isinstance(setting, int)
                                                       or setting < 1):
        raise ValueError(f"device_slots={setting!r}: expected a number of devices >= 1, 'auto' (every visible GPU) "
                         "or null (no device slots)")


def slot_names(setting: DeviceSlots, visible: str | None = None, gpus: int | None = None) -> list[str]:
    """The slots' device names: the first N of the devices this process sees (`CUDA_VISIBLE_DEVICES` when set, as
    SLURM sets it for a job's GPUs; else 0..N-1), or all of them for "auto". `visible` and `gpus` (the GPU count
    for "auto") default to this process's."""
    check_device_slots(setting)
    if setting is None:
        return []
    visible = os.environ.get(VISIBLE_DEVICES) if visible is None else visible
    names = [name.strip() for name in visible.split(",") if name.strip()] if visible else None
    if setting == "auto":
        if names is None:
            import torch

            count = torch.cuda.device_count() if gpus is None else gpus
            names = [str(i) for i in range(count)]
        if not names:
            raise ValueError("device_slots='auto' found no CUDA device; give a number of slots (on a CPU they stand in "
                             "for GPUs: each run sees CUDA_VISIBLE_DEVICES=<its slot>)")
        return names
    if names is None:
        return [str(i) for i in range(setting)]
    if setting > len(names):
        raise ValueError(f"device_slots={setting}: only {len(names)} device(s) visible ({VISIBLE_DEVICES}={visible})")
    return names[:setting]


def slot_count(setting: DeviceSlots, gpus: int) -> int:
    """How many slots `setting` gives on a node of `gpus` devices (the estimate's --gpus): 0 without slots."""
    check_device_slots(setting)
    if setting is None:
        return 0
    return gpus if setting == "auto" else min(int(setting), gpus)


@contextmanager
def running_on(slots: list[str]) -> Iterator[None]:
    """Within the block, runs started from this thread see only `slots` (`child_environment`)."""
    previous = getattr(_current, "slots", None)
    _current.slots = slots
    try:
        yield
    finally:
        _current.slots = previous


def on_slots(slots: list[str], fn: Callable[..., T], *args: object) -> T:
    """fn(*args) with its child processes seeing only `slots`."""
    with running_on(slots):
        return fn(*args)


def child_environment() -> dict[str, str] | None:
    """The environment of a run's child process: this one's, with only the run's slots visible; None (inherit) when
    the run holds no slot."""
    slots = getattr(_current, "slots", None)
    if slots is None:
        return None
    return {**os.environ, VISIBLE_DEVICES: ",".join(slots)}
