"""The ladder's report folder (reports/<experiment>/): results.json (every size's results in the comparison's own
schema, plus the ladder per task), ladder.md and one plot per task: each family's score against pretraining FLOPs,
and the BERT - GPT gap against them, with intervals, baselines and references."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from pretrain.compare.analysis.ladder import EXTRAPOLATION_DECADES, TaskLadder  # noqa: E402
from pretrain.compare.planning.ladder import ResolvedRung  # noqa: E402
from pretrain.compare.reporting.plots import COLORS  # noqa: E402
from pretrain.compare.running.experiment_layout import ExperimentLayout  # noqa: E402
from pretrain.compare.schema import ComparisonResults  # noqa: E402
from pretrain.data.caching import atomic_write  # noqa: E402
from pretrain.family import FAMILIES  # noqa: E402

LADDER_REPORT = "ladder.md"


def write_ladder_report(experiment: str, rungs: list[ResolvedRung], results: dict[str, ComparisonResults],
                        ladders: dict[str, TaskLadder], out_dir: Path) -> list[Path]:
    """results.json, one plot per task and ladder.md from the sizes' results and their ladders
    (pretrain.compare.analysis.ladder.ladder_tasks), each written atomically; returns the paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    sizes = [(r.rung.name, results[r.rung.name]) for r in rungs if r.rung.name in results]
    payload = {"experiment": experiment,
               "sizes": [{"name": r.rung.name, "bert_model": r.rung.bert_model, "gpt_model": r.rung.gpt_model,
                          "experiment": r.resolved.plan.experiment, "pretrain_tokens": r.resolved.plan.pretrain.tokens,
                          "non_embedding_params": r.non_embedding_params} for r in rungs],
               "ladder": {task: ladder.to_dict() for task, ladder in ladders.items()},
               "results": {name: result.to_dict() for name, result in sizes}}
    results_file = out_dir / ExperimentLayout.RESULTS_FILE
    atomic_write(results_file, lambda tmp: tmp.write_text(json.dumps(payload, indent=2, default=str)))
    plots = []
    for task, ladder in ladders.items():
        figure = ladder_figure(ladder)
        if figure is not None:
            path = out_dir / f"ladder_{task}.png"
            atomic_write(path, lambda tmp, fig=figure: fig.savefig(tmp, dpi=110, bbox_inches="tight"))
            plt.close(figure)
            plots.append(path)
    text = render_ladder(experiment, rungs, ladders, plots)
    report = out_dir / LADDER_REPORT
    atomic_write(report, lambda tmp: tmp.write_text(text))
    return [results_file, report, *plots]


def ladder_figure(ladder: TaskLadder) -> Figure | None:
    """Left: each family's score against pretraining FLOPs (log scale) with 95% intervals, the trivial baselines
    dashed and the classical references dotted. Right: BERT - GPT with its paired-bootstrap interval, zero, and
    the fitted trend (dashed past the largest size: an extrapolation)."""
    points = [p for p in ladder.points if p.flops]
    if not points:
        return None
    fig, (scores, gaps) = plt.subplots(1, 2, figsize=(11, 4))
    for family in FAMILIES:
        rows = [(p.flops, p.scores[family]) for p in points if family in p.scores]
        if rows:
            xs = [x for x, _ in rows]
            means = np.array([s.mean for _, s in rows])
            spread = np.array([[s.mean - s.ci_low for _, s in rows], [s.ci_high - s.mean for _, s in rows]])
            scores.errorbar(xs, means, yerr=spread, fmt="o-", color=COLORS[family], capsize=3, label=family.upper())
    for (name, value), style in [*((kv, "--") for kv in ladder.baselines.items()),
                                 *((kv, ":") for kv in ladder.references.items())]:
        scores.axhline(value, linestyle=style, color="grey", linewidth=1)
        scores.annotate(name, (points[0].flops, value), fontsize=7, color="grey", va="bottom")
    scores.set(xscale="log", xlabel="pretraining FLOPs", ylabel=ladder.metric, title=f"{ladder.task}: score by size")
    for p in points:
        scores.annotate(p.size, (p.flops, max(s.mean for s in p.scores.values()) if p.scores else 0), fontsize=7,
                        textcoords="offset points", xytext=(0, 6), ha="center")
    scores.legend(fontsize=8)
    scores.grid(alpha=0.3)
    known = [p for p in points if p.gap is not None]
    if known:
        xs = [p.flops for p in known]
        diffs = np.array([p.gap.difference for p in known if p.gap is not None])
        spread = np.array([[p.gap.difference - p.gap.ci_low for p in known if p.gap is not None],
                           [p.gap.ci_high - p.gap.difference for p in known if p.gap is not None]])
        gaps.errorbar(xs, diffs, yerr=spread, fmt="o", color="black", capsize=3, label="BERT - GPT (95%)")
    gaps.axhline(0.0, color="grey", linewidth=1)
    if ladder.trend is not None and known:
        t = ladder.trend
        high = np.log10(max(xs)) + (np.log10(t.crossing_flops) - np.log10(max(xs)) if t.crossing_flops else 0.0)
        inside = np.linspace(np.log10(min(xs)), np.log10(max(xs)), 20)
        beyond = np.linspace(np.log10(max(xs)), max(high, np.log10(max(xs))) + 0.1, 20)
        gaps.plot(10**inside, t.intercept + t.slope_per_decade * inside, "-", color="tab:gray", label="fitted trend")
        gaps.plot(10**beyond, t.intercept + t.slope_per_decade * beyond, "--", color="tab:gray",
                  label=f"extrapolated (up to {EXTRAPOLATION_DECADES:g} decades)")
    gaps.set(xscale="log", xlabel="pretraining FLOPs", ylabel=f"BERT - GPT ({ladder.metric})",
             title=f"{ladder.task}: the gap against compute")
    gaps.legend(fontsize=8)
    gaps.grid(alpha=0.3)
    return fig


def render_ladder(experiment: str, rungs: list[ResolvedRung], ladders: dict[str, TaskLadder],
                  plots: list[Path]) -> str:
    lines = [f"# {experiment}: does the answer hold as models grow?", "",
             "Every size ran the whole comparison plan (its own learning-rate searches, controls, baselines and "
             "seeds); each size's own report is linked below. Gaps are BERT minus GPT on the task's headline "
             "metric with the size's paired-bootstrap interval; (n.s.) marks a size whose own verdict is not "
             "significant.", "",
             "| size | presets | non-embedding parameters (BERT / GPT) | pretraining tokens | report |",
             "|---|---|---:|---:|---|"]
    for r in rungs:
        params = r.non_embedding_params
        layout = r.resolved.plan.layout()
        lines.append(f"| {r.rung.name} | {r.rung.bert_model} / {r.rung.gpt_model} | {params['bert']:,} / "
                     f"{params['gpt']:,} | {r.resolved.plan.pretrain.tokens:,} | {layout.report_file} |")
    for task, ladder in ladders.items():
        lines += ["", f"## {task} ({ladder.metric})", "", "| size | pretraining FLOPs | BERT | GPT | BERT - GPT |",
                  "|---|---:|---:|---:|---|"]
        for p in ladder.points:
            cells = [f"{p.scores[f].mean:.3f} [{p.scores[f].ci_low:.3f}, {p.scores[f].ci_high:.3f}]"
                     if f in p.scores else "-" for f in FAMILIES]
            gap = (f"{p.gap.difference:+.3f} [{p.gap.ci_low:+.3f}, {p.gap.ci_high:+.3f}]"
                   + ("" if p.significant else " (n.s.)")) if p.gap else "-"
            lines.append(f"| {p.size} | {p.flops:.2e} | {' | '.join(cells)} | {gap} |" if p.flops else
                         f"| {p.size} | - | {' | '.join(cells)} | {gap} |")
        if ladder.baselines:
            lines += ["", "Trivial baselines: " + ", ".join(f"{k} {v:.3f}" for k, v in ladder.baselines.items())
                      + (("; classical references: " + ", ".join(f"{k} {v:.3f}" for k, v in ladder.references.items()))
                         if ladder.references else "") + "."]
        lines += ["", ladder.sentence()]
        plot = next((p for p in plots if p.name == f"ladder_{task}.png"), None)
        if plot is not None:
            lines += ["", f"![{task}]({plot.name})"]
    lines += ["", "What a ladder says and does not: each point is one comparison at one budget; a trend over a few "
              "small sizes is a hint about larger ones, not a measurement of them, and the extrapolated crossing "
              "assumes the gap is a straight line in log-compute."]
    return "\n".join(lines) + "\n"
