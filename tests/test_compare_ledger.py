from pathlib import Path

import pytest

from pretrain.compare.ledger import Ledger


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
    assert ledger.run("a", lambda: ok("a"), {"stage": "x"}).status == "done"
    failed = ledger.run("b", boom, {"stage": "x"})
    assert failed.status == "failed" and "RuntimeError: diverged at step 3" in failed.error
    assert ledger.run("c", lambda: ok("c"), {"stage": "x"}).status == "done"  # the rest continues

    again = Ledger(path)  # a re-run reads the ledger back
    assert again.get("a").result == {"value": 1} and again.get("b").status == "failed"
    again.run("a", lambda: ok("a"), {"stage": "x"})  # finished: not run again
    again.run("b", lambda: ok("b"), {"stage": "x"})  # failed: retried
    assert calls == ["a", "boom", "c", "b"]
    assert Ledger(path).get("b").status == "done"


def test_skip_and_corrupt_ledger(tmp_path: Path) -> None:
    path = tmp_path / "ledger.json"
    Ledger(path).skip("d", "pretraining failed", {"stage": "finetune"})
    assert Ledger(path).get("d").status == "skipped"
    path.write_text("{not json")
    with pytest.raises(ValueError, match="ledger.json: not a readable run ledger"):
        Ledger(path)
