"""Are two comparisons' results the same to the digit? `python scripts/results_diff.py A/results.json
B/results.json` compares every number and string of two results.json files leaf by leaf, leaving out what
differs between two runs of the same code by design (wall-clock times, dates, checkpoint paths, the git
commit), and exits 1 when any leaf differs. The check for a refactor or a new option that must not change the
default plan's numbers: run a small plan (configs/compare/digit-check.yaml) before and after, then diff.

Runs are matched by run_id, not by position: parallel runs finish in any order.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# Keys whose values are the machine's or the moment's, not the experiment's.
NOT_COMPARED = frozenset({"wall_s", "train_wall_s", "tokens_per_sec", "seconds", "finished_at", "created",
                          "checkpoints", "checkpoint", "finetuned_checkpoint", "git_commit"})
MISSING = "<missing>"


def leaves(tree: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """(path, value) for every scalar of a JSON tree, skipping NOT_COMPARED keys (a key's last /-part)."""
    if isinstance(tree, dict):
        for key, value in tree.items():
            if str(key).split("/")[-1] not in NOT_COMPARED:
                yield from leaves(value, f"{path}/{key}")
    elif isinstance(tree, list):
        for index, value in enumerate(tree):
            yield from leaves(value, f"{path}/{index}")
    else:
        yield path, tree


def comparable(results: dict[str, Any]) -> dict[str, Any]:
    """A results.json's leaves, its runs keyed by run_id."""
    keyed = {**results, "runs": {run["run_id"]: run for run in results.get("runs", [])}}
    return dict(leaves(keyed))


def differences(a: dict[str, Any], b: dict[str, Any]) -> tuple[int, list[tuple[str, Any, Any]]]:
    """The number of leaves compared and the (path, a's value, b's value) of those that differ."""
    left, right = comparable(a), comparable(b)
    paths = sorted(left.keys() | right.keys())
    return len(paths), [(p, left.get(p, MISSING), right.get(p, MISSING)) for p in paths
                        if left.get(p, MISSING) != right.get(p, MISSING)]


def read_results(path: Path) -> dict[str, Any]:
    """A comparison's results.json, or a ValueError naming the file and what it is instead."""
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ValueError(f"{path}: cannot be read ({error.strerror or error})") from error
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{path} is not JSON ({error}); expected a comparison's results.json") from error
    # Every results.json holds its tasks and runs (pretrain.compare.schema.ComparisonResults).
    missing = [key for key in ("tasks", "runs") if not isinstance(results, dict) or key not in results]
    if missing:
        raise ValueError(f"{path} is not a comparison's results.json (no {' or '.join(missing)}); expected "
                         "reports/<experiment>/results.json")
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python scripts/results_diff.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("a", type=Path, help="a results.json")
    parser.add_argument("b", type=Path, help="another results.json")
    parser.add_argument("--show", type=int, default=40, help="differing leaves to print (default 40)")
    args = parser.parse_args(argv)
    try:
        a, b = (read_results(path) for path in (args.a, args.b))
    except ValueError as error:
        print(f"results_diff: error: {error}", file=sys.stderr)
        return 2
    compared, differing = differences(a, b)
    for path, left, right in differing[:args.show]:
        print(f"{path}: {left!r} != {right!r}")
    print(f"{compared} leaves, {len(differing)} differ")
    return 1 if differing else 0
