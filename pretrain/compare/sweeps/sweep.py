"""W&B sweep files, run online (wandb.sweep + wandb.agent) or offline with the same search locally.

A sweep file is W&B's own format (method, metric, parameters, program/command), so
the same file works with `wandb sweep FILE` too. Locally, grid and random search
are enumerated here (Bayesian search needs the W&B server and is refused with a
clear message), and each trial runs the sweep's command as a subprocess, as the
W&B agent does. Because training always runs in that subprocess, DDP works the same
way in both modes: the agent stays one process and Lightning's launcher hands the
same arguments to every rank.

Each local trial runs in its own folder, <root>/trial-<i> (passed as PRETRAIN_TRIAL_DIR, which the
`pretrain` and `finetune` commands use as their run folder), and is ranked by the sweep's metric
as its command left it in <trial folder>/metrics.json.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import random
import shlex
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from pretrain.data.caching import atomic_write
from pretrain.run_cli import TRIAL_DIR_ENV
from pretrain.run_record import read_run_metrics

METHODS = ("grid", "random", "bayes")
DEFAULT_COMMAND = ("${env}", "${interpreter}", "${program}", "${args}")
_DISTRIBUTIONS = ("uniform", "log_uniform_values", "int_uniform", "q_uniform", "categorical", "constant")


@dataclass(frozen=True)
class Trial:
    index: int
    params: dict[str, Any]  # dotted parameter name -> value


@dataclass(frozen=True)
class TrialOutcome:
    trial: int
    params: dict[str, Any]
    returncode: int
    run_dir: str
    metric: float | None  # the sweep metric's last value, None when the trial did not log it


def load_sweep(path: Path) -> dict[str, Any]:
    """Read and check a sweep file; ValueError names the file and the field."""
    if not path.is_file():
        raise ValueError(f"{path}: sweep file not found")
    config = yaml.safe_load(path.read_text())
    if not isinstance(config, dict):
        raise ValueError(f"{path}: expected a mapping with method, metric and parameters")
    if config.get("method") not in METHODS:
        raise ValueError(f"{path}: method={config.get('method')!r}; expected one of {', '.join(METHODS)}")
    metric = config.get("metric")
    if not isinstance(metric, dict) or "name" not in metric or metric.get("goal") not in ("minimize", "maximize"):
        raise ValueError(f"{path}: metric must have a name and goal: minimize | maximize, got {metric!r}")
    if not isinstance(config.get("parameters"), dict) or not config["parameters"]:
        raise ValueError(f"{path}: parameters must be a non-empty mapping")
    if "program" not in config and "command" not in config:
        raise ValueError(f"{path}: needs a program (and optionally a command) to run")
    for name, spec in flatten_parameters(config["parameters"]).items():
        _check_spec(path, name, spec)
    return config


def flatten_parameters(parameters: dict[str, Any], prefix: str = "") -> dict[str, dict[str, Any]]:
    """W&B's nested `parameters: {model: {parameters: {lr: ...}}}` as dotted names (`model.lr`)."""
    flat: dict[str, dict[str, Any]] = {}
    for name, spec in parameters.items():
        key = f"{prefix}{name}"
        if isinstance(spec, dict) and "parameters" in spec:
            flat.update(flatten_parameters(spec["parameters"], f"{key}."))
        else:
            flat[key] = spec
    return flat


def trials(config: dict[str, Any], count: int | None, seed: int = 0) -> list[Trial]:
    """The trials a local sweep runs: the whole grid (`count` smaller than it: that many combinations drawn
    without replacement, in grid order), or `count` random draws."""
    params = flatten_parameters(config["parameters"])
    if config["method"] == "bayes":
        raise ValueError("method 'bayes' needs the W&B server; run online, or use grid/random with --local")
    if config["method"] == "grid":
        names = list(params)
        choices = [_grid_values(n, params[n]) for n in names]
        grid = [dict(zip(names, combo, strict=True)) for combo in itertools.product(*choices)]
        if count is not None and count < len(grid):
            # A sample without replacement, not the first N: those would all share the first values of the
            # leading parameters and explore only the last one.
            grid = [grid[i] for i in sorted(random.Random(seed).sample(range(len(grid)), count))]
        return [Trial(i, combo) for i, combo in enumerate(grid)]
    if count is None:
        raise ValueError("random search needs --count N (it has no natural end)")
    rng = random.Random(seed)
    return [Trial(i, {n: _sample(rng, spec) for n, spec in params.items()}) for i in range(count)]


def command(config: dict[str, Any], params: dict[str, Any]) -> list[str]:
    """The trial's argv, expanding W&B's command macros (${env} is applied as the environment instead)."""
    args = [f"--{k}={_fmt(v)}" for k, v in params.items()]
    argv: list[str] = []
    for item in config.get("command", DEFAULT_COMMAND):
        if item == "${env}":
            continue
        elif item == "${interpreter}":
            argv.append(sys.executable)
        elif item == "${program}":
            argv.append(str(config["program"]))
        elif item == "${args}":
            argv += args
        elif item == "${args_no_hyphens}":
            argv += [a[2:] for a in args]
        else:
            argv.append(str(item))
    return argv


def grid_size(config: dict[str, Any]) -> int | None:
    """How many combinations a grid sweep has (None for random/bayes)."""
    if config["method"] != "grid":
        return None
    return math.prod(len(_grid_values(n, spec)) for n, spec in flatten_parameters(config["parameters"]).items())


def run_local(config: dict[str, Any], group: str, count: int | None, *, cwd: Path, root: Path,
              seed: int = 0) -> list[TrialOutcome]:
    """Run every trial in turn, each in its own folder under `root` as an offline W&B run in `group`
    tagged `sweep`; a failing trial is recorded, not fatal."""
    outcomes = []
    planned = trials(config, count, seed)
    size = grid_size(config)
    if size is not None and len(planned) < size:
        print(f"[sweep {group}] grid of {size} combinations: --count {count} runs {len(planned)} of them, "
              f"drawn without replacement (--seed {seed}); omit --count to run all", flush=True)
    for trial in planned:
        argv = command(config, trial.params)
        run_dir = root / f"trial-{trial.index}"
        env = {**os.environ, "WANDB_MODE": "offline", "WANDB_RUN_GROUP": group,
               "WANDB_NAME": f"{group}-{trial.index}", "WANDB_TAGS": "sweep", TRIAL_DIR_ENV: str(run_dir)}
        print(f"[sweep {group}] trial {trial.index + 1}/{len(planned)}: {shlex.join(argv)}", flush=True)
        rc = subprocess.run(argv, cwd=cwd, env=env, check=False).returncode
        metric = read_run_metrics(run_dir).get(config["metric"]["name"]) if rc == 0 else None
        outcomes.append(TrialOutcome(trial.index, trial.params, rc, str(run_dir), metric))
    return outcomes


def best_trial(outcomes: list[TrialOutcome], goal: str) -> TrialOutcome | None:
    """The trial with the best metric (`goal`: minimize | maximize) among those that reported it."""
    scored = [o for o in outcomes if o.metric is not None and math.isfinite(o.metric)]
    if not scored:
        return None
    return (min if goal == "minimize" else max)(scored, key=lambda o: o.metric)


def outcome_table(outcomes: list[TrialOutcome], metric: str, best: TrialOutcome | None) -> str:
    """A plain-text table: trial, status, metric, parameters; the best trial marked with *."""
    names = sorted({n for o in outcomes for n in o.params})
    header = ["trial", "status", metric, *names]
    rows = [[f"{o.trial}{'*' if best is not None and o.trial == best.trial else ''}",
             "ok" if o.returncode == 0 else f"exit {o.returncode}",
             "-" if o.metric is None else f"{o.metric:.6g}", *[_fmt(o.params.get(n, "")) for n in names]]
            for o in outcomes]
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) for r in [header, *rows])


def write_summary(path: Path, sweep_file: Path, group: str, config: dict[str, Any], outcomes: list[TrialOutcome],
                  best: TrialOutcome | None) -> None:
    """The local sweep's JSON summary (file, group, metric, best trial, every trial), written atomically."""
    payload = {"file": str(sweep_file), "group": group, "metric": config["metric"],
               "best": None if best is None else asdict(best), "trials": [asdict(o) for o in outcomes]}
    text = json.dumps(payload, indent=2) + "\n"
    atomic_write(path, lambda tmp: tmp.write_text(text))


def run_online(config: dict[str, Any], project: str, count: int | None) -> str:
    """Create the sweep on the W&B server and run an agent on this process; returns the sweep id."""
    import wandb

    sweep_id = wandb.sweep(sweep=config, project=project)
    wandb.agent(sweep_id, project=project, count=count)  # no function: the agent runs the sweep's command
    return sweep_id


def _check_spec(path: Path, name: str, spec: Any) -> None:
    if not isinstance(spec, dict) or not ({"value", "values", "min", "distribution"} & set(spec)):
        raise ValueError(f"{path}: parameter {name}: expected value, values, or min/max, got {spec!r}")
    dist = spec.get("distribution")
    if dist is not None and dist not in _DISTRIBUTIONS:
        raise ValueError(f"{path}: parameter {name}: distribution {dist!r} not supported locally; "
                         f"use one of {', '.join(_DISTRIBUTIONS)}")


def _grid_values(name: str, spec: dict[str, Any]) -> list[Any]:
    if "value" in spec:
        return [spec["value"]]
    if "values" in spec:
        return list(spec["values"])
    raise ValueError(f"grid search needs explicit values for parameter {name}, got {spec!r}")


def _sample(rng: random.Random, spec: dict[str, Any]) -> Any:
    if "value" in spec:
        return spec["value"]
    if "values" in spec:
        return rng.choice(spec["values"])
    dist = spec.get("distribution", "int_uniform" if isinstance(spec["min"], int) else "uniform")
    low, high = spec["min"], spec["max"]
    if dist == "int_uniform":
        return rng.randint(low, high)
    if dist == "log_uniform_values":  # W&B: min/max are the values themselves, sampled log-uniformly
        return math.exp(rng.uniform(math.log(low), math.log(high)))
    value = rng.uniform(low, high)
    return round(value / spec["q"]) * spec["q"] if dist == "q_uniform" else value


def _fmt(value: Any) -> str:
    return yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip() \
        if isinstance(value, list | dict) else str(value)
