"""Run a W&B sweep file online (wandb.sweep + wandb.agent) or the same grid/random search offline.

    python scripts/sweep.py configs/sweeps/gpt_lr.yaml                    # online: needs W&B credentials
    python scripts/sweep.py configs/sweeps/gpt_lr.yaml --local --count 2  # offline, here, one trial at a time

Local trials are W&B offline runs grouped under the sweep's name (`wandb sync` uploads them later).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from jsonargparse import ArgumentParser

from pretrain.compare.sweep import load_sweep, run_local, run_online
from pretrain.data.caching import atomic_write


def main(args: list[str] | None = None) -> int:
    parser = ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", type=str, help="a W&B sweep YAML (configs/sweeps/*.yaml)")
    parser.add_argument("--local", type=bool, default=False, help="run the search here, offline, without W&B's server")
    parser.add_argument("--count", type=int | None, default=None, help="number of trials (grid: at most this many)")
    parser.add_argument("--project", type=str, default="bert-vs-gpt", help="W&B project")
    parser.add_argument("--group", type=str | None, default=None, help="W&B group (default: the sweep's name, else the file name)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the local random search")
    parser.add_argument("--summary", type=str | None, default=None,
                        help="JSON summary of local trials (default: runs/sweeps/<group>.json)")
    cfg = parser.parse_args(args)
    path = Path(cfg.file)
    try:
        config = load_sweep(path)
        group = cfg.group or str(config.get("name") or path.stem)
        if not cfg.local:
            sweep_id = run_online(config, cfg.project, cfg.count)
            print(f"sweep {sweep_id} finished")
            return 0
        outcomes = run_local(config, group, cfg.count, cwd=Path.cwd(), seed=cfg.seed)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    summary = Path(cfg.summary or f"runs/sweeps/{group}.json")
    payload = {"file": str(path), "group": group, "metric": config["metric"], "trials": outcomes}
    atomic_write(summary, lambda tmp: tmp.write_text(json.dumps(payload, indent=2)))
    failed = [o["trial"] for o in outcomes if o["returncode"] != 0]
    print(f"[sweep {group}] {len(outcomes) - len(failed)}/{len(outcomes)} trials succeeded; summary: {summary}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
