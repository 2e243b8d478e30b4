"""PNG plots rendered from results.json: loss vs tokens, downstream scores with 95% CIs,
score vs pretraining tokens, and one example's attention map per family."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from pretrain.compare.metrics import TASK_METRICS, TRAIN_LOSS_KEYS, VAL_LOSS_KEYS  # noqa: E402
from pretrain.compare.plan import FAMILIES  # noqa: E402
from pretrain.compare.schema import ComparisonResults  # noqa: E402
from pretrain.compare.stats import Summary  # noqa: E402
from pretrain.data.caching import atomic_write  # noqa: E402

COLORS = {"bert": "tab:blue", "gpt": "tab:orange"}


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
    curves = {f: e.result.curve if (e := results.pretraining.get(f)) and e.result else [] for f in FAMILIES}
    if not any(curves.values()):
        return None
    fig, ax = plt.subplots(figsize=(6, 4))
    for family, curve in curves.items():
        for keys, style in ((TRAIN_LOSS_KEYS[family], "-"), (VAL_LOSS_KEYS[family], "o--")):
            key = next((k for k in keys if any(k in point for point in curve)), None)
            points = [(p["tokens"], p[key]) for p in curve if key is not None and key in p and p.get("tokens")]
            if points:
                xs, ys = zip(*points, strict=True)
                ax.plot(xs, ys, style, color=COLORS[family], label=f"{family.upper()} {key}", markersize=3)
    ax.set(xlabel="training tokens seen", ylabel="loss (nats/token)", title="Pretraining loss vs tokens")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return fig


def downstream_scores(results: ComparisonResults) -> Figure | None:
    rows: list[tuple[str, str, dict[str, Summary | None], float | None]] = []  # (task, label, summaries, baseline)
    for task, entry in results.tasks.items():
        final = entry.final()
        if final is None:
            continue
        spec = TASK_METRICS[task][0]
        summaries = {f: final[f].metrics.get(spec.key) for f in FAMILIES}
        if any(summaries.values()):
            strongest = spec.strongest_baseline(entry.baselines)
            rows.append((task, spec.label, summaries, strongest[1] if strongest else None))
    if not rows:
        return None
    fig, axes = plt.subplots(1, len(rows), figsize=(3.2 * len(rows), 3.6), squeeze=False)
    for ax, (task, label, summaries, baseline) in zip(axes[0], rows, strict=True):
        for i, family in enumerate(FAMILIES):
            s = summaries[family]
            if s is None:
                continue
            err = [[s.mean - s.ci_low], [s.ci_high - s.mean]]
            ax.bar(i, s.mean, yerr=err, capsize=6, color=COLORS[family], label=family.upper())
            ax.scatter([i] * len(s.values), s.values, color="black", s=10, zorder=3)
        if baseline is not None:
            ax.axhline(baseline, color="gray", linestyle=":", label="trivial baseline")
        ax.set_xticks(range(len(FAMILIES)), [f.upper() for f in FAMILIES])
        ax.set(title=task, ylabel=f"test {label}")
    axes[0][0].legend(fontsize=7)
    fig.suptitle("Downstream scores: mean, 95% CI over seeds, dots = seeds", fontsize=9)
    fig.tight_layout()
    return fig


def score_vs_tokens(results: ComparisonResults) -> Figure | None:
    tasks = [t for t, e in results.tasks.items() if sum(
        TASK_METRICS[t][0].key in f.metrics for p in e.probes for f in p.families.values()) > 1]
    if not tasks:
        return None
    fig, axes = plt.subplots(1, len(tasks), figsize=(3.6 * len(tasks), 3.6), squeeze=False)
    for ax, task in zip(axes[0], tasks, strict=True):
        spec = TASK_METRICS[task][0]
        for family in FAMILIES:
            points = [(p.families[family].tokens, p.families[family].metrics[spec.key])
                      for p in results.tasks[task].probes if spec.key in p.families[family].metrics]
            if points:
                xs = [x for x, _ in points]
                ax.errorbar(xs, [s.mean for _, s in points], capsize=4, color=COLORS[family],
                            yerr=[[s.mean - s.ci_low for _, s in points], [s.ci_high - s.mean for _, s in points]],
                            marker="o", label=family.upper())
        ax.set(title=task, xlabel="pretraining tokens", ylabel=f"test {spec.label}")
        ax.legend(fontsize=7)
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
