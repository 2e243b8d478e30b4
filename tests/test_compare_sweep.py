"""The local sweep runner: grid/random enumeration and 2 trials run offline in the sweep's group."""

import json
import sys
from pathlib import Path

import pytest
import yaml

from pretrain.compare.sweep import command, load_sweep, trials

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
import sweep as sweep_script  # noqa: E402

PROGRAM = """
import json, os, sys
out = os.environ["TRIAL_OUT"]
with open(out, "a") as f:
    f.write(json.dumps({"argv": sys.argv[1:], "group": os.environ["WANDB_RUN_GROUP"],
                        "mode": os.environ["WANDB_MODE"]}) + "\\n")
"""


def _write(tmp_path: Path, config: dict) -> Path:
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_grid_and_random_enumeration(tmp_path: Path) -> None:
    config = load_sweep(_write(tmp_path, {
        "method": "grid", "metric": {"name": "val/ppl", "goal": "minimize"}, "program": "train.py",
        "parameters": {"model": {"parameters": {"lr": {"values": [1e-3, 3e-4]}}}, "seed": {"value": 1},
                       "data.batch_size": {"values": [8, 16, 32]}},
    }))
    grid = trials(config, None)
    assert len(grid) == 6 and grid[0].params == {"data.batch_size": 8, "model.lr": 1e-3, "seed": 1}
    assert len(trials(config, 4)) == 4
    assert command(config, grid[0].params)[1:] == ["train.py", "--data.batch_size=8", "--model.lr=0.001", "--seed=1"]
    config["method"] = "random"
    config["parameters"]["lr"] = {"distribution": "log_uniform_values", "min": 1e-5, "max": 1e-2}
    draws = trials(config, 5, seed=3)
    assert draws == trials(config, 5, seed=3) and len(draws) == 5
    assert all(1e-5 <= t.params["lr"] <= 1e-2 for t in draws)


def test_bad_sweep_files(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="method='hyperband'"):
        load_sweep(_write(tmp_path, {"method": "hyperband", "metric": {"name": "m", "goal": "minimize"},
                                     "parameters": {"a": {"value": 1}}, "program": "p"}))
    with pytest.raises(ValueError, match="parameter a: expected value"):
        load_sweep(_write(tmp_path, {"method": "grid", "metric": {"name": "m", "goal": "minimize"},
                                     "parameters": {"a": 3}, "program": "p"}))


def test_local_sweep_runs_two_trials_offline_in_group(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "program.py").write_text(PROGRAM)
    path = _write(tmp_path, {
        "method": "grid", "metric": {"name": "val/loss", "goal": "minimize"}, "program": str(tmp_path / "program.py"),
        "parameters": {"model.lr": {"values": [0.1, 0.2, 0.3]}},
    })
    out = tmp_path / "trials.jsonl"
    monkeypatch.setenv("TRIAL_OUT", str(out))
    summary = tmp_path / "summary.json"
    rc = sweep_script.main([str(path), "--local", "true", "--count", "2", "--group", "g1", "--summary", str(summary)])
    assert rc == 0
    seen = [json.loads(line) for line in out.read_text().splitlines()]
    assert [s["argv"] for s in seen] == [["--model.lr=0.1"], ["--model.lr=0.2"]]
    assert all(s["group"] == "g1" and s["mode"] == "offline" for s in seen)
    assert [t["returncode"] for t in json.loads(summary.read_text())["trials"]] == [0, 0]
