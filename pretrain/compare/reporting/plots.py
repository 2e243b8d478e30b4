"""PNG plots rendered from results.json: loss vs tokens, downstream scores with 95% CIs,
score vs pretraining tokens, and one example's attention map per family."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from pretrain.compare.analysis.metrics import TASK_METRICS, TRAIN_LOSS_KEYS, VAL_LOSS_KEYS, arm_loss_keys  # noqa: E402
from pretrain.compare.analysis.stats import Summary  # noqa: E402
from pretrain.compare.planning.plan import FAMILIES  # noqa: E402
from pretrain.compare.schema import ComparisonResults, TaskResults  # noqa: E402
from pretrain.data.caching import atomic_write  # noqa: E402

COLORS = {"bert": "tab:blue", "gpt": "tab:orange", "mlm": "tab:green", "clm-mlm": "tab:red", "gpt-bert": "tab:purple",
          "gpt-bi": "tab:brown"}


def render_all(results: ComparisonResults, out_dir: Path) -> list[Path]:
    """Write every plot the results support; returns the paths written."""
    written = []
    for name, figure in (
        ("loss_vs_tokens.png", loss_vs_tokens(results)),
        ("downstream_scores.png", downstream_scores(results)),
        ("score_vs_pretraining_tokens.png", score_vs_tokens(results)),
        *((f"attention_{f}.png", attention_map(results, f)) for f in FAMILIES),
    ):
        if figure is not None:
            path = out_dir / name
            atomic_write(path, lambda tmp, fig=figure: fig.savefig(tmp, dpi=110, bbox_inches="tight"))
            plt.close(figure)
            written.append(path)
    return written


def loss_vs_tokens(results: ComparisonResults) -> Figure | None:
    curves = {f: e.result.curve if (e := results.pretraining.get(f)) and e.result else [] for f in results.arms}
    if not any(curves.values()):
        return None
    fig, ax = plt.subplots(figsize=(6, 4))
    for family, curve in curves.items():
        for keys, style in ((arm_loss_keys(family, TRAIN_LOSS_KEYS), "-"),
                            (arm_loss_keys(family, VAL_LOSS_KEYS), "o--")):
            key = next((k for k in keys if any(k in point for point in curve)), None)
            points = [(p["tokens"], p[key]) for p in curve if key is not None and key in p and p.get("tokens")]
            if points:
                xs, ys = zip(*points, strict=True)
                ax.plot(xs, ys, style, color=COLORS[family], label=f"{family.upper()} {key}", markersize=3)
    ax.set(xlabel="training tokens seen", ylabel="loss (nats/token)", title="Pretraining loss vs tokens")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return fig


def _interval(s: Summary) -> list[list[float]] | None:
    """Matplotlib's yerr for one summary; None for a single seed (no interval)."""
    if s.n < 2 or math.isnan(s.ci_low):
        return None
    return [[s.mean - s.ci_low], [s.ci_high - s.mean]]


def downstream_scores(results: ComparisonResults) -> Figure | None:
    """Each family's test score beside its random-init control (same recipe, no pretraining), with the
    strongest trivial baseline: the comparisons the report leads with."""
    rows: list[tuple[str, str, dict[str, Summary | None], dict[str, Summary | None], float | None]] = []
    for task, entry in results.tasks.items():
        final = entry.final()
        if final is None:
            continue
        spec = TASK_METRICS[task][0]
        summaries = {f: final[f].metrics.get(spec.key) if f in final else None for f in results.arms}
        controls = {f: (c.metrics.get(spec.key) if (c := entry.controls.get(f)) else None) for f in results.arms}
        if any(summaries.values()):
            strongest = spec.strongest_baseline(entry.baselines)
            rows.append((task, spec.label, summaries, controls, strongest[1] if strongest else None))
    if not rows:
        return None
    width = 4.2 * max(1.0, len(results.arms) / 2)  # two bars per arm
    fig, axes = plt.subplots(1, len(rows), figsize=(width * len(rows), 3.8), squeeze=False)
    ticks = [(2 * i + offset, f"{f.upper()}{suffix}") for i, f in enumerate(results.arms)
             for offset, suffix in ((0.0, ""), (0.9, "\nrandom-init"))]
    for ax, (task, label, summaries, controls, baseline) in zip(axes[0], rows, strict=True):
        for i, family in enumerate(results.arms):
            control_style = {"alpha": 0.45, "hatch": "//"}
            for offset, s, style in ((0.0, summaries[family], {}), (0.9, controls[family], control_style)):
                if s is None:
                    continue
                ax.bar(2 * i + offset, s.mean, yerr=_interval(s), capsize=6, color=COLORS[family], **style)
                ax.scatter([2 * i + offset] * len(s.values), s.values, color="black", s=10, zorder=3)
        if baseline is not None:
            ax.axhline(baseline, color="gray", linestyle=":", label="trivial baseline")
        ax.set_xticks([x for x, _ in ticks], [name for _, name in ticks], fontsize=8)  # the ticks name the bars
        ax.set(title=task, ylabel=f"test {label}")
        if baseline is not None:
            ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.2))  # below: never over a bar
    fig.suptitle("Downstream scores beside random-init controls: mean, 95% CI over seeds, dots = seeds", fontsize=9)
    fig.tight_layout()
    return fig


def _probe_points(entry: TaskResults, family: str, key: str) -> list[tuple[float, Summary]]:
    """(pretraining tokens, score) of a family at each probe checkpoint it was fine-tuned at."""
    return [(group.tokens, group.metrics[key]) for p in entry.probes
            if (group := p.families.get(family)) is not None and group.tokens is not None and key in group.metrics]


def score_vs_tokens(results: ComparisonResults) -> Figure | None:
    """Score vs pretraining tokens, for the arms fine-tuned at two or more checkpoints, with the trivial
    baselines and random-init controls as horizontal lines (what the curve must rise above). None when no
    family has two points (`pretrain.probes: 1`): one dot per family says nothing about a trend."""
    panels = []
    for task, entry in results.tasks.items():
        spec = TASK_METRICS[task][0]
        curves = {f: points for f in results.arms if len(points := _probe_points(entry, f, spec.key)) >= 2}
        if curves:
            panels.append((task, entry, spec, curves))
    if not panels:
        return None
    wide = 1.0 if len(results.arms) <= 2 else 1.3  # room for the legend of every arm's curve and control
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * wide * len(panels), 3.8 * wide), squeeze=False)
    for ax, (task, entry, spec, curves) in zip(axes[0], panels, strict=True):
        for family, points in curves.items():
            means = [s.mean for _, s in points]
            low = [s.mean - (s.ci_low if s.n > 1 else s.mean) for _, s in points]
            high = [(s.ci_high if s.n > 1 else s.mean) - s.mean for _, s in points]
            ax.errorbar([x for x, _ in points], means, yerr=[low, high], capsize=4, color=COLORS[family],
                        marker="o", label=family.upper())
        for key in spec.baseline_keys:
            if key in entry.baselines:
                ax.axhline(entry.baselines[key], color="gray", linestyle=":",
                           label=f"{key.removeprefix('baseline/')} (trivial baseline)")
        for family in results.arms:
            control = entry.controls.get(family)
            if control is not None and spec.key in control.metrics:
                ax.axhline(control.metrics[spec.key].mean, color=COLORS[family], linestyle="--", alpha=0.6,
                           label=f"{family.upper()} random-init")
        ax.set(title=task, xlabel="pretraining tokens", ylabel=f"test {spec.label}")
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=2)  # below: never over a line
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def attention_map(results: ComparisonResults, family: str) -> Figure | None:
    entry = results.pretraining.get(family)
    if entry is None or entry.result is None or not entry.result.attention.tokens:
        return None
    tokens, weights = entry.result.attention.tokens, entry.result.attention.weights  # (T, T), last layer, head mean
    fig, ax = plt.subplots(figsize=(5.5, 5))
    image = ax.imshow(weights, cmap="viridis", vmin=0.0)
    ax.set_xticks(range(len(tokens)), tokens, rotation=90, fontsize=6)
    ax.set_yticks(range(len(tokens)), tokens, fontsize=6)
    ax.set(xlabel="key", ylabel="query", title=f"{family.upper()}: last layer, mean over heads")
    fig.colorbar(image, ax=ax, fraction=0.046)
    return fig
