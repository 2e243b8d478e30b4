"""The report's learning-rate search of a task: every rate each group tried, its validation score and how long
the run trained, the rate the group chose, and a flag where that choice is still an edge of what was tried."""

from __future__ import annotations

from pretrain.compare.schema import GridPoint, TaskResults


def tuning_lines(entry: TaskResults) -> list[str]:
    """A table with one row per (arm, pretrained | random-init) group and one column per rate tried; each cell
    is the run's validation score and its epochs (steps), the chosen rate in bold; [] without search runs."""
    if not entry.grid:
        return []
    rates = sorted({point.lr for point in entry.grid})
    groups: dict[tuple[str, bool], dict[float, GridPoint]] = {}
    for point in entry.grid:
        groups.setdefault((point.family, point.random_init), {})[point.lr] = point
    monitor = next((p.monitor for p in entry.grid if p.monitor), "validation score")
    lines = [f"Learning-rate search ({monitor} of the first seed's best checkpoint; epochs trained, steps):", "",
             "| group | " + " | ".join(f"{lr:g}" for lr in rates) + " | chosen |",
             "|---|" + "---:|" * len(rates) + "---|"]
    edges = []
    for (family, random_init), points in sorted(groups.items()):
        choice = entry.lr.get(family)
        chosen = (choice.random_init if random_init else choice.pretrained) if choice else None
        on_edge = bool(choice and (choice.random_init_on_edge if random_init else choice.pretrained_on_edge))
        name = f"{family.upper()}{' random-init' if random_init else ''}"
        cells = [_cell(points.get(lr), lr == chosen) for lr in rates]
        chosen_cell = "-" if chosen is None else f"{chosen:g}" + (" (edge)" if on_edge else "")
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {chosen_cell} |")
        if on_edge:
            edges.append(name)
    lines += [""]
    if entry.convergence is not None:
        c = entry.convergence
        lines.append(f"Fine-tuning length: {c.converged} of {c.runs} runs converged ({c.stopped} stopped by "
                     "validation, the others' best checkpoint before their last step)"
                     + (f"; at the step cap, still improving: {', '.join(c.at_cap)}. The rate decays to 0 at the "
                        "cap, so a run's last validations come after it has annealed: a best checkpoint there is not "
                        "by itself evidence that more steps would help." if c.at_cap else "."))
    if edges:
        lines.append(f"Still on an edge of the rates tried (the search reached finetune.lr_bounds, or ended before "
                     f"a rate past the edge ran): {', '.join(edges)}. Their optimum may lie further out.")
    else:
        lines.append("Every chosen rate has a tried rate on either side of it.")
    return lines


def _cell(point: GridPoint | None, chosen: bool) -> str:
    if point is None:
        return ""
    if point.val is None:
        return point.status
    length = f" ({point.epochs:.1f} ep, {point.steps})" if point.epochs is not None and point.steps is not None else ""
    score = f"{point.val:.3f}"
    return (f"**{score}**" if chosen else score) + length
