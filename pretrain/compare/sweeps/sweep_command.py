"""The sweep command (`python scripts/sweep.py`): a W&B sweep file online (wandb.sweep + wandb.agent) or the same
grid/random search offline.

    python scripts/sweep.py configs/sweeps/pretrain_lr.yaml                    # online: needs W&B credentials
    python scripts/sweep.py configs/sweeps/pretrain_lr.yaml --local --count 2  # offline, here, one trial at a time

Local trials are W&B offline runs grouped under the sweep's name and tagged `sweep` (`wandb sync`
uploads them later), each in its own folder runs/sweeps/<group>/trial-<i>. The summary JSON
(runs/sweeps/<group>.json) and a printed table give every trial's metric and the best trial.
"""

from __future__ import annotations

import sys
from pathlib import Path

from jsonargparse import ActionYesNo, ArgumentParser

from pretrain.compare.sweeps.sweep import best_trial, load_sweep, outcome_table, run_local, run_online, write_summary


def main(args: list[str] | None = None) -> int:
    """Exit code: 0 every trial succeeded (or the online sweep finished), 1 some trial failed, 2 a bad sweep file."""
    parser = ArgumentParser(description="Run a W&B sweep file online (wandb.sweep + wandb.agent) or the same "
                                        "grid/random search offline.")
    parser.add_argument("file", type=str, help="a W&B sweep YAML (configs/sweeps/*.yaml)")
    parser.add_argument("--local", action=ActionYesNo, default=False,
                        help="run the search here, offline, without W&B's server")
    parser.add_argument("--count", type=int | None, default=None,
                        help="number of trials (grid: that many combinations drawn without replacement; default all)")
    parser.add_argument("--project", type=str, default="bert-vs-gpt", help="W&B project")
    parser.add_argument("--group", type=str | None, default=None,
                        help="W&B group (default: the sweep's name, else the file name)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the local random search")
    parser.add_argument("--summary", type=str | None, default=None,
                        help="JSON summary of local trials (default: runs/sweeps/<group>.json)")
    parser.add_argument("--root", type=str | None, default=None,
                        help="folder of the local trials' run folders (default: runs/sweeps/<group>)")
    cfg = parser.parse_args(args)
    path = Path(cfg.file)
    try:
        config = load_sweep(path)
        group = cfg.group or str(config.get("name") or path.stem)
        if not cfg.local:
            sweep_id = run_online(config, cfg.project, cfg.count)
            print(f"sweep {sweep_id} finished")
            return 0
        root = Path(cfg.root or f"runs/sweeps/{group}")
        outcomes = run_local(config, group, cfg.count, cwd=Path.cwd(), root=root, seed=cfg.seed)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    metric, goal = config["metric"]["name"], config["metric"]["goal"]
    best = best_trial(outcomes, goal)
    summary = Path(cfg.summary or f"runs/sweeps/{group}.json")
    write_summary(summary, path, group, config, outcomes, best)
    print(outcome_table(outcomes, metric, best))
    failed = [o.trial for o in outcomes if o.returncode != 0]
    verdict = ("no trial reported it" if best is None
               else f"best trial {best.trial}: {metric}={best.metric:.6g} ({goal})")
    succeeded = len(outcomes) - len(failed)
    print(f"[sweep {group}] {succeeded}/{len(outcomes)} trials succeeded; {verdict}; summary: {summary}")
    return 1 if failed else 0
