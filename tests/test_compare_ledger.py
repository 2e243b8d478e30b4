from pathlib import Path

import pytest

from pretrain.compare.running.ledger import Ledger
from pretrain.compare.running.pool import Job, Progress, run_jobs
from pretrain.compare.running.run_identity import RunIdentity


def _run(ledger: Ledger, run_id: str, fn: object) -> None:
    run_jobs([Job(run_id, fn, (), RunIdentity.for_task("baseline", "x"))], ledger, Progress(total=1), workers=1,
             threads=1,
             subprocess_runs=False)


def test_finished_runs_are_skipped_and_failures_recorded(tmp_path: Path) -> None:
    path = tmp_path / "ledger.json"
    calls: list[str] = []

    def ok(name: str) -> dict[str, int]:
        calls.append(name)
        return {"value": len(name)}

    def boom() -> dict[str, int]:
        calls.append("boom")
        raise RuntimeError("diverged at step 3")

    ledger = Ledger(path)
    _run(ledger, "a", lambda: ok("a"))
    _run(ledger, "b", boom)
    _run(ledger, "c", lambda: ok("c"))  # the rest continues
    assert ledger.get("a").status == "done" and ledger.get("c").status == "done"
    failed = ledger.get("b")
    assert failed.status == "failed" and "RuntimeError: diverged at step 3" in failed.error

    again = Ledger(path)  # a re-run reads the ledger back
    assert again.get("a").result == {"value": 1} and again.get("b").status == "failed"
    _run(again, "a", lambda: ok("a"))  # finished: not run again
    _run(again, "b", lambda: ok("b"))  # failed: retried
    assert calls == ["a", "boom", "c", "b"]
    assert Ledger(path).get("b").status == "done"


def test_skip_and_corrupt_ledger(tmp_path: Path) -> None:
    path = tmp_path / "ledger.json"
    Ledger(path).skip("d", "pretraining failed", RunIdentity.finetuning("gpt", "ner", 0, 0, 1e-3, False, None, True))
    assert Ledger(path).get("d").status == "skipped"
    path.write_text("{not json")
    with pytest.raises(ValueError, match="ledger.json: not a readable run ledger"):
        Ledger(path)
