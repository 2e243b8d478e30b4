"""A stopped comparison stops its runs: SIGTERM or SIGINT to the plan's process reaches the runs (in the pool's worker
processes or in the plan's own), which stop as a preempted run does; none is recorded, so a re-run resumes them."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from types import FrameType

import pytest

from pretrain.compare.running.ledger import Ledger
from pretrain.compare.running.pool import Job, Progress, run_jobs
from pretrain.compare.running.run_identity import RunIdentity
from pretrain.compare.running.stopping import PlanStopped
from pretrain.lightning.preemption import request_stop


def _sleeper(marker: Path) -> dict[str, float]:
    """A run busy outside training (a tokenizer, a test pass): stopped where it is."""
    marker.write_text(str(os.getpid()))
    time.sleep(120)
    return {"never": 1.0}


def _trainer(marker: Path) -> dict[str, float]:
    """A run in training: PreemptionCheckpoint takes SIGTERM, the step ends, the command returns normally."""
    stopped: list[int] = []

    def at_step_end(signum: int, frame: FrameType | None) -> None:
        stopped.append(signum)
        request_stop(signum)  # what PreemptionCheckpoint's handler records

    previous = signal.signal(signal.SIGTERM, at_step_end)
    marker.write_text(str(os.getpid()))
    try:
        deadline = time.monotonic() + 120
        while not stopped and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        signal.signal(signal.SIGTERM, previous)
    return {"val/loss": 1.0}  # returned as if done: the stop must still keep it out of the ledger


def _send_when_started(markers: list[Path], signum: int) -> threading.Thread:
    def send() -> None:
        deadline = time.monotonic() + 120
        while not all(m.is_file() for m in markers) and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(os.getpid(), signum)  # to the plan's process only, as `timeout` or a scheduler sends it

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    return thread


def _job(run_id: str, fn: object, marker: Path) -> Job:
    return Job(run_id, fn, (marker,), RunIdentity.for_task("baseline", "classification"))  # type: ignore[arg-type]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_to_the_plan_stops_the_runs_in_its_workers_and_records_none(tmp_path: Path, signum: int) -> None:
    markers = [tmp_path / "busy", tmp_path / "training", tmp_path / "queued"]
    jobs = [_job("busy", _sleeper, markers[0]), _job("training", _trainer, markers[1]),
            _job("queued", _sleeper, markers[2])]
    ledger = Ledger(tmp_path / "ledger.json")
    sender = _send_when_started(markers[:2], signum)
    with pytest.raises(PlanStopped) as stop:
        run_jobs(jobs, ledger, Progress(total=3, workers=2), workers=2, threads=1, subprocess_runs=False)
    sender.join()
    assert stop.value.signum == signum and stop.value.exit_status == 128 + signum
    assert sorted(stop.value.interrupted) == ["busy", "training"]
    assert ledger.records == {} and not markers[2].exists()  # nothing recorded; the queued run never started
    for marker in markers[:2]:  # the workers are gone, not left training or asleep
        with pytest.raises(ProcessLookupError):
            os.kill(int(marker.read_text()), 0)
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the plan's handlers are undone


def test_a_signal_stops_a_run_in_the_plans_own_process(tmp_path: Path) -> None:
    markers = [tmp_path / "busy", tmp_path / "next"]
    ledger = Ledger(tmp_path / "ledger.json")
    sender = _send_when_started(markers[:1], signal.SIGINT)
    with pytest.raises(PlanStopped) as stop:
        run_jobs([_job("busy", _sleeper, markers[0]), _job("next", _sleeper, markers[1])], ledger,
                 Progress(total=2), workers=1, threads=1, subprocess_runs=False)
    sender.join()
    assert stop.value.interrupted == ["busy"] and ledger.records == {} and not markers[1].exists()


def _descendants(pid: int) -> set[int]:
    """Every living process below `pid` (its workers, their W&B services), from /proc."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z":
            parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc/self/stat").is_file(), reason="reads the process tree from /proc")
def test_sigterm_to_compare_leaves_no_worker_or_wandb_process_and_the_pretraining_resumable(tmp_path: Path) -> None:
    import subprocess
    import sys

    from mini_plans import REPO, mini_plan_file

    plan = mini_plan_file(tmp_path, pretrain={"tokens": 8 * 64 * 4000, "val_check_interval": 2000},
                          wandb={"mode": "offline"}, parallel_runs=2, threads_per_run=1)
    env = {**os.environ, "PYTHONPATH": str(REPO), "WANDB_MODE": "offline", "WANDB_SILENT": "true"}
    compare = subprocess.Popen([sys.executable, str(REPO / "scripts/compare.py"), "--config", str(plan)],
                               cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    runs = tmp_path / "runs/mini"
    try:
        deadline = time.monotonic() + 300
        # The CSV log gets its rows every 100 steps (the file itself may be written at the start): both pretrainings
        # are training, each with its W&B service.
        while sum(len(f.read_text().splitlines()) > 1 for f in runs.glob("pretrain-*/csv/*/metrics.csv")) < 2 \
                and time.monotonic() < deadline:
            assert compare.poll() is None, compare.stdout.read() if compare.stdout else ""
            time.sleep(0.5)
        below = _descendants(compare.pid)  # two workers, their W&B services, multiprocessing's resource tracker
        assert len(below) >= 3, below
        compare.send_signal(signal.SIGTERM)
        output, _ = compare.communicate(timeout=180)
    finally:
        if compare.poll() is None:
            compare.kill()
    assert compare.returncode == 128 + signal.SIGTERM, output
    assert "stopped by SIGTERM: 2 run(s) interrupted" in output and "the same command resumes the plan" in output
    deadline = time.monotonic() + 30  # multiprocessing's resource tracker ends once the plan's process has
    while [pid for pid in below if _alive(pid)] and time.monotonic() < deadline:
        time.sleep(0.5)
    left = {pid: Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ") for pid in below if _alive(pid)}
    assert not left, output  # nothing left training, asleep or serving W&B
    for folder in runs.glob("pretrain-*"):  # each stopped at a step with its checkpoint, for --ckpt_path last
        assert (folder / "checkpoints/last.ckpt").is_file(), (folder / "run.log").read_text()[-3000:]
    assert not [r for r in Ledger(runs / "ledger.json").records.values() if r.identity.stage == "pretrain"]
