"""Device slots: each subprocess run sees only its own slots (CUDA_VISIBLE_DEVICES), a pretraining run takes every
slot, fine-tuning runs fan out one per slot, and no run overtakes one that waits for slots. On a CPU the slots are
stand-ins: the child processes report what they were given."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from pretrain.compare.running.ledger import Ledger
from pretrain.compare.running.pool import Job, Progress, run_jobs
from pretrain.compare.running.run_identity import RunIdentity
from pretrain.compare.running.runs import subprocess_cli
from pretrain.compare.running.slots import EVERY_SLOT, VISIBLE_DEVICES, slot_count, slot_names
from pretrain.compare.running.stopping import PlanStopped
from pretrain.compare.schema import RunRecord
from pretrain.lightning.preemption import clear_stop

# A child process standing in for a `pretrain` / `finetune` run: it sleeps, then writes what devices it saw and when.
PROBE = """import json, os, sys, time
open(sys.argv[1].replace(".json", "") + ".started", "w").close()
start = time.monotonic()
time.sleep(float(sys.argv[2]))
json.dump({"visible": os.environ.get("CUDA_VISIBLE_DEVICES"), "start": start, "end": time.monotonic()},
          open(sys.argv[1], "w"))
"""


def probe_run(args: list[str]) -> dict[str, Any]:
    subprocess_cli("slot_probe")(args)  # the comparison's own launcher of subprocess runs
    return {}


def _job(tmp_path: Path, name: str, slots: int, seconds: float = 0.4) -> Job:
    return Job(name, probe_run, ([str(tmp_path / f"{name}.json"), str(seconds)],),
               RunIdentity.for_task("baseline", "classification"), slots=slots)


def _seen(tmp_path: Path, name: str) -> dict[str, Any]:
    return json.loads((tmp_path / f"{name}.json").read_text())


@pytest.fixture
def probe_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "slot_probe.py").write_text(PROBE)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.delenv(VISIBLE_DEVICES, raising=False)


def _overlap(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return a["start"] < b["end"] and b["start"] < a["end"]


def test_pretraining_takes_every_slot_then_fine_tuning_fans_out_one_per_slot(tmp_path: Path,
                                                                             probe_module: None) -> None:
    finetunes = [f"finetune{i}" for i in range(4)]

    def then(job: Job, record: RunRecord) -> list[Job]:
        return [_job(tmp_path, name, 1) for name in finetunes] if job.run_id == "pretrain" else []

    jobs = [_job(tmp_path, "baseline", 0, 0.0), _job(tmp_path, "pretrain", EVERY_SLOT, 0.1)]
    ledger = Ledger(tmp_path / "ledger.json")
    run_jobs(jobs, ledger, Progress(total=6), workers=1, threads=1, subprocess_runs=True, then=then,
             slots=["0", "1"])
    assert all(record.status == "done" for record in ledger.records.values()) and len(ledger.records) == 6
    assert _seen(tmp_path, "baseline")["visible"] is None  # a run on no device is given none of them
    pretrain = _seen(tmp_path, "pretrain")
    assert pretrain["visible"] == "0,1"  # DDP over the node: every slot
    seen = [_seen(tmp_path, name) for name in finetunes]
    assert {s["visible"] for s in seen} == {"0", "1"}  # one slot each, and both used
    assert all(s["start"] >= pretrain["end"] for s in seen)
    for i, a in enumerate(seen):
        for b in seen[i + 1:]:
            assert not (_overlap(a, b) and a["visible"] == b["visible"])  # never two runs on one device
    assert any(_overlap(a, b) for i, a in enumerate(seen) for b in seen[i + 1:])  # side by side


def test_a_run_waiting_for_every_slot_is_not_overtaken(tmp_path: Path, probe_module: None) -> None:
    jobs = [_job(tmp_path, "first", 1), _job(tmp_path, "pretrain", EVERY_SLOT, 0.1), _job(tmp_path, "later", 1)]
    run_jobs(jobs, Ledger(tmp_path / "ledger.json"), Progress(total=3), workers=1, threads=1, subprocess_runs=True,
             slots=["0", "1"])
    first, pretrain, later = (_seen(tmp_path, name) for name in ("first", "pretrain", "later"))
    assert pretrain["start"] >= first["end"]  # it waited for the slot `first` held ...
    assert later["start"] >= pretrain["end"]  # ... and `later`, which one free slot would have fitted, waited for it


def test_slot_names_come_from_the_visible_devices() -> None:
    assert slot_names(None) == []
    assert slot_names(2, visible="") == ["0", "1"]
    assert slot_names(2, visible="4,5,6") == ["4", "5"]  # SLURM's GPUs of this job
    assert slot_names("auto", visible="4,5") == ["4", "5"]
    assert slot_names("auto", visible="", gpus=3) == ["0", "1", "2"]
    assert slot_count("auto", 8) == 8 and slot_count(4, 8) == 4 and slot_count(None, 8) == 0
    with pytest.raises(ValueError, match=r"^device_slots='auto' found no CUDA device"):
        slot_names("auto", visible="", gpus=0)
    with pytest.raises(ValueError, match=r"^device_slots=3: only 2 device\(s\) visible"):
        slot_names(3, visible="0,1")
    with pytest.raises(ValueError, match=r"^device_slots=0: expected a number of devices >= 1"):
        slot_names(0)


def test_a_stop_reaches_the_runs_on_their_slots_and_records_none(tmp_path: Path, probe_module: None) -> None:
    jobs = [_job(tmp_path, f"finetune{i}", 1, 60.0) for i in range(3)]  # two start, one waits for a slot

    def stop_when_started() -> None:
        deadline = time.monotonic() + 60
        while len(list(tmp_path.glob("*.started"))) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGTERM)  # to the plan's process only, as `timeout` or a scheduler sends it

    threading.Thread(target=stop_when_started, daemon=True).start()
    ledger = Ledger(tmp_path / "ledger.json")
    start = time.monotonic()
    with pytest.raises(PlanStopped) as stopped:
        run_jobs(jobs, ledger, Progress(total=3), workers=1, threads=1, subprocess_runs=True, slots=["0", "1"])
    clear_stop()
    assert time.monotonic() - start < 30  # the children stopped, not slept out their 60 s
    assert sorted(stopped.value.interrupted) == ["finetune0", "finetune1"] and not ledger.records
    assert not (tmp_path / "finetune2.started").exists()  # the run waiting for a slot never started
