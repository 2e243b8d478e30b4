"""report.md, rendered from the results structure: setup, pretraining, one table and verdict per task."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pretrain.compare.metrics import PRETRAIN_METRICS, TASK_METRICS
from pretrain.compare.plan import FAMILIES


def render(results: dict[str, Any], plots: list[Path]) -> str:
    env, plan = results["environment"], results["plan"]
    names = {p.name for p in plots}
    versions = ", ".join(f"{k} {v}" for k, v in env["versions"].items() if v)
    commit = (env.get("git_commit") or "unknown")[:12] + (" (uncommitted changes)" if env.get("git_dirty") else "")
    lines = [
        f"# BERT vs GPT: {results['experiment']}",
        "",
        f"Generated {env['created']} from commit {commit} on {env['platform']} "
        f"({env['cpu_count']} CPUs, accelerator: {env.get('accelerator') or 'none'}).",
        f"Versions: {versions}.",
        "",
        f"Runs: {results['counts']['done']} done, {results['counts']['failed']} failed, "
        f"{results['counts']['skipped']} skipped. Fine-tuning seeds: {plan['finetune']['seeds']}; "
        "intervals are 95% Student-t over seeds; differences are called significant only when Welch's "
        "t-test gives p < 0.05 and the intervals do not overlap.",
        "",
        "## Setup: matched budgets",
        "",
        "| family | preset | parameters | non-embedding | FLOPs/token (train) | tokens seen | wall time | status |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for family in FAMILIES:
        p = results["pretraining"].get(family, {})
        m = p.get("model", {})
        lines.append(
            f"| {family.upper()} | {m.get('preset', '-')} | {_int(m.get('params'))} | "
            f"{_int(m.get('non_embedding_params'))} | {_int(m.get('flops_per_token'))} | "
            f"{_int(p.get('tokens_seen'))} | {_secs(p.get('wall_s'))} | {p.get('status', 'not run')} |"
        )
    lines += ["", "## Pretraining", ""]
    for family in FAMILIES:
        p = results["pretraining"].get(family, {})
        if p.get("status") != "done":
            lines.append(f"- {family.upper()}: {p.get('status', 'not run')} {p.get('error', '')}".rstrip())
            continue
        shown = [f"{s.label} {p['metrics'][s.key]:.4g}" for s in PRETRAIN_METRICS[family] if s.key in p["metrics"]]
        lines.append(f"- {family.upper()}: {'; '.join(shown) or 'no validation metrics logged'}.")
        if family in results["pretraining_verdicts"]:
            lines.append(f"  {results['pretraining_verdicts'][family]}")
    lines.append("")
    lines.append("MLM accuracy and causal perplexity measure different objectives; each family is judged against "
                 "its own trivial baseline (most frequent token; unigram perplexity), not against the other.")
    if "loss_vs_tokens.png" in names:
        lines += ["", "![loss vs tokens](loss_vs_tokens.png)"]
    for task, entry in results["tasks"].items():
        lines += ["", f"## {task}", ""]
        lines += _task_table(task, entry)
        lines.append("")
        if entry["verdicts"]:
            lines += [f"- {v['text']}" for v in entry["verdicts"]]
        else:
            lines.append("- No verdict: no metric was measured for both families.")
        if entry["failed"]:
            lines.append(f"- Failed or skipped runs (left out of the statistics): {', '.join(entry['failed'])}.")
    if "downstream_scores.png" in names:
        lines += ["", "## Downstream scores", "", "![downstream scores](downstream_scores.png)"]
    if "score_vs_pretraining_tokens.png" in names:
        lines += ["", "## Score vs pretraining tokens", "", "![score vs tokens](score_vs_pretraining_tokens.png)"]
    attention = [f"![{f} attention](attention_{f}.png)" for f in FAMILIES if f"attention_{f}.png" in names]
    if attention:
        lines += ["", "## Attention maps (one validation example)", "", " ".join(attention)]
    failed = [r for r in results["runs"] if r["status"] != "done"]
    if failed:
        lines += ["", "## Runs that did not finish", "", "| run | status | error |", "|---|---|---|"]
        lines += [f"| {r['run_id']} | {r['status']} | {_cell(r['error'])} |" for r in failed]
    return "\n".join(lines) + "\n"


def _task_table(task: str, entry: dict[str, Any]) -> list[str]:
    if not entry["probes"]:
        return ["No fine-tuning run of this task finished."]
    final = entry["probes"][-1]
    rows = ["| metric | BERT | GPT | trivial baseline |", "|---|---:|---:|---:|"]
    for spec in TASK_METRICS[task]:
        cells = [_summary(final["families"][f]["metrics"].get(spec.key)) for f in FAMILIES]
        if all(c == "-" for c in cells):
            continue
        baseline = entry["baselines"].get(spec.baseline_key) if spec.baseline_key else None
        rows.append(f"| {spec.label} | {cells[0]} | {cells[1]} | {'-' if baseline is None else f'{baseline:.4g}'} |")
    seen = ", ".join(f"{f.upper()} {_int(final['families'][f].get('tokens'))}" for f in FAMILIES)
    rows.append("")
    rows.append(f"Fine-tuned from the checkpoint at pretraining step {final['step']} (training tokens seen: {seen}; "
                "BERT counts only non-padding tokens of its sentence pairs, GPT's blocks are packed).")
    return rows


def _summary(s: dict[str, Any] | None) -> str:
    if s is None:
        return "-"
    if s["n"] < 2:
        return f"{s['mean']:.4g} (n=1)"
    return f"{s['mean']:.4g} ± {(s['ci_high'] - s['ci_low']) / 2:.2g} (n={s['n']})"


def _int(v: Any) -> str:
    return "-" if v is None else f"{int(v):,}"


def _secs(v: Any) -> str:
    return "-" if v is None else f"{float(v):.0f} s"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")[:300]
