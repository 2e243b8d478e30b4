"""scripts/bench.py runs end to end on tiny presets and writes its rows (no timing is asserted)."""

from __future__ import annotations

import json
import runpy
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]


def test_bench_writes_a_row_per_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bench = runpy.run_path(str(ROOT / "scripts" / "bench.py"))
    out = tmp_path / "bench.json"
    bench["main"]([
        "--bert-config", str(ROOT / "configs/model/bert-tiny.yaml"), "--gpt-config",
        str(ROOT / "configs/model/gpt-tiny.yaml"), "--seq-len", "16", "--batch-size", "2", "--rounds", "2",
        "--warmup", "1", "--device", "cpu", "--json", str(out),
    ])
    rows = json.loads(out.read_text())["rows"]
    assert [(r["family"], r["implementation"]) for r in rows] == [("bert", "ours"), ("bert", "hf"),
                                                                  ("gpt", "ours"), ("gpt", "hf")]
    assert all(r["tokens_per_s"] > 0 and r["memory_mib"] > 0 for r in rows)
    assert rows[0]["ratio_ours_over_hf"] > 0 and rows[1]["ratio_ours_over_hf"] is None
    assert "ours/HF" in capsys.readouterr().out


def test_bench_rejects_a_sequence_longer_than_the_preset() -> None:
    bench = runpy.run_path(str(ROOT / "scripts" / "bench.py"))
    with pytest.raises(ValueError, match="--seq-len 999 exceeds max_positions=128"):
        bench["main"](["--gpt-config", str(ROOT / "configs/model/gpt-tiny.yaml"), "--families", "gpt",
                       "--seq-len", "999", "--device", "cpu"])
