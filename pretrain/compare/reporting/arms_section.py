"""The report's section for a plan with more arms than bert and gpt: every arm on every task in one table (with
its random-init control and the task's strongest trivial baseline), then per task the ranking and each arm
against both of the mission's arms, Holm-corrected (pretrain.compare.analysis.arms). The two-arm report above it
is unchanged: bert against gpt, as the suite was built to answer."""

from __future__ import annotations

from pretrain.arms import MISSION_ARMS, arm_record
from pretrain.compare.analysis.arms import FAMILY_WISE_ALPHA
from pretrain.compare.analysis.metrics import TASK_METRICS, arm_pretrain_metrics
from pretrain.compare.analysis.stats import Summary
from pretrain.compare.schema import ArmComparison, ComparisonResults, TaskResults


def arms_section(results: ComparisonResults) -> list[str]:
    """The '## Arms' section; [] for a plan of bert and gpt only."""
    arms = results.arms
    if len(arms) <= len(MISSION_ARMS):
        return []
    attention = results.plan["finetune"].get("decoder_attention")
    lines = ["## Arms", "",
             f"{len(arms)} pretraining objectives, each on its family's preset, with the same data, tokenizer, "
             "tokens, optimizer, schedule, learning-rate grid, seeds and controls.", "",
             "| arm | family | objective | causal share of steps | fine-tuning attention (classification, NER) | "
             "steps | tokens seen | tokens predicted | training FLOPs | pretraining (validation) |",
             "|---|---|---|---:|---|---:|---:|---:|---:|---|"]
    shares = results.plan["pretrain"].get("causal_share") or {}
    for arm in arms:
        record = arm_record(arm)
        entry = results.pretraining.get(arm)
        run = entry.result if entry is not None else None
        flops = (run.model.flops_per_token * run.tokens_seen) if run is not None and run.tokens_seen else None
        shown = "; ".join(f"{s.label} {run.metrics[s.key]:.4g}" for s in arm_pretrain_metrics(arm)[:3]
                          if run is not None and s.key in run.metrics) or (entry.status if entry else "not run")
        tuned = "bidirectional" if not record.record.decoder_only else attention or record.finetune_attention
        lines.append(f"| {arm} | {record.family} | {record.objective} | {shares.get(arm, record.causal_share):.3g} | "
                     f"{tuned} | {_int(run.steps if run else None)} | {_int(run.tokens_seen if run else None)} | "
                     f"{_int(run.supervised_tokens if run else None)} | {_float(flops)} | {shown} |")
    lines += ["", "Generation decodes causally in every decoder arm (a decoder continues its input).", "",
              "### Test scores, every arm", "",
              "Mean ± 95% interval over seeds; in brackets the random-init control (same recipe, random weights).",
              "", "| arm | " + " | ".join(f"{t} ({TASK_METRICS[t][0].label})" for t in results.tasks) + " |",
              "|---|" + "---:|" * len(results.tasks)]
    for arm in arms:
        cells = [_cell(task, entry, arm) for task, entry in results.tasks.items()]
        lines.append(f"| {arm} | " + " | ".join(cells) + " |")
    baselines = []
    for task, entry in results.tasks.items():
        strongest = TASK_METRICS[task][0].strongest_baseline(entry.baselines)
        baselines.append(f"{strongest[1]:.3g} ({strongest[0].split('/')[-1]})" if strongest else "-")
    lines.append("| strongest trivial baseline | " + " | ".join(baselines) + " |")
    lines += ["", f"Each arm besides {' and '.join(MISSION_ARMS)} is compared with both by the rule of the BERT-GPT "
              "verdicts (arm minus the other): Welch's test over runs with non-overlapping 95% intervals, and the "
              "paired hierarchical bootstrap (each interval says what it covers). With that many comparisons per "
              f"task, both tests' p-values are Holm-corrected (Holm 1979) to hold the family-wise error at "
              f"{FAMILY_WISE_ALPHA:.0%}; a difference is called significant only when both corrected tests agree. "
              f"A bootstrap p-value below 1 / replicates is shown as a bound (p < 1/B), never as 0."]
    for task, entry in results.tasks.items():
        lines += ["", f"### {task}", "", *_task_lines(task, entry, arms)]
    return lines


def _task_lines(task: str, entry: TaskResults, arms: list[str]) -> list[str]:
    spec = TASK_METRICS[task][0]
    final = entry.final()
    if final is None:
        return ["No fine-tuning run of this task finished."]
    means = {arm: s.mean for arm in arms if arm in final and (s := final[arm].metrics.get(spec.key)) is not None}
    ranked = sorted(means, key=lambda arm: means[arm], reverse=spec.higher_is_better)
    lines = ["Ranking (" + spec.label + ", " + ("higher" if spec.higher_is_better else "lower") + " is better): "
             + ", ".join(f"{i + 1}. {arm} {means[arm]:.4g}" for i, arm in enumerate(ranked)) + "."]
    lines += [f"- {_comparison(c)}" for c in entry.arm_comparisons]
    strongest = spec.strongest_baseline(entry.baselines)
    for arm in ranked:
        behind = strongest is not None and (means[arm] > strongest[1]) != spec.higher_is_better
        control = entry.controls.get(arm)
        control_mean = control.metrics[spec.key].mean if control is not None and spec.key in control.metrics else None
        no_gain = control_mean is not None and (means[arm] > control_mean) != spec.higher_is_better
        if behind and strongest is not None:
            lines.append(f"- {arm} does not beat the {strongest[0].split('/')[-1]} baseline ({strongest[1]:.4g}).")
        if no_gain:
            lines.append(f"- {arm} does not beat its random-init control ({control_mean:.4g}): its pretraining shows "
                         "no benefit here.")
    return lines


def _comparison(c: ArmComparison) -> str:
    verdict = "significant" if c.significant else "not significant"
    if c.evidence:
        return f"{c.arm} vs {c.against}: {verdict} ({c.evidence})."
    d = c.paired  # results written before both tests applied: the bootstrap alone decided
    return (f"{c.arm} vs {c.against}: {d.difference:+.3g} [{d.ci_low:+.3g}, {d.ci_high:+.3g}] over {d.covers}, "
            f"{d.p_text}: {verdict} (by the Holm-corrected bootstrap alone).")


def _cell(task: str, entry: TaskResults, arm: str) -> str:
    """An arm's headline score on a task, with its random-init control's mean in brackets."""
    final, key = entry.final(), TASK_METRICS[task][0].key
    if final is None or arm not in final:
        return "-"
    control = entry.controls.get(arm)
    control_summary = control.metrics.get(key) if control is not None else None
    return _summary(final[arm].metrics.get(key)) + (f" ({control_summary.mean:.3g})" if control_summary else "")


def _summary(s: Summary | None) -> str:
    if s is None:
        return "-"
    return f"{s.mean:.3g}" + (f" ± {s.half_width:.2g}" if s.n > 1 else "")


def _int(v: float | None) -> str:
    return "-" if v is None else f"{int(v):,}"


def _float(v: float | None) -> str:
    return "-" if v is None else f"{v:.3g}"
