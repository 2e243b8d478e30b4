"""Runs of a plan side by side, each recorded in the ledger as it finishes and each started as soon as
the runs it depends on have finished.

Small models use one CPU core better than two (per-op threading overhead dominates at d_model 128),
so on an N-core machine N single-threaded runs finish sooner than N runs in a row with N threads.
With `workers == 1` a job runs in this process, as before; with more, in-process runs go to a pool
of spawned worker processes (started once, reused: the imports are paid once per worker), and
subprocess runs (`subprocess_runs`) to threads that each wait for their child process. With device slots
(pretrain.compare.running.slots) a subprocess run starts when the slots it needs are free, and its child sees only
those: DDP pretraining takes every slot, fine-tuning one, so after pretraining the one-device runs fan out one per
GPU. Each run's console output goes to `<run folder>/run.log` (a child process writes its own); the console shows
one line per run. SIGTERM or SIGINT stops the plan and every run it holds (stopping.py).
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pretrain.compare.running.ledger import Ledger
from pretrain.compare.running.run_identity import RunIdentity
from pretrain.compare.running.slots import EVERY_SLOT, on_slots
from pretrain.compare.running.stopping import PlanStopped, RunStopped, executing, init_worker, stop_on_signals
from pretrain.compare.schema import RunRecord, RunResult
from pretrain.lightning.preemption import stop_signal


@dataclass(frozen=True)
class Job:
    run_id: str
    fn: Callable[..., RunResult]  # module-level (picklable) when run in a worker process
    args: tuple[Any, ...]
    identity: RunIdentity
    log_file: Path | None = None  # where a pooled run's console output goes
    slots: int = 0  # device slots it runs on, with slots (run_jobs): 0 none (CPU), 1, or EVERY_SLOT (DDP on the node)


@dataclass
class Progress:
    """Counts runs over the whole plan and prints one line per run, with an estimate of the time left
    (the mean wall time of the fine-tuning runs so far, times the runs left, over the runs going side by side)."""

    total: int
    workers: int = 1
    done: int = 0
    walls: list[float] = field(default_factory=list)

    def line(self, record: RunRecord) -> str:
        self.done += 1
        if record.identity.is_finetuning:  # most runs left are fine-tunes: estimate from them
            self.walls.append(record.wall_s)
        left = self.total - self.done
        eta = ""
        if left > 0 and self.walls:
            eta = f", ~{sum(self.walls) / len(self.walls) * left / self.workers / 60:.0f} min left"
        note = f" -- {record.error.splitlines()[-1]}" if record.error else ""
        return f"[{self.done}/{self.total}] {record.run_id}: {record.status} ({record.wall_s:.0f} s){note}{eta}"


STOPPED = "stopped"  # a run that a termination signal stopped: not finished, and not recorded (stopping.py)
NOT_STARTED = "not started"  # a job that reached a worker after the stop: it never ran


def capture(fn: Callable[..., RunResult], args: tuple[Any, ...], log_file: Path | None = None,
            threads: int | None = None, in_process: bool = True) -> tuple[str, float, RunResult, str]:
    """Run one job with `threads` torch threads (None: as they are); never raise. Returns (status, wall seconds,
    result, error); status STOPPED when the plan was stopped before or while it ran (`in_process`: the run executes
    here, not in a child process). The caller's thread count is restored afterwards: a run in the plan's own
    process (one run at a time) leaves that process as it found it."""
    import torch

    if stop_signal() is not None:  # queued to a worker that the stop already reached
        return NOT_STARTED, 0.0, {}, ""
    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    restore = _redirect(log_file) if log_file is not None else None
    start = time.perf_counter()
    try:
        with executing(in_process):
            result = fn(*args)
        status, error_text = "done", ""
    except RunStopped:
        status, result, error_text = STOPPED, {}, ""
    except Exception as error:  # one failed run must not stop the plan
        status, result = "failed", {}
        error_text = "".join(traceback.format_exception_only(type(error), error)).strip()
        if log_file is not None:
            traceback.print_exc()
    finally:
        if restore is not None:
            restore()
        if threads is not None:
            torch.set_num_threads(previous)
    if stop_signal() is not None:
        # Stopped at a step (PreemptionCheckpoint), its command returned as if done; or a child process stopped.
        status, result, error_text = STOPPED, {}, ""
    return status, time.perf_counter() - start, result, error_text


Followups = Callable[[Job, RunRecord], list[Job]]


def run_jobs(jobs: Sequence[Job], ledger: Ledger, progress: Progress, *, workers: int, threads: int,
             subprocess_runs: bool, then: Followups | None = None, slots: Sequence[str] = ()) -> None:
    """Run the jobs not yet done in the ledger, `workers` at a time, recording each as it finishes.

    `then(job, record)` returns the jobs a finished (or already done) job makes runnable; they are
    queued at once, so a run starts as soon as what it depends on is there, not when a whole stage is.
    With `slots` (device names; subprocess runs only) a job needing slots starts, in queue order, when that many
    are free, and its child process sees only them; a job waiting for slots is not overtaken by a later one (a
    DDP pretraining run would otherwise wait behind every fine-tuning run); jobs needing none go `workers` at a time.
    """
    follow = then or (lambda job, record: [])
    queued: set[str] = set()

    def fresh(batch: Sequence[Job]) -> list[Job]:
        """Jobs not seen before; already finished ones are reported and their followups expanded."""
        out: list[Job] = []
        for job in batch:
            if job.run_id in queued:
                continue
            queued.add(job.run_id)
            record = ledger.get(job.run_id)
            if record is not None and record.status == "done":
                progress.done += 1
                print(f"[{progress.done}/{progress.total}] {job.run_id}: already done, skipped", flush=True)
                out += fresh(follow(job, record))
            else:
                out.append(job)
        return out

    pending = fresh(jobs)
    stopped: list[str] = []  # runs a termination signal stopped
    if slots:
        if not subprocess_runs:
            raise ValueError("device_slots needs subprocess_runs: true (a run's devices are its child process's "
                             "CUDA_VISIBLE_DEVICES)")
        _run_on_slots(pending, list(slots), workers, ledger, progress, lambda job, record: fresh(follow(job, record)),
                      stopped)
        return
    if workers == 1:
        with stop_on_signals(lambda: []):
            while pending and stop_signal() is None:
                job = pending.pop(0)
                print(f"[{progress.done + 1}/{progress.total}] {job.run_id} ...", flush=True)
                outcome = capture(job.fn, job.args, job.log_file, None if subprocess_runs else threads,
                                  in_process=not subprocess_runs)
                if outcome[0] == STOPPED:
                    stopped.append(job.run_id)
                    continue
                pending += fresh(follow(job, _record(ledger, progress, job, outcome)))
            _raise_if_stopped(stopped)
        return
    print(f"[compare] up to {workers} runs at a time ({threads} thread{'s' if threads > 1 else ''} each); each run's "
          "log is in its folder", flush=True)
    with _executor(workers, threads, subprocess_runs) as pool, stop_on_signals(lambda: _worker_pids(pool)):
        futures: dict[Future[tuple[str, float, RunResult, str]], Job] = {}

        def submit(batch: list[Job]) -> None:
            for job in batch:
                if job.log_file is not None:
                    job.log_file.parent.mkdir(parents=True, exist_ok=True)
                log = None if subprocess_runs else job.log_file
                futures[pool.submit(capture, job.fn, job.args, log, None if subprocess_runs else threads,
                                    not subprocess_runs)] = job

        submit(pending)
        while futures:
            finished, _ = wait(futures, return_when=FIRST_COMPLETED)
            for future in finished:
                job = futures.pop(future)
                outcome = (NOT_STARTED, 0.0, {}, "") if future.cancelled() else future.result()
                if outcome[0] == NOT_STARTED:
                    continue
                if outcome[0] == STOPPED:
                    stopped.append(job.run_id)
                    continue
                record = _record(ledger, progress, job, outcome)
                if stop_signal() is None:
                    submit(fresh(follow(job, record)))
            if stop_signal() is not None:
                for future in futures:
                    future.cancel()  # not started yet; the started ones stop themselves
        _raise_if_stopped(stopped)


def _raise_if_stopped(stopped: list[str]) -> None:
    signum = stop_signal()
    if signum is not None:
        print(f"[compare] stopped: {len(stopped)} run(s) interrupted and not recorded"
              + (f" ({', '.join(stopped)})" if stopped else ""), flush=True)
        raise PlanStopped(signum, stopped)


def _worker_pids(pool: Executor) -> list[int]:
    """The processes of a process pool (a thread pool's runs are child processes: stopping.child_process)."""
    # ProcessPoolExecutor has no public list of its processes; _processes maps pid -> process.
    return list(getattr(pool, "_processes", None) or {})


def _run_on_slots(pending: list[Job], slots: list[str], workers: int, ledger: Ledger, progress: Progress,
                  follow: Followups, stopped: list[str]) -> None:
    """run_jobs with device slots (see its docstring); a stop ends it as run_jobs' pool (stopping.py)."""
    free = list(slots)
    print(f"[compare] {len(slots)} device slot(s) ({', '.join(slots)}): a pretraining run takes them all, a "
          "fine-tuning run one; each run's log is in its folder", flush=True)
    # Threads only wait for child processes, which a stop reaches through stopping.child_process.
    with ThreadPoolExecutor(max_workers=len(slots) + workers) as pool, stop_on_signals(lambda: []):
        futures: dict[Future[tuple[str, float, RunResult, str]], tuple[Job, list[str]]] = {}

        def start_ready() -> None:
            if stop_signal() is not None:
                return
            waiting, cpu_runs = False, sum(1 for job, held in futures.values() if not held)
            for job in list(pending):
                need = len(slots) if job.slots == EVERY_SLOT else min(job.slots, len(slots))
                if need == 0:
                    if cpu_runs >= workers:
                        continue
                elif waiting or need > len(free):
                    waiting = True  # later runs needing slots queue behind this one
                    continue
                pending.remove(job)
                held, free[:] = free[:need], free[need:]
                cpu_runs += not need
                if job.log_file is not None:
                    job.log_file.parent.mkdir(parents=True, exist_ok=True)
                args = (held, job.fn, *job.args) if held else job.args
                futures[pool.submit(capture, on_slots if held else job.fn, args, None, None, False)] = (job, held)

        start_ready()
        while futures:
            finished, _ = wait(futures, return_when=FIRST_COMPLETED)
            for future in finished:
                job, held = futures.pop(future)
                free.extend(held)
                free.sort(key=slots.index)  # the lowest slots first: the same device order every time
                outcome = future.result()
                if outcome[0] == STOPPED:
                    stopped.append(job.run_id)
                elif outcome[0] != NOT_STARTED:
                    record = _record(ledger, progress, job, outcome)
                    if stop_signal() is None:
                        pending.extend(follow(job, record))
            start_ready()
        _raise_if_stopped(stopped)


def _record(ledger: Ledger, progress: Progress, job: Job,
            outcome: tuple[str, float, RunResult, str]) -> RunRecord:
    status, wall, result, error = outcome
    record = RunRecord(job.run_id, status, job.identity, wall, result, error, time.strftime("%Y-%m-%dT%H:%M:%S"))
    ledger.save(record)
    print(progress.line(record), flush=True)
    return record


def _executor(workers: int, threads: int, subprocess_runs: bool) -> Executor:
    if subprocess_runs:  # each run is its own process already: threads only wait for them
        return ThreadPoolExecutor(max_workers=workers)
    # spawn, not fork: a forked child of a process that already ran OpenMP/torch threads can deadlock.
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_init_worker, initargs=(threads,))


def _init_worker(threads: int) -> None:
    init_worker()
    os.environ["OMP_NUM_THREADS"] = str(threads)
    import torch

    torch.set_num_threads(threads)


def _redirect(log_file: Path) -> Callable[[], None]:
    """Send this process's stdout/stderr (file descriptors 1 and 2, so C-level output too) to `log_file`."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    handle = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o666)
    os.dup2(handle, 1)
    os.dup2(handle, 2)
    os.close(handle)

    def restore() -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])

    return restore
