"""Stopping a comparison: SIGTERM or SIGINT to the plan's process (what `timeout`, a scheduler, a supervisor or
Ctrl-C sends) stops every run it holds, and nothing is left behind.

The plan's process forwards the signal as SIGTERM to the processes that run its runs (the pool's workers, or each
run's child process). A run stops as a preempted run does: in training, at a step boundary with last.ckpt saved
(PreemptionCheckpoint), elsewhere at once (`RunStopped`). A stopped run is not finished, whatever its command
returned: it is not recorded in the ledger, so the next launch of the same plan runs it again (a pretraining run
from its last checkpoint). Workers ignore SIGINT themselves: Ctrl-C reaches the whole process group, and each run
is stopped by the one SIGTERM instead, the same way for every signal.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

from pretrain.lightning.preemption import clear_stop, request_stop, stop_signal

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class RunStopped(BaseException):
    """A run stopped by a termination signal outside training. A BaseException, as KeyboardInterrupt is: a run's
    own `except Exception` must not take it for a failure of the run and go on."""


class PlanStopped(Exception):
    """The plan stopped on a termination signal; `interrupted` are the runs it stopped (not recorded)."""

    def __init__(self, signum: int, interrupted: list[str]) -> None:
        self.signum = signum
        self.interrupted = interrupted
        super().__init__(f"stopped by {signal.Signals(signum).name}: {len(interrupted)} run(s) interrupted")

    @property
    def exit_status(self) -> int:
        """The shell's status of a process ended by the signal (130 for SIGINT, 143 for SIGTERM)."""
        return 128 + self.signum


def _no_children() -> list[int]:
    return []


@dataclass
class _State:
    """What the signal handler of this process needs: the child processes to pass the signal on to, and whether a
    run executes in this process's main thread (where the handler runs, so raising there stops that run)."""

    children: Callable[[], list[int]] = _no_children
    tracked: set[int] = field(default_factory=set)
    executing: bool = False


_STATE = _State()


def _handle(signum: int, frame: FrameType | None) -> None:
    request_stop(signum)
    for pid in [*_STATE.children(), *_STATE.tracked]:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass  # ended meanwhile
    if _STATE.executing:
        _STATE.executing = False  # once: the run's own clean-up must not be interrupted again
        raise RunStopped(signum)


@contextmanager
def stop_on_signals(children: Callable[[], list[int]]) -> Iterator[None]:
    """The plan's process: SIGTERM and SIGINT stop the plan (stop_signal() tells) and are passed on as SIGTERM to
    `children()` and to the child processes of runs (`child_process`). Restored on exit."""
    clear_stop()  # a stop this process saw before (an earlier plan, a preempted command) is not this plan's
    if threading.current_thread() is not threading.main_thread():
        yield  # Python only lets the main thread install handlers
        return
    previous: dict[int, Any] = {sig: signal.signal(sig, _handle) for sig in STOP_SIGNALS}
    _STATE.children = children
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        _STATE.children = _no_children


def init_worker() -> None:
    """A pool worker: SIGTERM stops its run (the plan's process sends it); SIGINT is left to the plan's process."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _handle)


@contextmanager
def executing(in_this_thread: bool) -> Iterator[None]:
    """A run executes in this process; with `in_this_thread` (an in-process run in the main thread) a stop raises
    RunStopped in it. A run in a child process (or in a thread) is stopped through its process instead."""
    mark = in_this_thread and threading.current_thread() is threading.main_thread()
    _STATE.executing = mark
    try:
        if mark and stop_signal() is not None:
            raise RunStopped(stop_signal())
        yield
    finally:
        _STATE.executing = False


@contextmanager
def child_process(pid: int) -> Iterator[None]:
    """A run's child process, which a stop passes the signal on to while it lives."""
    _STATE.tracked.add(pid)
    try:
        yield
    finally:
        _STATE.tracked.discard(pid)
