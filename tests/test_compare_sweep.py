"""The local sweep runner: grid/random enumeration and 2 trials run offline in the sweep's group."""

import json
import os
from pathlib import Path

import pytest
import yaml
from lightning_fakes import tiny_config
from wandb_offline import offline_runs

from pretrain.compare.sweeps.sweep import command, load_sweep, trials
from pretrain.compare.sweeps.sweep_command import main as sweep_main

REPO = Path(__file__).resolve().parents[1]

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
    sampled = trials(config, 4, seed=1)
    assert len(sampled) == 4 and len({json.dumps(t.params, sort_keys=True) for t in sampled}) == 4  # no repeats
    assert all(t.params in [g.params for g in grid] for t in sampled)
    assert any([t.params for t in trials(config, 4, seed=s)] != [g.params for g in grid[:4]] for s in range(5))
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
    rc = sweep_main([str(path), "--local", "--count", "2", "--group", "g1", "--summary", str(summary),
                            "--root", str(tmp_path / "trials")])
    assert rc == 0
    seen = [json.loads(line) for line in out.read_text().splitlines()]
    expected = [[f"--model.lr={t.params['model.lr']}"] for t in trials(load_sweep(path), 2)]
    assert [s["argv"] for s in seen] == expected and len({tuple(a) for a in expected}) == 2
    assert all(s["group"] == "g1" and s["mode"] == "offline" for s in seen)
    assert [t["returncode"] for t in json.loads(summary.read_text())["trials"]] == [0, 0]


def test_local_sweep_of_tiny_pretraining_ranks_trials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """Two real `pretrain fit` trials: each its own run folder, its metric in the summary, the best one named."""
    monkeypatch.chdir(REPO)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(REPO), str(REPO / "tests")]))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    model_yaml = tmp_path / "gpt-tiny.yaml"
    model_yaml.write_text(yaml.safe_dump(tiny_config("gpt").to_dict()))
    path = _write(tmp_path, {
        "name": "tiny-lr", "method": "grid", "metric": {"name": "val/loss", "goal": "minimize"},
        "program": "pretrain/cli.py",
        "parameters": {"model.init_args.lr": {"values": [1e-4, 3e-2]}},
        "command": ["${env}", "${interpreter}", "-m", "pretrain.cli", "fit", "--config", "configs/pretrain/gpt.yaml",
                    "--model.init_args.config", str(model_yaml), "--model.init_args.warmup_steps=1",
                    "--data=lightning_fakes.TinyDataModule", "--data.family=gpt", "--data.vocab_size=48",
                    "--trainer.max_steps=3", "--trainer.val_check_interval=3", "--trainer.limit_val_batches=1",
                    "--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false",
                    "--config", "configs/logger/wandb.yaml", f"--trainer.logger.init_args.save_dir={tmp_path / 'wb'}",
                    "--trainer.logger.init_args.group=tiny-lr", "${args}"],
    })
    summary = tmp_path / "summary.json"
    rc = sweep_main([str(path), "--local", "--summary", str(summary), "--root", str(tmp_path / "trials")])
    assert rc == 0
    saved = json.loads(summary.read_text())
    trials_ = saved["trials"]
    assert [t["run_dir"] for t in trials_] == [str(tmp_path / "trials" / f"trial-{i}") for i in (0, 1)]
    for t in trials_:
        run_dir = Path(t["run_dir"])
        assert (run_dir / "config.yaml").is_file() and list((run_dir / "checkpoints").glob("*.ckpt"))
        assert t["metric"] == json.loads((run_dir / "metrics.json").read_text())["val/loss"]
    assert saved["best"]["trial"] == min(trials_, key=lambda t: t["metric"])["trial"]
    assert "val/loss" in capsys.readouterr().out  # the printed table
    runs = offline_runs(tmp_path / "wb")  # the trials were subprocesses: their logs are complete
    assert sorted(r.name for r in runs) == ["tiny-lr-0", "tiny-lr-1"]
    assert all("sweep" in r.tags and "gpt" in r.tags and r.group == "tiny-lr" for r in runs)
